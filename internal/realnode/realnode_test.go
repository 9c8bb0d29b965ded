package realnode

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kube-sentient/aegis/internal/testcluster"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

const port = 8080

// realNode returns the cluster's REST config and directory, or skips (fails
// with AEGIS_REQUIRE_REAL_NODE=1) when no real-node cluster was named.
func realNode(t *testing.T) (*rest.Config, string) {
	t.Helper()
	kc, cfg := testcluster.RealNode(t)
	dir := os.Getenv("AEGIS_CLUSTER_DIR")
	if dir == "" {
		dir = filepath.Dir(kc) // up.sh writes the kubeconfig into the cluster dir
	}
	return cfg, dir
}

// repoRoot is the module root, two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "hack", "images", "main.go")); err != nil {
		t.Fatalf("not the repository root: %v", err)
	}
	return root
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestDeploymentServesThroughPortForward builds the hello server into an
// image with hack/images, imports it into the node, runs it as a Deployment
// whose readiness probe kubelet really executes, and GETs it through a
// client-go port-forward (API server -> kubelet -> containerd -> pod).
func TestDeploymentServesThroughPortForward(t *testing.T) {
	cfg, clusterDir := realNode(t)
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Image: static binary, non-root, a tag unique to this run so that an
	// image left by an earlier run cannot stand in for this one.
	tmp := t.TempDir()
	tag := fmt.Sprintf("aegis.local/realnode-hello:t%d", time.Now().UnixNano())
	start := time.Now()
	run(t, root, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tmp, "hello"), "./internal/realnode/testdata/hello")
	run(t, root, nil, "go", "run", "./hack/images", "-binary", filepath.Join(tmp, "hello"), "-ref", tag,
		"-out", filepath.Join(tmp, "hello.tar"), "-user", "65532", "-port", fmt.Sprint(port), "-arg=-listen=:"+fmt.Sprint(port))
	run(t, root, []string{"CLUSTER_DIR=" + clusterDir}, filepath.Join(root, "hack", "cluster", "node-import.sh"), filepath.Join(tmp, "hello.tar"))
	t.Logf("image %s built and imported in %v", tag, time.Since(start).Round(time.Millisecond))

	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "aegis-realnode-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})

	replicas := int32(2)
	labels := map[string]string{"app": "hello"}
	nonRoot, noEscalation := true, false
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64),
					Containers: []corev1.Container{{
						Name:            "hello",
						Image:           tag,
						ImagePullPolicy: corev1.PullNever,
						Ports:           []corev1.ContainerPort{{ContainerPort: port}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port)}},
							PeriodSeconds: 1,
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
						},
						SecurityContext: &corev1.SecurityContext{RunAsNonRoot: &nonRoot, AllowPrivilegeEscalation: &noEscalation},
					}},
				},
			},
		},
	}
	start = time.Now()
	if _, err := cs.AppsV1().Deployments(ns.Name).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns.Name).Get(ctx, dep.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == replicas, nil
	})
	if err != nil {
		describePods(t, cs, ns.Name)
		t.Fatalf("deployment not available: %v", err)
	}
	t.Logf("deployment available (%d replicas, readiness probed by kubelet) in %v", replicas, time.Since(start).Round(time.Millisecond))

	pods, err := cs.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: "app=hello"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods: %v (%d)", err, len(pods.Items))
	}
	pod := pods.Items[0]
	if pod.Status.PodIP == "" {
		t.Fatalf("pod %s has no IP", pod.Name)
	}

	body := getThroughPortForward(ctx, t, cfg, cs, ns.Name, pod.Name)
	if want := "hello from " + pod.Name; strings.TrimSpace(body) != want {
		t.Fatalf("GET / through port-forward = %q, want %q", body, want)
	}
	t.Logf("port-forward to %s answered %q", pod.Name, strings.TrimSpace(body))

	// Logs come from the kubelet too (API server -> kubelet -> /var/log/pods).
	logs, err := cs.CoreV1().Pods(ns.Name).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(logs), "listening on :8080") {
		t.Fatalf("logs of %s: %v %q", pod.Name, err, logs)
	}
}

// getThroughPortForward forwards a free local port to the pod's port and
// returns the body of GET /.
func getThroughPortForward(ctx context.Context, t *testing.T, cfg *rest.Config, cs kubernetes.Interface, ns, pod string) string {
	t.Helper()
	rt, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	defer close(stop)
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("port-forward: %v", err)
	case <-ctx.Done():
		t.Fatal("port-forward: not ready in time")
	}
	fwd, err := fw.GetPorts()
	if err != nil || len(fwd) != 1 {
		t.Fatalf("forwarded ports: %v %v", fwd, err)
	}
	local := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", fwd[0].Local), Path: "/"}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, local.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", local.String(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", local.String(), resp.StatusCode, err)
	}
	return string(b)
}

func describePods(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		t.Logf("pod %s: phase %s", p.Name, p.Status.Phase)
		for _, c := range p.Status.ContainerStatuses {
			t.Logf("  %s ready=%v state=%+v", c.Name, c.Ready, c.State)
		}
	}
	evs, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err == nil {
		for _, e := range evs.Items {
			t.Logf("event %s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}
