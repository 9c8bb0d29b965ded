package shadow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kube-sentient/aegis/internal/testcluster"
	"github.com/kube-sentient/aegis/manifest"
)

// clusterConfig returns the admin config of the test control plane.
func clusterConfig(t *testing.T) *rest.Config {
	t.Helper()
	_, cfg := testcluster.Kubeconfig(t)
	return cfg
}

var testRunSeq struct {
	sync.Mutex
	n int
}

// testRunID is unique per test and per process, and readable in the cluster.
func testRunID(t *testing.T) string {
	testRunSeq.Lock()
	testRunSeq.n++
	n := testRunSeq.n
	testRunSeq.Unlock()
	return fmt.Sprintf("t%x-%d", time.Now().UnixNano()&0xffffff, n)
}

// newTestManager returns a manager with fast polling whose run is torn down
// when the test ends, whatever happened.
func newTestManager(t *testing.T, cfg *rest.Config, opts Options) *Manager {
	t.Helper()
	if opts.RunID == "" {
		opts.RunID = testRunID(t)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if opts.HealthTimeout == 0 {
		opts.HealthTimeout = 60 * time.Second
	}
	opts.Progress = func(format string, args ...any) { t.Logf(format, args...) }
	m, err := NewManager(cfg, opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.TeardownRun(context.Background())) })
	return m
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func clientset(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	c, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return c
}

func namespaceGone(t *testing.T, c kubernetes.Interface, ns string) {
	t.Helper()
	_, err := c.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "namespace %s should be gone, got %v", ns, err)
}

const healthyApp = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  namespace: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  namespace: shop
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: web
  namespace: shop
stringData:
  password: do-not-print-me
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      serviceAccountName: web
      containers:
      - name: app
        image: registry.example/web:1.0
        envFrom: [{configMapRef: {name: web}}]
`

func TestIntegrationHealthyApp(t *testing.T) {
	cfg := clusterConfig(t)
	t.Parallel()
	ctx := testContext(t)
	c := clientset(t, cfg)
	var logged []string
	var mu sync.Mutex
	m := newTestManager(t, cfg, Options{})
	m.opts.Progress = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
	}

	d, err := m.Deploy(ctx, "head", decodeSet(t, healthyApp))
	require.NoError(t, err)
	ns := NamespaceName(m.RunID(), "head")
	assert.Equal(t, ns, d.Namespace)
	assert.Equal(t, Healthy, d.Health, "%+v %+v", d.Objects, d.Diagnoses)
	assert.Len(t, d.Objects, 5)
	for _, o := range d.Objects {
		assert.Equal(t, Healthy, o.Health, o.ID.String())
		assert.Equal(t, "shop", o.ID.Namespace, "identities stay those of the set")
		assert.Equal(t, "app.yaml", o.Origin.Path)
	}
	assert.Empty(t, d.Refusals)
	assert.Empty(t, d.Diagnoses)
	assert.Positive(t, d.Duration)

	live, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "aegis", live.Labels[LabelManagedBy])
	assert.Equal(t, m.RunID(), live.Labels[LabelRun])
	assert.Equal(t, "head", live.Labels[LabelSide])
	assert.Equal(t, "restricted", live.Labels["pod-security.kubernetes.io/warn"])
	assert.Equal(t, "restricted", live.Labels["pod-security.kubernetes.io/audit"])
	expires, err := time.Parse(time.RFC3339, live.Annotations[AnnotationExpires])
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(30*time.Minute), expires, 2*time.Minute)

	nps, err := c.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var names []string
	for _, np := range nps.Items {
		names = append(names, np.Name)
		assertNoForeignPeers(t, &np)
	}
	assert.ElementsMatch(t, []string{PolicyDefaultDeny, PolicyAllowDNS, PolicySameNamespace}, names)
	q, err := c.CoreV1().ResourceQuotas(ns).Get(ctx, QuotaName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "50", ptrQ(q.Spec.Hard, corev1.ResourcePods))
	_, err = c.CoreV1().LimitRanges(ns).Get(ctx, LimitRangeName, metav1.GetOptions{})
	require.NoError(t, err)

	dep, err := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "shop", dep.Annotations[AnnotationOriginNS])
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, pods.Items, 2)
	assert.Equal(t, "500m", ptrQ(pods.Items[0].Spec.Containers[0].Resources.Limits, corev1.ResourceCPU), "LimitRange defaults applied")

	mu.Lock()
	for _, l := range logged {
		assert.NotContains(t, l, "do-not-print-me")
	}
	mu.Unlock()

	start := time.Now()
	require.NoError(t, m.Teardown(ctx, d))
	t.Logf("teardown took %s", time.Since(start))
	namespaceGone(t, c, ns)
	require.NoError(t, m.Teardown(ctx, d), "a second teardown is a no-op")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, m.Teardown(cancelled, d), "teardown works on a cancelled context")
}

const failingApps = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: crasher
spec:
  replicas: 1
  selector:
    matchLabels: {app: crasher}
  template:
    metadata:
      labels: {app: crasher, aegis.dev/simulate: crashloop}
    spec:
      containers:
      - {name: app, image: registry.example/crasher:1}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: puller
spec:
  replicas: 1
  selector:
    matchLabels: {app: puller}
  template:
    metadata:
      labels: {app: puller, aegis.dev/simulate: imagepull}
    spec:
      containers:
      - {name: app, image: registry.example/missing:0}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: hog
spec:
  replicas: 1
  serviceName: hog
  selector:
    matchLabels: {app: hog}
  template:
    metadata:
      labels: {app: hog, aegis.dev/simulate: oomkilled}
    spec:
      containers:
      - {name: db, image: registry.example/db:1}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
`

func TestIntegrationDiagnosesFailures(t *testing.T) {
	cfg := clusterConfig(t)
	t.Parallel()
	ctx := testContext(t)
	m := newTestManager(t, cfg, Options{})
	set := decodeSet(t, failingApps)
	d, err := m.Deploy(ctx, "head", set)
	require.NoError(t, err)
	assert.Equal(t, Degraded, d.Health)

	line := map[string]int{"crasher": 1, "puller": 16, "hog": 31}
	want := map[string]string{"crasher": ReasonCrashLoop, "puller": ReasonImagePull, "hog": ReasonOOMKilled}
	got := map[string]string{}
	for _, dg := range d.Diagnoses {
		got[dg.ID.Name] = dg.Reason
		assert.Equal(t, manifest.Location{Path: "app.yaml", Line: line[dg.ID.Name]}, dg.Origin.Location, "%s points at its workload", dg.ID)
		assert.NotEmpty(t, dg.Pod)
		assert.Equal(t, "", dg.ID.Namespace, "the set's (empty) namespace, not the shadow one")
	}
	assert.Equal(t, want, got)
	for _, o := range d.Objects {
		if o.ID.Kind == "ConfigMap" {
			assert.Equal(t, Healthy, o.Health)
		} else {
			assert.Equal(t, Degraded, o.Health, o.ID.String())
		}
	}
	require.NoError(t, m.Teardown(ctx, d))
}

const refusedApp = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: aegis-test-should-never-exist
rules: []
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
  namespace: shop
`

func TestIntegrationRefusals(t *testing.T) {
	cfg := clusterConfig(t)
	t.Parallel()
	ctx := testContext(t)
	c := clientset(t, cfg)
	m := newTestManager(t, cfg, Options{})
	d, err := m.Deploy(ctx, "head", decodeSet(t, refusedApp))
	require.NoError(t, err)
	assert.Equal(t, Healthy, d.Health)
	reasons := map[string]string{}
	for _, r := range d.Refusals {
		reasons[r.ID.Kind] = r.Reason
		assert.Equal(t, "app.yaml", r.Origin.Path)
	}
	assert.Equal(t, map[string]string{
		"Namespace":                ReasonClusterScoped,
		"ClusterRole":              ReasonClusterScoped,
		"CustomResourceDefinition": ReasonClusterScoped,
		"Widget":                   ReasonMissingCRD,
	}, reasons)
	require.Len(t, d.Objects, 1)
	assert.Equal(t, "ConfigMap", d.Objects[0].ID.Kind)

	_, err = c.RbacV1().ClusterRoles().Get(ctx, "aegis-test-should-never-exist", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "cluster-scoped objects are never applied: %v", err)
	_, err = c.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the set's Namespace is never applied: %v", err)
	require.NoError(t, m.Teardown(ctx, d))
}

func TestIntegrationDryRunStopsInvalidObject(t *testing.T) {
	cfg := clusterConfig(t)
	t.Parallel()
	c := clientset(t, cfg)
	cases := []struct {
		name, stream string
		line         int
		contains     string
	}{
		{"replicas is a string", `apiVersion: v1
kind: ConfigMap
metadata:
  name: before
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: "abc"
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - {name: app, image: web:1}
`, 11, "replicas"},
		{"container without image", `apiVersion: v1
kind: ConfigMap
metadata:
  name: before
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: ""
`, 19, "image"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			m := newTestManager(t, cfg, Options{})
			d, err := m.Deploy(ctx, "head", decodeSet(t, tc.stream))
			var ae *ApplyError
			require.ErrorAs(t, err, &ae, "%v", err)
			assert.True(t, ae.DryRun)
			assert.Equal(t, "Deployment", ae.ID.Kind)
			assert.Equal(t, manifest.Location{Path: "app.yaml", Line: tc.line}, ae.Location)
			assert.Contains(t, err.Error(), fmt.Sprintf("app.yaml:%d", tc.line))
			assert.Contains(t, err.Error(), tc.contains)
			t.Log(err)
			require.NotNil(t, d)
			namespaceGone(t, c, NamespaceName(m.RunID(), "head"))
			_, err = c.CoreV1().ConfigMaps(NamespaceName(m.RunID(), "head")).Get(ctx, "before", metav1.GetOptions{})
			assert.True(t, apierrors.IsNotFound(err))
		})
	}
}

const threeReplicas = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - {name: app, image: web:1}
`

func TestIntegrationQuotaExceeded(t *testing.T) {
	cfg := clusterConfig(t)
	t.Parallel()
	ctx := testContext(t)
	m := newTestManager(t, cfg, Options{Quota: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}})
	d, err := m.Deploy(ctx, "head", decodeSet(t, threeReplicas))
	require.NoError(t, err)
	assert.Equal(t, Degraded, d.Health)
	var found bool
	for _, dg := range d.Diagnoses {
		if dg.Reason == ReasonQuotaExceeded {
			found = true
			assert.Equal(t, "web", dg.ID.Name)
			assert.Equal(t, manifest.Location{Path: "app.yaml", Line: 1}, dg.Origin.Location)
			assert.Contains(t, dg.Message, "exceeded quota")
		}
	}
	assert.True(t, found, "%+v", d.Diagnoses)
	require.NoError(t, m.Teardown(ctx, d))
}

const privileged = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: root
spec:
  selector:
    matchLabels: {app: root}
  template:
    metadata:
      labels: {app: root}
    spec:
      containers:
      - name: app
        image: web:1
        securityContext:
          capabilities: {add: [NET_ADMIN]}
      hostPID: true
`

func TestIntegrationPodSecurityWarnings(t *testing.T) {
	cfg := clusterConfig(t)
	t.Parallel()
	ctx := testContext(t)
	m := newTestManager(t, cfg, Options{})
	d, err := m.Deploy(ctx, "head", decodeSet(t, privileged))
	require.NoError(t, err)
	assert.Equal(t, Healthy, d.Health, "warn mode does not block")
	require.NotEmpty(t, d.Warnings)
	w := d.Warnings[0]
	assert.Equal(t, "root", w.ID.Name)
	assert.Equal(t, manifest.Location{Path: "app.yaml", Line: 1}, w.Origin.Location)
	assert.Contains(t, w.Text, "would violate PodSecurity")
	assert.Contains(t, w.Text, "hostPID")
	require.NoError(t, m.Teardown(ctx, d))

	// With enforce=restricted the controller cannot create the pods.
	m2 := newTestManager(t, cfg, Options{Enforce: "restricted", HealthTimeout: 30 * time.Second})
	d, err = m2.Deploy(ctx, "head", decodeSet(t, privileged))
	require.NoError(t, err)
	assert.Equal(t, Degraded, d.Health)
	require.NotEmpty(t, d.Diagnoses)
	assert.Equal(t, ReasonFailedCreate, d.Diagnoses[0].Reason)
	assert.Contains(t, d.Diagnoses[0].Message, "violates PodSecurity")
	require.NoError(t, m2.Teardown(ctx, d))
}

func TestIntegrationGC(t *testing.T) {
	cfg := clusterConfig(t)
	t.Parallel()
	ctx := testContext(t)
	c := clientset(t, cfg)
	run := testRunID(t)
	now := time.Now()
	mk := func(name string, expires time.Time) {
		_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{LabelManagedBy: ManagedByValue, LabelRun: run, LabelSide: "head"},
			Annotations: map[string]string{AnnotationExpires: expires.UTC().Format(time.RFC3339)},
		}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	expired, alive := "aegis-"+run+"-old", "aegis-"+run+"-new"
	mk(expired, now.Add(-time.Minute))
	mk(alive, now.Add(time.Hour))
	t.Cleanup(func() { _, _ = GC(context.Background(), cfg, run, time.Now()) })

	deleted, err := GC(ctx, cfg, "", now)
	require.NoError(t, err)
	assert.Contains(t, deleted, expired)
	assert.NotContains(t, deleted, alive)
	namespaceGone(t, c, expired)
	_, err = c.CoreV1().Namespaces().Get(ctx, alive, metav1.GetOptions{})
	require.NoError(t, err, "an unexpired namespace is kept")

	deleted, err = GC(ctx, cfg, run, now)
	require.NoError(t, err)
	assert.Equal(t, []string{alive}, deleted, "--run deletes regardless of expiry")
	namespaceGone(t, c, alive)
}

func TestIntegrationConcurrentDeploys(t *testing.T) {
	cfg := clusterConfig(t)
	t.Parallel()
	ctx := testContext(t)
	c := clientset(t, cfg)
	const n = 10
	app := `apiVersion: v1
kind: ConfigMap
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: web:1}]}
`
	managers := make([]*Manager, n)
	for i := range managers {
		managers[i] = newTestManager(t, cfg, Options{})
	}
	deps := make([]*Deployment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			deps[i], errs[i] = managers[i].Deploy(ctx, "head", decodeSet(t, app))
		})
	}
	wg.Wait()
	t.Logf("%d concurrent deploys took %s", n, time.Since(start))
	seen := map[string]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, Healthy, deps[i].Health, deps[i].Namespace)
		assert.False(t, seen[deps[i].Namespace], "namespace %s used twice", deps[i].Namespace)
		seen[deps[i].Namespace] = true
	}
	start = time.Now()
	for i := range n {
		wg.Go(func() { errs[i] = managers[i].Teardown(ctx, deps[i]) })
	}
	wg.Wait()
	t.Logf("%d concurrent teardowns took %s", n, time.Since(start))
	for i := range n {
		require.NoError(t, errs[i])
		namespaceGone(t, c, deps[i].Namespace)
	}
}

// applyFile server-side applies a YAML file with the admin config.
func applyFile(t *testing.T, cfg *rest.Config, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode(filepath.Base(path), data)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(clientset(t, cfg).Discovery()))
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		mp, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		require.NoError(t, err, "%s", o.ID())
		var ri dynamic.ResourceInterface = dyn.Resource(mp.Resource)
		if mp.Scope.Name() == "namespace" {
			ri = dyn.Resource(mp.Resource).Namespace(o.GetNamespace())
		}
		_, err = ri.Apply(context.Background(), o.GetName(), o.Unstructured, metav1.ApplyOptions{FieldManager: "aegis-test", Force: true})
		require.NoError(t, err, "%s", o.ID())
	}
}

func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Dir(filepath.Dir(file))
}

const appWithRBAC = `apiVersion: v1
kind: ServiceAccount
metadata: {name: reader, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: shop}
rules:
- {apiGroups: [""], resources: [secrets, configmaps], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: shop}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
stringData: {token: s3cret}
`

func TestIntegrationRBACLeastPrivilege(t *testing.T) {
	admin := clusterConfig(t)
	t.Parallel()
	ctx := testContext(t)
	c := clientset(t, admin)
	applyFile(t, admin, filepath.Join(repoRoot(t), "deploy", "rbac.yaml"))

	var tok *authenticationv1.TokenRequest
	var err error
	// The ServiceAccount was just created: give the token controller a moment.
	require.Eventually(t, func() bool {
		tok, err = c.CoreV1().ServiceAccounts("aegis-system").CreateToken(ctx, "aegis",
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{}}, metav1.CreateOptions{})
		return err == nil
	}, 20*time.Second, 200*time.Millisecond, "%v", err)
	user := &rest.Config{
		Host:            admin.Host,
		BearerToken:     tok.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData, CAFile: admin.CAFile, ServerName: admin.ServerName},
	}
	uc := clientset(t, user)

	// RBAC and the admission policy may take a moment to be in force.
	require.Eventually(t, func() bool {
		_, err := uc.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil
	}, 20*time.Second, 200*time.Millisecond)

	m := newTestManager(t, user, Options{})
	set := decodeSet(t, healthyApp+"---\n"+appWithRBAC)
	d, err := m.Deploy(ctx, "head", set)
	require.NoError(t, err)
	assert.Equal(t, Healthy, d.Health, "%+v %+v", d.Objects, d.Diagnoses)
	assert.Len(t, d.Objects, 9)
	rb, err := c.RbacV1().RoleBindings(d.Namespace).Get(ctx, "reader", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, d.Namespace, rb.Subjects[0].Namespace, "subject rewritten into the shadow namespace")
	require.NoError(t, m.Teardown(ctx, d))
	namespaceGone(t, c, d.Namespace)

	// The token user cannot read Secrets, nor touch a namespace aegis does not own.
	_, err = uc.CoreV1().Secrets("aegis-system").List(ctx, metav1.ListOptions{})
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	probe := "aegis-rbac-probe-" + m.RunID()
	_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probe}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), probe, metav1.DeleteOptions{}) })
	// The policy answers 422 Invalid ("... is forbidden: ValidatingAdmissionPolicy ... denied request").
	denied := func(err error) bool {
		return apierrors.IsForbidden(err) || apierrors.IsInvalid(err) && strings.Contains(err.Error(), "aegis-own-namespaces")
	}
	policyInForce := func() bool {
		return denied(uc.CoreV1().Namespaces().Delete(ctx, probe, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}))
	}
	require.Eventually(t, policyInForce, 20*time.Second, 200*time.Millisecond, "the admission policy keeps aegis out of namespaces it does not own")
	err = uc.CoreV1().Namespaces().Delete(ctx, probe, metav1.DeleteOptions{})
	assert.True(t, denied(err), "%v", err)
	_, err = uc.CoreV1().ConfigMaps(probe).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	assert.True(t, denied(err), "%v", err)
	_, err = uc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probe + "-x"}}, metav1.CreateOptions{})
	assert.True(t, denied(err), "an unlabelled namespace: %v", err)
}

func TestIntegrationUnreachableCluster(t *testing.T) {
	m, err := NewManager(&rest.Config{Host: "https://127.0.0.1:1", Timeout: 2 * time.Second}, Options{})
	require.NoError(t, err)
	_, err = m.Deploy(context.Background(), "head", decodeSet(t, healthyApp))
	require.Error(t, err)
	var ae *ApplyError
	assert.False(t, errors.As(err, &ae))
	assert.Contains(t, err.Error(), "cannot reach the cluster at https://127.0.0.1:1")
	assert.Contains(t, err.Error(), "--kubeconfig")
}
