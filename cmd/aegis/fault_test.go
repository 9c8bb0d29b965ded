package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kube-sentient/aegis/action/fakegithub"
)

// privateCluster is a control plane of this test's own (hack/cluster/up.sh
// with its own directory and ports): the fault tests stop its API server,
// which they must never do to the shared cluster of AEGIS_KUBECONFIG that
// other packages' tests use at the same time. It is stopped (down.sh) when
// the test ends, whatever happens.
type privateCluster struct {
	env        []string // CLUSTER_DIR and the ports, for the cluster scripts
	dir        string
	kubeconfig string
	client     kubernetes.Interface
}

// startPrivateCluster gates like the other cluster tests: it runs when
// AEGIS_REQUIRE_CLUSTER=1 (building the control plane's binaries if their
// cache is absent, and failing, never skipping, if it cannot start), or when
// AEGIS_KUBECONFIG says cluster tests are wanted and the binaries are cached.
func startPrivateCluster(t *testing.T) *privateCluster {
	t.Helper()
	root := repoRoot(t)
	required := os.Getenv("AEGIS_REQUIRE_CLUSTER") == "1"
	if !required {
		if os.Getenv("AEGIS_KUBECONFIG") == "" {
			t.Skip("no cluster: set AEGIS_KUBECONFIG (or AEGIS_REQUIRE_CLUSTER=1) to run the fault tests on a private control plane")
		}
		// build.sh builds (13 minutes) when its cache is incomplete: look first.
		look := exec.Command("bash", "-c", `. hack/cluster/versions.sh && echo "$CLUSTER_BIN"`)
		look.Dir = root
		out, err := look.Output()
		if err != nil {
			t.Skipf("cannot locate the control plane's binaries: %v", err)
		}
		bin := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(bin, ".complete")); err != nil {
			t.Skipf("the control plane's binaries are not built (%s); hack/cluster/build.sh builds them", bin)
		}
	}

	dir := filepath.Join(t.TempDir(), "cluster")
	ports := freePorts(t, 6)
	c := &privateCluster{dir: dir, env: []string{
		"CLUSTER_DIR=" + dir,
		fmt.Sprintf("API_PORT=%d", ports[0]),
		fmt.Sprintf("ETCD_PORT=%d", ports[1]),
		fmt.Sprintf("ETCD_PEER_PORT=%d", ports[2]),
		fmt.Sprintf("KCM_PORT=%d", ports[3]),
		fmt.Sprintf("SCHED_PORT=%d", ports[4]),
		fmt.Sprintf("KWOK_PORT=%d", ports[5]),
	}}
	// Registered before up.sh runs, so a half-started cluster is stopped too.
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"kube-apiserver", "kube-controller-manager"} {
				if b, err := os.ReadFile(filepath.Join(dir, "logs", name+".log")); err == nil {
					t.Logf("last lines of %s.log:\n%s", name, tail(string(b), 15))
				}
			}
		}
		if out, err := c.script(t, context.Background(), "hack/cluster/down.sh"); err != nil {
			t.Errorf("stopping the private cluster: %v\n%s", err, out)
		}
	})

	limit := 3 * time.Minute
	if required {
		limit = 30 * time.Minute // up.sh builds the binaries when they are not cached
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack/cluster/up.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), c.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "hack/cluster/up.sh (private cluster in %s):\n%s", dir, stderr.String())
	c.kubeconfig = strings.TrimSpace(string(out))
	t.Logf("private control plane up in %s (%s, API port %d)", time.Since(start).Round(100*time.Millisecond), dir, ports[0])

	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	require.NoError(t, err)
	c.client, err = kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return c
}

// script runs a cluster script of the repository on this cluster.
func (c *privateCluster) script(t *testing.T, ctx context.Context, path string, args ...string) (string, error) {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.CommandContext(ctx, filepath.Join(root, path), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), c.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// aegisNamespaces lists every namespace aegis created, terminating or not.
// writeStoppingTrivy writes work/trivy: a stand-in Trivy whose first
// `trivy config` stops this cluster's API server (and waits until it is
// down), then answers an empty report like Trivy. It records the stop in
// work/stop.log.
func (c *privateCluster) writeStoppingTrivy(t *testing.T, work string) {
	t.Helper()
	var exports strings.Builder
	for _, kv := range c.env {
		exports.WriteString("export " + kv + "\n")
	}
	stop := filepath.Join(repoRoot(t), "hack/cluster/restart-apiserver.sh")
	script := "#!/bin/sh\ncase \"$1\" in --version) echo 'Version: 0.74.0'; exit 0;; esac\n" + exports.String() +
		"if mkdir " + filepath.Join(work, "stopped") + " 2>/dev/null; then " + stop + " stop >" + filepath.Join(work, "stop.log") + " 2>&1; fi\n" +
		`echo '{"SchemaVersion":2,"Results":[]}'` + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(work, "trivy"), []byte(script), 0o755))
}

func (c *privateCluster) aegisNamespaces(t *testing.T) []string {
	t.Helper()
	list, err := c.client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=aegis"})
	require.NoError(t, err)
	var out []string
	for _, ns := range list.Items {
		out = append(out, ns.Name)
	}
	return out
}

// freePorts returns n distinct loopback ports free at the time of the call.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The API server stops in the middle of a run (during the health wait):
// aegis reports an infrastructure error (exit 3) at once, saying that it
// cannot reach the API server, which namespace it left behind and to run
// `aegis gc`; once the API server is back, `aegis gc --run` deletes the
// namespace and no aegis namespace remains.
func TestAPIServerStoppedMidRun(t *testing.T) {
	c := startPrivateCluster(t)
	runID := fmt.Sprintf("fault%d", time.Now().UnixNano()%1_000_000)
	ns := "aegis-" + runID + "-head"

	cmd, stderr := startWaitingVerify(t, c.kubeconfig, runID) // --shadow-timeout 5m: only the fault ends it
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	waitForNamespace(t, c.client, runID)
	// The change's PVC exists: aegis is in its health wait.
	require.Eventually(t, func() bool {
		_, err := c.client.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), "data", metav1.GetOptions{})
		return err == nil
	}, 60*time.Second, 100*time.Millisecond, "the PVC of run %s was never applied", runID)
	time.Sleep(time.Second)

	// Stop the API server (TERM by recorded PID, wait for its exit), in the
	// background: aegis notices as soon as it stops answering.
	stopped := make(chan string, 1)
	stopAt := time.Now()
	go func() {
		out, err := c.script(t, context.Background(), "hack/cluster/restart-apiserver.sh", "stop")
		if err != nil {
			out += "\n" + err.Error()
		}
		stopped <- out
	}()
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("aegis still running 90 s after the API server was stopped:\n%s", stderr.String())
	}
	exit3 := time.Since(stopAt)
	var ee *exec.ExitError
	require.True(t, errors.As(werr, &ee), "aegis exited 0 after the API server went away:\n%s", stderr.String())
	assert.Equal(t, exitInfra, ee.ExitCode(), stderr.String())
	msg := stderr.String()
	assert.Contains(t, msg, "cannot reach the cluster at https://127.0.0.1:", "names the API server problem")
	assert.Contains(t, msg, "its Kubernetes API server did not answer")
	assert.Contains(t, msg, "the shadow namespace "+ns+" was left behind")
	assert.Contains(t, msg, "run `aegis gc --run "+runID+"`", "says what to do")
	assert.NotContains(t, msg, "panic")
	out := <-stopped
	require.Contains(t, out, "stopped", "restart-apiserver.sh stop:\n%s", out)
	t.Logf("aegis exited %d %s after the API server was told to stop; last lines of its stderr:\n%s",
		ee.ExitCode(), exit3.Round(10*time.Millisecond), tail(msg, 3))

	// Back: the same command line, a new PID that down.sh will stop.
	restartAt := time.Now()
	out, err := c.script(t, context.Background(), "hack/cluster/restart-apiserver.sh", "start")
	require.NoError(t, err, out)
	t.Logf("API server ready again after %s", time.Since(restartAt).Round(10*time.Millisecond))
	require.Equal(t, []string{ns}, runNamespaces(t, c.client, runID), "the namespace aegis could not delete is still there")

	gcAt := time.Now()
	res := runBinary(t, "gc", "--kubeconfig", c.kubeconfig, "--run", runID)
	gcTook := time.Since(gcAt)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, ns)
	// gc waits until the namespace is gone; look anyway, with a deadline.
	require.Eventually(t, func() bool { return len(c.aegisNamespaces(t)) == 0 }, 2*time.Minute, 500*time.Millisecond,
		"aegis namespaces remain after gc: %v", c.aegisNamespaces(t))
	res = runBinary(t, "gc", "--kubeconfig", c.kubeconfig)
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Empty(t, c.aegisNamespaces(t))
	t.Logf("figures: exit %d after %s; gc --run deleted %s in %s; leaked namespaces: %d",
		ee.ExitCode(), exit3.Round(10*time.Millisecond), ns, gcTook.Round(10*time.Millisecond), len(c.aegisNamespaces(t)))
}

// A cluster that does not answer at all is an infrastructure error (exit
// 3) that names the API server, not bad input.
func TestUnreachableAPIServerIsExit3(t *testing.T) {
	port := freePorts(t, 1)[0]
	work := t.TempDir()
	writeFiles(t, work, map[string]string{
		"base/pvc.yaml": neverHealthy,
		"head/pvc.yaml": neverHealthy,
		"kubeconfig": fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster: {server: "https://127.0.0.1:%d", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: gone
  context: {cluster: gone, user: u}
current-context: gone
`, port),
	})
	start := time.Now()
	res := runBinaryIn(t, work, "verify", "-q", "--shadow", "head", "--kubeconfig", "kubeconfig", "--run-id", "gone1",
		"--base-dir", "base", "--head-dir", "head")
	assert.Equal(t, exitInfra, res.code, res.stderr)
	assert.Contains(t, res.stderr, fmt.Sprintf("cannot reach the cluster at https://127.0.0.1:%d", port))
	assert.Contains(t, res.stderr, "its Kubernetes API server did not answer")
	assert.Contains(t, res.stderr, "connection refused")
	assert.NotContains(t, res.stderr, "left behind", "the namespace was never created")
	assert.Less(t, time.Since(start), 30*time.Second)
}

// The API server stops after the deploy, while the scanners run: the scans
// finish, but the teardown cannot delete the shadow namespace. A namespace
// left behind is never a pass: the verdict is error (exit 3) with the reason
// and the `aegis gc` to run, in the reports too; gc cleans up after restart.
func TestAPIServerStoppedDuringTheScans(t *testing.T) {
	c := startPrivateCluster(t)
	runID := fmt.Sprintf("scanfault%d", time.Now().UnixNano()%1_000_000)
	ns := "aegis-" + runID + "-head"
	work := t.TempDir()

	c.writeStoppingTrivy(t, work)
	writeFiles(t, work, map[string]string{
		"base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"1\"\n",
		"head/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"2\"\n",
		"policy.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy:\n    binary: " + filepath.Join(work, "trivy") +
			"\n    timeout: 2m\n  trivy-image:\n    enabled: false\n",
	})

	res := runBinaryIn(t, work, "verify", "--shadow", "head", "--kubeconfig", c.kubeconfig, "--run-id", runID,
		"--config", "policy.yaml", "--json", "aegis.json", "--markdown", "aegis.md", "--base-dir", "base", "--head-dir", "head")
	stopLog, _ := os.ReadFile(filepath.Join(work, "stop.log"))
	require.Contains(t, string(stopLog), "stopped", "the stand-in did not stop the API server:\n%s\n%s", stopLog, res.stderr)
	assert.Equal(t, exitInfra, res.code, "a namespace left behind is not a pass:\n%s", res.stderr)
	teardown := "teardown of the shadow namespaces of run " + runID + " failed"
	assert.Contains(t, res.stderr, teardown)
	assert.Contains(t, res.stderr, "`aegis gc --run "+runID+"`")
	jsonOut, err := os.ReadFile(filepath.Join(work, "aegis.json"))
	require.NoError(t, err, "the reports are written even when the run errs")
	rep := decodeReport(t, string(jsonOut))
	assert.Equal(t, "error", rep.Verdict)
	assert.Contains(t, strings.Join(rep.Reasons, "\n"), teardown, "the report says why")
	md, err := os.ReadFile(filepath.Join(work, "aegis.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), teardown)

	out, err := c.script(t, context.Background(), "hack/cluster/restart-apiserver.sh", "start")
	require.NoError(t, err, out)
	require.Equal(t, []string{ns}, runNamespaces(t, c.client, runID))
	gc := runBinary(t, "gc", "--kubeconfig", c.kubeconfig, "--run", runID)
	require.Equal(t, 0, gc.code, gc.stderr)
	require.Eventually(t, func() bool { return len(c.aegisNamespaces(t)) == 0 }, 2*time.Minute, 500*time.Millisecond,
		"aegis namespaces remain after gc: %v", c.aegisNamespaces(t))
}

// The same fault on the Action's path, with base and head as directories
// inside the workspace (so that locations are made repository-relative):
// the verdict is decided once, in verify, and the teardown failure turns it
// into error; nothing afterwards may judge again and bring back a pass.
func TestActionTeardownFailureIsError(t *testing.T) {
	c := startPrivateCluster(t)
	runID := "" // the action names the run after GITHUB_RUN_ID
	work := t.TempDir()
	c.writeStoppingTrivy(t, work)
	writeFiles(t, work, map[string]string{
		"apps/before/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"1\"\n",
		"apps/after/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"2\"\n",
		"policy.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy:\n    binary: " + filepath.Join(work, "trivy") +
			"\n    timeout: 2m\n  trivy-image:\n    enabled: false\n",
	})
	kubeconfig, err := os.ReadFile(c.kubeconfig)
	require.NoError(t, err)

	srv := fakegithub.New(actionToken)
	defer srv.Close()
	step := newActionStep(t, srv, eventPayload(t, t.TempDir(), strings.Repeat("a", 40), strings.Repeat("b", 40)), map[string]string{
		"base-dir": "apps/before", "head-dir": "apps/after", "config": filepath.Join(work, "policy.yaml"),
		"shadow": "head", "kubeconfig": string(kubeconfig), "comment": "false", "upload-sarif": "false",
		"report-json": filepath.Join(work, "aegis.json"), "sarif-file": filepath.Join(work, "aegis.sarif"),
	})
	step.cwd, step.env["GITHUB_WORKSPACE"] = work, work
	res, outputs, summary := step.run()
	stopLog, _ := os.ReadFile(filepath.Join(work, "stop.log"))
	require.Contains(t, string(stopLog), "stopped", "the stand-in did not stop the API server:\n%s\n%s", stopLog, res.stderr)
	assert.Equal(t, exitInfra, res.code, "a namespace left behind is not a pass:\n%s", res.stderr)
	assert.Equal(t, "error", outputs["verdict"])
	assert.Contains(t, res.stderr, "teardown of the shadow namespaces of run")
	assert.Contains(t, summary, "teardown of the shadow namespaces of run")
	rep, err := os.ReadFile(filepath.Join(work, "aegis.json"))
	require.NoError(t, err)
	assert.Equal(t, "error", decodeReport(t, string(rep)).Verdict)

	out, err := c.script(t, context.Background(), "hack/cluster/restart-apiserver.sh", "start")
	require.NoError(t, err, out)
	for _, ns := range c.aegisNamespaces(t) {
		runID = strings.TrimSuffix(strings.TrimPrefix(ns, "aegis-"), "-head")
	}
	require.NotEmpty(t, runID, "the run's namespace was left behind, as the error says")
	gc := runBinary(t, "gc", "--kubeconfig", c.kubeconfig, "--run", runID)
	require.Equal(t, 0, gc.code, gc.stderr)
}
