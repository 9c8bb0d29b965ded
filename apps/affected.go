package apps

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Selected is an app a change can affect, and why.
type Selected struct {
	Name string   `json:"name"`
	Why  []string `json:"why"`
}

// Selection is what a change affects.
type Selection struct {
	// Apps are the selected apps, sorted by name.
	Apps []Selected `json:"apps"`
	// All is set when a changed file could not be attributed to any app
	// and might be read by one: every app is selected (never a silent
	// skip).
	All bool `json:"all,omitempty"`
	// Unattributed are those changed files.
	Unattributed []string `json:"unattributed,omitempty"`
	// Ignored are changed files no app reads and that no renderer reads
	// unless named (documentation, code): they select nothing.
	Ignored []string `json:"ignored,omitempty"`
}

// manifestExts are the files a renderer may read without being named in
// a way aegis follows: a changed one that no app's inputs cover selects
// every app.
var manifestExts = []string{".yaml", ".yml", ".json", ".jsonnet", ".libsonnet", ".tpl"}

// Affected selects the apps whose render a change can alter: the apps
// added or removed, and the apps one of whose inputs changed (the file
// that declares it, the generator files it came from, its source
// directories, its Helm values files, the files and directories its
// kustomizations reference, transitively). changed are the paths the
// change touches (git diff --name-only), relative to the repository root;
// base and head are the two revisions' trees and apps.
func Affected(baseFS, headFS fs.FS, base, head *Result, changed []string) Selection {
	why := map[string][]string{}
	add := func(name, reason string) {
		if !slices.Contains(why[name], reason) {
			why[name] = append(why[name], reason)
		}
	}
	baseApps := index(base)
	headApps := index(head)
	for name := range headApps {
		if _, ok := baseApps[name]; !ok {
			add(name, "the change adds it")
		}
	}
	for name := range baseApps {
		if _, ok := headApps[name]; !ok {
			add(name, "the change removes it")
		}
	}
	attributed := map[string]bool{}
	for _, side := range []struct {
		fsys fs.FS
		apps map[string]App
	}{{baseFS, baseApps}, {headFS, headApps}} {
		for name, app := range side.apps {
			in := inputs(side.fsys, app)
			for _, c := range changed {
				if reason := in.covers(c); reason != "" {
					add(name, fmt.Sprintf("%s changed (%s)", c, reason))
					attributed[c] = true
				}
			}
		}
	}
	var sel Selection
	for _, c := range changed {
		switch {
		case attributed[c]:
		case slices.Contains(manifestExts, path.Ext(c)):
			sel.Unattributed = append(sel.Unattributed, c)
		default:
			sel.Ignored = append(sel.Ignored, c)
		}
	}
	if len(sel.Unattributed) > 0 {
		sel.All = true
		reason := fmt.Sprintf("%s changed and no app's inputs name it: every app is selected", strings.Join(sel.Unattributed, ", "))
		for name := range headApps {
			add(name, reason)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(why)) {
		sel.Apps = append(sel.Apps, Selected{Name: name, Why: why[name]})
	}
	return sel
}

func index(r *Result) map[string]App {
	out := map[string]App{}
	if r == nil {
		return out
	}
	for _, a := range r.Apps {
		out[a.Name] = a // an unverifiable app is selected too: the caller decides
	}
	return out
}

// appInputs are the files and directories an app's render reads.
type appInputs struct {
	files map[string]string // path -> what it is
	dirs  map[string]string // directory -> what it is
}

func (in appInputs) covers(p string) string {
	if r, ok := in.files[p]; ok {
		return r
	}
	for d := path.Dir(p); ; d = path.Dir(d) {
		if r, ok := in.dirs[d]; ok {
			return r
		}
		if d == "." || d == "/" {
			return ""
		}
	}
}

// maxKustomizeDepth bounds the kustomization references followed.
const maxKustomizeDepth = 32

func inputs(fsys fs.FS, app App) appInputs {
	in := appInputs{files: map[string]string{}, dirs: map[string]string{}}
	in.files[app.Origin.Path] = "it declares the app"
	for _, f := range app.GeneratorFiles {
		in.files[f] = "the app's generator reads it"
	}
	refs := map[string]string{} // ref name -> the ref source's root ("." for this repository)
	for _, s := range app.Sources {
		if s.Ref != "" {
			refs[s.Ref] = "."
		}
	}
	for _, s := range app.Sources {
		if s.Path == "" {
			continue
		}
		dir := path.Clean(s.Path)
		in.dirs[dir] = "the app's source directory"
		if s.Helm != nil {
			for _, vf := range s.Helm.ValueFiles {
				in.files[valuesPath(dir, vf, refs)] = "a Helm values file of the app"
			}
			for _, fp := range s.Helm.FileParams {
				in.files[path.Join(dir, fp.Path)] = "a Helm file parameter of the app"
			}
		}
		if s.Directory != nil && s.Directory.Jsonnet != nil {
			for _, lib := range s.Directory.Jsonnet.Libs {
				in.dirs[path.Clean(lib)] = "a Jsonnet library of the app"
			}
		}
		kustomizeRefs(fsys, dir, in, map[string]bool{}, 0)
	}
	for _, s := range app.Sources {
		if s.Helm == nil || s.Path != "" {
			continue
		}
		for _, vf := range s.Helm.ValueFiles {
			if strings.HasPrefix(vf, "$") {
				in.files[valuesPath(".", vf, refs)] = "a Helm values file of the app (multi-source $ref)"
			}
		}
	}
	return in
}

// valuesPath resolves a values file: "$ref/x" against the ref's source,
// else relative to the chart's directory.
func valuesPath(dir, vf string, refs map[string]string) string {
	if strings.HasPrefix(vf, "$") {
		name, rest, _ := strings.Cut(vf[1:], "/")
		if root, ok := refs[name]; ok {
			return path.Join(root, rest)
		}
	}
	return path.Join(dir, vf)
}

// kustomization is the part of a kustomization that names local files and
// directories.
type kustomization struct {
	Resources             []string `json:"resources"`
	Bases                 []string `json:"bases"`
	Components            []string `json:"components"`
	PatchesStrategicMerge []string `json:"patchesStrategicMerge"`
	Crds                  []string `json:"crds"`
	Patches               []struct {
		Path string `json:"path"`
	} `json:"patches"`
	Replacements []struct {
		Path string `json:"path"`
	} `json:"replacements"`
	PatchesJSON6902 []struct {
		Path string `json:"path"`
	} `json:"patchesJson6902"`
	ConfigMapGenerator []generatorArgs `json:"configMapGenerator"`
	SecretGenerator    []generatorArgs `json:"secretGenerator"`
	HelmGlobals        struct {
		ChartHome string `json:"chartHome"`
	} `json:"helmGlobals"`
}

type generatorArgs struct {
	Files []string `json:"files"`
	Envs  []string `json:"envs"`
	Env   string   `json:"env"`
}

// kustomizeRefs adds what the kustomization in dir references (its bases
// and components recursively). A directory without a kustomization
// references nothing more.
func kustomizeRefs(fsys fs.FS, dir string, in appInputs, seen map[string]bool, depth int) {
	if seen[dir] || depth > maxKustomizeDepth {
		return
	}
	seen[dir] = true
	var data []byte
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if b, err := fs.ReadFile(fsys, path.Join(dir, name)); err == nil {
			data = b
			break
		}
	}
	if data == nil {
		return
	}
	var k kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return // the render reports it
	}
	local := func(ref string) (string, bool) {
		if ref == "" || strings.Contains(ref, "://") || strings.HasPrefix(ref, "github.com/") || strings.HasPrefix(ref, "git@") {
			return "", false
		}
		p := path.Join(dir, ref)
		if p == ".." || strings.HasPrefix(p, "../") {
			return "", false
		}
		return p, true
	}
	for _, ref := range slices.Concat(k.Resources, k.Bases, k.Components) {
		p, ok := local(ref)
		if !ok {
			continue
		}
		if fi, err := fs.Stat(fsys, p); err == nil && fi.IsDir() {
			in.dirs[p] = "a kustomize base or component of the app"
			kustomizeRefs(fsys, p, in, seen, depth+1)
		} else {
			in.files[p] = "a kustomize resource of the app"
		}
	}
	files := slices.Clone(slices.Concat(k.PatchesStrategicMerge, k.Crds))
	for _, p := range k.Patches {
		files = append(files, p.Path)
	}
	for _, r := range k.Replacements {
		files = append(files, r.Path)
	}
	for _, p := range k.PatchesJSON6902 {
		files = append(files, p.Path)
	}
	for _, g := range slices.Concat(k.ConfigMapGenerator, k.SecretGenerator) {
		for _, f := range g.Files {
			_, src, ok := strings.Cut(f, "=")
			if !ok {
				src = f
			}
			files = append(files, src)
		}
		files = append(files, g.Envs...)
		files = append(files, g.Env)
	}
	for _, f := range files {
		if p, ok := local(f); ok {
			in.files[p] = "a file the app's kustomization reads"
		}
	}
	if k.HelmGlobals.ChartHome != "" {
		if p, ok := local(k.HelmGlobals.ChartHome); ok {
			in.dirs[p] = "the chart home of the app's kustomization"
		}
	}
}
