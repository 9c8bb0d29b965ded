package plugin

// Integration tests of the PreSync gate on the project's local control plane
// (internal/testcluster: AEGIS_KUBECONFIG; AEGIS_REQUIRE_CLUSTER=1 turns a
// missing cluster into a failure). They work in both node modes: kwok
// simulates the pods, a real node runs them (the example image
// aegis.local/web:1.1 must be imported, as make test-real does).
//
// Each test plays Argo CD's part: it runs generate for an app, applies the
// gate's ConfigMap hooks in the gate namespace as the sync's PreSync phase
// would, and runs the gate with the arguments of the generated Job.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/internal/testcluster"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/health"
	"github.com/kube-sentient/aegis/scanners/posture"
	"github.com/kube-sentient/aegis/shadow"
	"github.com/kube-sentient/aegis/verify"
)

// webApp is the kustomize example's hardened web app, without a namespace
// (Argo CD puts it in the destination namespace).
const webApp = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
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
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

// withHostPath is webApp whose pod mounts the node's /var/log: the baseline
// Pod Security Standard forbids it (pss.hostPathVolumes, high).
var withHostPath = strings.Replace(strings.Replace(webApp,
	"          livenessProbe:\n            httpGet: {path: /healthz, port: 8080}\n",
	"          livenessProbe:\n            httpGet: {path: /healthz, port: 8080}\n          volumeMounts: [{name: node-logs, mountPath: /host/logs, readOnly: true}]\n", 1),
	"      containers:\n", "      volumes: [{name: node-logs, hostPath: {path: /var/log}}]\n      containers:\n", 1)

type gateCluster struct {
	cfg    *rest.Config
	cs     kubernetes.Interface
	dyn    dynamic.Interface
	suffix string
	// dest is the app's destination, gateNS the gate's namespace, appNS
	// where its Application lives.
	dest, gateNS, appNS string
}

func randSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newGateCluster creates the test's namespaces (removed when it ends) and
// makes sure the cluster serves Argo CD's Application kind.
func newGateCluster(t *testing.T) *gateCluster {
	t.Helper()
	_, cfg := testcluster.Kubeconfig(t)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	g := &gateCluster{cfg: cfg, cs: cs, dyn: dyn, suffix: randSuffix()}
	g.dest, g.gateNS, g.appNS = "argo-dest-"+g.suffix, "argo-gate-"+g.suffix, "argo-apps-"+g.suffix
	for _, ns := range []string{g.dest, g.gateNS, g.appNS} {
		g.namespace(t, ns)
	}
	ensureApplicationCRD(t, dyn)
	g.setClusterPolicy(t, "")
	return g
}

func (g *gateCluster) namespace(t *testing.T, name string) {
	t.Helper()
	_, err := g.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
		t.Cleanup(func() { _ = g.cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// ensureApplicationCRD installs a minimal applications.argoproj.io when the
// cluster has none (it is left installed: other tests may be using it).
func ensureApplicationCRD(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	ctx := context.Background()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "applications.argoproj.io"},
		"spec": map[string]any{
			"group": "argoproj.io", "scope": "Namespaced",
			"names": map[string]any{"kind": "Application", "listKind": "ApplicationList", "plural": "applications", "singular": "application", "shortNames": []any{"app"}},
			"versions": []any{map[string]any{"name": "v1alpha1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	_, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		_, err := dyn.Resource(ApplicationGVR).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "the Application kind is served")
}

// application creates an Application named name in the apps namespace.
func (g *gateCluster) application(t *testing.T, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	app := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{"project": "default", "destination": map[string]any{"namespace": g.dest},
			"source": map[string]any{"repoURL": "https://git.example/shop.git", "path": "app", "plugin": map[string]any{"name": "aegis-v1"}}},
	}}
	created, err := g.dyn.Resource(ApplicationGVR).Namespace(namespace).Create(context.Background(), app, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = g.dyn.Resource(ApplicationGVR).Namespace(namespace).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return created
}

// apply server-side applies objects as Argo CD's sync would (field manager
// argocd-controller).
func (g *gateCluster) apply(t *testing.T, objs ...*unstructured.Unstructured) {
	t.Helper()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(g.cs.Discovery()))
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		mp, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		require.NoError(t, err, "%s", gvk)
		_, err = g.dyn.Resource(mp.Resource).Namespace(o.GetNamespace()).Apply(context.Background(), o.GetName(), o, metav1.ApplyOptions{FieldManager: "argocd-controller", Force: true})
		require.NoError(t, err, "%s/%s", o.GetKind(), o.GetName())
	}
}

// deployLive applies an app's rendered set into the destination as the
// live state Argo CD left there, tracked for instance.
func (g *gateCluster) deployLive(t *testing.T, set *manifest.Set, instance string) {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, o := range set.Objects {
		u := o.DeepCopy()
		if u.GetNamespace() == "" {
			u.SetNamespace(g.dest)
		}
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[AnnotationTrackingID] = fmt.Sprintf("%s:%s/%s:%s/%s", instance, u.GroupVersionKind().Group, u.GetKind(), u.GetNamespace(), u.GetName())
		u.SetAnnotations(a)
		objs = append(objs, u)
	}
	g.apply(t, objs...)
}

// generate writes app (YAML) into a repository, runs generate in it for the
// Application instance and returns the result.
func (g *gateCluster) generate(t *testing.T, instance, app string, params ...Parameter) *Generated {
	t.Helper()
	return g.generateFiles(t, instance, map[string]string{"apps/web/app.yaml": app}, params...)
}

// generateFiles is generate with the repository's files, under the test's
// cluster policy (clusterPolicy): the gate namespace is the test's.
func (g *gateCluster) generateFiles(t *testing.T, instance string, files map[string]string, params ...Parameter) *Generated {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	a := baseApp()
	a.InstanceName, a.DestNamespace, a.Path = instance, g.dest, "apps/web"
	a.Params = params
	env, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	cp := g.clusterPolicy(t)
	gen, err := Generate(context.Background(), GenerateOptions{Dir: filepath.Join(root, "apps", "web"), Env: env, ToolVersion: "dev", Cluster: &cp, PolicyNamespace: g.appNS})
	require.NoError(t, err)
	return gen
}

// clusterRules is the test's gate.yaml: its own gate namespace.
func (g *gateCluster) clusterRules() string {
	return "apiVersion: aegis.dev/v1alpha1\nkind: GateRules\ngateNamespace: " + g.gateNS + "\n"
}

// setClusterPolicy writes the cluster policy's ConfigMap where the gate
// reads it (the apps namespace stands for Argo CD's): policy.yaml as
// given ("" for none) and the test's gate.yaml.
func (g *gateCluster) setClusterPolicy(t *testing.T, policy string) {
	t.Helper()
	data := map[string]string{GateRulesKey: g.clusterRules()}
	if policy != "" {
		data[ClusterPolicyKey] = policy
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ClusterPolicyConfigMap, Namespace: g.appNS}, Data: data}
	cms := g.cs.CoreV1().ConfigMaps(g.appNS)
	if _, err := cms.Update(context.Background(), cm, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = cms.Create(context.Background(), cm, metav1.CreateOptions{})
		require.NoError(t, err)
	} else {
		require.NoError(t, err)
	}
}

// clusterPolicy is what the sidecar's mount holds: the ConfigMap as it is.
func (g *gateCluster) clusterPolicy(t *testing.T) ClusterPolicy {
	t.Helper()
	cp, err := ReadClusterPolicy(context.Background(), g.cs, g.appNS)
	require.NoError(t, err)
	return cp
}

// syncHooks creates the gate's ConfigMap hooks, as the PreSync phase does
// before the Job's wave.
func (g *gateCluster) syncHooks(t *testing.T, gen *Generated) {
	t.Helper()
	for _, u := range gen.Gate {
		if u.GetKind() == "ConfigMap" {
			g.apply(t, u)
		}
	}
}

// jobArgs reads the flags of the generated Job.
func jobArgs(t *testing.T, gen *Generated) map[string]string {
	t.Helper()
	job := gen.Gate[len(gen.Gate)-1]
	require.Equal(t, "Job", job.GetKind())
	containers, _, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers")
	args := toStrings(containers[0].(map[string]any)["args"].([]any))
	out := map[string]string{}
	for i := 2; i+1 < len(args); i += 2 {
		require.True(t, strings.HasPrefix(args[i], "--"), "%v", args)
		out[strings.TrimPrefix(args[i], "--")] = args[i+1]
	}
	return out
}

// presyncOptions are the options the Job's flags give presync (what
// cmd/aegis parses), with the test's cluster and scanners.
func (g *gateCluster) presyncOptions(t *testing.T, gen *Generated, runID string, scan func(*config.Config, string) ([]scanners.Scanner, func(), error)) PresyncOptions {
	t.Helper()
	f := jobArgs(t, gen)
	chunks := 0
	_, err := fmt.Sscan(f["chunks"], &chunks)
	require.NoError(t, err)
	shadowTimeout, err := time.ParseDuration(f["shadow-timeout"])
	require.NoError(t, err)
	ttl, err := time.ParseDuration(f["verdict-ttl"])
	require.NoError(t, err)
	return PresyncOptions{
		Kube: g.cfg, App: f["app"], AppNamespace: f["app-namespace"], Namespace: f["namespace"], GateNamespace: f["gate-namespace"],
		SetName: f["set-name"], Chunks: chunks, Digest: f["digest"], PolicyDigest: f["policy-digest"], PolicyNamespace: f["policy-namespace"], Revision: f["revision"],
		VerdictTTL: ttl, Shadow: f["shadow"], FailOn: f["fail-on"],
		ShadowOptions: shadow.Options{RunID: runID, HealthTimeout: min(shadowTimeout, 2*time.Minute)},
		Scanners:      scan,
		ToolVersion:   "test",
		Progress:      func(format string, args ...any) { t.Logf("aegis: "+format, args...) },
	}
}

// liveScanners are the scanners that need nothing but the cluster.
func liveScanners(called *atomic.Int32) func(*config.Config, string) ([]scanners.Scanner, func(), error) {
	return func(*config.Config, string) ([]scanners.Scanner, func(), error) {
		if called != nil {
			called.Add(1)
		}
		return []scanners.Scanner{posture.New(), health.Health{}, health.Admission{}}, func() {}, nil
	}
}

func (g *gateCluster) runNamespaces(t *testing.T, runID string) []string {
	t.Helper()
	list, err := g.cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: shadow.LabelRun + "=" + runID})
	require.NoError(t, err)
	var out []string
	for _, ns := range list.Items {
		out = append(out, ns.Name)
	}
	return out
}

// collectRun removes what a failed test run left.
func (g *gateCluster) collectRun(t *testing.T, runID string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		_, _ = shadow.GC(ctx, g.cfg, runID, time.Now())
	})
}

// warningsTo collects the API server's warnings.
type warningsTo struct{ list *[]string }

func (w warningsTo) HandleWarningHeader(_ int, _ string, text string) {
	*w.list = append(*w.list, text)
}

func (g *gateCluster) events(t *testing.T, namespace, app string) []corev1.Event {
	t.Helper()
	list, err := g.cs.CoreV1().Events(namespace).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + app})
	require.NoError(t, err)
	return list.Items
}

func (g *gateCluster) verdict(t *testing.T, instance, digest string) (VerdictRecord, bool) {
	t.Helper()
	cm, err := g.cs.CoreV1().ConfigMaps(g.gateNS).Get(context.Background(), VerdictsConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return VerdictRecord{}, false
	}
	require.NoError(t, err)
	raw, ok := cm.Data[VerdictKey(instance, digest)]
	if !ok {
		return VerdictRecord{}, false
	}
	var r VerdictRecord
	require.NoError(t, json.Unmarshal([]byte(raw), &r))
	return r, true
}

// TestIntegrationPresync: the live app is clean. Syncing the same app
// passes (and records the verdict), syncing it again takes the recorded
// verdict without deploying anything, and syncing a change that adds a
// hostPath volume fails the gate. The Application hears each verdict; no
// shadow namespace is left.
func TestIntegrationPresync(t *testing.T) {
	g := newGateCluster(t)
	ctx := context.Background()
	name := "web-" + g.suffix
	instance := g.appNS + "_" + name // an app in any namespace
	app := g.application(t, g.appNS, name)
	clean := g.generate(t, instance, webApp)
	g.deployLive(t, clean.Set, instance)

	t.Run("absent and passing", func(t *testing.T) {
		runID := "pass" + g.suffix
		g.collectRun(t, runID)
		g.syncHooks(t, clean)
		res, err := Presync(ctx, g.presyncOptions(t, clean, runID, liveScanners(nil)))
		require.NoError(t, err)
		assert.Equal(t, report.Pass, res.Verdict, "%v", res.Report.Reasons)
		assert.Nil(t, res.Cached)
		r := res.Report
		assert.Equal(t, 2, r.Base.Objects, "the live Deployment and Service are the baseline")
		assert.Contains(t, r.Base.Source, "live objects of namespace "+g.dest)
		assert.Equal(t, clean.Digest(), r.Head.Digest, "the head is the set generate wrote")
		require.NotNil(t, r.Shadow)
		require.NotNil(t, r.Shadow.Base, "shadow both: the baseline is deployed too")
		assert.Equal(t, "Healthy", r.Shadow.Head.Health, "%+v", r.Shadow.Head.Objects)
		assert.NotZero(t, r.Summary.Unchanged, "the live app's findings are unchanged, not new")
		assert.Zero(t, r.Summary.New)
		assert.Empty(t, g.runNamespaces(t, runID), "the shadow namespaces are gone")

		rec, ok := g.verdict(t, instance, clean.Digest())
		require.True(t, ok, "the verdict is recorded")
		assert.Equal(t, report.Pass, rec.Verdict)
		assert.Equal(t, runID, rec.RunID)
		require.NotNil(t, res.Event)
		assert.Equal(t, ReasonPassed, res.Event.Reason)
		assert.Equal(t, corev1.EventTypeNormal, res.Event.Type)
		assert.Equal(t, app.GetUID(), res.Event.InvolvedObject.UID, "the Event is on the Application")
		assert.Equal(t, "Application", res.Event.InvolvedObject.Kind)
		assert.Equal(t, g.appNS, res.Event.Namespace, "the namespace from the instance name")
	})

	t.Run("verdict present", func(t *testing.T) {
		runID := "fast" + g.suffix
		var built atomic.Int32
		g.syncHooks(t, clean)
		start := time.Now()
		res, err := Presync(ctx, g.presyncOptions(t, clean, runID, liveScanners(&built)))
		require.NoError(t, err)
		t.Logf("fast path: %s", time.Since(start))
		assert.Equal(t, report.Pass, res.Verdict)
		require.NotNil(t, res.Cached, "the recorded verdict decides")
		assert.Nil(t, res.Report)
		assert.Zero(t, built.Load(), "no scanner is built, nothing is verified")
		assert.Empty(t, g.runNamespaces(t, runID), "no shadow namespace is created")
		require.NotNil(t, res.Event)
		assert.Contains(t, res.Event.Message, "recorded at")

		// A stricter setting than the verdict was decided under is no fast
		// path: the same set is verified again.
		runID = "strict" + g.suffix
		g.collectRun(t, runID)
		o := g.presyncOptions(t, clean, runID, liveScanners(&built))
		o.FailOn = "low"
		res, err = Presync(ctx, o)
		require.NoError(t, err)
		assert.Nil(t, res.Cached)
		assert.Equal(t, int32(1), built.Load(), "verified again")
		assert.Empty(t, g.runNamespaces(t, runID))
	})

	t.Run("absent and failing", func(t *testing.T) {
		runID := "fail" + g.suffix
		g.collectRun(t, runID)
		bad := g.generate(t, instance, withHostPath)
		require.NotEqual(t, clean.Digest(), bad.Digest())
		g.syncHooks(t, bad)
		res, err := Presync(ctx, g.presyncOptions(t, bad, runID, liveScanners(nil)))
		require.NoError(t, err)
		assert.Equal(t, report.Fail, res.Verdict)
		var hostPath bool
		for _, f := range res.Report.Findings {
			if f.RuleID == "pss.hostPathVolumes" {
				hostPath = true
				assert.Equal(t, report.New, f.BaselineState)
				assert.Equal(t, "apps/web/app.yaml", f.Location.Path, "the finding points at the source file")
			}
		}
		assert.True(t, hostPath, "the new hostPath volume is found")
		assert.Empty(t, g.runNamespaces(t, runID), "the shadow namespaces are gone")
		rec, ok := g.verdict(t, instance, bad.Digest())
		require.True(t, ok)
		assert.Equal(t, report.Fail, rec.Verdict)
		require.NotNil(t, res.Event)
		assert.Equal(t, ReasonFailed, res.Event.Reason)
		assert.Equal(t, corev1.EventTypeWarning, res.Event.Type)
		assert.Contains(t, res.Event.Message, "hostPath")

		// The earlier set's ConfigMaps are collected; this one's stay for Argo CD.
		list, err := g.cs.CoreV1().ConfigMaps(g.gateNS).List(ctx, metav1.ListOptions{LabelSelector: LabelComponent + "=" + ComponentSet})
		require.NoError(t, err)
		for _, cm := range list.Items {
			assert.Equal(t, SetName(instance, bad.Digest()), cm.Labels[LabelSet], "left: %s", cm.Name)
		}

		// A failing verdict is no fast path: the same set is verified again.
		var built atomic.Int32
		runID2 := "again" + g.suffix
		g.collectRun(t, runID2)
		res, err = Presync(ctx, g.presyncOptions(t, bad, runID2, liveScanners(&built)))
		require.NoError(t, err)
		assert.Equal(t, report.Fail, res.Verdict)
		assert.Equal(t, int32(1), built.Load())
	})

	evs := g.events(t, g.appNS, name)
	reasons := map[string]int{}
	for _, e := range evs {
		reasons[e.Reason]++
	}
	assert.Equal(t, 3, reasons[ReasonPassed], "%v", reasons)
	assert.Equal(t, 2, reasons[ReasonFailed], "%v", reasons)
}

// The gate applies the cluster policy it reads from the API, which the
// synced revision may only tighten: a revision that waives its own new
// finding and raises failOn still fails, and the Application hears what was
// not honoured; the platform's own waiver in the ConfigMap is honoured at
// the next sync of the same set, without a new generate; and a pass
// recorded under that waiver is not reused once the ConfigMap drops it.
func TestIntegrationPresyncClusterPolicy(t *testing.T) {
	g := newGateCluster(t)
	ctx := context.Background()
	name := "policy-" + g.suffix
	g.application(t, g.appNS, name)
	instance := g.appNS + "_" + name
	g.deployLive(t, g.generate(t, instance, webApp).Set, instance)

	hostile := g.generateFiles(t, instance, map[string]string{
		"apps/web/app.yaml": withHostPath,
		"apps/web/.aegis.yaml": `apiVersion: aegis.dev/v1alpha1
kind: Config
failOn: {severity: critical}
waivers:
  - {ruleId: pss.hostPathVolumes, reason: "we need the logs", owner: the-pr, expires: "2999-12-31"}
`})
	require.Equal(t, "apps/web/.aegis.yaml", hostile.Policy.Path)
	g.syncHooks(t, hostile)
	run := func(runID string) *PresyncResult {
		t.Helper()
		g.collectRun(t, runID)
		res, err := Presync(ctx, g.presyncOptions(t, hostile, runID, liveScanners(nil)))
		require.NoError(t, err)
		assert.Empty(t, g.runNamespaces(t, runID))
		return res
	}

	res := run("rev" + g.suffix)
	assert.Equal(t, report.Fail, res.Verdict, "%v", res.Report.Reasons)
	assert.Equal(t, "high", res.Policy.FailOn.Severity)
	assert.Empty(t, res.Policy.Waivers)
	require.NotNil(t, res.Event)
	assert.Contains(t, res.Event.Message, "the revision's policy apps/web/.aegis.yaml: not honoured (the revision may only tighten the cluster policy): failOn.severity critical (the gate fails on high), 1 waiver")

	g.setClusterPolicy(t, `apiVersion: aegis.dev/v1alpha1
kind: Config
waivers:
  - {ruleId: pss.hostPathVolumes, reason: "log shipping, approved by platform", owner: platform, expires: "2999-12-31"}
`)
	res = run("waived" + g.suffix)
	assert.Equal(t, report.Pass, res.Verdict, "the platform's waiver: %v", res.Report.Reasons)
	assert.Nil(t, res.Cached)
	require.Len(t, res.Policy.Waivers, 1)
	assert.Equal(t, "platform", res.Policy.Waivers[0].Owner)

	g.setClusterPolicy(t, "")
	res = run("unwaived" + g.suffix)
	assert.Nil(t, res.Cached, "the pass was recorded under another policy")
	assert.Equal(t, report.Fail, res.Verdict)
}

// A ConfigMap whose annotations name the generated digest but whose
// content is another set (forged, or stale) fails closed: bad input, no
// deployment, no verdict, and the Application is told.
func TestIntegrationPresyncForgedSetFailsClosed(t *testing.T) {
	g := newGateCluster(t)
	ctx := context.Background()
	name := "forged-" + g.suffix
	g.namespace(t, "argocd-forged-"+g.suffix)
	g.application(t, "argocd-forged-"+g.suffix, name)
	gen := g.generate(t, name, webApp)
	forged := g.generate(t, name, withHostPath)
	// The forged ConfigMap: the gate's name and annotations, the other set.
	cm := gen.Gate[0].DeepCopy()
	cm.Object["binaryData"] = forged.Gate[0].Object["binaryData"]
	g.apply(t, cm)

	var built atomic.Int32
	runID := "forged" + g.suffix
	g.collectRun(t, runID)
	o := g.presyncOptions(t, gen, runID, liveScanners(&built))
	o.AppNamespace = "argocd-forged-" + g.suffix
	res, err := Presync(ctx, o)
	require.Error(t, err)
	assert.Nil(t, res)
	var ie *IntegrityError
	require.ErrorAs(t, err, &ie)
	assert.True(t, verify.IsBadInput(err), "exit 2: the set is not the one generated")
	assert.Contains(t, err.Error(), "not the set this gate was generated for")
	assert.Zero(t, built.Load(), "nothing is verified")
	assert.Empty(t, g.runNamespaces(t, runID), "nothing is deployed")
	_, ok := g.verdict(t, name, gen.Digest())
	assert.False(t, ok, "no verdict is recorded")
	evs := g.events(t, o.AppNamespace, name)
	require.Len(t, evs, 1)
	assert.Equal(t, ReasonError, evs[0].Reason)
	assert.Equal(t, corev1.EventTypeWarning, evs[0].Type)
	assert.Contains(t, evs[0].Message, "not the set this gate was generated for")
}

// ReadLive takes what Argo CD tracks for the app and what the set will
// replace, nothing else, never a Secret, and strips what the cluster added.
func TestIntegrationReadLive(t *testing.T) {
	g := newGateCluster(t)
	ctx := context.Background()
	instance := "live-" + g.suffix
	head := decodeYAMLSet(t, webApp+`---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: new}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: from-the-head}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: live-test-`+g.suffix+`}
`)
	g.deployLive(t, decodeYAMLSet(t, webApp), instance) // tracked by annotation
	g.apply(t,
		// untracked, but the set replaces it
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "settings", "namespace": g.dest,
				"annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"mode":"old"}}`}},
			"data": map[string]any{"mode": "old"}}},
		// tracked by label (Argo CD v2's default)
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "dropped-by-head", "namespace": g.dest, "labels": map[string]any{LabelInstance: instance}},
			"data":     map[string]any{"a": "b"}}},
		// another app's, in the same namespace
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "other-app", "namespace": g.dest, "labels": map[string]any{LabelInstance: "other"}},
			"data":     map[string]any{"a": "b"}}},
		// a Secret of the app: never read
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": "creds", "namespace": g.dest, "labels": map[string]any{LabelInstance: instance}},
			"stringData": map[string]any{"token": "live-value"}}},
		// the app's cluster-scoped object: read (never applied)
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
			"metadata": map[string]any{"name": "live-test-" + g.suffix, "labels": map[string]any{LabelInstance: instance}},
			"rules":    []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"get"}}}}},
	)
	t.Cleanup(func() {
		_ = g.cs.RbacV1().ClusterRoles().Delete(context.Background(), "live-test-"+g.suffix, metav1.DeleteOptions{})
	})
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(g.cs.Discovery()))
	var lines []string
	live, err := ReadLive(ctx, g.dyn, mapper, head, LiveOptions{App: instance, Namespace: g.dest, Progress: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"ConfigMap/settings",
		"ConfigMap/" + g.dest + "/dropped-by-head",
		"Service/web",
		"Deployment.apps/web",
		"ClusterRole.rbac.authorization.k8s.io/live-test-" + g.suffix,
	}, ids(live), "kube-root-ca.crt, other-app, the Secret and the ReplicaSets are not the app's baseline; "+
		"what replaces an object of the set without a namespace is named as the set names it")
	cr, _ := live.Find(manifest.Identity{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "live-test-" + g.suffix})
	assert.Equal(t, "live:clusterrole/live-test-"+g.suffix, cr.Origin.Path)

	dep, _ := live.Find(manifest.Identity{Group: "apps", Kind: "Deployment", Name: "web"})
	md := dep.Object["metadata"].(map[string]any)
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"} {
		assert.NotContains(t, md, f)
	}
	assert.NotContains(t, dep.Object, "status")
	assert.NotContains(t, dep.GetAnnotations(), "deployment.kubernetes.io/revision")
	assert.NotContains(t, dep.GetAnnotations(), AnnotationTrackingID)
	assert.Equal(t, "live:"+g.dest+"/deployment/web", dep.Origin.Path)
	svc, _ := live.Find(manifest.Identity{Kind: "Service", Name: "web"})
	_, hasIP, _ := unstructured.NestedString(svc.Object, "spec", "clusterIP")
	assert.False(t, hasIP, "the allocated cluster IP is not copied")
	settings, _ := live.Find(manifest.Identity{Kind: "ConfigMap", Name: "settings"})
	assert.Equal(t, "old", settings.Object["data"].(map[string]any)["mode"], "the live value, not the head's")
	assert.Empty(t, settings.GetAnnotations(), "last-applied-configuration is not copied")
	for _, o := range live.Objects {
		assert.NotEqual(t, "Secret", o.GetKind())
	}
	assert.Contains(t, strings.Join(lines, "\n"), "live baseline: 5 objects")
}

// TestIntegrationPresyncAsTheGateServiceAccount installs plugin/install/gate
// (namespace aegis-system, the aegis-gate ServiceAccount, its RBAC and
// admission policy) and runs the gate with that ServiceAccount's token: a
// passing and a failing sync, the fast path and the forged set all work
// under exactly the installed rights.
func TestIntegrationPresyncAsTheGateServiceAccount(t *testing.T) {
	g := newGateCluster(t)
	ctx := context.Background()
	g.namespace(t, DefaultAppNamespace)
	var objs []*unstructured.Unstructured
	for _, m := range build(t, filepath.Join("install", "gate")) {
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	g.apply(t, objs...)

	var tok *authenticationv1.TokenRequest
	var err error
	require.Eventually(t, func() bool {
		tok, err = g.cs.CoreV1().ServiceAccounts(DefaultGateNamespace).CreateToken(ctx, GateServiceAccount, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		return err == nil
	}, 20*time.Second, 200*time.Millisecond, "%v", err)
	gateCfg := &rest.Config{Host: g.cfg.Host, BearerToken: tok.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: g.cfg.CAData, CAFile: g.cfg.CAFile, ServerName: g.cfg.ServerName}}
	gcs, err := kubernetes.NewForConfig(gateCfg)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := gcs.CoreV1().ConfigMaps(DefaultGateNamespace).Get(ctx, VerdictsConfigMap, metav1.GetOptions{})
		return err == nil
	}, 20*time.Second, 200*time.Millisecond, "RBAC in force")
	_, err = gcs.CoreV1().Secrets(g.dest).List(ctx, metav1.ListOptions{})
	assert.True(t, apierrors.IsForbidden(err), "the gate cannot read Secrets: %v", err)
	require.Eventually(t, func() bool { // the admission policy in force: no writes outside aegis's places
		_, err := gcs.CoreV1().ConfigMaps(g.dest).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "aegis-gate-confined")
	}, 30*time.Second, 300*time.Millisecond)

	name := "sa-" + g.suffix
	app := g.application(t, DefaultAppNamespace, name)
	gen := func(yaml string) *Generated {
		t.Helper()
		root := t.TempDir()
		writeFiles(t, root, map[string]string{"apps/web/app.yaml": yaml})
		a := baseApp()
		a.InstanceName, a.DestNamespace, a.Path = name, g.dest, "apps/web"
		env, err := ParseEnv(argoEnviron(a))
		require.NoError(t, err)
		out, err := Generate(ctx, GenerateOptions{Dir: filepath.Join(root, "apps", "web"), Env: env})
		require.NoError(t, err)
		return out
	}
	// With a Secret: the gate reads it from the Secret hook, under its own
	// rights in aegis-system only.
	secret := "---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: gate-test-value}\n"
	clean, bad := gen(webApp+secret), gen(withHostPath+secret)
	require.Len(t, clean.Gate, 3, "ConfigMap, Secret, Job")
	t.Cleanup(func() { // the shared verdicts keep nothing of this test
		cms := g.cs.CoreV1().ConfigMaps(DefaultGateNamespace)
		if cm, err := cms.Get(context.Background(), VerdictsConfigMap, metav1.GetOptions{}); err == nil {
			delete(cm.Data, VerdictKey(name, clean.Digest()))
			delete(cm.Data, VerdictKey(name, bad.Digest()))
			_, _ = cms.Update(context.Background(), cm, metav1.UpdateOptions{})
		}
	})
	// The generated Job is admissible where it runs: aegis-system
	// enforces the restricted Pod Security Standard; a server-side dry
	// run creates it with no refusal and no warning.
	job := clean.Gate[len(clean.Gate)-1]
	var warnings []string
	dryCfg := rest.CopyConfig(g.cfg)
	dryCfg.WarningHandler = warningsTo{&warnings}
	dyn, err := dynamic.NewForConfig(dryCfg)
	require.NoError(t, err)
	_, err = dyn.Resource(schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}).Namespace(DefaultGateNamespace).
		Create(ctx, job, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	require.NoError(t, err)
	assert.Empty(t, warnings)
	g.deployLive(t, clean.Set, name)
	asGate := func(gen *Generated, runID string) (*PresyncResult, error) {
		for _, u := range gen.Gate { // the sync's hooks, as Argo CD creates them
			switch u.GetKind() {
			case "ConfigMap":
				g.apply(t, u)
				t.Cleanup(func() {
					_ = g.cs.CoreV1().ConfigMaps(u.GetNamespace()).Delete(context.Background(), u.GetName(), metav1.DeleteOptions{})
				})
			case "Secret":
				g.apply(t, u)
				t.Cleanup(func() {
					_ = g.cs.CoreV1().Secrets(u.GetNamespace()).Delete(context.Background(), u.GetName(), metav1.DeleteOptions{})
				})
			}
		}
		o := g.presyncOptions(t, gen, runID, liveScanners(nil))
		o.Kube = gateCfg
		g.collectRun(t, runID)
		return Presync(ctx, o)
	}

	res, err := asGate(clean, "sap"+g.suffix)
	require.NoError(t, err)
	assert.Equal(t, report.Pass, res.Verdict, "%v", res.Report.Reasons)
	require.NotNil(t, res.Event, "the gate may create the Event")
	assert.Equal(t, app.GetUID(), res.Event.InvolvedObject.UID, "the gate may read the Application")
	res, err = asGate(clean, "saq"+g.suffix)
	require.NoError(t, err)
	require.NotNil(t, res.Cached, "the gate updated aegis-verdicts and reads it back")

	res, err = asGate(bad, "saf"+g.suffix)
	require.NoError(t, err)
	assert.Equal(t, report.Fail, res.Verdict)
	_, err = g.cs.CoreV1().ConfigMaps(DefaultGateNamespace).Get(ctx, chunkName(SetName(name, clean.Digest()), 0), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the gate may delete the app's earlier sets: %v", err)
	_, err = g.cs.CoreV1().Secrets(DefaultGateNamespace).Get(ctx, secretsName(SetName(name, clean.Digest())), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "and their Secret hooks: %v", err)
	for _, run := range []string{"sap", "saq", "saf"} {
		assert.Empty(t, g.runNamespaces(t, run+g.suffix))
	}
}
