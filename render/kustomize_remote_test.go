package render

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/krusty"

	"github.com/kube-sentient/aegis/manifest"
)

// netTrap is an HTTP server that counts every request and a stand-in git
// first in PATH that records every run: a kustomize build that reached the
// network or started git leaves a trace in one of them.
type netTrap struct {
	hits    atomic.Int64
	url     string // http://127.0.0.1:PORT
	host    string // 127.0.0.1:PORT
	gitMark string
}

func newNetTrap(t *testing.T) *netTrap {
	t.Helper()
	tr := &netTrap{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.hits.Add(1)
		fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n")
	}))
	t.Cleanup(srv.Close)
	tr.url = srv.URL
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	bin := t.TempDir()
	tr.gitMark = filepath.Join(bin, "git-ran")
	script := "#!/bin/sh\necho \"$@\" >> " + tr.gitMark + "\nexit 1\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return tr
}

func (tr *netTrap) assertUntouched(t *testing.T) {
	t.Helper()
	assert.Zero(t, tr.hits.Load(), "no request reached the HTTP server")
	calls, err := os.ReadFile(tr.gitMark)
	assert.True(t, os.IsNotExist(err), "git was never run; it ran with: %s", calls)
}

// remoteForms are the spellings of remote content kustomize accepts: its
// loader GETs http(s) URLs and clones what its git URL parser accepts.
func (tr *netTrap) remoteForms() []string {
	return []string{
		tr.url + "/cm.yaml",
		"HTTP://" + tr.host + "/UPPER.yaml",
		"https://" + tr.host + "/x.yaml",
		tr.url + "/org/repo.git?ref=main",
		"github.com/org/repo",
		"GitHub.com/org/repo//base",
		"github.com:org/repo",
		"git@github.com:org/repo.git",
		"deploy@" + strings.Split(tr.host, ":")[0] + ":org/repo.git",
		"ssh://git@" + tr.host + "/org/repo",
		"git::" + tr.url + "/org/repo",
		"example.com/org/repo?ref=v1",
		"file:///etc/repo",
	}
}

// remoteKey is a kustomization field whose entries reach kustomize's
// loader: yaml writes it with keys spelled by k and the entry v, which
// sits on line `line`.
type remoteKey struct {
	name string
	yaml func(k func(string) string, v string) string
	line int
	helm bool // refused whatever the value: kustomize would run helm
}

func listKey(key string) remoteKey {
	return remoteKey{key, func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %q\n", k(key), v)
	}, 2, false}
}

var remoteKeys = []remoteKey{
	listKey("resources"), listKey("bases"), listKey("components"), listKey("crds"),
	listKey("configurations"), listKey("generators"), listKey("transformers"),
	listKey("validators"), listKey("patchesStrategicMerge"),
	{"openapi", func(k func(string) string, v string) string {
		// openapi is a map: its keys are matched exactly.
		return fmt.Sprintf("%s:\n  path: %q\n", k("openapi"), v)
	}, 2, false},
	{"patches", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %s: %q\n", k("patches"), k("path"), v)
	}, 2, false},
	{"patchesJson6902", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %s: {%s: Deployment, %s: web}\n  %s: %q\n", k("patchesJson6902"), k("target"), k("kind"), k("name"), k("path"), v)
	}, 3, false},
	{"replacements", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %s: %q\n", k("replacements"), k("path"), v)
	}, 2, false},
	{"configMapGenerator files", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %s: x\n  %s:\n  - %q\n", k("configMapGenerator"), k("name"), k("files"), v)
	}, 4, false},
	{"configMapGenerator files key=", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %s: x\n  %s:\n  - %q\n", k("configMapGenerator"), k("name"), k("files"), "key="+v)
	}, 4, false},
	{"secretGenerator envs", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %s: x\n  %s:\n  - %q\n", k("secretGenerator"), k("name"), k("envs"), v)
	}, 4, false},
	{"secretGenerator env", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %s: x\n  %s: %q\n", k("secretGenerator"), k("name"), k("env"), v)
	}, 3, false},
	{"helmCharts", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %s: x\n  %s: %q\n", k("helmCharts"), k("name"), k("repo"), v)
	}, 1, true},
	{"helmChartInflationGenerator", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n- %s: x\n  %s: %q\n", k("helmChartInflationGenerator"), k("chartName"), k("chartRepoUrl"), v)
	}, 1, true},
	{"helmGlobals", func(k func(string) string, v string) string {
		return fmt.Sprintf("%s:\n  %s: %q\n", k("helmGlobals"), k("chartHome"), v)
	}, 1, true},
}

var spellings = map[string]func(string) string{
	"lower":       func(s string) string { return s },
	"Capitalised": func(s string) string { return strings.ToUpper(s[:1]) + s[1:] },
	"UPPER":       strings.ToUpper,
}

func renderErr(t *testing.T, files map[string]string, opts Options) *manifest.SourceError {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	_, err := Render(context.Background(), root, "app", opts)
	var se *manifest.SourceError
	require.True(t, errors.As(err, &se), "want a SourceError, got %v", err)
	return se
}

// TestKustomizeRemoteEverySpelling: every field that reaches kustomize's
// loader, spelled as kustomize accepts it (lower, Capitalised, UPPER), with
// every remote form, is refused at its line, and nothing reached the
// network or ran git.
func TestKustomizeRemoteEverySpelling(t *testing.T) {
	tr := newNetTrap(t)
	for _, key := range remoteKeys {
		for sname, spell := range spellings {
			for _, v := range tr.remoteForms() {
				t.Run(key.name+"/"+sname+"/"+v, func(t *testing.T) {
					se := renderErr(t, map[string]string{
						"app/kustomization.yaml": key.yaml(spell, v),
						"app/app.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
					}, Options{})
					assert.Equal(t, manifest.Location{Path: "app/kustomization.yaml", Line: key.line}, se.Location, se.Msg)
					if key.helm {
						assert.Contains(t, se.Msg, "needs the helm binary")
						return
					}
					assert.Contains(t, se.Msg, "refused")
					assert.Contains(t, se.Msg, "--allow-remote-bases")
				})
			}
		}
	}
	tr.assertUntouched(t)
}

// TestKustomizeDuplicateKeysByCase: a harmless key and its remote twin
// that differs only in case are refused outright, in either order, at the
// second key; kustomize would use one of them (or merge them).
func TestKustomizeDuplicateKeysByCase(t *testing.T) {
	tr := newNetTrap(t)
	for _, key := range remoteKeys {
		for _, order := range []string{"lower first", "UPPER first"} {
			for _, v := range tr.remoteForms()[:4] {
				t.Run(key.name+"/"+order+"/"+v, func(t *testing.T) {
					first := key.yaml(spellings["lower"], "app.yaml")
					second := key.yaml(strings.ToUpper, v)
					if order == "UPPER first" {
						first, second = key.yaml(strings.ToUpper, v), key.yaml(spellings["lower"], "app.yaml")
					}
					se := renderErr(t, map[string]string{
						"app/kustomization.yaml": first + second,
						"app/app.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
					}, Options{})
					assert.Equal(t, "app/kustomization.yaml", se.Path)
					assert.Equal(t, strings.Count(first, "\n")+1, se.Line, se.Msg)
					assert.Contains(t, se.Msg, "are the same field")
					assert.Contains(t, se.Msg, "without regard to case")
				})
			}
		}
	}
	tr.assertUntouched(t)
}

// TestKustomizeRemoteSpellingCases covers spellings and places a table of
// top-level keys cannot: nested keys, Unicode case folding, a base reached
// only through a capitalised key, and plugin configs.
func TestKustomizeRemoteSpellingCases(t *testing.T) {
	tr := newNetTrap(t)
	remote := tr.url + "/x.yaml"
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
	tests := []struct {
		name  string
		files map[string]string
		want  manifest.Location
		msg   string
	}{
		{"nested duplicate path/PATH", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: p.yaml\n  PATH: " + remote + "\n", "app/cm.yaml": cm},
			manifest.Location{Path: "app/kustomization.yaml", Line: 4}, `key "PATH" and key "path" (line 3) are the same field "path"`},
		{"same key twice", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\nresources: [" + remote + "]\n", "app/cm.yaml": cm},
			manifest.Location{Path: "app/kustomization.yaml", Line: 2}, `key "resources" appears twice (also line 1)`},
		{"Unicode case folding (U+017F)", map[string]string{
			"app/kustomization.yaml": "reſources:\n- " + remote + "\n"},
			manifest.Location{Path: "app/kustomization.yaml", Line: 2}, "refused"},
		{"merge key", map[string]string{
			"app/kustomization.yaml": "<<: {resources: [" + remote + "]}\n"},
			manifest.Location{Path: "app/kustomization.yaml", Line: 1}, "YAML merge key"},
		{"base reached only through Resources", map[string]string{
			"app/kustomization.yaml":     "Resources:\n- sub\n",
			"app/sub/kustomization.yaml": "resources:\n- cm.yaml\n- " + remote + "\n", "app/sub/cm.yaml": cm},
			manifest.Location{Path: "app/sub/kustomization.yaml", Line: 3}, "refused"},
		{"component reached only through COMPONENTS", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\nCOMPONENTS:\n- comp\n", "app/cm.yaml": cm,
			"app/comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nPatches:\n- Path: " + remote + "\n"},
			manifest.Location{Path: "app/comp/kustomization.yaml", Line: 4}, "refused"},
		{"inline transformer config with PATH", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\ntransformers:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata: {name: p}\n  PATH: " + remote + "\n", "app/cm.yaml": cm},
			manifest.Location{Path: "app/kustomization.yaml", Line: 3}, "in PatchTransformer \"p\" refused"},
		{"transformer config file", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\nTransformers:\n- t.yaml\n", "app/cm.yaml": cm,
			"app/t.yaml": "apiVersion: builtin\nkind: ReplacementTransformer\nmetadata:\n  name: r\nreplacements:\n- Path: " + remote + "\n"},
			manifest.Location{Path: "app/t.yaml", Line: 6}, "in ReplacementTransformer \"r\" refused"},
		{"generator config file with ENV", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\ngenerators:\n- g.yaml\n", "app/cm.yaml": cm,
			"app/g.yaml": "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: g\nENV: " + remote + "\n"},
			manifest.Location{Path: "app/g.yaml", Line: 5}, "in ConfigMapGenerator \"g\" refused"},
		{"transformer directory that patches its configs", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\ntransformers:\n- tdir\n", "app/cm.yaml": cm,
			"app/tdir/kustomization.yaml": "resources: [pt.yaml]\npatches:\n- target: {kind: PatchTransformer}\n  patch: '[{\"op\": \"replace\", \"path\": \"/path\", \"value\": \"" + remote + "\"}]'\n",
			"app/tdir/pt.yaml":            "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: local.yaml\n"},
			manifest.Location{Path: "app/tdir/kustomization.yaml", Line: 2}, "patches is not allowed here: this kustomization is listed in transformers of app/kustomization.yaml"},
		{"transformer directory with a remote config", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\ntransformers:\n- tdir\n", "app/cm.yaml": cm,
			"app/tdir/kustomization.yaml": "resources: [pt.yaml]\n",
			"app/tdir/pt.yaml":            "apiVersion: builtin\nkind: PatchStrategicMergeTransformer\nmetadata:\n  name: p\npaths:\n- " + remote + "\n"},
			manifest.Location{Path: "app/tdir/pt.yaml", Line: 6}, "refused"},
		{"exec plugin", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\ntransformers:\n- evil.yaml\n", "app/cm.yaml": cm,
			"app/evil.yaml": "apiVersion: example.com/v1\nkind: Evil\nmetadata:\n  name: e\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: ./evil.sh\n"},
			manifest.Location{Path: "app/evil.yaml", Line: 2}, "is not a kustomize builtin plugin"},
		{"helm generator config", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\ngenerators:\n- h.yaml\n", "app/cm.yaml": cm,
			"app/h.yaml": "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: h\nchartName: x\nrepo: " + remote + "\n"},
			manifest.Location{Path: "app/h.yaml", Line: 2}, "needs the helm binary"},
	}
	bomb := "  x0: &x0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i <= 7; i++ {
		bomb += fmt.Sprintf("  x%d: &x%d [%s*x%d]\n", i, i, strings.Repeat(fmt.Sprintf("*x%d, ", i-1), 9), i-1)
	}
	tests = append(tests, struct {
		name  string
		files map[string]string
		want  manifest.Location
		msg   string
	}{"alias bomb in an inline config", map[string]string{
		"app/kustomization.yaml": "resources: [cm.yaml]\ngenerators:\n- |\n" + bomb, "app/cm.yaml": cm},
		manifest.Location{Path: "app/kustomization.yaml", Line: 3}, "inline plugin config: document expands to more than"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := renderErr(t, tt.files, Options{})
			assert.Equal(t, tt.want, se.Location, se.Msg)
			assert.Contains(t, se.Msg, tt.msg)
		})
	}
	tr.assertUntouched(t)
}

// TestKustomizeCapitalisedKeysRender: keys spelled as kustomize accepts
// them render as kustomize renders them, with origins, and a transformer
// directory that only lists configs still works.
func TestKustomizeCapitalisedKeysRender(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/kustomization.yaml":      "RESOURCES:\n- deploy.yaml\nNamePrefix: p-\nPatches:\n- PATH: replicas.yaml\nTransformers:\n- tdir\n",
		"app/deploy.yaml":             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx\n",
		"app/replicas.yaml":           "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
		"app/tdir/kustomization.yaml": "resources: [labels.yaml]\n",
		"app/tdir/labels.yaml":        "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  team: shop\nfieldSpecs:\n- path: metadata/labels\n  create: true\n",
	})
	res, err := Render(context.Background(), root, "app", Options{})
	require.NoError(t, err)
	d := mustFind(t, res.Set, "Deployment", "", "p-web")
	assert.Equal(t, "app/deploy.yaml", d.Origin.Path)
	assert.Equal(t, map[string]string{"team": "shop"}, d.GetLabels())
	r, _, _ := unstructuredInt(d.Object, "spec", "replicas")
	assert.Equal(t, int64(3), r)
	loc, ok := d.Locator.Locate(manifest.FieldPath{"spec", "replicas"})
	require.True(t, ok)
	assert.Equal(t, manifest.Location{Path: "app/replicas.yaml", Line: 6}, loc)
}

func unstructuredInt(obj map[string]any, path ...string) (int64, bool, error) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = m[p]
	}
	switch v := cur.(type) {
	case int64:
		return v, true, nil
	case float64:
		return int64(v), true, nil
	}
	return 0, false, nil
}

// TestKustomizeReadingMustAgree: when aegis's walk of a kustomization and
// kustomize's decoding of it disagree, the build is refused (the walk is
// what aegis checks).
func TestKustomizeReadingMustAgree(t *testing.T) {
	tree := &kustTree{}
	docs, err := parseYAMLDocs("k.yaml", []byte("resources: [a.yaml]\n"), manifest.DefaultLimits)
	require.NoError(t, err)
	n := &kustNode{rel: "k.yaml", doc: docs[0].Content[0]}
	require.NoError(t, tree.checkDecoded(n, []byte("resources: [a.yaml]\n")))
	err = tree.checkDecoded(n, []byte("resources: [b.yaml]\n"))
	var se *manifest.SourceError
	require.True(t, errors.As(err, &se), "got %v", err)
	assert.Equal(t, manifest.Location{Path: "k.yaml", Line: 1}, se.Location)
	assert.Contains(t, se.Msg, `aegis reads resources/bases as ["a.yaml"] but kustomize reads ["b.yaml"]`)
}

// TestGuardFSServesOnlyCheckedKustomizations: krusty never reads a
// kustomization aegis did not check.
func TestGuardFSServesOnlyCheckedKustomizations(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"a/kustomization.yaml": "resources: [x.yaml]\n", "a/x.yaml": "a: 1\n"})
	real, err := filepath.EvalSymlinks(root)
	require.NoError(t, err)
	g := &guardFS{realRoot: real, kustFiles: map[string]bool{}, cache: map[string][]byte{}, maxFile: 1 << 20}
	_, err = g.ReadFile(filepath.Join(root, "a", "kustomization.yaml"))
	assert.ErrorContains(t, err, "was not checked by aegis")
	_, err = g.ReadFile(filepath.Join(root, "a", "x.yaml"))
	assert.NoError(t, err, "other files are read as before")
	g.kustFiles[filepath.Join(real, "a", "kustomization.yaml")] = true
	_, err = g.ReadFile(filepath.Join(root, "a", "kustomization.yaml"))
	assert.NoError(t, err)
}

// TestBuiltinPluginsKnown: every builtin plugin of the kustomize version
// in go.mod is known to builtinPluginLoads, so a new one (which might load
// files) is looked at before aegis lets it run.
func TestBuiltinPluginsKnown(t *testing.T) {
	loads := map[string]bool{"PatchTransformer": true, "PatchJson6902Transformer": true, "PatchStrategicMergeTransformer": true,
		"ReplacementTransformer": true, "ConfigMapGenerator": true, "SecretGenerator": true, "HelmChartInflationGenerator": true}
	for _, name := range krusty.GetBuiltinPluginNames() {
		assert.True(t, loads[name] || builtinWithoutLoads[name], "builtin plugin %s: decide whether it loads files (builtinPluginLoads)", name)
	}
}

// TestIsKustomizeRemote pins the oracle to kustomize's own parser on forms
// isRemoteRef alone misses.
func TestIsKustomizeRemote(t *testing.T) {
	for _, v := range []string{"github.com:org/repo", "deploy@example.com:org/repo.git", "HTTP://example.com/x", "https:x", "gh:org/repo"} {
		assert.True(t, isKustomizeRemote(v), v)
	}
	for _, v := range []string{"base", "../base", "vendor/github.com/org/repo", "deploy.yaml", "a=b.yaml", "x@y"} {
		assert.False(t, isKustomizeRemote(v), v)
	}
}
