package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/verify"
)

const policyHead = "apiVersion: aegis.dev/v1alpha1\nkind: Config\n"
const rulesHead = "apiVersion: aegis.dev/v1alpha1\nkind: GateRules\n"

func clusterPolicy(t *testing.T, policy, rules string) ClusterPolicy {
	t.Helper()
	data := map[string]string{}
	if policy != "" {
		data[ClusterPolicyKey] = policy
	}
	if rules != "" {
		data[GateRulesKey] = rules
	}
	cp, err := ParseClusterPolicy("ConfigMap argocd/aegis-policy", data)
	require.NoError(t, err)
	return cp
}

func TestParseClusterPolicy(t *testing.T) {
	cp := clusterPolicy(t, policyHead+"failOn: {severity: medium}\nwaivers: [{ruleId: pss.x, reason: r, owner: platform, expires: 2999-01-01}]\n",
		rulesHead+"image: registry.example/aegis:v1\ngateNamespace: gates\nallowParameters: [fail-on]\nallowImages: [\"registry.example/aegis@sha256:\"]\n")
	assert.Equal(t, "medium", cp.Config.FailOn.Severity)
	assert.Len(t, cp.Config.Waivers, 1)
	assert.Empty(t, cp.Config.Path, "paths in a ConfigMap resolve nowhere")
	assert.Equal(t, "registry.example/aegis:v1", cp.GateImage("v0.9.0"))
	assert.Equal(t, "gates", cp.GateNamespace())
	assert.True(t, cp.allows(ParamFailOn))
	assert.False(t, cp.allows(ParamGate))

	none := clusterPolicy(t, "", "")
	assert.Equal(t, "high", none.Config.FailOn.Severity, "no key: the default policy")
	assert.Equal(t, DefaultImage("v0.9.0"), none.GateImage("v0.9.0"))
	assert.Equal(t, DefaultGateNamespace, none.GateNamespace())

	for name, c := range map[string]struct {
		data map[string]string
		want string
	}{
		"misspelt key":            {map[string]string{"polcy.yaml": policyHead}, `unknown key "polcy.yaml"`},
		"broken policy":           {map[string]string{ClusterPolicyKey: policyHead + "failOn: {severity: severe}\n"}, `ConfigMap argocd/aegis-policy policy.yaml:3: unknown severity "severe"`},
		"unknown rule":            {map[string]string{GateRulesKey: rulesHead + "allowEverything: true\n"}, `gate.yaml:3: unknown key "allowEverything"`},
		"wrong kind":              {map[string]string{GateRulesKey: "apiVersion: aegis.dev/v1alpha1\nkind: Config\n"}, `gate.yaml:2: apiVersion must be aegis.dev/v1alpha1 and kind GateRules`},
		"empty rules":             {map[string]string{GateRulesKey: "# nothing\n"}, `gate.yaml:1: empty`},
		"a safe parameter":        {map[string]string{GateRulesKey: rulesHead + "allowParameters: [shadow]\n"}, `gate.yaml:3: "shadow" cannot loosen the gate, so it needs no allowance`},
		"an unknown parameter":    {map[string]string{GateRulesKey: rulesHead + "allowParameters: [everything]\n"}, `gate.yaml:3: "everything" is not a parameter of aegis`},
		"a bad gate namespace":    {map[string]string{GateRulesKey: rulesHead + "gateNamespace: Gates\n"}, `gate.yaml:3: "Gates" is not a namespace name`},
		"an empty image prefix":   {map[string]string{GateRulesKey: rulesHead + "allowImages: [\"\"]\n"}, `gate.yaml:3: "" is not an image prefix`},
		"an image with a space":   {map[string]string{GateRulesKey: rulesHead + "image: a b\n"}, `gate.yaml:3: "a b" is not an image reference`},
		"rules that are not YAML": {map[string]string{GateRulesKey: "a: [\n"}, `gate.yaml: invalid YAML`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseClusterPolicy("ConfigMap argocd/aegis-policy", c.data)
			require.Error(t, err)
			assert.True(t, verify.IsBadInput(err), "exit 2: %v", err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// The sidecar reads the ConfigMap as the kubelet mounts it: each key a
// symlink into ..data. No directory, or an empty one (the optional volume
// without its ConfigMap), is the built-in policy.
func TestLoadClusterPolicyDir(t *testing.T) {
	cp, err := LoadClusterPolicyDir(filepath.Join(t.TempDir(), "absent"))
	require.NoError(t, err)
	assert.Contains(t, cp.Source, "built-in default policy")
	assert.Equal(t, "high", cp.config().FailOn.Severity)

	dir := t.TempDir()
	cp, err = LoadClusterPolicyDir(dir)
	require.NoError(t, err)
	assert.Contains(t, cp.Source, "absent or empty")

	data := filepath.Join(dir, "..2026_01_01_00_00_00.1")
	writeFiles(t, data, map[string]string{
		ClusterPolicyKey: policyHead + "failOn: {severity: low}\n",
		GateRulesKey:     rulesHead + "allowParameters: [gate]\n",
	})
	require.NoError(t, os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")))
	for _, k := range []string{ClusterPolicyKey, GateRulesKey} {
		require.NoError(t, os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)))
	}
	cp, err = LoadClusterPolicyDir(dir)
	require.NoError(t, err)
	assert.Equal(t, "low", cp.Config.FailOn.Severity)
	assert.True(t, cp.allows(ParamGate))
	assert.Equal(t, "ConfigMap aegis-policy (mounted at "+dir+")", cp.Source)

	writeFiles(t, data, map[string]string{GateRulesKey: rulesHead + "allowParameters: [gate, shadow]\n"})
	_, err = LoadClusterPolicyDir(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ConfigMap aegis-policy (mounted at "+dir+") gate.yaml:3")
}

// The revision's policy may tighten the cluster policy, never loosen it:
// its waivers, its scanner settings and every check it turns off are not
// honoured, and the note says so; a lower severity and checks turned on
// are.
func TestApplyRevisionOnlyTightens(t *testing.T) {
	cluster := clusterPolicy(t, policyHead+"failOn: {severity: high, scannerError: false}\nscanners: {trivy-image: {enabled: false}}\nwaivers: [{ruleId: pss.cluster, reason: r, owner: platform, expires: 2999-01-01}]\n", "")
	loosening := policyHead + `failOn:
  severity: critical
  unhealthy: false
scanners:
  posture: {enabled: false}
  trivy: {allowError: true, binary: /bin/true}
waivers:
  - {ruleId: pss.hostPathVolumes, reason: mine, owner: me, expires: 2999-01-01}
  - {resource: Deployment/web, reason: mine, owner: me, expires: 2999-01-01}
`
	a, err := cluster.Apply(Policy{Path: "apps/web/.aegis.yaml", Data: []byte(loosening)}, "")
	require.NoError(t, err)
	c := a.Config
	assert.Equal(t, "high", c.FailOn.Severity)
	assert.True(t, *c.FailOn.Unhealthy)
	assert.False(t, *c.FailOn.ScannerError, "the cluster's own choice stands")
	assert.True(t, c.Enabled("posture"), "a scanner the revision turns off still runs")
	assert.False(t, c.Enabled("trivy-image"), "the cluster's own choice stands")
	assert.Equal(t, config.ScannerSettings{}, c.Scanner("trivy"), "no binary, no allowError from the revision")
	require.Len(t, c.Waivers, 1)
	assert.Equal(t, "pss.cluster", c.Waivers[0].RuleID, "only the cluster's waivers")
	assert.Empty(t, a.Honoured)
	assert.Equal(t, []string{"failOn.severity critical (the gate fails on high)", "failOn.unhealthy false", "2 waivers", "scanners settings (posture, trivy)"}, a.Ignored)
	assert.Equal(t, "the revision's policy apps/web/.aegis.yaml: not honoured (the revision may only tighten the cluster policy): "+
		"failOn.severity critical (the gate fails on high), failOn.unhealthy false, 2 waivers, scanners settings (posture, trivy)", a.Note())
	assert.Len(t, cluster.Config.Waivers, 1, "the cluster policy itself is not changed")

	a, err = cluster.Apply(Policy{Path: "apps/web/.aegis.yaml", Data: []byte(policyHead + "failOn: {severity: MEDIUM, scannerError: true}\n")}, "")
	require.NoError(t, err)
	assert.Equal(t, "medium", a.Config.FailOn.Severity)
	assert.True(t, *a.Config.FailOn.ScannerError)
	assert.Equal(t, []string{"failOn.severity medium", "failOn.scannerError true"}, a.Honoured)
	assert.False(t, *cluster.Config.FailOn.ScannerError, "the cluster policy itself is not changed")
	assert.Equal(t, "the revision's policy apps/web/.aegis.yaml: tightened by failOn.severity medium, failOn.scannerError true", a.Note())

	a, err = cluster.Apply(Policy{}, "")
	require.NoError(t, err)
	assert.Empty(t, a.Note(), "no revision policy, nothing to say")

	_, err = cluster.Apply(Policy{Path: "apps/web/.aegis.yaml", Data: []byte(policyHead + "colour: blue\n")}, "")
	require.Error(t, err, "a broken revision policy is still bad input")
	assert.Contains(t, err.Error(), "apps/web/.aegis.yaml:3")
}

// fail-on: a lower severity always applies; a higher one only where the
// cluster allows it, and then the revision may still tighten it.
func TestApplyFailOn(t *testing.T) {
	cluster := clusterPolicy(t, "", "")
	a, err := cluster.Apply(Policy{}, "low")
	require.NoError(t, err)
	assert.Equal(t, "low", a.Config.FailOn.Severity)
	_, err = cluster.Apply(Policy{}, "critical")
	require.Error(t, err)
	assert.True(t, verify.IsBadInput(err))
	assert.Contains(t, err.Error(), "fail-on critical, above the cluster policy's failOn.severity high")
	assert.Contains(t, err.Error(), "key gate.yaml of the ConfigMap aegis-policy")

	allowed := clusterPolicy(t, "", rulesHead+"allowParameters: [fail-on]\n")
	a, err = allowed.Apply(Policy{}, "critical")
	require.NoError(t, err)
	assert.Equal(t, "critical", a.Config.FailOn.Severity)
	a, err = allowed.Apply(Policy{Path: ".aegis.yaml", Data: []byte(policyHead + "failOn: {severity: high}\n")}, "critical")
	require.NoError(t, err)
	assert.Equal(t, "high", a.Config.FailOn.Severity, "the revision tightens the allowed fail-on back")
}

// Each parameter that can loosen the gate is refused, set as a parameter
// or as a plugin env entry, naming it and where to allow it; allowed where
// gate.yaml allows it; a tighter value is always allowed.
func TestJudgeLooseningParameters(t *testing.T) {
	judge := func(cp ClusterPolicy, env [][2]string, params ...Parameter) (Settings, error) {
		t.Helper()
		a := baseApp()
		a.Env, a.Params = env, params
		e, err := ParseEnv(argoEnviron(a))
		require.NoError(t, err)
		s, err := e.Settings("v0.9.0")
		require.NoError(t, err)
		return s, cp.Judge(&s, "v0.9.0")
	}
	builtin := BuiltinClusterPolicy("test")
	for _, c := range []struct {
		param, value, env, want, allow string
	}{
		{ParamGate, "false", "GATE", `is false: that switches the aegis gate off`, "allowParameters: [gate]"},
		{ParamFailOn, "critical", "FAIL_ON", `is critical, above the cluster policy's failOn.severity high: new high findings would pass`, "allowParameters: [fail-on]"},
		{ParamImage, "evil.example/aegis:1", "IMAGE", `is "evil.example/aegis:1": the gate Job runs with the gate's ServiceAccount, so the cluster chooses its image (ghcr.io/kube-sentient/aegis:v0.9.0)`, "allowImages: [evil.example/]"},
		{ParamImage, "evil.example/aegis:1", "IMAGE", `is "evil.example/aegis:1": the gate Job runs with the gate's ServiceAccount`, "allowParameters: [image]"},
		{ParamGateNamespace, "mine", "GATE_NAMESPACE", `is "mine": the gate keeps its verdicts and reads its rendered sets in aegis-system`, "allowParameters: [gate-namespace]"},
		{ParamVerdictTTL, "720h", "VERDICT_TTL", `is 720h0m0s, longer than 24h0m0s`, "allowParameters: [verdict-ttl]"},
	} {
		t.Run(c.param+"="+c.value+" with "+c.allow, func(t *testing.T) {
			_, err := judge(builtin, nil, Parameter{Name: c.param, String: str(c.value)})
			require.Error(t, err)
			assert.True(t, verify.IsBadInput(err))
			assert.Contains(t, err.Error(), `plugin parameter "`+c.param+`" `+c.want)
			assert.Contains(t, err.Error(), "the built-in default policy")
			assert.Contains(t, err.Error(), "allowParameters")
			assert.Contains(t, err.Error(), "in key gate.yaml of the ConfigMap aegis-policy")

			_, err = judge(builtin, [][2]string{{c.env, c.value}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "plugin env entry ARGOCD_ENV_"+c.env+" "+c.want)

			s, err := judge(clusterPolicy(t, "", rulesHead+c.allow+"\n"), nil, Parameter{Name: c.param, String: str(c.value)})
			require.NoError(t, err, "allowed by the cluster policy")
			if c.param == ParamImage {
				assert.Equal(t, c.value, s.Image)
			}
		})
	}

	// Two at once: both named.
	_, err := judge(builtin, [][2]string{{"GATE", "false"}}, Parameter{Name: ParamFailOn, String: str("critical")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ARGOCD_ENV_GATE is false")
	assert.Contains(t, err.Error(), `plugin parameter "fail-on" is critical`)

	// Tighter values, and the ones that cannot loosen, need no allowance.
	s, err := judge(builtin, [][2]string{{"SHADOW", "head"}},
		Parameter{Name: ParamGate, String: str("true")}, Parameter{Name: ParamFailOn, String: str("low")},
		Parameter{Name: ParamImage, String: str(DefaultImage("v0.9.0"))}, Parameter{Name: ParamGateNamespace, String: str(DefaultGateNamespace)},
		Parameter{Name: ParamVerdictTTL, String: str("1h")}, Parameter{Name: ParamGateTimeout, String: str("6h")})
	require.NoError(t, err)
	assert.Equal(t, "low", s.FailOn)

	// The cluster's image and gate namespace are the defaults; the same
	// value as a parameter is no loosening.
	cp := clusterPolicy(t, "", rulesHead+"image: registry.example/aegis:v1\ngateNamespace: gates\n")
	s, err = judge(cp, nil)
	require.NoError(t, err)
	assert.Equal(t, "registry.example/aegis:v1", s.Image)
	assert.Equal(t, "gates", s.GateNamespace)
	_, err = judge(cp, nil, Parameter{Name: ParamGateNamespace, String: str("gates")}, Parameter{Name: ParamImage, String: str("registry.example/aegis:v1")})
	require.NoError(t, err)
	_, err = judge(cp, nil, Parameter{Name: ParamImage, String: str(DefaultImage("v0.9.0"))})
	require.Error(t, err, "the public image is not the cluster's")
	_, err = judge(cp, nil, Parameter{Name: ParamGateNamespace, String: str(DefaultGateNamespace)})
	require.Error(t, err)

	// An empty parameter is no value: the env entry it empties does not count.
	s, err = judge(builtin, [][2]string{{"IMAGE", "evil.example/aegis:1"}}, Parameter{Name: ParamImage, String: str("")})
	require.NoError(t, err)
	assert.Equal(t, DefaultImage("v0.9.0"), s.Image)
}

// The gate checks its own arguments against the policy it reads itself.
func TestCheckGate(t *testing.T) {
	cp := clusterPolicy(t, "", "")
	require.NoError(t, cp.CheckGate(DefaultGateNamespace, "medium", time.Hour))
	err := cp.CheckGate("mine", "critical", 30*24*time.Hour)
	require.Error(t, err)
	assert.True(t, verify.IsBadInput(err))
	for _, want := range []string{"the gate runs in mine, not in the cluster policy's gate namespace aegis-system",
		"--fail-on critical, above the cluster policy's failOn.severity high", "--verdict-ttl 720h0m0s is longer than 24h0m0s", "is the sidecar's copy of the ConfigMap aegis-policy stale?"} {
		assert.Contains(t, err.Error(), want)
	}
	allowed := clusterPolicy(t, "", rulesHead+"allowParameters: [gate-namespace, fail-on, verdict-ttl]\n")
	require.NoError(t, allowed.CheckGate("mine", "critical", 30*24*time.Hour))
}

// Generate judges the parameters before it reads the revision, writes the
// cluster's image and the policy's namespace into the gate Job, and refuses
// a set that would rewrite the cluster policy.
func TestGenerateUnderTheClusterPolicy(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
	gen := func(cp *ClusterPolicy, policyNS string, params ...Parameter) (*Generated, error) {
		a := baseApp()
		a.Path, a.Params = "app", params
		env, err := ParseEnv(argoEnviron(a))
		require.NoError(t, err)
		return Generate(t.Context(), GenerateOptions{Dir: filepath.Join(root, "app"), Env: env, ToolVersion: "v0.9.0", Cluster: cp, PolicyNamespace: policyNS})
	}
	_, err := gen(nil, "", Parameter{Name: ParamGate, String: str("false")})
	require.Error(t, err, "no cluster policy: nothing may loosen")
	assert.Contains(t, err.Error(), `plugin parameter "gate" is false`)

	cp := clusterPolicy(t, "", rulesHead+"image: registry.example/aegis:v1\nallowParameters: [gate]\n")
	g, err := gen(&cp, "gitops", Parameter{Name: ParamGate, String: str("false")})
	require.NoError(t, err)
	assert.Empty(t, g.Gate, "allowed: no gate")

	g, err = gen(&cp, "gitops")
	require.NoError(t, err)
	containers, _, _ := unstructured.NestedSlice(g.Gate[len(g.Gate)-1].Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	assert.Equal(t, "registry.example/aegis:v1", c["image"], "the cluster's image")
	assert.Contains(t, strings.Join(toStrings(c["args"].([]any)), " "), "--policy-namespace gitops")

	_, err = gen(&cp, "Not A Namespace")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AEGIS_POLICY_NAMESPACE")

	writeFiles(t, root, map[string]string{"app/policy.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aegis-policy, namespace: gitops}\ndata: {gate.yaml: x}\n"})
	_, err = gen(&cp, "gitops")
	require.Error(t, err)
	assert.True(t, verify.IsBadInput(err))
	assert.Contains(t, err.Error(), "app/policy.yaml:1")
	assert.Contains(t, err.Error(), "the cluster policy of aegis (gitops/aegis-policy)")
	_, err = gen(&cp, "gitops", Parameter{Name: ParamGate, String: str("false")})
	require.Error(t, err, "refused with or without the gate: the sidecar reads it")
	_, err = gen(&cp, "argocd")
	require.NoError(t, err, "a ConfigMap of that name elsewhere is the app's own")
}
