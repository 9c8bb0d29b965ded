package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/manifest"
)

func jsonnetErr(t *testing.T, root, path string, opts Options) *manifest.SourceError {
	t.Helper()
	_, err := Render(context.Background(), root, path, opts)
	require.Error(t, err)
	var se *manifest.SourceError
	require.True(t, errors.As(err, &se), "want a SourceError (bad input), got %T: %v", err, err)
	return se
}

// An object, a list and nested lists; TLAs and external variables as
// strings and as code; libs searched by imports; imports relative to the
// importing file.
func TestJsonnetRenders(t *testing.T) {
	root := dtTree(t, map[string]string{
		"lib/k.libsonnet":          `{ cm(name, data={}):: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: name }, data: data } }`,
		"app/one.jsonnet":          `local k = import "k.libsonnet"; k.cm("one", { env: std.extVar("env"), replicas: std.toString(std.extVar("replicas")) })`,
		"app/many.jsonnet":         `local k = import "k.libsonnet"; function(prefix, count) [k.cm(prefix + "-" + i) for i in std.range(1, count)] + [[k.cm("nested")], []]`,
		"app/util/u.jsonnet":       `error "not read: subdirectory without recurse"`,
		"app/rel.jsonnet":          `(import "parts/part.libsonnet")`,
		"app/parts/part.libsonnet": `{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: importstr "name.txt" } }`,
		"app/parts/name.txt":       `from-importstr`,
		"app/plain.yaml":           dtConfigMap("plain"),
	})
	opts := Options{Jsonnet: JsonnetConfig{
		TLAs:    []JsonnetVar{{Name: "prefix", Value: "cm"}, {Name: "count", Value: "2", Code: true}},
		ExtVars: []JsonnetVar{{Name: "env", Value: "prod"}, {Name: "replicas", Value: "1 + 2", Code: true}},
		Libs:    []string{"lib"},
	}}
	res, err := Render(context.Background(), root, "app", opts)
	require.NoError(t, err)
	assert.Equal(t, Plain, res.Type)
	assert.ElementsMatch(t, []string{"ConfigMap/one", "ConfigMap/cm-1", "ConfigMap/cm-2", "ConfigMap/nested", "ConfigMap/from-importstr", "ConfigMap/plain"}, rwIDs(res.Set))
	for _, o := range res.Set.Objects {
		if o.ID().String() == "ConfigMap/one" {
			assert.Equal(t, map[string]any{"env": "prod", "replicas": "3"}, o.Unstructured.Object["data"])
			assert.Equal(t, manifest.Location{Path: "app/one.jsonnet", Line: 1}, o.Origin.Location)
		}
	}
}

func TestJsonnetErrors(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.libsonnet"), []byte(`{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "stolen" } }`), 0o644))
	for _, tc := range []struct {
		name  string
		files map[string]string
		opts  Options
		want  string
	}{
		{"absolute import", map[string]string{"app/a.jsonnet": `import "/etc/hostname"`}, Options{}, "absolute paths are refused"},
		{"absolute importstr", map[string]string{"app/a.jsonnet": `importstr "/proc/self/environ"`}, Options{}, "absolute paths are refused"},
		{"import out of the root", map[string]string{"app/a.jsonnet": `import "../../x.libsonnet"`}, Options{}, "leaves the source root"},
		{"code argument imports out", map[string]string{"app/a.jsonnet": `function(x) x`}, Options{Jsonnet: JsonnetConfig{TLAs: []JsonnetVar{{Name: "x", Value: `import "/etc/passwd"`, Code: true}}}}, "absolute paths are refused"},
		{"lib out of the root", map[string]string{"app/a.jsonnet": `{}`}, Options{Jsonnet: JsonnetConfig{Libs: []string{"../.."}}}, "leaves the source root"},
		{"absolute lib", map[string]string{"app/a.jsonnet": `{}`}, Options{Jsonnet: JsonnetConfig{Libs: []string{"/usr/share"}}}, "absolute path"},
		{"missing import", map[string]string{"app/a.jsonnet": `import "nope.libsonnet"`}, Options{}, "couldn't open import"},
		{"syntax error", map[string]string{"app/a.jsonnet": `{ a: }`}, Options{}, "jsonnet:"},
		{"runtime error", map[string]string{"app/a.jsonnet": `error "boom"`}, Options{}, "boom"},
		{"a string", map[string]string{"app/a.jsonnet": `"x"`}, Options{}, "not a Kubernetes object"},
		{"null in a list", map[string]string{"app/a.jsonnet": `[null]`}, Options{}, "null"},
		{"missing TLA", map[string]string{"app/a.jsonnet": `function(x) {}`}, Options{}, "jsonnet:"},
		{"output bomb", map[string]string{"app/a.jsonnet": `{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "big" }, data: { x: std.join("", std.makeArray(20000, function(i) "0123456789")) } }`},
			Options{Limits: limitsWith(func(l *manifest.Limits) { l.MaxFileBytes = 100000 })}, "above the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := dtTree(t, tc.files)
			se := jsonnetErr(t, root, "app", tc.opts)
			assert.Contains(t, se.Msg, tc.want)
			assert.NotContains(t, se.Msg, "stolen")
		})
	}

	// Symlinks: an import through a link that resolves outside the root
	// is refused; a link inside it is followed.
	root := dtTree(t, map[string]string{"app/a.jsonnet": `import "link.libsonnet"`})
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.libsonnet"), filepath.Join(root, "app", "link.libsonnet")))
	se := jsonnetErr(t, root, "app", Options{})
	assert.Contains(t, se.Msg, "outside the source root")

	root = dtTree(t, map[string]string{"app/a.jsonnet": `import "lib/secret.libsonnet"`})
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "app", "lib")))
	se = jsonnetErr(t, root, "app", Options{Recurse: false})
	assert.True(t, strings.Contains(se.Msg, "outside the source root"), se.Msg)

	// A device behind a link inside the root is not read.
	root = dtTree(t, map[string]string{"app/a.jsonnet": `importstr "zero"`})
	require.NoError(t, os.Symlink("/dev/zero", filepath.Join(root, "app", "zero")))
	se = jsonnetErr(t, root, "app", Options{})
	assert.NotEmpty(t, se.Msg)
}

// Settings are checked before anything is read.
func TestJsonnetCheckOptions(t *testing.T) {
	assert.NoError(t, CheckDirectory(Options{Jsonnet: JsonnetConfig{Libs: []string{"vendor", "lib/k"}, TLAs: []JsonnetVar{{Name: "a"}}}}))
	assert.Error(t, CheckDirectory(Options{Jsonnet: JsonnetConfig{Libs: []string{"/abs"}}}))
	assert.Error(t, CheckDirectory(Options{Jsonnet: JsonnetConfig{Libs: []string{"a/../../b"}}}))
	assert.Error(t, CheckDirectory(Options{Jsonnet: JsonnetConfig{ExtVars: []JsonnetVar{{Name: ""}}}}))
	v, err := ParseJsonnetVar("env=a=b", false)
	require.NoError(t, err)
	assert.Equal(t, JsonnetVar{Name: "env", Value: "a=b"}, v)
	_, err = ParseJsonnetVar("novalue", true)
	assert.Error(t, err)
}
