package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kube-sentient/aegis/plugin"
)

// argoEnv is the environment Argo CD's repo-server gives a plugin command
// (see plugin/argoenv_test.go for how it is built): build variables, plugin
// env entries with $ references already substituted, parameters as JSON.
func argoEnv(app, dest, sourcePath string, extra ...string) []string {
	env := []string{
		"ARGOCD_APP_NAME=" + app,
		"ARGOCD_APP_NAMESPACE=" + dest,
		"ARGOCD_APP_PROJECT_NAME=default",
		"ARGOCD_APP_REVISION=4f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6",
		"ARGOCD_APP_REVISION_SHORT=4f1e2d3",
		"ARGOCD_APP_SOURCE_REPO_URL=https://github.com/kube-sentient/aegis.git",
		"ARGOCD_APP_SOURCE_PATH=" + sourcePath,
		"ARGOCD_APP_SOURCE_TARGET_REVISION=main",
		"KUBE_VERSION=1.37.2",
		"KUBE_API_VERSIONS=apps/v1,v1,batch/v1",
		"ARGOCD_APP_PARAMETERS=null",
	}
	return append(env, extra...)
}

// runArgo runs the built binary in dir with exactly env (plus PATH), as
// the CMP server runs the plugin's command in the app path.
func runArgo(t testing.TB, dir string, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// splitManifests splits generate's stdout as Argo CD's repo-server does:
// a YAML (or JSON) stream of Kubernetes objects.
func splitManifests(t *testing.T, out string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if err == io.EOF {
			return objs
		}
		require.NoError(t, err)
		if len(u.Object) == 0 {
			continue
		}
		require.NotEmpty(t, u.GetAPIVersion())
		require.NotEmpty(t, u.GetKind())
		require.NotEmpty(t, u.GetName())
		objs = append(objs, u)
	}
}

// generate through the binary, in each example's app path: stdout is only
// Kubernetes objects, the app's and the gate's (ConfigMap hooks and the
// PreSync Job); the summary goes to stderr.
func TestArgoCDGenerateThroughTheBinary(t *testing.T) {
	for path, want := range map[string]int{
		"examples/kustomize-overlay/after/overlays/prod": 2,
		"examples/helm-values/after/chart":               2,
		"examples/plain-yaml/after":                      2,
	} {
		t.Run(path, func(t *testing.T) {
			res := runArgo(t, filepath.Join(repoRoot(t), path), argoEnv("shop-web", "shop", path), "argocd", "generate")
			require.Equal(t, exitPass, res.code, res.stderr)
			objs := splitManifests(t, res.stdout)
			require.Len(t, objs, want+2, "the app's objects, one ConfigMap, the Job")
			job, cm := objs[len(objs)-1], objs[len(objs)-2]
			assert.Equal(t, "Job", job.GetKind())
			assert.Equal(t, "PreSync", job.GetAnnotations()["argocd.argoproj.io/hook"])
			assert.Equal(t, "BeforeHookCreation", job.GetAnnotations()["argocd.argoproj.io/hook-delete-policy"])
			assert.Equal(t, "ConfigMap", cm.GetKind())
			assert.Equal(t, "PreSync", cm.GetAnnotations()["argocd.argoproj.io/hook"])
			assert.Equal(t, job.GetAnnotations()[plugin.AnnotationDigest], cm.GetAnnotations()[plugin.AnnotationDigest])
			assert.Contains(t, res.stderr, "aegis: rendered ")
			for _, line := range strings.Split(res.stdout, "\n") {
				assert.False(t, strings.HasPrefix(line, "aegis: "), "nothing but objects on stdout: %s", line)
			}
		})
	}
}

// Parameters (string, array, map) and plugin env entries reach Helm; a $
// that Argo CD unescaped from $$ stays a literal $.
func TestArgoCDGenerateParameters(t *testing.T) {
	root := t.TempDir()
	chart := filepath.Join(root, "deploy", "chart")
	writeFiles(t, chart, map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"values.yaml":      "tier: dev\nprice: \"0\"\nhosts: []\n",
		"values-prod.yaml": "tier: prod\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n" +
			"  tier: {{ .Values.tier | quote }}\n  price: {{ .Values.price | quote }}\n  host: {{ index .Values.hosts 0 | quote }}\n  ns: {{ .Release.Namespace | quote }}\n",
	})
	env := argoEnv("team_web", "shop", "deploy/chart",
		`ARGOCD_APP_PARAMETERS=[{"name":"values-files","array":["values-prod.yaml"]},{"name":"helm-set","map":{"hosts[0]":"a.example,b.example"}},{"name":"gate","string":"false"}]`,
		"PARAM_VALUES_FILES_0=values-prod.yaml", "PARAM_HELM_SET_HOSTS_0_=a.example,b.example", "PARAM_GATE=false",
		// The Application said price=$$5: Argo CD hands over price=$5.
		"ARGOCD_ENV_HELM_SET=price=$5")
	// gate=false loosens the gate: the cluster policy must allow it.
	mount := filepath.Join(root, "cluster-policy")
	writeFiles(t, mount, map[string]string{"gate.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: GateRules\nallowParameters: [gate]\n"})
	res := runArgo(t, chart, env, "argocd", "generate", "--cluster-policy", mount)
	require.Equal(t, exitPass, res.code, res.stderr)
	objs := splitManifests(t, res.stdout)
	require.Len(t, objs, 1, "gate=false: only the app")
	data := objs[0].Object["data"].(map[string]any)
	assert.Equal(t, "web", objs[0].GetName(), "the release is the app's name")
	assert.Equal(t, "prod", data["tier"])
	assert.Equal(t, "$5", data["price"])
	assert.Equal(t, "a.example,b.example", data["host"])
	assert.Equal(t, "shop", data["ns"])
}

// Any error: a non-zero exit, the reason on stderr, and nothing at all on
// stdout (empty output with auto-prune would delete the app).
func TestArgoCDGenerateErrorsLeaveStdoutEmpty(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"bad-yaml/app.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n",
		"good/app.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"forged/app.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aegis-verdicts, namespace: aegis-system}\n",
		"helm/Chart.yaml":          "apiVersion: v2\nname: h\nversion: 0.1.0\n",
		"helm/templates/x.yaml":    "{{ required \"tag is required\" .Values.tag }}\n",
		"bad-policy/app.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"bad-policy/.aegis.yaml":   "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn: {severity: severe}\n",
		"empty/kustomization.yaml": "resources: [missing.yaml]\n",
	})
	cases := []struct {
		name, dir string
		env       []string
		want      string
	}{
		{"no ARGOCD_APP_NAME", "good", []string{"ARGOCD_APP_NAMESPACE=shop"}, "ARGOCD_APP_NAME is not set"},
		{"malformed YAML", "bad-yaml", argoEnv("web", "shop", "bad-yaml"), "bad-yaml/app.yaml:2"},
		{"Helm error", "helm", argoEnv("web", "shop", "helm"), "tag is required"},
		{"kustomize error", "empty", argoEnv("web", "shop", "empty"), "missing.yaml"},
		{"unknown parameter", "good", argoEnv("web", "shop", "good", `ARGOCD_APP_PARAMETERS=[{"name":"replicas","string":"3"}]`), `"replicas" is not one aegis announces`},
		{"malformed parameters", "good", argoEnv("web", "shop", "good", `ARGOCD_APP_PARAMETERS=[{"name":`), "ARGOCD_APP_PARAMETERS is not the JSON"},
		{"unknown env entry", "good", argoEnv("web", "shop", "good", "ARGOCD_ENV_REPLICAS=3"), "ARGOCD_ENV_REPLICAS"},
		{"bad policy", "bad-policy", argoEnv("web", "shop", "bad-policy"), "bad-policy/.aegis.yaml"},
		{"writes the gate's namespace", "forged", argoEnv("web", "shop", "forged"), "gate's namespace aegis-system"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := runArgo(t, filepath.Join(root, c.dir), c.env, "argocd", "generate")
			assert.Equal(t, exitBadInput, res.code, res.stderr)
			assert.Empty(t, res.stdout, "nothing on stdout")
			assert.Contains(t, res.stderr, c.want)
			assert.True(t, strings.HasPrefix(res.stderr, "aegis: "), res.stderr)
		})
	}
	res := runArgo(t, filepath.Join(root, "good"), argoEnv("web", "shop", "good"), "argocd", "generate", "--path", "no-such-dir")
	assert.NotEqual(t, exitPass, res.code)
	assert.Empty(t, res.stdout)

	// The cluster policy's own mistakes stop generation too, named: a
	// mount path given but missing is not "no policy", and a broken
	// ConfigMap is not the built-in policy.
	res = runArgo(t, filepath.Join(root, "good"), argoEnv("web", "shop", "good"), "argocd", "generate", "--cluster-policy", filepath.Join(root, "no-such-mount"))
	assert.Equal(t, exitBadInput, res.code, res.stderr)
	assert.Contains(t, res.stderr, "--cluster-policy "+filepath.Join(root, "no-such-mount")+": no such file or directory")
	assert.Empty(t, res.stdout)
	mount := filepath.Join(root, "broken-mount")
	writeFiles(t, mount, map[string]string{"gate.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: GateRules\nallowParameters: [replicas]\n"})
	res = runArgo(t, filepath.Join(root, "good"), argoEnv("web", "shop", "good"), "argocd", "generate", "--cluster-policy", mount)
	assert.Equal(t, exitBadInput, res.code, res.stderr)
	assert.Contains(t, res.stderr, "gate.yaml:3: \"replicas\" is not a parameter of aegis")
	assert.Empty(t, res.stdout)
}

// discover (plugin.yaml's discovery command) prints the nearest policy in
// the app path or above it within the repository, else nothing; it always
// exits 0, as Argo CD takes an error for "not this plugin".
func TestArgoCDDiscover(t *testing.T) {
	outside := t.TempDir()
	root := filepath.Join(outside, "repo")
	writeFiles(t, outside, map[string]string{
		".aegis.yaml":               "apiVersion: aegis.dev/v1alpha1\nkind: Config\n",
		"repo/apps/web/x.yaml":      "",
		"repo/apps/api/.aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\n",
		"repo/apps/api/prod/x.yaml": "",
	})
	res := runArgo(t, filepath.Join(root, "apps", "web"), argoEnv("web", "shop", "apps/web"), "argocd", "discover")
	assert.Equal(t, exitPass, res.code)
	assert.Empty(t, res.stdout, "no policy in the repository: no match")
	res = runArgo(t, filepath.Join(root, "apps", "api", "prod"), argoEnv("api", "shop", "apps/api/prod"), "argocd", "discover")
	assert.Equal(t, exitPass, res.code)
	assert.Equal(t, filepath.Join(root, "apps", "api", ".aegis.yaml")+"\n", res.stdout)
}

func TestArgoCDUsage(t *testing.T) {
	res := runBinary(t, "argocd", "presync", "--app", "web")
	assert.Equal(t, exitBadInput, res.code, res.stderr)
	assert.Contains(t, res.stderr, "--digest")
	assert.Empty(t, res.stdout)
	res = runBinary(t, "argocd", "generate", "--help")
	assert.Equal(t, exitPass, res.code)
	for _, a := range plugin.Parameters {
		assert.Contains(t, res.stdout, a.Name, "the help lists every parameter")
	}
}

// presync through the binary with the generated Job's own arguments, on
// the local control plane: the set the gate reads is the one generate
// printed; the cluster policy (the ConfigMap aegis-policy, which the
// sidecar has mounted and the gate reads from the API) switches off the
// scanners this machine lacks and names the test's gate namespace. Exit 0
// for the live app itself, 1 for a change that adds a hostPath volume, 1
// again when that change's own .aegis.yaml waives the finding, raises
// failOn and disables the scanner (the revision may only tighten), 2 for a
// Job whose fail-on a stale sidecar let through, 2 for a forged set; no
// shadow namespace is left.
func TestArgoCDPresyncThroughTheBinary(t *testing.T) {
	kc, cs := clusterKubeconfig(t)
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	dest, gateNS, appNS, policyNS := "cli-dest-"+suffix, "cli-gate-"+suffix, "cli-apps-"+suffix, "cli-policy-"+suffix
	for _, ns := range []string{dest, gateNS, appNS, policyNS} {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	require.NoError(t, err)
	instance := appNS + "_web"
	cluster := map[string]string{
		"policy.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy: {enabled: false}\n  trivy-image: {enabled: false}\n",
		"gate.yaml":   "apiVersion: aegis.dev/v1alpha1\nkind: GateRules\ngateNamespace: " + gateNS + "\n",
	}
	_, err = cs.CoreV1().ConfigMaps(policyNS).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: plugin.ClusterPolicyConfigMap}, Data: cluster}, metav1.CreateOptions{})
	require.NoError(t, err)
	// The sidecar's mount of it, and a stale one that still allows fail-on.
	mount, stale := filepath.Join(t.TempDir(), "policy"), filepath.Join(t.TempDir(), "stale")
	writeFiles(t, mount, cluster)
	writeFiles(t, stale, map[string]string{"policy.yaml": cluster["policy.yaml"], "gate.yaml": cluster["gate.yaml"] + "allowParameters: [fail-on]\n"})
	// The revision's own policy: what it says of scanners is not honoured
	// (the cluster's switches trivy off all the same).
	revPolicy := "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy: {enabled: false}\n"
	params := `ARGOCD_APP_PARAMETERS=[{"name":"shadow-timeout","string":"2m"}]`

	// generate in a repository, as the CMP server does.
	genWith := func(app, policy, mount, params string) ([]*unstructured.Unstructured, []string) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{"apps/web/app.yaml": app, "apps/web/.aegis.yaml": policy})
		env := argoEnv(instance, dest, "apps/web", params, plugin.EnvPolicyNamespace+"="+policyNS)
		res := runArgo(t, filepath.Join(root, "apps", "web"), env, "argocd", "generate", "--cluster-policy", mount)
		require.Equal(t, exitPass, res.code, res.stderr)
		objs := splitManifests(t, res.stdout)
		job := objs[len(objs)-1]
		c, _, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers")
		var args []string
		for _, a := range c[0].(map[string]any)["args"].([]any) {
			args = append(args, a.(string))
		}
		return objs, args
	}
	gen := func(app string) ([]*unstructured.Unstructured, []string) {
		return genWith(app, revPolicy, mount, params)
	}
	applyHooks := func(objs []*unstructured.Unstructured) {
		for _, u := range objs {
			if u.GetNamespace() != gateNS {
				continue
			}
			switch u.GetKind() {
			case "ConfigMap":
				cm := &corev1.ConfigMap{}
				require.NoError(t, convertFrom(u, cm))
				_, err := cs.CoreV1().ConfigMaps(gateNS).Create(ctx, cm, metav1.CreateOptions{})
				require.NoError(t, err)
			case "Secret":
				sec := &corev1.Secret{}
				require.NoError(t, convertFrom(u, sec))
				_, err := cs.CoreV1().Secrets(gateNS).Create(ctx, sec, metav1.CreateOptions{})
				if !apierrors.IsAlreadyExists(err) { // both sets hold the same Secret
					require.NoError(t, err)
				}
			}
		}
	}
	presync := func(args []string, runID string) cliResult {
		t.Cleanup(func() { _ = runBinary(t, "gc", "--kubeconfig", kc, "--run", runID) })
		return runArgo(t, repoRoot(t), nil, append(args, "--kubeconfig", kc, "--run-id", runID)...)
	}

	liveObjs, cleanArgs := gen(argoWebApp)
	assert.Contains(t, strings.Join(cleanArgs, " "), "--gate-namespace "+gateNS, "the cluster policy's gate namespace")
	assert.Contains(t, strings.Join(cleanArgs, " "), "--policy-namespace "+policyNS, "the sidecar's namespace")
	applyHooks(liveObjs)
	// The live state: the app as Argo CD synced it, tracked for the instance.
	dyn := newDynamic(t, cfg)
	for _, u := range liveObjs[:len(liveObjs)-3] { // the app, without the gate's ConfigMap, Secret and Job
		u.SetNamespace(dest)
		u.SetAnnotations(map[string]string{plugin.AnnotationTrackingID: instance + ":x"})
		applyAs(t, dyn, cs, u)
	}

	runID := "clipass" + suffix
	res := presync(cleanArgs, runID)
	assert.Equal(t, exitPass, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.NotContains(t, res.stdout+res.stderr, "cli-test-secret-value", "a Secret's value is never printed")
	assert.Contains(t, res.stdout, "PASS")
	assert.Contains(t, res.stderr, "policy apps/web/.aegis.yaml", "the app's policy was carried")
	assert.Contains(t, res.stderr, "cluster policy: ConfigMap "+policyNS+"/aegis-policy", "the gate read the cluster policy itself")
	assert.Contains(t, res.stderr, "not honoured (the revision may only tighten the cluster policy): scanners settings (trivy)")
	assert.Empty(t, runNamespaces(t, cs, runID))

	res = presync(cleanArgs, "clifast"+suffix)
	assert.Equal(t, exitPass, res.code, res.stderr)
	assert.Contains(t, res.stdout, "recorded verdict pass")

	hostPath := func(path string) string {
		return strings.Replace(argoWebApp, "      containers:\n",
			"      volumes: [{name: logs, hostPath: {path: "+path+"}}]\n      containers:\n", 1)
	}
	badObjs, badArgs := gen(hostPath("/var/log"))
	applyHooks(badObjs)
	runID = "clifail" + suffix
	res = presync(badArgs, runID)
	assert.Equal(t, exitFail, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "pss.hostPathVolumes")
	assert.NotContains(t, res.stdout+res.stderr, "cli-test-secret-value", "a Secret's value is never printed")
	assert.Empty(t, runNamespaces(t, cs, runID))

	// The same kind of change, with a revision policy that waives its
	// finding, raises failOn and switches the scanner that finds it off:
	// none of it is honoured, and the gate says so.
	hostileObjs, hostileArgs := genWith(hostPath("/var/lib"), `apiVersion: aegis.dev/v1alpha1
kind: Config
failOn: {severity: critical, unhealthy: false}
scanners:
  posture: {enabled: false}
waivers:
  - {ruleId: pss.hostPathVolumes, reason: "needed", owner: the-pr, expires: "2999-12-31"}
`, mount, params)
	applyHooks(hostileObjs)
	runID = "clihostile" + suffix
	res = presync(hostileArgs, runID)
	assert.Equal(t, exitFail, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "pss.hostPathVolumes", "posture ran, the waiver did not apply")
	assert.Contains(t, res.stdout, "0 waived", "the revision's waiver waives nothing")
	assert.Contains(t, res.stderr, "not honoured (the revision may only tighten the cluster policy): failOn.severity critical (the gate fails on high), failOn.unhealthy false, 1 waiver, scanners settings (posture)")
	assert.Empty(t, runNamespaces(t, cs, runID))

	// A sidecar whose mount is stale let fail-on=critical into the Job: the
	// gate, reading the policy itself, refuses before it verifies anything,
	// even though a pass for this set is recorded.
	staleObjs, staleArgs := genWith(argoWebApp, revPolicy, stale,
		`ARGOCD_APP_PARAMETERS=[{"name":"shadow-timeout","string":"2m"},{"name":"fail-on","string":"critical"}]`)
	assert.Contains(t, strings.Join(staleArgs, " "), "--fail-on critical")
	applyHooks(staleObjs)
	runID = "clistale" + suffix
	res = presync(staleArgs, runID)
	assert.Equal(t, exitBadInput, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.Contains(t, res.stderr, "the gate's arguments loosen the cluster policy (ConfigMap "+policyNS+"/aegis-policy): --fail-on critical, above the cluster policy's failOn.severity high")
	assert.NotContains(t, res.stdout, "recorded verdict pass")
	assert.Empty(t, runNamespaces(t, cs, runID))

	// Forged: the bad set's ConfigMap under the clean set's name.
	// (The failing gates deleted the clean set's hooks as an earlier set's;
	// the stale run brought them back.)
	var cleanCM, cleanSecret *unstructured.Unstructured
	for _, u := range liveObjs {
		if u.GetNamespace() == gateNS && u.GetKind() == "ConfigMap" {
			cleanCM = u
		}
		if u.GetNamespace() == gateNS && u.GetKind() == "Secret" {
			cleanSecret = u
		}
	}
	require.NotNil(t, cleanCM)
	require.NotNil(t, cleanSecret)
	_ = cs.CoreV1().ConfigMaps(gateNS).Delete(ctx, cleanCM.GetName(), metav1.DeleteOptions{})
	forged := cleanCM.DeepCopy()
	forged.Object["binaryData"] = badObjs[len(badObjs)-3].Object["binaryData"]
	applyHooks([]*unstructured.Unstructured{forged, cleanSecret})
	// Drop the recorded pass so that the gate must read the set.
	require.NoError(t, cs.CoreV1().ConfigMaps(gateNS).Delete(ctx, plugin.VerdictsConfigMap, metav1.DeleteOptions{}))
	runID = "cliforged" + suffix
	res = presync(cleanArgs, runID)
	assert.Equal(t, exitBadInput, res.code, res.stderr)
	assert.Contains(t, res.stderr, "not the set this gate was generated for")
	assert.Empty(t, runNamespaces(t, cs, runID))

	evs, err := cs.CoreV1().Events(appNS).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web"})
	require.NoError(t, err)
	reasons := map[string]int{}
	var failed []string
	for _, e := range evs.Items {
		reasons[e.Reason]++
		for _, v := range []string{"cli-test-secret-value", base64.StdEncoding.EncodeToString([]byte("cli-test-secret-value"))} {
			assert.NotContains(t, e.Message, v, "an Event the gate writes never carries a Secret's value")
		}
		if e.Reason == plugin.ReasonFailed {
			failed = append(failed, e.Message)
		}
	}
	assert.Equal(t, map[string]int{plugin.ReasonPassed: 2, plugin.ReasonFailed: 2, plugin.ReasonError: 2}, reasons)
	assert.Contains(t, strings.Join(failed, "\n"), "1 waiver", "the Application hears what was not honoured")
}

const argoWebApp = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: web
          image: aegis.local/web:1.1
          imagePullPolicy: IfNotPresent
          ports: [{containerPort: 8080}]
          securityContext:
            allowPrivilegeEscalation: false
            runAsUser: 10001
            capabilities: {drop: ["ALL"]}
          resources:
            limits: {cpu: 500m, memory: 256Mi}
            requests: {cpu: 50m, memory: 32Mi}
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
          livenessProbe:
            httpGet: {path: /healthz, port: 8080}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: cli-test-secret-value}
`

// BenchmarkArgoCDGenerate runs `aegis argocd generate` as Argo CD's sidecar
// runs it, process start-up included, in each example's app path.
func BenchmarkArgoCDGenerate(b *testing.B) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(b, err)
	for _, path := range []string{"examples/kustomize-overlay/after/overlays/prod", "examples/helm-values/after/chart", "examples/plain-yaml/after"} {
		b.Run(strings.ReplaceAll(strings.TrimPrefix(path, "examples/"), "/", "_"), func(b *testing.B) {
			env := argoEnv("shop-web", "shop", path)
			for b.Loop() {
				res := runArgo(b, filepath.Join(root, path), env, "argocd", "generate", "--quiet")
				if res.code != 0 {
					b.Fatal(res.stderr)
				}
			}
		})
	}
}

func convertFrom(u *unstructured.Unstructured, out any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out)
}

func newDynamic(t *testing.T, cfg *rest.Config) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	return d
}

// applyAs server-side applies u as Argo CD's controller would.
func applyAs(t *testing.T, dyn dynamic.Interface, cs kubernetes.Interface, u *unstructured.Unstructured) {
	t.Helper()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))
	gvk := u.GroupVersionKind()
	mp, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	require.NoError(t, err)
	_, err = dyn.Resource(mp.Resource).Namespace(u.GetNamespace()).Apply(context.Background(), u.GetName(), u,
		metav1.ApplyOptions{FieldManager: "argocd-controller", Force: true})
	require.NoError(t, err)
}
