package shadow

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kube-sentient/aegis/manifest"
)

// refused is what client-go returns when the API server's port is closed.
func refused(verb, path string) error {
	return &url.Error{Op: verb, URL: "https://127.0.0.1:6443" + path, Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
}

// The API server goes away during the health wait: Deploy returns an
// UnreachableError that names the API server and, since the teardown could
// not delete the namespace either, says which namespace is left and that
// `aegis gc --run` deletes it once the cluster is back.
func TestDeployWhenTheAPIServerStopsMidRun(t *testing.T) {
	client := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "aegis-r1-head", Name: "default"}})
	// The quota controller would fill the status: do it at creation.
	client.PrependReactor("create", "resourcequotas", func(a k8stesting.Action) (bool, runtime.Object, error) {
		q := a.(k8stesting.CreateAction).GetObject().(*corev1.ResourceQuota)
		q.Status.Hard = q.Spec.Hard
		return false, nil, nil
	})
	down := false
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		down = true // the API server stops here
		return true, nil, refused("Get", "/api/v1/namespaces/aegis-r1-head/pods")
	})
	client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if down {
			return true, nil, refused(a.GetVerb(), "/api/v1/"+a.GetResource().Resource)
		}
		return false, nil, nil
	})
	m := &Manager{client: client, host: "https://127.0.0.1:6443"}
	require.NoError(t, m.opts.defaults())
	m.opts.RunID = "r1"

	start := time.Now()
	d, err := m.Deploy(context.Background(), "head", &manifest.Set{})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 10*time.Second, "an unreachable API server fails the run at once")
	require.NotNil(t, d)

	var ue *UnreachableError
	require.ErrorAs(t, err, &ue, "the cause stays reachable through the wrapping")
	assert.Equal(t, "reading pods in aegis-r1-head", ue.What)
	var lb *LeftBehindError
	require.ErrorAs(t, err, &lb)
	assert.Equal(t, "aegis-r1-head", lb.Namespace)
	msg := err.Error()
	assert.Contains(t, msg, "cannot reach the cluster at https://127.0.0.1:6443: its Kubernetes API server did not answer")
	assert.Contains(t, msg, "connection refused")
	assert.Contains(t, msg, "the shadow namespace aegis-r1-head was left behind")
	assert.Contains(t, msg, "the API server did not answer")
	assert.Contains(t, msg, "run `aegis gc --run r1`")
}

// The API server is down from the start: the namespace was never created,
// so nothing is said to be left behind.
func TestDeployWithTheAPIServerDownLeavesNothing(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, refused(a.GetVerb(), "/api/v1/"+a.GetResource().Resource)
	})
	m := &Manager{client: client, host: "https://127.0.0.1:6443"}
	require.NoError(t, m.opts.defaults())
	m.opts.RunID = "r4"
	_, err := m.Deploy(context.Background(), "head", &manifest.Set{})
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "creating namespace aegis-r4-head", ue.What)
	var lb *LeftBehindError
	assert.False(t, errors.As(err, &lb), "%v", err)
	assert.NotContains(t, err.Error(), "left behind")
}

// When the cleanup succeeds the error is the deploy's, with no gc advice.
func TestDeployFailureCleanedUpSaysNothingOfGC(t *testing.T) {
	client := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "aegis-r2-head", Name: "default"}})
	client.PrependReactor("create", "resourcequotas", func(a k8stesting.Action) (bool, runtime.Object, error) {
		q := a.(k8stesting.CreateAction).GetObject().(*corev1.ResourceQuota)
		q.Status.Hard = q.Spec.Hard
		return false, nil, nil
	})
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd hiccup")
	})
	m := &Manager{client: client, host: "https://127.0.0.1:6443"}
	require.NoError(t, m.opts.defaults())
	m.opts.RunID = "r2"
	_, err := m.Deploy(context.Background(), "head", &manifest.Set{})
	require.Error(t, err)
	var lb *LeftBehindError
	assert.False(t, errors.As(err, &lb), "%v", err)
	assert.NotContains(t, err.Error(), "aegis gc")
	_, gerr := client.CoreV1().Namespaces().Get(context.Background(), "aegis-r2-head", metav1.GetOptions{})
	assert.Error(t, gerr, "the namespace was deleted")
}

// An API server that accepts the connection and never answers (hung, or
// stopped with SIGSTOP) does not hang aegis: every request is bounded.
func TestHungAPIServerIsBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	old := requestTimeout
	requestTimeout = 300 * time.Millisecond
	defer func() { requestTimeout = old }()

	start := time.Now()
	_, err := GC(context.Background(), &rest.Config{Host: srv.URL}, "r3", time.Now())
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue, "%v", err)
	assert.Contains(t, err.Error(), "cannot reach the cluster at "+srv.URL)

	assert.Equal(t, 30*time.Second, old, "the default bound")
	assert.Equal(t, 5*time.Second, clientConfig(&rest.Config{Timeout: 5 * time.Second}).Timeout, "a timeout of the kubeconfig is kept")
}
