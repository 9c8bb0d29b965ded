package plugin

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/verify"
)

func baseApp() argoApp {
	return argoApp{
		InstanceName: "shop-web", DestNamespace: "shop", Project: "default",
		Revision: "0123456789abcdef0123456789abcdef01234567", RepoURL: "https://git.example/shop.git",
		Path: "apps/web", TargetRevision: "main", KubeVersion: "1.37.2",
		APIVersions: []string{"apps/v1", "apps/v1/Deployment", "v1", "example.com/v1/Widget"},
	}
}

func TestParseEnvBuildVariables(t *testing.T) {
	e, err := ParseEnv(argoEnviron(baseApp()))
	require.NoError(t, err)
	assert.Equal(t, "shop-web", e.AppName)
	assert.Equal(t, "shop", e.AppNamespace)
	assert.Equal(t, "default", e.Project)
	assert.Equal(t, "0123456789abcdef0123456789abcdef01234567", e.Revision)
	assert.Equal(t, "0123456", e.RevisionShort)
	assert.Equal(t, "https://git.example/shop.git", e.RepoURL)
	assert.Equal(t, "apps/web", e.SourcePath)
	assert.Equal(t, "main", e.TargetRevision)
	assert.Equal(t, "1.37.2", e.KubeVersion)
	assert.Equal(t, []string{"apps/v1", "apps/v1/Deployment", "v1", "example.com/v1/Widget"}, e.KubeAPIVersions)
	assert.Empty(t, e.PluginEnv)
	assert.Empty(t, e.Parameters, `"ARGOCD_APP_PARAMETERS=null" is no parameters`)
}

// Parameters of every collection type arrive exactly: strings, arrays in
// order, maps with their keys as written (which PARAM_* cannot carry).
func TestParseEnvParameters(t *testing.T) {
	a := baseApp()
	a.Params = []Parameter{
		{Name: "release-name", String: str("web-$$1")},
		{Name: "values-files", Array: []string{"values.yaml", "values-prod.yaml"}},
		{Name: "helm-set", Map: map[string]string{"image.tag": "1.1", "ingress.hosts[0]": "a,b"}},
		{Name: "empty-array", Array: []string{}},
	}
	e, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	require.Len(t, e.Parameters, 4)
	assert.Equal(t, "web-$$1", *e.Parameters[0].String, "parameters are not substituted by Argo CD, nor by aegis")
	assert.Equal(t, []string{"values.yaml", "values-prod.yaml"}, e.Parameters[1].Array)
	assert.Equal(t, map[string]string{"image.tag": "1.1", "ingress.hosts[0]": "a,b"}, e.Parameters[2].Map)
	assert.NotNil(t, e.Parameters[3].Array, "a present but empty array stays an array")
	assert.Empty(t, e.Parameters[3].Array)
	assert.Nil(t, e.Parameters[3].String)
}

// Without ARGOCD_APP_PARAMETERS (a manual run), PARAM_* variables are read
// for the announced parameters: strings, arrays from _0 on, maps by their
// escaped keys.
func TestParseEnvParamVariables(t *testing.T) {
	e, err := ParseEnv([]string{
		"ARGOCD_APP_NAME=web",
		"PARAM_RELEASE_NAME=rel",
		"PARAM_VALUES_FILES_0=a.yaml", "PARAM_VALUES_FILES_1=b.yaml", "PARAM_VALUES_FILES_3=gap.yaml",
		"PARAM_HELM_SET_REPLICAS=2",
		"PARAM_GATE=false",
	})
	require.NoError(t, err)
	byName := map[string]Parameter{}
	for _, p := range e.Parameters {
		byName[p.Name] = p
	}
	assert.Equal(t, "rel", *byName[ParamReleaseName].String)
	assert.Equal(t, []string{"a.yaml", "b.yaml"}, byName[ParamValuesFiles].Array, "an array stops at its first gap")
	assert.Equal(t, map[string]string{"REPLICAS": "2"}, byName[ParamHelmSet].Map)
	assert.Equal(t, "false", *byName[ParamGate].String)
	assert.Equal(t, "PARAM_GATE_NAMESPACE", ParamEnvName("gate-namespace"))
	assert.Equal(t, "PARAM_A_B_C", ParamEnvName("a.b/c"))
}

func TestParseEnvMalformedParameters(t *testing.T) {
	for _, raw := range []string{`{"name":"x"}`, `[{"string":"no name"}]`, `[{"name":"a","string":"1"},{"name":"a","string":"2"}]`, `[`} {
		_, err := ParseEnv([]string{"ARGOCD_APP_NAME=web", "ARGOCD_APP_PARAMETERS=" + raw})
		require.Error(t, err, raw)
		assert.True(t, verify.IsBadInput(err), raw)
	}
}

// $$ in a plugin env entry is Argo CD's escape for a literal $, and $VAR
// names a build variable: Argo CD substitutes both before aegis runs, and
// aegis takes the value as it is (no second expansion).
func TestPluginEnvSubstitutionAndEscaping(t *testing.T) {
	a := baseApp()
	a.Env = [][2]string{
		{"RELEASE_NAME", "rel-$ARGOCD_APP_REVISION_SHORT"},
		{"HELM_SET", "price=$$5,who=$ARGOCD_APP_NAME"},
		{"IMAGE", "registry.example/aegis:$$HOME"},
	}
	e, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	assert.Equal(t, "rel-0123456", e.PluginEnv["RELEASE_NAME"])
	assert.Equal(t, "price=$5,who=shop-web", e.PluginEnv["HELM_SET"])
	s, err := e.Settings("v1.2.3")
	require.NoError(t, err)
	assert.Equal(t, "rel-0123456", s.ReleaseName)
	assert.Equal(t, []string{"price=$5,who=shop-web"}, s.HelmSet)
	assert.Equal(t, "registry.example/aegis:$HOME", s.Image, "a literal $ stays literal")
}

func TestSettingsDefaults(t *testing.T) {
	e, err := ParseEnv(argoEnviron(baseApp()))
	require.NoError(t, err)
	s, err := e.Settings("v1.2.3")
	require.NoError(t, err)
	assert.True(t, s.Gate)
	assert.Equal(t, "ghcr.io/kube-sentient/aegis:v1.2.3", s.Image)
	assert.Equal(t, "shop-web", s.ReleaseName, "Argo CD's own Helm source uses the app's name")
	assert.Equal(t, DefaultGateNamespace, s.GateNamespace)
	assert.Equal(t, DefaultGateTimeout, s.GateTimeout)
	assert.Equal(t, DefaultShadowTimeout, s.ShadowTimeout)
	assert.Equal(t, DefaultVerdictTTL, s.VerdictTTL)
	assert.Equal(t, verify.ShadowBoth, s.Shadow)
	assert.Equal(t, "argocd", s.AppNamespace)
	assert.Equal(t, "shop-web", s.App)
	assert.Empty(t, s.FailOn)
	assert.Equal(t, "ghcr.io/kube-sentient/aegis:latest", DefaultImage("dev"))
	assert.Equal(t, "ghcr.io/kube-sentient/aegis:latest", DefaultImage("0ed575e-dirty"))
}

// An app outside the control plane's namespace is "namespace_name": the
// release name is its name, its Event goes to its namespace.
func TestSettingsAppsInAnyNamespace(t *testing.T) {
	a := baseApp()
	a.InstanceName = "team-a_web"
	e, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	s, err := e.Settings("dev")
	require.NoError(t, err)
	assert.Equal(t, "web", s.ReleaseName)
	assert.Equal(t, "web", s.AppName)
	assert.Equal(t, "team-a", s.AppNamespace)
	assert.Equal(t, "team-a_web", s.App)
	ns, name := AppInstance("web")
	assert.Empty(t, ns)
	assert.Equal(t, "web", name)
}

func TestSettingsFromParameters(t *testing.T) {
	a := baseApp()
	a.Env = [][2]string{{"RELEASE_NAME", "from-env"}, {"VALUES_FILES", "env.yaml, other.yaml"}, {"SHADOW_TIMEOUT", "4m"}}
	a.Params = []Parameter{
		{Name: ParamReleaseName, String: str("from-param")},
		{Name: ParamHelmSet, Map: map[string]string{"b": "x,y", "a": `c:\d`}},
		{Name: ParamGate, String: str("true")},
		{Name: ParamImage, String: str("aegis.local/aegis:e2e")},
		{Name: ParamGateNamespace, String: str("gates")},
		{Name: ParamGateTimeout, String: str("30m")},
		{Name: ParamShadow, String: str("head")},
		{Name: ParamVerdictTTL, String: str("1h")},
		{Name: ParamFailOn, String: str("MEDIUM")},
		{Name: ParamAppNamespace, String: str("apps")},
	}
	e, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	s, err := e.Settings("dev")
	require.NoError(t, err)
	assert.Equal(t, "from-param", s.ReleaseName, "a parameter wins over an env entry")
	assert.Equal(t, []string{"env.yaml", "other.yaml"}, s.ValuesFiles, "arrays from env are comma-separated")
	assert.Equal(t, []string{`a=c:\\d`, `b=x\,y`}, s.HelmSet, "map values are literal for --set, in key order")
	assert.Equal(t, "aegis.local/aegis:e2e", s.Image)
	assert.Equal(t, "gates", s.GateNamespace)
	assert.Equal(t, 30*time.Minute, s.GateTimeout)
	assert.Equal(t, 4*time.Minute, s.ShadowTimeout)
	assert.Equal(t, verify.ShadowHead, s.Shadow)
	assert.Equal(t, time.Hour, s.VerdictTTL)
	assert.Equal(t, "medium", s.FailOn)
	assert.Equal(t, "apps", s.AppNamespace)
}

// Whatever aegis does not understand is bad input, named, never ignored.
func TestSettingsRefuse(t *testing.T) {
	cases := map[string]struct {
		env    [][2]string
		params []Parameter
		want   string
	}{
		"unknown parameter":       {params: []Parameter{{Name: "replicas", String: str("3")}}, want: `"replicas" is not one aegis announces`},
		"unknown env entry":       {env: [][2]string{{"RELEASENAME", "x"}}, want: "ARGOCD_ENV_RELEASENAME"},
		"string given as array":   {params: []Parameter{{Name: ParamReleaseName, Array: []string{"x"}}}, want: "is a string"},
		"array given as string":   {params: []Parameter{{Name: ParamValuesFiles, String: str("a.yaml")}}, want: "is an array"},
		"map given as string":     {params: []Parameter{{Name: ParamHelmSet, String: str("a=b")}}, want: "is a map"},
		"gate not a bool":         {params: []Parameter{{Name: ParamGate, String: str("maybe")}}, want: "true or false"},
		"timeout not a duration":  {params: []Parameter{{Name: ParamGateTimeout, String: str("soon")}}, want: "positive duration"},
		"timeout too long":        {params: []Parameter{{Name: ParamGateTimeout, String: str("48h")}}, want: "between"},
		"shadow wait too long":    {params: []Parameter{{Name: ParamShadowTimeout, String: str("14m")}}, want: "leaves no time"},
		"shadow off":              {params: []Parameter{{Name: ParamShadow, String: str("off")}}, want: "head or both"},
		"bad severity":            {params: []Parameter{{Name: ParamFailOn, String: str("severe")}}, want: "fail-on"},
		"bad gate namespace":      {params: []Parameter{{Name: ParamGateNamespace, String: str("Not_A_Namespace")}}, want: "not a namespace name"},
		"empty values file":       {params: []Parameter{{Name: ParamValuesFiles, Array: []string{""}}}, want: "empty file name"},
		"image with a space":      {params: []Parameter{{Name: ParamImage, String: str("a b")}}, want: "not an image reference"},
		"empty helm-set key":      {params: []Parameter{{Name: ParamHelmSet, Map: map[string]string{"": "x"}}}, want: "empty key"},
		"zero verdict lifetime":   {params: []Parameter{{Name: ParamVerdictTTL, String: str("0s")}}, want: "positive duration"},
		"bad Application ns name": {params: []Parameter{{Name: ParamAppNamespace, String: str("A")}}, want: "not a namespace name"},
	}
	for name, c := range cases {
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
	e, err := ParseEnv([]string{"ARGOCD_APP_NAMESPACE=shop"})
	require.NoError(t, err)
	_, err = e.Settings("dev")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ARGOCD_APP_NAME is not set")
}
