package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-sentient/aegis/internal/testcluster"
)

// clusterKubeconfig returns the local control plane's kubeconfig and a
// client (see internal/testcluster for when the test skips or fails).
func clusterKubeconfig(t *testing.T) (string, kubernetes.Interface) {
	t.Helper()
	kc, cfg := testcluster.Kubeconfig(t)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return kc, cs
}

func runNamespaces(t *testing.T, cs kubernetes.Interface, runID string) []string {
	t.Helper()
	list, err := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: "aegis.dev/run=" + runID})
	require.NoError(t, err)
	var out []string
	for _, ns := range list.Items {
		if ns.DeletionTimestamp == nil {
			out = append(out, ns.Name)
		}
	}
	return out
}

func TestShadowBothOnTheKustomizeExample(t *testing.T) {
	kc, cs := clusterKubeconfig(t)
	runID := fmt.Sprintf("cli%d", time.Now().UnixNano()%1_000_000)
	res := runBinary(t, "verify", "--output", "json", "--shadow", "both", "--kubeconfig", kc, "--run-id", runID,
		"-c", ".aegis.yaml", "--base-dir", "examples/kustomize-overlay/before", "--head-dir", "examples/kustomize-overlay/after", "overlays/prod")
	require.Equal(t, 1, res.code, res.stderr)
	r := decodeShadowReport(t, res.stdout)
	require.NotNil(t, r.Shadow.Base, res.stdout)
	require.NotNil(t, r.Shadow.Head)
	assert.Equal(t, "Healthy", r.Shadow.Base.Health)
	assert.Equal(t, "Healthy", r.Shadow.Head.Health)
	assert.Equal(t, "aegis-"+runID+"-head", r.Shadow.Head.Namespace)
	assert.True(t, hasFinding(r.jsonReport, "pss.hostPathVolumes", "new", "overlays/prod/node-logs.yaml"))
	assert.Empty(t, runNamespaces(t, cs, runID), "torn down after the run")
}

type shadowSideJSON struct {
	Namespace string `json:"namespace"`
	Health    string `json:"health"`
}

type shadowReport struct {
	jsonReport
	Shadow struct {
		Base *shadowSideJSON `json:"base"`
		Head *shadowSideJSON `json:"head"`
	} `json:"shadow"`
}

func decodeShadowReport(t *testing.T, data string) shadowReport {
	t.Helper()
	var r shadowReport
	require.NoError(t, json.Unmarshal([]byte(data), &r), data)
	return r
}

// neverHealthy is a head whose PersistentVolumeClaim never binds (no
// storage class), so the health wait lasts until its timeout.
const neverHealthy = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
`

func startWaitingVerify(t *testing.T, kc, runID string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	work := t.TempDir()
	writeFiles(t, filepath.Join(work, "base"), map[string]string{"pvc.yaml": neverHealthy})
	writeFiles(t, filepath.Join(work, "head"), map[string]string{"pvc.yaml": neverHealthy})
	cmd := exec.Command(binary, "verify", "--shadow", "head", "--kubeconfig", kc, "--run-id", runID,
		"--shadow-timeout", "5m", "--base-dir", "base", "--head-dir", "head")
	cmd.Dir = work
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	require.NoError(t, cmd.Start())
	return cmd, &stderr
}

func waitForNamespace(t *testing.T, cs kubernetes.Interface, runID string) {
	t.Helper()
	require.Eventually(t, func() bool { return len(runNamespaces(t, cs, runID)) == 1 }, 60*time.Second, 200*time.Millisecond,
		"the shadow namespace of run %s never appeared", runID)
}

func TestSIGTERMDuringTheWaitTearsDown(t *testing.T) {
	kc, cs := clusterKubeconfig(t)
	runID := fmt.Sprintf("term%d", time.Now().UnixNano()%1_000_000)
	cmd, stderr := startWaitingVerify(t, kc, runID)
	waitForNamespace(t, cs, runID)
	time.Sleep(time.Second) // inside the health wait
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, stderr.String())
	assert.Equal(t, exitInfra, ee.ExitCode(), stderr.String())
	assert.Empty(t, runNamespaces(t, cs, runID), "the namespace is gone when the process exits")
}

func TestKilledRunIsCollectedByGC(t *testing.T) {
	kc, cs := clusterKubeconfig(t)
	runID := fmt.Sprintf("kill%d", time.Now().UnixNano()%1_000_000)
	cmd, _ := startWaitingVerify(t, kc, runID)
	waitForNamespace(t, cs, runID)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Len(t, runNamespaces(t, cs, runID), 1, "kill -9 leaves the namespace behind")

	res := runBinary(t, "gc", "--kubeconfig", kc, "--run", runID)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "aegis-"+runID+"-head")
	assert.Eventually(t, func() bool { return len(runNamespaces(t, cs, runID)) == 0 }, 60*time.Second, 500*time.Millisecond)

	res = runBinary(t, "gc", "--kubeconfig", kc)
	assert.Equal(t, 0, res.code, res.stderr)
}

func TestConcurrentVerifies(t *testing.T) {
	kc, cs := clusterKubeconfig(t)
	const n = 10
	prefix := fmt.Sprintf("cc%d", time.Now().UnixNano()%100_000)
	var wg sync.WaitGroup
	results := make([]cliResult, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runBinary(t, "verify", "-q", "--shadow", "head", "--kubeconfig", kc, "--run-id", fmt.Sprintf("%s-%d", prefix, i),
				"-c", ".aegis.yaml", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after")
		}()
	}
	wg.Wait()
	for i, r := range results {
		assert.Equal(t, 0, r.code, "run %d: %s", i, r.stderr)
	}
	for i := range n {
		assert.Empty(t, runNamespaces(t, cs, fmt.Sprintf("%s-%d", prefix, i)), "run %d left its namespace", i)
	}
}

// TestShadowIsolationAdmitsNoOtherNamespace: the shadow namespace's
// NetworkPolicies let its pods talk to each other and to DNS, and admit no
// pod of another namespace, whatever its labels (aegis runs no scanner pods:
// DAST goes through a port-forward). A rule that admitted pods labelled as
// an aegis scanner in any namespace let anyone who can label a pod in.
func TestShadowIsolationAdmitsNoOtherNamespace(t *testing.T) {
	kc, cs := clusterKubeconfig(t)
	runID := fmt.Sprintf("iso%d", time.Now().UnixNano()%1_000_000)
	res := runBinary(t, "verify", "-q", "--shadow", "head", "--keep-shadow", "--kubeconfig", kc, "--run-id", runID,
		"-c", ".aegis.yaml", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after")
	t.Cleanup(func() { runBinary(t, "gc", "--kubeconfig", kc, "--run", runID) })
	require.Contains(t, []int{exitPass, exitFail}, res.code, res.stderr)
	ns := "aegis-" + runID + "-head"
	nps, err := cs.NetworkingV1().NetworkPolicies(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, nps.Items, "the kept shadow namespace %s has its isolation", ns)
	var names []string
	for _, np := range nps.Items {
		names = append(names, np.Name)
		for _, in := range np.Spec.Ingress {
			for _, from := range in.From {
				assert.Nil(t, from.NamespaceSelector, "%s admits pods of other namespaces", np.Name)
				assert.Nil(t, from.IPBlock, "%s admits an address block", np.Name)
			}
		}
	}
	assert.ElementsMatch(t, []string{"aegis-default-deny", "aegis-allow-dns", "aegis-allow-same-namespace"}, names)
}
