package plugin

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/verify"
)

// The plain-directory parameters, as Argo CD's spec.source.directory:
// recurse, include, exclude and the Jsonnet settings, from parameters and
// from plugin env entries (maps as JSON objects).
func TestSettingsDirectoryParameters(t *testing.T) {
	a := baseApp()
	a.Env = [][2]string{{"RECURSE", "true"}, {"JSONNET_EXT_VAR", `{"env": "prod"}`}, {"JSONNET_LIBS", "vendor, lib"}}
	a.Params = []Parameter{
		{Name: ParamInclude, String: str("{*.yaml,*.jsonnet}")},
		{Name: ParamExclude, String: str("test/*")},
		{Name: ParamJsonnetTLA, Map: map[string]string{"prefix": "web", "b": "x,y"}},
		{Name: ParamJsonnetTLACode, Map: map[string]string{"count": "1 + 1"}},
		{Name: ParamJsonnetExtVarCode, Map: map[string]string{"size": "{a: 1}"}},
	}
	e, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	s, err := e.Settings("dev")
	require.NoError(t, err)
	assert.True(t, s.Recurse)
	assert.Equal(t, "{*.yaml,*.jsonnet}", s.Include)
	assert.Equal(t, "test/*", s.Exclude)
	assert.Equal(t, []render.JsonnetVar{{Name: "b", Value: "x,y"}, {Name: "prefix", Value: "web"}, {Name: "count", Value: "1 + 1", Code: true}}, s.Jsonnet.TLAs)
	assert.Equal(t, []render.JsonnetVar{{Name: "env", Value: "prod"}, {Name: "size", Value: "{a: 1}", Code: true}}, s.Jsonnet.ExtVars)
	assert.Equal(t, []string{"vendor", "lib"}, s.Jsonnet.Libs)

	// Defaults: Argo CD's.
	e, err = ParseEnv(argoEnviron(baseApp()))
	require.NoError(t, err)
	s, err = e.Settings("dev")
	require.NoError(t, err)
	assert.False(t, s.Recurse)
	assert.Empty(t, s.Include)
	assert.Zero(t, s.Jsonnet.TLAs)
}

func TestSettingsDirectoryRefuse(t *testing.T) {
	for name, c := range map[string]struct {
		env    [][2]string
		params []Parameter
		want   string
	}{
		"recurse not a bool":     {params: []Parameter{{Name: ParamRecurse, String: str("yes please")}}, want: "true or false"},
		"invalid include":        {params: []Parameter{{Name: ParamInclude, String: str("{a.yaml")}}, want: `include "{a.yaml" is not a valid glob`},
		"invalid exclude":        {params: []Parameter{{Name: ParamExclude, String: str("[a")}}, want: `exclude "[a" is not a valid glob`},
		"absolute lib":           {params: []Parameter{{Name: ParamJsonnetLibs, Array: []string{"/etc"}}}, want: "absolute path"},
		"lib out of the repo":    {params: []Parameter{{Name: ParamJsonnetLibs, Array: []string{"../x"}}}, want: "leaves the source root"},
		"tla given as string":    {params: []Parameter{{Name: ParamJsonnetTLA, String: str("a=b")}}, want: "is a map"},
		"env entry not JSON":     {env: [][2]string{{"JSONNET_TLA", "a=b"}}, want: "a JSON object of strings"},
		"empty name":             {params: []Parameter{{Name: ParamJsonnetExtVar, Map: map[string]string{"": "x"}}}, want: "empty name"},
		"invalid include in env": {env: [][2]string{{"INCLUDE", "{x"}}, want: "is not a valid glob"},
	} {
		t.Run(name, func(t *testing.T) {
			a := baseApp()
			a.Env, a.Params = c.env, c.params
			e, err := ParseEnv(argoEnviron(a))
			require.NoError(t, err)
			_, err = e.Settings("dev")
			require.Error(t, err)
			assert.True(t, verify.IsBadInput(err))
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// generate reads a plain directory as Argo CD: its own files only, unless
// recurse; Jsonnet evaluated with the parameters.
func TestGenerateDirectoryParameters(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/a.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
		"app/sub/b.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
		"app/j.jsonnet":     `function(name) { apiVersion: "v1", kind: "ConfigMap", metadata: { name: name } }`,
		"lib/x.libsonnet":   `{}`,
		"app/.aegis.yaml":   "apiVersion: aegis.dev/v1alpha1\nkind: Config\n",
		"app/sub/.keep.txt": "",
	})
	a := baseApp()
	a.Params = []Parameter{{Name: ParamJsonnetTLA, Map: map[string]string{"name": "from-jsonnet"}}}
	g, err := generateIn(t, root, "app", a)
	require.NoError(t, err)
	assert.Equal(t, render.Plain, g.Type)
	assert.ElementsMatch(t, []string{"ConfigMap/a", "ConfigMap/from-jsonnet"}, ids(g.Set))

	a.Params = append(a.Params, Parameter{Name: ParamRecurse, String: str("true")}, Parameter{Name: ParamExclude, String: str("*.jsonnet")})
	g, err = generateIn(t, root, "app", a)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"ConfigMap/a", "ConfigMap/b"}, ids(g.Set))
}
