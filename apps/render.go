package apps

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
)

// RenderOptions are how aegis renders the app as Argo CD renders its
// source: the source's path and the render options its Helm or directory
// settings give. Inline Helm values (values, valuesObject) are written to a
// file in tmpDir, applied after the values files as Argo CD applies them.
//
// What aegis does not render as Argo CD would is refused (exit 2, at the
// Application's line), never rendered differently: kustomize options of the
// Application (namePrefix, images, ...), plugin sources, several sources
// with a path, a chart from a Helm repository, another repository.
func (a App) RenderOptions(tmpDir string) (string, render.Options, error) {
	fail := func(format string, args ...any) (string, render.Options, error) {
		return "", render.Options{}, manifest.Errorf(a.Origin.Path, a.Origin.Line, "app %s: %s", a.Name, fmt.Sprintf(format, args...))
	}
	if a.Unverifiable != "" {
		return fail("cannot be verified from this repository: %s", a.Unverifiable)
	}
	refs := map[string]bool{}
	var src *Source
	for i := range a.Sources {
		s := &a.Sources[i]
		switch {
		case s.Ref != "" && s.Path == "":
			refs[s.Ref] = true
		case s.Path == "":
			return fail("source %d has no path", i)
		case src != nil:
			return fail("has more than one source with a path (%s, %s): verify each path on its own", src.Path, s.Path)
		default:
			src = s
		}
		if s.Plugin != nil {
			return fail("source %d uses the config management plugin %q, which aegis does not run", i, s.Plugin.Name)
		}
	}
	if src == nil {
		return fail("has no source with a path")
	}
	if k := src.Kustomize; k != nil {
		var set []string
		for name, on := range map[string]bool{"namePrefix": k.NamePrefix != "", "nameSuffix": k.NameSuffix != "", "images": len(k.Images) > 0,
			"commonLabels": len(k.CommonLabels) > 0, "namespace": k.Namespace != "", "components": len(k.Components) > 0} {
			if on {
				set = append(set, name)
			}
		}
		if len(set) > 0 {
			return fail("its kustomize options (%s) are not applied by aegis yet: the render would differ from Argo CD's", strings.Join(set, ", "))
		}
	}
	dir := path.Clean(src.Path)
	// The Application is the pull request's: every path it names must be
	// a file of the repository. An absolute path or one that climbs out
	// would make aegis read the runner's own files (and print what a chart
	// templates from them) instead of the change's.
	inRepo := func(what, p string) error {
		if p == "" || path.IsAbs(p) || filepath.IsAbs(p) || strings.Contains(p, "\\") {
			return manifest.Errorf(a.Origin.Path, a.Origin.Line, "app %s: %s %q is not a path in the repository", a.Name, what, p)
		}
		if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
			return manifest.Errorf(a.Origin.Path, a.Origin.Line, "app %s: %s %q leaves the repository", a.Name, what, p)
		}
		return nil
	}
	if err := inRepo("source path", src.Path); err != nil {
		return "", render.Options{}, err
	}
	// Argo CD's defaults: the app's name as the release name, the
	// destination's namespace as the release namespace.
	opts := render.Options{ReleaseName: a.Name, Namespace: a.Destination.Namespace}
	if h := src.Helm; h != nil {
		if h.ReleaseName != "" {
			opts.ReleaseName = h.ReleaseName
		}
		if h.Namespace != "" {
			opts.Namespace = h.Namespace
		}
		opts.KubeVersion = h.KubeVersion
		for _, vf := range h.ValueFiles {
			if strings.HasPrefix(vf, "$") {
				name, rest, _ := strings.Cut(vf[1:], "/")
				if !refs[name] {
					return fail("values file %s names $%s, which no source of the app defines as a ref", vf, name)
				}
				rel, err := filepath.Rel(dir, rest)
				if err != nil {
					return fail("values file %s: %v", vf, err)
				}
				vf = filepath.ToSlash(rel)
			}
			if err := inRepo("values file", path.Join(dir, vf)); err != nil || path.IsAbs(vf) {
				return fail("values file %q is not a file of the repository", vf)
			}
			opts.ValuesFiles = append(opts.ValuesFiles, vf)
		}
		for _, p := range h.Parameters {
			kv := p.Name + "=" + strings.ReplaceAll(p.Value, ",", `\,`)
			if p.ForceString {
				opts.SetString = append(opts.SetString, kv)
			} else {
				opts.Set = append(opts.Set, kv)
			}
		}
		for _, p := range h.FileParams {
			if err := inRepo("file parameter", path.Join(dir, p.Path)); err != nil || path.IsAbs(p.Path) {
				return fail("file parameter %s: %q is not a file of the repository", p.Name, p.Path)
			}
			opts.SetFile = append(opts.SetFile, p.Name+"="+p.Path)
		}
		inline := h.ValuesObject
		if inline == nil && strings.TrimSpace(h.Values) != "" {
			if err := yaml.Unmarshal([]byte(h.Values), &inline); err != nil {
				return fail("spec.source.helm.values: %v", err)
			}
		}
		if inline != nil {
			data, err := yaml.Marshal(inline)
			if err != nil {
				return fail("helm values: %v", err)
			}
			f, err := os.CreateTemp(tmpDir, "values-*.yaml")
			if err != nil {
				return "", render.Options{}, err
			}
			if _, err := f.Write(data); err != nil {
				f.Close()
				return "", render.Options{}, err
			}
			if err := f.Close(); err != nil {
				return "", render.Options{}, err
			}
			opts.ValuesFiles = append(opts.ValuesFiles, f.Name())
		}
	}
	if d := src.Directory; d != nil {
		opts.Recurse, opts.Include, opts.Exclude = d.Recurse, d.Include, d.Exclude
		if d.Jsonnet != nil {
			for _, lib := range d.Jsonnet.Libs {
				if err := inRepo("Jsonnet library", lib); err != nil {
					return "", render.Options{}, err
				}
			}
			opts.Jsonnet = *d.Jsonnet
		}
	}
	return dir, opts, nil
}

// Find returns the app of that name, if r lists it.
func (r *Result) Find(name string) (App, bool) {
	for _, a := range r.Apps {
		if a.Name == name {
			return a, true
		}
	}
	return App{}, false
}
