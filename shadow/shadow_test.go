package shadow

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/manifest"
)

func TestNamespaceName(t *testing.T) {
	long := strings.Repeat("a", 60)
	cases := []struct {
		run, side, want string
	}{
		{"1a2b3c4d", "base", "aegis-1a2b3c4d-base"},
		{"1a2b3c4d", "head", "aegis-1a2b3c4d-head"},
		{"pr-42-7", "head", "aegis-pr-42-7-head"},
		{long, "head", ""},
		{"Run_ID.With Spaces", "HEAD", ""},
		{"", "base", ""},
		{"---", "", ""},
		{"abc", strings.Repeat("s", 40), ""},
	}
	seen := map[string]string{}
	for _, c := range cases {
		got := NamespaceName(c.run, c.side)
		if c.want != "" {
			assert.Equal(t, c.want, got)
		}
		assert.Empty(t, validation.IsDNS1123Label(got), "%q from (%q, %q) is not a DNS-1123 label", got, c.run, c.side)
		assert.LessOrEqual(t, len(got), 63)
		assert.True(t, strings.HasPrefix(got, "aegis-"), got)
		if prev, dup := seen[got]; dup {
			t.Errorf("%q and %q/%q collide on %q", prev, c.run, c.side, got)
		}
		seen[got] = c.run + "/" + c.side
	}
	// Long run ids that share a prefix stay distinct, and deterministic.
	a, b := NamespaceName(long+"x", "head"), NamespaceName(long+"y", "head")
	assert.NotEqual(t, a, b)
	assert.Equal(t, a, NamespaceName(long+"x", "head"))
	assert.True(t, strings.HasSuffix(a, "-head"), a)
}

func TestRunIDValidation(t *testing.T) {
	o := Options{}
	require.NoError(t, o.defaults())
	assert.Regexp(t, `^[0-9a-f]{8}$`, o.RunID)
	assert.Equal(t, 30*time.Minute, o.TTL)
	assert.Equal(t, 5*time.Minute, o.HealthTimeout)
	for _, bad := range []string{"UPPER", "-x", "a_b", strings.Repeat("a", 41)} {
		o := Options{RunID: bad}
		assert.Error(t, o.defaults(), bad)
	}
	o = Options{Enforce: "strict"}
	assert.Error(t, o.defaults())
}

// decodeSet decodes a YAML stream as file app.yaml.
func decodeSet(t *testing.T, stream string) *manifest.Set {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("app.yaml", []byte(stream))
	require.NoError(t, err)
	set, err := manifest.NewSet(objs)
	require.NoError(t, err)
	return set
}

func testMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	add := func(group, version, kind, resource string, scope meta.RESTScope) {
		gvk := schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
		m.AddSpecific(gvk, gvk.GroupVersion().WithResource(resource), gvk.GroupVersion().WithResource(strings.ToLower(kind)), scope)
	}
	ns, root := meta.RESTScopeNamespace, meta.RESTScopeRoot
	add("", "v1", "ServiceAccount", "serviceaccounts", ns)
	add("", "v1", "ConfigMap", "configmaps", ns)
	add("", "v1", "Service", "services", ns)
	add("", "v1", "Namespace", "namespaces", root)
	add("apps", "v1", "Deployment", "deployments", ns)
	add("rbac.authorization.k8s.io", "v1", "Role", "roles", ns)
	add("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", ns)
	add("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", root)
	add("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", ns)
	return m
}

const planStream = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {template: {spec: {containers: [{name: app, image: web:1}]}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web, namespace: shop, resourceVersion: "7", uid: abc}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web, namespace: other}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: web}
subjects:
- {kind: ServiceAccount, name: web, namespace: shop}
- {kind: ServiceAccount, name: bare}
- {kind: ServiceAccount, name: monitor, namespace: monitoring}
- {kind: ServiceAccount, name: worker, namespace: jobs}
- {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: v1
kind: Service
metadata: {name: worker, namespace: jobs}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: web}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: shop}
spec: {podSelector: {}, egress: [{}]}
`

func TestPlanRewriteAndRefusals(t *testing.T) {
	set := decodeSet(t, planStream)
	objs, refused, err := plan(set, testMapper(), "aegis-r-head")
	require.NoError(t, err)

	reasons := map[string]string{}
	for _, r := range refused {
		reasons[r.ID.String()] = r.Reason
		assert.Equal(t, "app.yaml", r.Origin.Path)
		assert.Positive(t, r.Origin.Line)
	}
	assert.Equal(t, map[string]string{
		"ClusterRole.rbac.authorization.k8s.io/web": ReasonClusterScoped,
		"Namespace/shop":                                 ReasonClusterScoped,
		"Widget.example.com/shop/w":                      ReasonMissingCRD,
		"NetworkPolicy.networking.k8s.io/shop/allow-all": ReasonIsolation,
		"ConfigMap/shop/web":                             ReasonNameCollision, // other/web sorts first
	}, reasons)

	var order []string
	for _, p := range objs {
		order = append(order, p.obj.GetKind())
		assert.Equal(t, "aegis-r-head", p.obj.GetNamespace(), p.src.ID())
		assert.Equal(t, p.src.GetNamespace(), p.obj.GetAnnotations()[AnnotationOriginNS])
		assert.Empty(t, p.obj.GetResourceVersion())
		assert.Empty(t, string(p.obj.GetUID()))
		assert.NotEqual(t, "aegis-r-head", p.src.GetNamespace(), "the set itself is not modified")
	}
	assert.Equal(t, []string{"ServiceAccount", "RoleBinding", "ConfigMap", "Service", "Deployment"}, order)

	var rb *unstructured.Unstructured
	for _, p := range objs {
		if p.obj.GetKind() == "RoleBinding" {
			rb = p.obj
		}
	}
	require.NotNil(t, rb)
	subjects, _, _ := unstructured.NestedSlice(rb.Object, "subjects")
	ns := func(i int) any { return subjects[i].(map[string]any)["namespace"] }
	assert.Equal(t, "aegis-r-head", ns(0), "subject in the binding's namespace follows it")
	assert.Equal(t, "aegis-r-head", ns(1), "ServiceAccount subject without namespace")
	assert.Equal(t, "monitoring", ns(2), "a namespace outside the set is left alone")
	assert.Equal(t, "aegis-r-head", ns(3), "another namespace of the set collapses into the shadow namespace")
	assert.Nil(t, ns(4), "users are not namespaced")
}

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	require.NoError(t, err)
	u := &unstructured.Unstructured{}
	require.NoError(t, u.UnmarshalJSON(j))
	return u
}

func TestObjectHealth(t *testing.T) {
	cases := []struct {
		name string
		obj  string
		want Health
	}{
		{"deployment available", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, generation: 1}
spec: {replicas: 2}
status: {observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2,
  conditions: [{type: Available, status: "True"}, {type: Progressing, status: "True", reason: NewReplicaSetAvailable}]}`, Healthy},
		{"deployment generation behind", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, generation: 2}
spec: {replicas: 1}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}`, Progressing},
		{"deployment updated < replicas", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, generation: 1}
spec: {replicas: 3}
status: {observedGeneration: 1, replicas: 3, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3}`, Progressing},
		{"deployment progress deadline", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, generation: 1}
spec: {replicas: 1}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1,
  conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded}]}`, Degraded},
		{"deployment paused", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, generation: 1}
spec: {replicas: 1, paused: true}
status: {observedGeneration: 1}`, Suspended},
		{"statefulset ready", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s, generation: 1}
spec: {replicas: 2}
status: {observedGeneration: 1, replicas: 2, readyReplicas: 2, currentReplicas: 2, updatedReplicas: 2, currentRevision: a, updateRevision: a}`, Healthy},
		{"statefulset not ready", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s, generation: 1}
spec: {replicas: 2}
status: {observedGeneration: 1, replicas: 2, readyReplicas: 1, currentReplicas: 2, updatedReplicas: 2, currentRevision: a, updateRevision: a}`, Progressing},
		{"statefulset OnDelete with revisions differing", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s, generation: 2}
spec: {replicas: 1, updateStrategy: {type: OnDelete}}
status: {observedGeneration: 2, replicas: 1, readyReplicas: 1, currentRevision: a, updateRevision: b}`, Healthy},
		{"daemonset behind", `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, generation: 1}
status: {observedGeneration: 1, desiredNumberScheduled: 2, updatedNumberScheduled: 1, numberAvailable: 1, currentNumberScheduled: 2, numberReady: 1}`, Progressing},
		{"pod running ready", `apiVersion: v1
kind: Pod
metadata: {name: p}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}`, Healthy},
		{"pod pending", `apiVersion: v1
kind: Pod
metadata: {name: p}
status: {phase: Pending}`, Progressing},
		{"pod image pull backoff", `apiVersion: v1
kind: Pod
metadata: {name: p}
status: {phase: Pending, containerStatuses: [{name: a, state: {waiting: {reason: ImagePullBackOff}}}]}`, Degraded},
		{"pod CreateContainerConfigError", `apiVersion: v1
kind: Pod
metadata: {name: p}
status: {phase: Pending, containerStatuses: [{name: a, state: {waiting: {reason: CreateContainerConfigError}}}]}`, Degraded},
		{"pod running not ready restarted", `apiVersion: v1
kind: Pod
metadata: {name: p}
status: {phase: Running, conditions: [{type: Ready, status: "False"}],
  containerStatuses: [{name: a, state: {running: {}}, lastState: {terminated: {reason: Error, exitCode: 1}}}]}`, Degraded},
		{"pod running not ready fresh", `apiVersion: v1
kind: Pod
metadata: {name: p}
status: {phase: Running, conditions: [{type: Ready, status: "False"}], containerStatuses: [{name: a, state: {running: {}}}]}`, Progressing},
		{"pod failed", `apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {restartPolicy: Never}
status: {phase: Failed, containerStatuses: [{name: a, state: {terminated: {reason: OOMKilled, exitCode: 137}}}]}`, Degraded},
		{"pod never running", `apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {restartPolicy: Never}
status: {phase: Running}`, Progressing},
		{"pod succeeded", `apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {restartPolicy: OnFailure}
status: {phase: Succeeded}`, Healthy},
		{"service cluster ip", `apiVersion: v1
kind: Service
metadata: {name: s}
spec: {type: ClusterIP, clusterIP: 10.96.0.10}`, Healthy},
		{"service lb pending", `apiVersion: v1
kind: Service
metadata: {name: s}
spec: {type: LoadBalancer, clusterIP: 10.96.0.10}`, Progressing},
		{"service lb ready", `apiVersion: v1
kind: Service
metadata: {name: s}
spec: {type: LoadBalancer, clusterIP: 10.96.0.10}
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}`, Healthy},
		{"ingress without address", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i}`, Progressing},
		{"ingress with address", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i}
status: {loadBalancer: {ingress: [{hostname: lb.example.com}]}}`, Healthy},
		{"pvc bound", `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c}
status: {phase: Bound}`, Healthy},
		{"pvc pending", `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c}
status: {phase: Pending}`, Progressing},
		{"pvc lost", `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c}
status: {phase: Lost}`, Degraded},
		{"job complete", `apiVersion: batch/v1
kind: Job
metadata: {name: j}
status: {conditions: [{type: Complete, status: "True"}]}`, Healthy},
		{"job running", `apiVersion: batch/v1
kind: Job
metadata: {name: j}
status: {startTime: "2026-01-01T00:00:00Z", active: 1}`, Progressing},
		{"job failed", `apiVersion: batch/v1
kind: Job
metadata: {name: j}
status: {conditions: [{type: Failed, status: "True", message: BackoffLimitExceeded}]}`, Degraded},
		{"job suspended", `apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec: {suspend: true}
status: {conditions: [{type: Suspended, status: "True"}]}`, Suspended},
		{"cronjob suspended", `apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec: {suspend: true}`, Suspended},
		{"configmap", `apiVersion: v1
kind: ConfigMap
metadata: {name: c}`, Healthy},
		{"custom resource with Ready False stalled", `apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status: {observedGeneration: 1, conditions: [{type: Stalled, status: "True", reason: Broken}]}`, Degraded},
		{"terminating", `apiVersion: v1
kind: ConfigMap
metadata: {name: c, deletionTimestamp: "2026-01-01T00:00:00Z"}`, Progressing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, msg := ObjectHealth(obj(t, c.obj))
			assert.Equal(t, c.want, got, msg)
		})
	}
	h, _ := ObjectHealth(nil)
	assert.Equal(t, Missing, h)
}

func TestWorseAggregate(t *testing.T) {
	h := Healthy
	for _, x := range []Health{Suspended, Healthy, Progressing, Missing, Healthy} {
		h = Worse(h, x)
	}
	assert.Equal(t, Missing, h)
	assert.Equal(t, Degraded, Worse(h, Degraded))
	assert.Equal(t, Unknown, Worse(Degraded, Unknown))
}

func ctrl(kind, name string, uid types.UID) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{Kind: kind, Name: name, UID: uid, Controller: &yes}}
}

func TestPodDiagnosis(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	web := target{ID: manifest.Identity{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"}, Origin: manifest.Origin{Location: manifest.Location{Path: "deploy.yaml", Line: 3}}}
	cron := target{ID: manifest.Identity{Group: "batch", Kind: "CronJob", Namespace: "shop", Name: "nightly"}, Origin: manifest.Origin{Location: manifest.Location{Path: "cron.yaml", Line: 1}}}
	db := target{ID: manifest.Identity{Group: "apps", Kind: "StatefulSet", Namespace: "shop", Name: "db"}, Origin: manifest.Origin{Location: manifest.Location{Path: "db.yaml", Line: 9}}}
	applied := map[types.UID]target{"dep": web, "cron": cron, "sts": db}
	rss := []appsv1.ReplicaSet{{ObjectMeta: metav1.ObjectMeta{Name: "web-1", UID: "rs", OwnerReferences: ctrl("Deployment", "web", "dep")},
		Status: appsv1.ReplicaSetStatus{Conditions: []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate",
			Message: `pods "web-1-x" is forbidden: exceeded quota: aegis-quota, requested: pods=1, used: pods=1, limited: pods=1`}}}}}
	jobs := []batchv1.Job{{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1", UID: "job", OwnerReferences: ctrl("CronJob", "nightly", "cron")}}}
	a := newAttributor("aegis-r-head", applied, rss, jobs)

	waiting := func(reason string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "m"}}
	}
	pod := func(name string, refs []metav1.OwnerReference, st corev1.PodStatus) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), OwnerReferences: refs}, Status: st}
	}
	pods := []corev1.Pod{
		pod("web-1-a", ctrl("ReplicaSet", "web-1", "rs"), corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: waiting("CrashLoopBackOff"), RestartCount: 4}}}),
		pod("web-1-b", ctrl("ReplicaSet", "web-1", "rs"), corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: waiting("CrashLoopBackOff"), RestartCount: 2}}}),
		pod("web-1-c", ctrl("ReplicaSet", "web-1", "rs"), corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", Image: "nope:1", State: waiting("ErrImagePull")}}}),
		pod("db-0", ctrl("StatefulSet", "db", "sts"), corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "db", State: waiting("CrashLoopBackOff"),
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}}),
		pod("db-1", ctrl("StatefulSet", "db", "sts"), corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "db", State: waiting("CreateContainerConfigError")}}}),
		pod("db-2", ctrl("StatefulSet", "db", "sts"), corev1.PodStatus{Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
				Message: "0/1 nodes are available: insufficient cpu", LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))}}}),
		pod("db-3", ctrl("StatefulSet", "db", "sts"), corev1.PodStatus{Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
				LastTransitionTime: metav1.NewTime(now.Add(-time.Second))}}}),
		pod("nightly-1-x", ctrl("Job", "nightly-1", "job"), corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "run", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2}}}}}),
		pod("healthy", ctrl("ReplicaSet", "web-1", "rs"), corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}),
		pod("stray", nil, corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}),
	}
	events := []corev1.Event{{Type: corev1.EventTypeWarning, Reason: "FailedCreate",
		InvolvedObject: corev1.ObjectReference{Kind: "ReplicaSet", Name: "web-1", UID: "rs"},
		Message:        `Error creating: pods "web-1-y" is forbidden: exceeded quota: aegis-quota`}}

	ds := dedupe(append(a.diagnosePods(pods, now), a.diagnoseControllers(rss, events)...))
	type row struct {
		id, reason, pod, container string
		degrades                   bool
	}
	var got []row
	for _, d := range ds {
		got = append(got, row{d.ID.String(), d.Reason, d.Pod, d.Container, d.degrades})
		if d.ID == web.ID {
			assert.Equal(t, web.Origin, d.Origin)
		}
	}
	assert.Equal(t, []row{
		{"Deployment.apps/shop/web", ReasonCrashLoop, "web-1-a", "app", true}, // web-1-b deduplicated
		{"Deployment.apps/shop/web", ReasonImagePull, "web-1-c", "init", true},
		{"StatefulSet.apps/shop/db", ReasonOOMKilled, "db-0", "db", true},
		{"StatefulSet.apps/shop/db", ReasonCreateContainerConf, "db-1", "db", true},
		{"StatefulSet.apps/shop/db", ReasonUnschedulable, "db-2", "", true}, // db-3 is within the grace period
		{"CronJob.batch/shop/nightly", ReasonFailed, "nightly-1-x", "run", false},
		{"Pod/aegis-r-head/stray", ReasonFailed, "stray", "", true},
		{"Deployment.apps/shop/web", ReasonQuotaExceeded, "", "", true}, // condition and event merged
	}, got)
}

func TestWarningEvents(t *testing.T) {
	evs := []corev1.Event{
		{Type: corev1.EventTypeWarning, Reason: "BackOff", Message: "back-off", Count: 3, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "a"}},
		{Type: corev1.EventTypeNormal, Reason: "Pulled", InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "a"}},
		{Type: corev1.EventTypeWarning, Reason: "BackOff", Message: "back-off", Series: &corev1.EventSeries{Count: 2}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "a"}},
		{Type: corev1.EventTypeWarning, Reason: "FailedCreate", Message: "quota", InvolvedObject: corev1.ObjectReference{Kind: "ReplicaSet", Name: "r"}},
	}
	assert.Equal(t, []Event{
		{Object: "Pod/a", Reason: "BackOff", Message: "back-off", Count: 5},
		{Object: "ReplicaSet/r", Reason: "FailedCreate", Message: "quota", Count: 1},
	}, warningEvents(evs))
}

func TestFieldLocation(t *testing.T) {
	set := decodeSet(t, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: app
        image: ""
`)
	o := set.Objects[0]
	st := metav1.Status{Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Field: "spec.template.spec.containers[0].image"}}}}
	assert.Equal(t, manifest.Location{Path: "app.yaml", Line: 10}, fieldLocation(o, st))
	assert.Equal(t, manifest.Location{Path: "app.yaml", Line: 1}, fieldLocation(o, metav1.Status{}))
	typed := metav1.Status{Message: `failed to create typed patch object (ns/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="app"].image: expected string, got &value.valueUnstructured{Value:3}`}
	assert.Equal(t, manifest.Location{Path: "app.yaml", Line: 10}, fieldLocation(o, typed))
}

func TestIsolationObjects(t *testing.T) {
	m := &Manager{opts: Options{RunID: "r1", Enforce: "baseline"}}
	require.NoError(t, m.opts.defaults())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.opts.Now = func() time.Time { return now }
	ns := m.namespaceObject("aegis-r1-head", "head")
	assert.Equal(t, "aegis", ns.Labels[LabelManagedBy])
	assert.Equal(t, "r1", ns.Labels[LabelRun])
	assert.Equal(t, "head", ns.Labels[LabelSide])
	assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/warn"])
	assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/audit"])
	assert.Equal(t, "baseline", ns.Labels["pod-security.kubernetes.io/enforce"])
	assert.Equal(t, "latest", ns.Labels["pod-security.kubernetes.io/enforce-version"])
	assert.Equal(t, "2026-01-01T00:30:00Z", ns.Annotations[AnnotationExpires])

	policies, quota, limits := m.isolation()
	require.Len(t, policies, 3)
	assert.Len(t, policies[0].Spec.PolicyTypes, 2)
	assert.Empty(t, policies[0].Spec.Ingress)
	assert.Empty(t, policies[0].Spec.Egress)
	for _, p := range policies {
		assertNoForeignPeers(t, p)
	}
	assert.Equal(t, "50", ptrQ(quota.Spec.Hard, corev1.ResourcePods))
	assert.Equal(t, "500m", ptrQ(limits.Spec.Limits[0].Default, corev1.ResourceCPU))
	assert.Equal(t, "128Mi", ptrQ(limits.Spec.Limits[0].DefaultRequest, corev1.ResourceMemory))
}

// assertNoForeignPeers: no rule of p admits a pod of another namespace (a
// namespaceSelector) or an address block: a shadow namespace's pods talk to
// each other and to DNS only.
func assertNoForeignPeers(t *testing.T, p *networkingv1.NetworkPolicy) {
	t.Helper()
	for _, in := range p.Spec.Ingress {
		for _, from := range in.From {
			assert.Nil(t, from.NamespaceSelector, "%s admits pods of other namespaces", p.Name)
			assert.Nil(t, from.IPBlock, "%s admits an address block", p.Name)
		}
	}
	for _, out := range p.Spec.Egress {
		for _, to := range out.To {
			assert.Nil(t, to.NamespaceSelector, "%s lets pods reach other namespaces", p.Name)
		}
	}
}

func ptrQ(l corev1.ResourceList, n corev1.ResourceName) string {
	q := l[n]
	return q.String()
}

func TestExpired(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ns := func(ann string, age time.Duration) corev1.Namespace {
		n := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(now.Add(-age))}}
		if ann != "" {
			n.Annotations = map[string]string{AnnotationExpires: ann}
		}
		return n
	}
	assert.True(t, expired(ns("2026-01-01T11:59:00Z", time.Hour), now))
	assert.False(t, expired(ns("2026-01-01T12:01:00Z", time.Hour), now))
	assert.False(t, expired(ns("garbage", time.Hour), now))
	assert.True(t, expired(ns("", 25*time.Hour), now))
}
