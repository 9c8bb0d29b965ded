package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sources of issue 14 ("bounds") that make rendering die or hang: each
// side renders in a child process under the policy's render limits, so
// they end as bad input naming the limit, with nothing of the Go runtime's
// crash on the output and no render process left behind.

// recursiveChart is a chart whose value renders itself through tpl: in
// process, aegis died with "fatal error: out of memory".
func recursiveChart() map[string]string {
	return map[string]string{
		"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/values.yaml":       "x: \"{{ tpl .Values.x . }}\"\n",
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: {{ tpl .Values.x . | quote }}\n",
	}
}

// inlinePatches is a kustomization with n inline patches of one ConfigMap.
func inlinePatches(n int) map[string]string {
	var b strings.Builder
	b.WriteString("resources:\n- cm.yaml\npatches:\n")
	for i := range n {
		fmt.Fprintf(&b, "- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: cm}\n    data: {k%d: v}\n", i)
	}
	return map[string]string{
		"kustomization.yaml": b.String(),
		"cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
	}
}

// diamond is levels of overlays each including the next twice (with two
// name prefixes): 2^levels paths to one ConfigMap.
func diamond(levels int) map[string]string {
	files := map[string]string{}
	for k := range levels {
		dir, up := fmt.Sprintf("l%d/", k), "../../"
		if k == 0 {
			dir, up = "", "../" // level 0 is the source's root
		}
		files[dir+"kustomization.yaml"] = "resources:\n- a\n- b\n"
		for _, br := range []string{"a", "b"} {
			files[dir+br+"/kustomization.yaml"] = fmt.Sprintf("namePrefix: %s-\nresources:\n- %sl%d\n", br, up, k+1)
		}
	}
	files[fmt.Sprintf("l%d/kustomization.yaml", levels)] = "resources:\n- cm.yaml\n"
	files[fmt.Sprintf("l%d/cm.yaml", levels)] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
	return files
}

func boundsPolicy(render string) string {
	return quickPolicy + "render: " + render + "\n"
}

// noRenderChildLeft checks that no render process runs in the case's
// directory once aegis has exited, and that the Go runtime's crash never
// reached the user.
func noRenderChildLeft(t *testing.T, dir string, r hostileResult) {
	t.Helper()
	assert.Empty(t, renderChildrenIn(t, dir), "no render process is left")
	assert.NotContains(t, r.all(), "fatal error")
	assert.NotContains(t, r.all(), "runtime stack")
}

// renderChildrenIn lists the pids of render processes (aegis __render)
// whose working directory is below dir.
func renderChildrenIn(t *testing.T, dir string) []int {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("\x00__render\x00")) {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && (cwd == real || strings.HasPrefix(cwd, real+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func trustBoundsCases() []hostileCase {
	const memoryLimit = `rendering needs more memory than its memory limit of 256Mi \(render\.memory\).*raise render\.memory in the policy`
	const timeLimit = `head \(head\): rendering took longer than its time limit of 3s \(render\.timeout\).*raise render\.timeout in the policy`
	kustHead := func(files map[string]string) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation {
			writeFiles(t, dir, map[string]string{".aegis.yaml": boundsPolicy("{timeout: 3s}")})
			writeFiles(t, filepath.Join(dir, "head"), files)
			return verifyHead()
		}
	}
	return []hostileCase{
		{entry: entryHelm, name: "a value that renders itself through tpl, under render.memory 256Mi", code: exitBadInput, shadow: true,
			want: `head \(head\): ` + memoryLimit,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": boundsPolicy("{memory: 256Mi}")})
				helmHead(t, dir, recursiveChart())
				return verifyHead("chart")
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				noRenderChildLeft(t, dir, r)
				// The limit holds: aegis and its render processes stayed
				// far below what the recursion takes unbounded (all the
				// machine's memory).
				assert.Less(t, r.maxRSS, int64(1<<20), "peak RSS %d KiB", r.maxRSS)
			}},
		{entry: entryArgoCD, name: "generate: a value that renders itself through tpl, under the app's render.memory 256Mi", code: exitBadInput,
			want: memoryLimit[:strings.Index(memoryLimit, ".*")] + `.*may lower but not raise`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := argoUnderPolicy(t, dir, nil)
				files := recursiveChart()
				files[".aegis.yaml"] = boundsPolicy("{memory: 256Mi}")
				writeFiles(t, filepath.Join(dir, "repo", "apps", "web"), files)
				return inv
			},
			check: noRenderChildLeft},
		{entry: entryKustomize, name: "5,000 inline patches, under render.timeout 3s", code: exitBadInput, shadow: true,
			want: timeLimit, prepare: kustHead(inlinePatches(5000)), check: noRenderChildLeft},
		{entry: entryKustomize, name: "a 15-level diamond of overlays, under render.timeout 3s", code: exitBadInput,
			want: timeLimit, prepare: kustHead(diamond(15)), check: noRenderChildLeft},
		{entry: entryConfig, name: "render.memory without a unit", code: exitBadInput,
			want: `\.aegis\.yaml:9: invalid render\.memory "2" \(want a size from 64Mi to 256Gi, such as 2Gi or 512Mi\)`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": boundsPolicy("\n  memory: 2")})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead()
			}},
	}
}

// SIGTERM while a side renders (a diamond of overlays that takes minutes):
// aegis kills the render process and exits 3 at once, leaving no process
// behind. Before rendering ran in a child, the signal waited for the
// render to finish. The bound of 10 s only makes a regression fail; it
// measures nothing.
func TestRenderInterruptedBySIGTERM(t *testing.T) {
	dir := newHostileDir(t)
	writeFiles(t, filepath.Join(dir, "head"), diamond(15))
	cmd := exec.Command(binary, "verify", "--base-dir", "base", "--head-dir", "head", "--config", ".aegis.yaml")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait until the head's render process runs (or, for a build that
	// renders in process, a while into the render).
	var children []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(children) == 0; {
		time.Sleep(50 * time.Millisecond)
		children = renderChildrenIn(t, dir)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	sent := time.Now()
	select {
	case err := <-exited:
		assert.Less(t, time.Since(sent), 10*time.Second)
		assert.Equal(t, exitInfra, exitCode(t, err), "stderr:\n%s", stderr.String())
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("aegis did not exit within 10 s of SIGTERM; stderr:\n%s", stderr.String())
	}
	assert.NotEmpty(t, children, "the side rendered in a render process")
	assert.Contains(t, stderr.String(), "rendering interrupted")
	assert.Empty(t, stdout.String())
	for _, pid := range children {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "render process %d is gone", pid)
	}
	assert.Empty(t, renderChildrenIn(t, dir), "no render process is left")
}
