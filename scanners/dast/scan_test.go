package dast

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/shadow"
)

const shadowNS = "aegis-r1-base"

// fakeBackend records the URLs it scans and answers alerts (or an error,
// or blocks until the context ends).
type fakeBackend struct {
	mu     sync.Mutex
	urls   []string
	alerts []Alert
	err    error
	block  bool
}

func (*fakeBackend) Name() string                            { return "fake" }
func (*fakeBackend) Version(context.Context) (string, error) { return "1.0", nil }
func (b *fakeBackend) scanned() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.urls...)
}
func (b *fakeBackend) Scan(ctx context.Context, u string) ([]Alert, error) {
	b.mu.Lock()
	b.urls = append(b.urls, u)
	b.mu.Unlock()
	if b.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return b.alerts, b.err
}

// forwards stands in for the port-forward: each pod port maps to a local
// server; it records what was opened and what was closed.
type forwards struct {
	mu     sync.Mutex
	local  map[string]uint16 // "pod:port" -> local port
	opened []string
	open   int
	// report is what the forward's error stream said.
	report string
}

func (f *forwards) forward(_ context.Context, _ kubernetes.Interface, ns, pod string, port int32) (uint16, func() string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := fmt.Sprintf("%s:%d", pod, port)
	f.opened = append(f.opened, ns+"/"+k)
	lp, ok := f.local[k]
	if !ok {
		return 0, nil, fmt.Errorf("no route to %s", k)
	}
	f.open++
	var once sync.Once
	return lp, func() string {
		once.Do(func() {
			f.mu.Lock()
			f.open--
			f.mu.Unlock()
		})
		return f.report
	}, nil
}

func (f *forwards) stillOpen() int { f.mu.Lock(); defer f.mu.Unlock(); return f.open }

func localPort(t *testing.T, srv *httptest.Server) uint16 {
	t.Helper()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	p, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	return uint16(p)
}

func webServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
	t.Cleanup(srv.Close)
	return srv
}

// set is the rendered set: two Services in namespace shop, the second
// after a ConfigMap so that it starts on a later line.
func set(t *testing.T) *manifest.Set {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("base/service.yaml", []byte(`apiVersion: v1
kind: Service
metadata:
  name: prod-web
  namespace: shop
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
---
apiVersion: v1
kind: Service
metadata:
  name: prod-api
  namespace: shop
spec:
  selector: {app: api}
  ports:
    - name: http
      port: 8080
      targetPort: web
    - name: grpc
      port: 9000
    - name: dns
      port: 53
      protocol: UDP
`))
	require.NoError(t, err)
	s, err := manifest.NewSet(objs)
	require.NoError(t, err)
	return s
}

func ptr[T any](v T) *T { return &v }

func service(name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: shadowNS, Annotations: map[string]string{shadow.AnnotationOriginNS: "shop"}},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: ports},
	}
}

func slice(svc, name string, port int32, portName string, endpoints ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: shadowNS, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr(portName), Port: ptr(port), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints:   endpoints,
	}
}

func endpoint(pod string, ready bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{
		Addresses:  []string{"10.88.0.9"},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr(ready)},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: pod, Namespace: shadowNS},
	}
}

func pod(name string, labels map[string]string, ready bool, ports ...corev1.ContainerPort) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: shadowNS, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: ports}}},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
}

// cluster: prod-web backed (EndpointSlice) by a not-ready and a ready pod;
// prod-api without EndpointSlice (its pods found by the selector), whose
// http port's targetPort is named; an ExternalName Service.
func cluster() []runtime.Object {
	return []runtime.Object{
		service("prod-web", map[string]string{"app": "web"}, corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}),
		slice("prod-web", "prod-web-x1", 8080, "", endpoint("prod-web-a", false), endpoint("prod-web-b", true)),
		service("prod-api", map[string]string{"app": "api"},
			corev1.ServicePort{Name: "http", Port: 8080, TargetPort: intstr.FromString("web"), Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: "grpc", Port: 9000, Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}),
		pod("prod-api-0", map[string]string{"app": "api"}, false, corev1.ContainerPort{Name: "web", ContainerPort: 3000}),
		pod("prod-api-1", map[string]string{"app": "api"}, true, corev1.ContainerPort{Name: "web", ContainerPort: 3000}, corev1.ContainerPort{Name: "rpc", ContainerPort: 9000}),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "upstream", Namespace: shadowNS}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}},
	}
}

type harness struct {
	s       *Scanner
	backend *fakeBackend
	fw      *forwards
	logs    *[]string
}

func newHarness(t *testing.T, opts Options, backend *fakeBackend, local map[string]uint16) harness {
	t.Helper()
	var mu sync.Mutex
	logs := &[]string{}
	opts.Logf = func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		*logs = append(*logs, fmt.Sprintf(f, a...))
	}
	opts.Kube = &rest.Config{Host: "https://127.0.0.1:1"}
	s := New(backend, opts)
	fw := &forwards{local: local}
	s.forward = fw.forward
	return harness{s: s, backend: backend, fw: fw, logs: logs}
}

func sideTarget(side string) scanners.Target {
	return scanners.Target{Side: side, Shadow: &shadow.Deployment{Side: side, Namespace: shadowNS}}
}

// Every TCP port of every Service is scanned through its own forward, to a
// Ready pod (EndpointSlice or selector, named targetPort resolved); the
// findings name the Service as the rendered set has it; every forward is
// closed.
func TestScanEveryServicePort(t *testing.T) {
	web, api, grpc := webServer(t), webServer(t), webServer(t)
	backend := &fakeBackend{alerts: []Alert{{ID: "10021", Name: "X-Content-Type-Options Header Missing", Severity: report.Low, Method: "GET", URL: "/", Description: "d"}}}
	h := newHarness(t, Options{}, backend, map[string]uint16{
		"prod-web-b:8080": localPort(t, web), "prod-api-1:3000": localPort(t, api), "prod-api-1:9000": localPort(t, grpc),
	})
	tg := sideTarget(scanners.Base)
	tg.Set = set(t)
	fs, err := h.s.scan(context.Background(), fake.NewClientset(cluster()...), tg)
	require.NoError(t, err)

	assert.Equal(t, []string{shadowNS + "/prod-api-1:3000", shadowNS + "/prod-api-1:9000", shadowNS + "/prod-web-b:8080"}, sortedCopy(h.fw.opened))
	assert.Zero(t, h.fw.stillOpen(), "every forward is closed")
	assert.ElementsMatch(t, []string{
		"http://127.0.0.1:" + strconv.Itoa(int(localPort(t, web))) + "/",
		"http://127.0.0.1:" + strconv.Itoa(int(localPort(t, api))) + "/",
		"http://127.0.0.1:" + strconv.Itoa(int(localPort(t, grpc))) + "/",
	}, backend.scanned())

	require.Len(t, fs, 3)
	byKey := map[string]report.Finding{}
	for _, f := range fs {
		byKey[f.Resource.Name+" "+f.Key] = f
		assert.Equal(t, "fake", f.Scanner)
		assert.Equal(t, "fake.10021", f.RuleID)
		assert.Equal(t, "shop", f.Resource.Namespace, "the original namespace, not the shadow one")
		assert.Equal(t, "Service", f.Resource.Kind)
		assert.Equal(t, "v1", f.Resource.APIVersion)
	}
	assert.Equal(t, report.Location{Path: "base/service.yaml", Line: 1}, byKey["prod-web port 80 GET /"].Location)
	assert.Equal(t, report.Location{Path: "base/service.yaml", Line: 18}, byKey["prod-api port http GET /"].Location)
	assert.Contains(t, byKey, "prod-api port grpc GET /")
	assert.Contains(t, byKey["prod-web port 80 GET /"].Message, "pod prod-web-b")
	assert.Equal(t, []string{"fake.10021"}, ruleIDs(h.s.Rules()))

	logs := strings.Join(*h.logs, "\n")
	assert.Contains(t, logs, "Service "+shadowNS+"/prod-api port dns skipped: protocol UDP")
	assert.Contains(t, logs, "Service "+shadowNS+"/upstream skipped: type ExternalName")
}

func TestScanFilters(t *testing.T) {
	api := webServer(t)
	cases := map[string]struct {
		opts Options
		want []string
	}{
		"port name glob":   {Options{Ports: []string{"http*"}}, []string{shadowNS + "/prod-api-1:3000"}},
		"port number":      {Options{Ports: []string{"80"}}, []string{shadowNS + "/prod-web-b:8080"}},
		"service glob":     {Options{Services: []string{"*-api"}, Ports: []string{"http"}}, []string{shadowNS + "/prod-api-1:3000"}},
		"nothing selected": {Options{Services: []string{"billing"}}, nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, c.opts, &fakeBackend{}, map[string]uint16{"prod-web-b:8080": localPort(t, api), "prod-api-1:3000": localPort(t, api)})
			fs, err := h.s.scan(context.Background(), fake.NewClientset(cluster()...), sideTarget(scanners.Head))
			assert.Equal(t, c.want, h.fw.opened)
			if c.want == nil {
				// Filters that select nothing scanned nothing: a skip
				// (which the gate refuses on the head), not a clean pass.
				var skip *scanners.SkipError
				require.ErrorAs(t, err, &skip)
				assert.Contains(t, skip.Reason, "none of the 3 Services")
				assert.Contains(t, skip.Reason, "allowSkip")
				assert.Nil(t, fs)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, fs)
			assert.Empty(t, fs)
		})
	}
}

// A Service port with no Ready pod fails the side (naming it), before any
// forward or scan.
func TestServiceWithoutReadyPodFailsTheSide(t *testing.T) {
	objs := []runtime.Object{
		service("prod-web", map[string]string{"app": "web"}, corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(8080)}),
		slice("prod-web", "prod-web-x1", 8080, "", endpoint("prod-web-a", false)),
		service("orphan", map[string]string{"app": "none"}, corev1.ServicePort{Name: "http", Port: 80}),
		service("named", map[string]string{"app": "n"}, corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("nope")}),
		pod("named-0", map[string]string{"app": "n"}, true, corev1.ContainerPort{Name: "web", ContainerPort: 80}),
	}
	h := newHarness(t, Options{}, &fakeBackend{}, nil)
	_, err := h.s.scan(context.Background(), fake.NewClientset(objs...), sideTarget(scanners.Base))
	require.Error(t, err)
	for _, want := range []string{"Service prod-web port 80: no Ready pod", "Service orphan port http: no Ready pod", "Service named port http: no Ready pod", "fail closed"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Empty(t, h.fw.opened)
	assert.Empty(t, h.backend.scanned())
}

// A side without a Service was not scanned: a skip, never "no findings"
// (a head that drops its Service would make the base's alerts look fixed).
func TestNoServiceIsASkip(t *testing.T) {
	h := newHarness(t, Options{}, &fakeBackend{}, nil)
	fs, err := h.s.scan(context.Background(), fake.NewClientset(), sideTarget(scanners.Head))
	var skip *scanners.SkipError
	require.ErrorAs(t, err, &skip)
	assert.Nil(t, fs)
	assert.Equal(t, "no Service in shadow namespace "+shadowNS+": nothing to scan (scanners.fake.allowSkip: true accepts this)", skip.Reason)
	assert.Empty(t, h.backend.scanned())
}

// Whatever goes wrong once the forward is open, it is closed, and the side
// fails.
func TestFailuresAfterTheForwardCloseIt(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadPort := uint16(dead.Addr().(*net.TCPAddr).Port)
	require.NoError(t, dead.Close())
	web := webServer(t)
	notHTTP, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer notHTTP.Close()
	go func() {
		for {
			c, err := notHTTP.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("+OK redis\r\n"))
			_ = c.Close()
		}
	}()

	cases := map[string]struct {
		backend *fakeBackend
		port    uint16
		opts    Options
		want    string
		is      error
	}{
		"nothing listens": {&fakeBackend{}, deadPort, Options{}, "nothing answers HTTP on pod prod-web-b port 8080", nil},
		// What the forward said on its error stream joins the error.
		"forward complains": {&fakeBackend{err: errors.New("wapiti reached nothing")}, localPort(t, web), Options{},
			"wapiti reached nothing (the port-forward reported: an error occurred forwarding 40001 -> 8080: connection refused)", nil},
		"not HTTP":         {&fakeBackend{}, uint16(notHTTP.Addr().(*net.TCPAddr).Port), Options{}, "nothing answers HTTP", nil},
		"backend error":    {&fakeBackend{err: errors.New("zap: spider 0: boom")}, localPort(t, web), Options{}, "zap: spider 0: boom", nil},
		"backend too slow": {&fakeBackend{block: true}, localPort(t, web), Options{TargetTimeout: 200 * time.Millisecond}, "not scanned within 200ms", context.DeadlineExceeded},
		"not installed":    {&fakeBackend{err: fmt.Errorf("wapiti: %w", scanners.ErrNotInstalled)}, localPort(t, web), Options{}, "not installed", scanners.ErrNotInstalled},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			objs := cluster()[:2] // prod-web only
			h := newHarness(t, c.opts, c.backend, map[string]uint16{"prod-web-b:8080": c.port})
			if name == "forward complains" {
				h.fw.report = "an error occurred forwarding 40001 -> 8080: connection refused"
			}
			fs, err := h.s.scan(context.Background(), fake.NewClientset(objs...), sideTarget(scanners.Base))
			require.Error(t, err)
			assert.Nil(t, fs)
			assert.Contains(t, err.Error(), "fake on base: Service shop/prod-web port 80")
			assert.Contains(t, err.Error(), c.want)
			if c.is != nil {
				assert.ErrorIs(t, err, c.is)
			}
			assert.Len(t, h.fw.opened, 1)
			assert.Zero(t, h.fw.stillOpen(), "the forward is closed")
		})
	}

	h := newHarness(t, Options{}, &fakeBackend{}, nil)
	_, err = h.s.scan(context.Background(), fake.NewClientset(cluster()[:2]...), sideTarget(scanners.Base))
	assert.ErrorContains(t, err, "port-forward to pod prod-web-b port 8080: no route")
}

// A port named https (or appProtocol https, or 443) is reached with TLS;
// the probe accepts the pod's certificate as the backends do.
func TestHTTPSPorts(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }))
	defer tlsSrv.Close()
	objs := []runtime.Object{
		service("secure", map[string]string{"app": "s"}, corev1.ServicePort{Name: "https", Port: 8443}),
		pod("secure-0", map[string]string{"app": "s"}, true),
	}
	backend := &fakeBackend{}
	h := newHarness(t, Options{}, backend, map[string]uint16{"secure-0:8443": localPort(t, tlsSrv)})
	_, err := h.s.scan(context.Background(), fake.NewClientset(objs...), sideTarget(scanners.Head))
	require.NoError(t, err)
	assert.Equal(t, []string{fmt.Sprintf("https://127.0.0.1:%d/", localPort(t, tlsSrv))}, backend.scanned())

	for _, p := range []corev1.ServicePort{{Port: 443}, {Name: "https-admin", Port: 9443}, {Name: "web", Port: 8000, AppProtocol: ptr("HTTPS")}} {
		assert.Equal(t, "https", scheme(p), "%+v", p)
	}
	for _, p := range []corev1.ServicePort{{Port: 80}, {Name: "http", Port: 8443}, {Name: "web", Port: 8000, AppProtocol: ptr("http")}} {
		assert.Equal(t, "http", scheme(p), "%+v", p)
	}
}

func TestScanNeedsADeployedSideAndACluster(t *testing.T) {
	s := New(&fakeBackend{}, Options{Kube: &rest.Config{Host: "https://127.0.0.1:1"}})
	_, err := s.Scan(context.Background(), scanners.Target{Side: scanners.Base})
	assert.ErrorContains(t, err, "not deployed in a shadow namespace")
	_, err = New(&fakeBackend{}, Options{}).Scan(context.Background(), sideTarget(scanners.Base))
	assert.ErrorContains(t, err, "no cluster configuration")

	var live scanners.Scanner = s
	_, ok := live.(scanners.LiveScanner)
	assert.True(t, ok, "the runner skips it on a side without a shadow deployment")
	assert.Equal(t, "fake", s.Name())
	v, err := s.Version(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "1.0", v)
}

// The Service's namespace and location come from the rendered set: by the
// shadow rewrite's annotation, else by name; a Service the set does not
// have keeps what the cluster says, without a location.
func TestOrigin(t *testing.T) {
	s := set(t)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "prod-api", Annotations: map[string]string{shadow.AnnotationOriginNS: "shop"}}}
	ns, loc := origin(svc, s)
	assert.Equal(t, "shop", ns)
	assert.Equal(t, report.Location{Path: "base/service.yaml", Line: 18}, loc)

	svc.Annotations = nil // the annotation lost: found by name
	ns, loc = origin(svc, s)
	assert.Equal(t, "shop", ns)
	assert.Equal(t, 18, loc.Line)

	svc.Name = "made-by-an-operator"
	ns, loc = origin(svc, s)
	assert.Empty(t, ns)
	assert.Equal(t, report.Location{}, loc)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func ruleIDs(rs []report.Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
