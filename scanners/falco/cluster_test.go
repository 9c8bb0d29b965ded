package falco

// The pod-log source against the project's local control plane
// (hack/cluster/up.sh; skips without AEGIS_KUBECONFIG):
//
//	AEGIS_KUBECONFIG=$(hack/cluster/status.sh) go test -run Cluster ./scanners/falco/
//
// With the default kwok node, pods are scheduled and reported Running but
// no container runs and no log exists, so this proves what the real API
// gives: the label selector finds the Falco pods of a namespace, none is
// ErrNotInstalled, and a pod whose log cannot be read fails the scan
// instead of passing it. Reading real alerts from a real Falco pod's log
// needs a real node (AEGIS_NODE=real, `make cluster-up NODE=real`) with
// an image that can print the fixture lines; there is no such image among
// the example images, so that case is covered by the fake clientset in
// podlogs_test.go only.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-sentient/aegis/internal/testcluster"
	"github.com/kube-sentient/aegis/scanners"
)

func TestClusterPodLogs(t *testing.T) {
	_, cfg := testcluster.Kubeconfig(t)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ns := fmt.Sprintf("falco-test-%d", time.Now().UnixNano()%1_000_000_000)
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "aegis-test"}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		zero := int64(0)
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	head := side(t, scanners.Head, headNS)
	src := PodLogs{Client: cs, Namespace: ns}

	// No Falco pod yet: not installed.
	_, err = scanner(src).Scan(ctx, head)
	require.Error(t, err)
	assert.True(t, errors.Is(err, scanners.ErrNotInstalled), err)

	// A Falco pod whose log the API cannot serve: the scan fails, it is not
	// a clean side.
	pod := falcoPod("falco-7xk2p", "falco")
	pod.Namespace = ns
	pod.Spec.Containers[0].Image = "aegis.local/web:1.0"
	// Bound to a node that does not exist, so no kubelet (kwok's or a real
	// one) can serve its log, whatever the node mode of the test cluster.
	pod.Spec.NodeName = "aegis-no-such-node"
	_, err = cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = scanner(src).Scan(ctx, head)
	require.Error(t, err)
	assert.False(t, errors.Is(err, scanners.ErrNotInstalled), err)
	assert.Contains(t, err.Error(), "falco-7xk2p")
	t.Logf("pod-log error on a node without logs: %v", err)

	// Another label finds nothing.
	_, err = scanner(PodLogs{Client: cs, Namespace: ns, Selector: "app.kubernetes.io/name=not-falco"}).Scan(ctx, head)
	assert.True(t, errors.Is(err, scanners.ErrNotInstalled), err)
}
