// Real-node tests: the shadow namespaces on a local cluster whose node
// really runs containers (kubelet + containerd, `NODE=real make cluster-up`),
// with the example images of hack/build-images.sh imported into it (node-up
// imports .cache/images/*.tar; hack/cluster/node-import.sh adds them to a
// running node).
//
//	AEGIS_NODE=real AEGIS_KUBECONFIG=$(NODE=real hack/cluster/status.sh) \
//	    go test -count=1 -parallel 4 -run RealNode -v ./verify/
//
// Without AEGIS_NODE=real and AEGIS_KUBECONFIG they skip; with
// AEGIS_REQUIRE_REAL_NODE=1 a missing real node is a failure instead.
package verify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/kube-sentient/aegis/internal/testcluster"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/health"
	"github.com/kube-sentient/aegis/scanners/posture"
	"github.com/kube-sentient/aegis/shadow"
)

// xss is the reflected-XSS probe sent to both builds of the web app.
const xss = "<script>alert(1)</script>"

// realNode returns the real node's cluster, or skips (fails under
// AEGIS_REQUIRE_REAL_NODE=1) when there is none. It refuses a cluster that
// has a kwok node: pods placed there would only be simulated.
func realNode(t *testing.T) (*rest.Config, kubernetes.Interface) {
	t.Helper()
	_, cfg := testcluster.RealNode(t)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err, "the cluster of AEGIS_KUBECONFIG does not answer")
	ready := 0
	for _, n := range nodes.Items {
		require.Empty(t, n.Annotations["kwok.x-k8s.io/node"], "AEGIS_NODE=real but node %s is a kwok node", n.Name)
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	require.NotZero(t, ready, "AEGIS_NODE=real but no node is Ready")
	return cfg, cs
}

func realNodeRunID(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

// collect removes every namespace of the run (a kept one, or one a failed
// run left behind) when the test ends.
func collectRun(t *testing.T, cfg *rest.Config, run string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := shadow.GC(ctx, cfg, run, time.Now()); err != nil {
			t.Errorf("gc of run %s: %v", run, err)
		}
	})
}

func testProgress(t *testing.T) func(string, ...any) {
	return func(format string, args ...any) { t.Logf("aegis: "+format, args...) }
}

// TestRealNodeKustomizeExample deploys both sides of the kustomize example
// as real pods (readiness probes on the app's /healthz), keeps them, and
// talks to each side's app through a port-forward: the base (web:1.0)
// reflects the query unescaped and sends no security header, the head
// (web:1.1) escapes it and sends them. Then the run is collected by GC.
func TestRealNodeKustomizeExample(t *testing.T) {
	cfg, cs := realNode(t)
	run := realNodeRunID("rnk")
	collectRun(t, cfg, run)

	start := time.Now()
	res, err := Run(context.Background(), Options{
		Base: Source{Dir: "../examples/kustomize-overlay/before"}, Head: Source{Dir: "../examples/kustomize-overlay/after"}, Path: "overlays/prod",
		Scanners:      []scanners.Scanner{posture.New(), health.Health{}, health.Admission{}},
		Shadow:        ShadowBoth,
		Kube:          cfg,
		ShadowOptions: shadow.Options{RunID: run, HealthTimeout: 90 * time.Second},
		KeepShadow:    true,
		Progress:      testProgress(t),
	})
	require.NoError(t, err)
	r := res.Report
	t.Logf("both sides deployed and health-checked in %d ms (base %d ms, head %d ms)",
		time.Since(start).Milliseconds(), r.Shadow.Base.DurationMs, r.Shadow.Head.DurationMs)
	require.NotNil(t, r.Shadow.Base)
	require.NotNil(t, r.Shadow.Head)
	assert.Equal(t, "Healthy", r.Shadow.Base.Health, "%+v", r.Shadow.Base.Objects)
	assert.Equal(t, "Healthy", r.Shadow.Head.Health, "%+v", r.Shadow.Head.Objects)
	assert.True(t, r.Shadow.Head.Kept)
	for _, f := range r.Findings {
		assert.NotEqual(t, "health", f.Scanner, "no health finding on a healthy run: %s %s", f.RuleID, f.Message)
	}
	assert.Equal(t, report.Fail, r.Verdict, "the overlay's hostPath volume still fails the gate")

	for _, side := range []string{scanners.Base, scanners.Head} {
		ns := shadow.NamespaceName(run, side)
		resp, body := getThroughService(t, cfg, cs, ns, "prod-web", "/?q="+url.QueryEscape(xss))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", side, body)
		switch side {
		case scanners.Base:
			assert.Contains(t, body, "You searched for: "+xss, "the base reflects the query unescaped")
			for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
				assert.Empty(t, resp.Header.Get(h), "the base sends no %s", h)
			}
		case scanners.Head:
			assert.NotContains(t, body, xss)
			assert.Contains(t, body, "You searched for: &lt;script&gt;alert(1)&lt;/script&gt;", "the head escapes the query")
			assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
			assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	gcStart := time.Now()
	deleted, err := shadow.GC(ctx, cfg, run, time.Now())
	require.NoError(t, err)
	assert.Equal(t, []string{shadow.NamespaceName(run, scanners.Base), shadow.NamespaceName(run, scanners.Head)}, deleted)
	t.Logf("gc of run %s: %v in %d ms", run, deleted, time.Since(gcStart).Milliseconds())
	left, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: shadow.LabelRun + "=" + run})
	require.NoError(t, err)
	assert.Empty(t, left.Items, "GC waits until the namespaces are gone")
}

// getThroughService port-forwards (SPDY, through the API server and the
// kubelet) to a ready pod that the Service's selector picks, on the
// Service's first target port, and GETs path.
func getThroughService(t *testing.T, cfg *rest.Config, cs kubernetes.Interface, ns, service, path string) (*http.Response, string) {
	t.Helper()
	ctx := context.Background()
	svc, err := cs.CoreV1().Services(ns).Get(ctx, service, metav1.GetOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, svc.Spec.Ports)
	port := svc.Spec.Ports[0].TargetPort.IntValue()
	require.NotZero(t, port, "the test needs a numeric targetPort")
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	require.NoError(t, err)
	pod := ""
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && podReady(p) {
			pod = p.Name
			break
		}
	}
	require.NotEmpty(t, pod, "no ready pod behind Service %s/%s", ns, service)

	local, stop := portForward(t, cfg, cs, ns, pod, port)
	defer stop()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", local, path))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	t.Logf("%s/%s (pod %s:%d via 127.0.0.1:%d): %s", ns, service, pod, port, local, resp.Status)
	return resp, string(body)
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// portForward forwards a free local port on 127.0.0.1 to the pod's port
// until stop is called.
func portForward(t *testing.T, cfg *rest.Config, cs kubernetes.Interface, ns, pod string, port int) (uint16, func()) {
	t.Helper()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	require.NoError(t, err)
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	var errOut strings.Builder
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stopCh, readyCh, io.Discard, &errOut)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case <-readyCh:
	case err := <-done:
		t.Fatalf("port-forward to %s/%s:%d: %v %s", ns, pod, port, err, errOut.String())
	case <-time.After(30 * time.Second):
		close(stopCh)
		t.Fatalf("port-forward to %s/%s:%d not ready after 30s", ns, pod, port)
	}
	ports, err := fw.GetPorts()
	require.NoError(t, err)
	require.Len(t, ports, 1)
	return ports[0].Local, func() {
		close(stopCh)
		<-done
		if s := errOut.String(); s != "" {
			t.Logf("port-forward to %s/%s: %s", ns, pod, s)
		}
	}
}

// failureCase is a workload that fails in a real way on a real node, and
// the health rule aegis must report for it.
type failureCase struct {
	name, rule string
	// timeout is the health timeout: the run ends earlier as soon as the
	// workload is diagnosed, except for never-ready, which lasts it out.
	timeout time.Duration
	// container is the Deployment's container (name "app"): everything
	// under `containers:`, indented as a list item at 8 spaces.
	container string
}

var failureCases = []failureCase{
	{name: "crash-loop", rule: "health.crashLoop", timeout: 90 * time.Second, container: `
        - name: app
          image: aegis.local/crasher:1.0
          imagePullPolicy: IfNotPresent
          # Not ready before it crashes: the rollout stays Progressing until
          # the kubelet's back-off shows CrashLoopBackOff.
          readinessProbe:
            httpGet:
              path: /healthz
              port: 8080
            periodSeconds: 1
`},
	{name: "oom-kill", rule: "health.oomKilled", timeout: 90 * time.Second, container: `
        - name: app
          image: aegis.local/oomer:1.0
          imagePullPolicy: IfNotPresent
          resources:
            limits:
              memory: 48Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: 8080
            periodSeconds: 1
`},
	// IfNotPresent on an image the node does not have: the kubelet tries to
	// pull it, which fails offline (ErrImagePull, then ImagePullBackOff).
	{name: "image-pull", rule: "health.imagePull", timeout: 90 * time.Second, container: `
        - name: app
          image: aegis.local/absent:1.0
          imagePullPolicy: IfNotPresent
`},
	// The app is up and /healthz answers, but the readiness probe asks a
	// path that answers 404: never ready.
	{name: "never-ready", rule: "health.notReady", timeout: 45 * time.Second, container: `
        - name: app
          image: aegis.local/web:1.1
          imagePullPolicy: IfNotPresent
          readinessProbe:
            httpGet:
              path: /ready-never
              port: 8080
            periodSeconds: 1
`},
}

// workloadFile is app.yaml of a failure case: a ConfigMap first, so the
// Deployment does not start on line 1, then the Deployment. It returns the
// file and the Deployment's first line.
func workloadFile(c failureCase) (string, int) {
	head := `# A failing workload for aegis's real-node tests.
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: test
---
`
	deploy := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: 1
  selector:
    matchLabels:
      app: %s
  template:
    metadata:
      labels:
        app: %s
    spec:
      terminationGracePeriodSeconds: 2
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:%s`, c.name, c.name, c.name, c.container)
	return head + deploy, strings.Count(head, "\n") + 1
}

// TestRealNodeFailures runs each failing workload in its own head-only
// shadow run (concurrently): each ends in a `health` finding of the right
// rule, new on the head, located at the Deployment's source line.
func TestRealNodeFailures(t *testing.T) {
	cfg, _ := realNode(t)
	for _, c := range failureCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			text, line := workloadFile(c)
			writeTestFile(t, filepath.Join(dir, "base", "app.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n")
			writeTestFile(t, filepath.Join(dir, "head", "app.yaml"), text)
			run := realNodeRunID("rnf")
			collectRun(t, cfg, run)

			start := time.Now()
			res, err := Run(context.Background(), Options{
				Base: Source{Dir: filepath.Join(dir, "base")}, Head: Source{Dir: filepath.Join(dir, "head")},
				Scanners: []scanners.Scanner{posture.New(), health.Health{}, health.Admission{}},
				Shadow:   ShadowHead,
				Kube:     cfg,
				// A short poll: this kubelet shows a crash-looping container
				// as Waiting/CrashLoopBackOff only for about half a second
				// before each restart (Terminated/Error during the back-off),
				// which a 1 s poll can miss.
				ShadowOptions: shadow.Options{RunID: run, HealthTimeout: c.timeout, PollInterval: 200 * time.Millisecond},
				Progress:      testProgress(t),
			})
			require.NoError(t, err)
			r := res.Report
			require.NotNil(t, r.Shadow.Head)
			t.Logf("%s: head %s after %d ms (run %d ms)", c.name, r.Shadow.Head.Health, r.Shadow.Head.DurationMs, time.Since(start).Milliseconds())
			assert.NotEqual(t, "Healthy", r.Shadow.Head.Health)
			assert.Equal(t, report.Fail, r.Verdict, "an unhealthy head fails the gate")

			var got []string
			var found *report.Finding
			for i, f := range r.Findings {
				if f.Scanner != "health" {
					continue
				}
				got = append(got, fmt.Sprintf("%s at %s:%d (%s)", f.RuleID, f.Location.Path, f.Location.Line, f.Message))
				if f.RuleID == c.rule && found == nil {
					found = &r.Findings[i]
				}
			}
			require.NotNil(t, found, "want a %s finding; health findings: %q", c.rule, got)
			t.Logf("%s: %s", c.name, found.Message)
			assert.Equal(t, report.New, found.BaselineState)
			assert.Equal(t, report.Location{Path: "app.yaml", Line: line}, found.Location)
			assert.Equal(t, "Deployment", found.Resource.Kind)
			assert.Equal(t, c.name, found.Resource.Name)
			if c.rule != "health.notReady" {
				assert.Equal(t, "app", found.Resource.Container)
			}
		})
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}
