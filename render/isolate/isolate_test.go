package isolate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/secret"
)

// Test children: this binary serves the render child, and stands in for a
// child that never answers or that runs out of memory.
const (
	hangCommand = "__test_hang"
	oomCommand  = "__test_oom"
	pidEnv      = "AEGIS_TEST_CHILD_PID_FILE"
)

func TestMain(m *testing.M) {
	if code, ok := RunIfChild(os.Args); ok {
		os.Exit(code)
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case hangCommand:
			if f := os.Getenv(pidEnv); f != "" {
				_ = os.WriteFile(f+".tmp", []byte(strconv.Itoa(os.Getpid())), 0o644)
				_ = os.Rename(f+".tmp", f)
			}
			time.Sleep(time.Hour)
			os.Exit(0)
		case oomCommand:
			// What ChildMain does first, then allocate without end.
			if err := limitAddressSpace(64 << 20); err != nil {
				panic(err)
			}
			var keep [][]byte
			for {
				b := make([]byte, 8<<20)
				for i := range b {
					b[i] = 1
				}
				keep = append(keep, b)
			}
		}
	}
	os.Exit(m.Run())
}

func repo(t testing.TB, p string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", "..", filepath.FromSlash(p)))
	require.NoError(t, err)
	return abs
}

// The sources the location tests of render, verify and the CLI use.
var fixtures = []struct{ root, path string }{
	{"examples/plain-yaml/before", "."},
	{"examples/plain-yaml/after", "."},
	{"examples/kustomize-overlay/before", "overlays/prod"},
	{"examples/kustomize-overlay/after", "overlays/prod"},
	{"examples/helm-values/before", "chart"},
	{"examples/helm-values/after", "chart"},
	{"render/testdata/kustomize", "basic/overlays/prod"},
	{"render/testdata/kustomize", "patches/overlay"},
	{"render/testdata/helm", "app"},
	{"render/testdata/helm", "parent"},
}

// allPaths lists every field of v twice: list items by name (where they
// have one) and by index.
func allPaths(v any, byName, byIndex manifest.FieldPath, out *[]manifest.FieldPath) {
	add := func(child any, n, i manifest.FieldPath) {
		*out = append(*out, n)
		if n.String() != i.String() {
			*out = append(*out, i)
		}
		allPaths(child, n, i, out)
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			add(x[k], byName.Child(k), byIndex.Child(k))
		}
	case []any:
		for i, it := range x {
			idx := fmt.Sprintf("[%d]", i)
			sel := idx
			if n := itemName(it); n != "" {
				sel = manifest.ItemByName(n)
			}
			add(it, byName.Child(sel), byIndex.Child(idx))
		}
	}
}

// The set that comes back from the child is the one render.Render gives in
// process: same objects (same digest, same Go types), same origins, and
// every field of every object located on the same line.
func TestIsolatedMatchesInProcess(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.root+"/"+f.path, func(t *testing.T) {
			root := repo(t, f.root)
			want, err := render.Render(t.Context(), root, f.path, render.Options{})
			require.NoError(t, err)
			got, err := Render(t.Context(), root, f.path, render.Options{}, Limits{})
			require.NoError(t, err)
			assert.Equal(t, want.Type, got.Type)
			require.Equal(t, want.Set.Digest(), got.Set.Digest())
			require.Equal(t, want.Set.Len(), got.Set.Len())
			fields, probes, differ := 0, 0, 0
			for i, wo := range want.Set.Objects {
				o := got.Set.Objects[i]
				assert.Equal(t, wo.Object, o.Object, "values keep their types")
				assert.Equal(t, wo.Origin, o.Origin)
				assert.Equal(t, wo.Locator == nil, o.Locator == nil)
				var paths []manifest.FieldPath
				allPaths(wo.Object, nil, nil, &paths)
				for _, p := range paths {
					fields++
					assert.Equal(t, wo.Locate(p), o.Locate(p), "%s %s", wo.ID(), p)
				}
				// Fields a scanner asks about that the object does not
				// set: the answer of their deepest part the object holds.
				// In process, a renderer may answer from its source
				// instead (a field a patch removed: the base's line; a
				// Helm template's key under a false if): then the answers
				// may differ, and the table's is the held part's.
				_, plain := wo.Locator.(manifest.NodeLocator)
				for _, p := range paths {
					item, isMap := valueAt(wo.Object, p).(map[string]any)
					if !strings.HasSuffix(p[len(p)-1], "]") || !isMap {
						continue
					}
					for _, missing := range []string{"securityContext.runAsNonRoot", "resources.limits.memory", "livenessProbe"} {
						q := p.Child(manifest.ParsePath(missing)...)
						if valueAt(item, manifest.ParsePath(missing)) != nil {
							continue
						}
						probes++
						held := q
						for valueAt(wo.Object, held) == nil {
							held = held[:len(held)-1]
						}
						if plain || wo.Locate(q) != o.Locate(q) {
							assert.Equal(t, wo.Locate(held), o.Locate(q), "%s %s", wo.ID(), q)
						}
						if wo.Locate(q) != o.Locate(q) {
							differ++
						}
					}
				}
			}
			t.Logf("%d objects, %d fields located alike; %d absent fields, %d located by their deepest held part where rendering in process answers from the source", got.Set.Len(), fields, probes, differ)
		})
	}
}

// valueAt walks v along p (list items by name or index).
func valueAt(v any, p manifest.FieldPath) any {
	for _, seg := range p {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			v = nil
			sel := strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
			if name, ok := strings.CutPrefix(sel, "name="); ok {
				for _, it := range x {
					if itemName(it) == name {
						v = it
					}
				}
			} else if i, err := strconv.Atoi(sel); err == nil && i < len(x) {
				v = x[i]
			}
		default:
			return nil
		}
	}
	return v
}

// Errors keep their type and their message: a source error with its file
// and line, at the top or wrapped.
func TestErrorsKeepTheirType(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: [\n"), 0o644))
	dup := t.TempDir()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dup, "a.yaml"), []byte(cm), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dup, "b.yaml"), []byte(cm), 0o644))
	chart := repo(t, "render/testdata/helm")
	for _, c := range []struct {
		name, root, path string
		check            func(t *testing.T, err error)
	}{
		{"source error", dir, ".", func(t *testing.T, err error) {
			var se *manifest.SourceError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "a.yaml", se.Path)
			assert.Positive(t, se.Line)
		}},
		{"duplicate", dup, ".", func(t *testing.T, err error) {
			var de *manifest.DuplicateError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, "x", de.ID.Name)
		}},
		{"no such path", dir, "nowhere", func(t *testing.T, err error) {
			var se *manifest.SourceError
			require.ErrorAs(t, err, &se)
		}},
		{"helm template failure", chart, "broken-fail", func(t *testing.T, err error) {}},
		{"helm parse failure", chart, "broken-parse", func(t *testing.T, err error) {}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, want := render.Render(t.Context(), c.root, c.path, render.Options{})
			require.Error(t, want)
			_, got := Render(t.Context(), c.root, c.path, render.Options{}, Limits{})
			require.Error(t, got)
			assert.Equal(t, want.Error(), got.Error(), "the message is the one rendering in process gives")
			var wse, gse *manifest.SourceError
			assert.Equal(t, errors.As(want, &wse), errors.As(got, &gse), "a source error stays one")
			if wse != nil && gse != nil {
				assert.Equal(t, *wse, *gse)
				assert.Equal(t, error(wse) == want, error(gse) == got, "wrapped as it was")
			}
			c.check(t, got)
		})
	}
}

func testChild(t *testing.T, command string) Child {
	t.Helper()
	return Child{Command: []string{os.Args[0], command}}
}

// A child that does not answer in time is killed: a LimitError naming the
// timeout and how to raise it.
func TestTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Setenv(pidEnv, pidFile)
	_, err := testChild(t, hangCommand).Render(t.Context(), t.TempDir(), ".", render.Options{}, Limits{Timeout: 500 * time.Millisecond})
	var le *LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "render.timeout", le.Setting)
	assert.Contains(t, err.Error(), "time limit of 500ms (render.timeout)")
	assert.Contains(t, err.Error(), "raise render.timeout in the policy")
	assertGone(t, pidFile)
}

// Cancelling the context kills the child at once: an interruption, not a
// limit.
func TestCancelKillsTheChild(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Setenv(pidEnv, pidFile)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for {
			if _, err := os.Stat(pidFile); err == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	_, err := testChild(t, hangCommand).Render(ctx, t.TempDir(), ".", render.Options{}, Limits{Timeout: time.Hour})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "rendering interrupted")
	var le *LimitError
	assert.False(t, errors.As(err, &le))
	assertGone(t, pidFile)
}

// assertGone checks that the child whose pid the file holds no longer runs.
func assertGone(t *testing.T, pidFile string) {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err, "the child started")
	pid, err := strconv.Atoi(string(data))
	require.NoError(t, err)
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the child %d is gone", pid)
}

// A child that allocates past its address-space limit dies with the Go
// runtime's "out of memory": a LimitError naming the memory limit, and
// none of the runtime's crash text.
func TestOutOfMemory(t *testing.T) {
	_, err := testChild(t, oomCommand).Render(t.Context(), t.TempDir(), ".", render.Options{}, Limits{Memory: 64 << 20, Timeout: time.Minute})
	var le *LimitError
	require.ErrorAs(t, err, &le, "%v", err)
	assert.Equal(t, "render.memory", le.Setting)
	assert.Contains(t, err.Error(), "memory limit of 64Mi (render.memory)")
	assert.NotContains(t, err.Error(), "fatal error")
}

// A child that dies for another reason is an infrastructure error that
// says how it ended.
func TestChildCrash(t *testing.T) {
	_, err := Child{Command: []string{"/bin/sh", "-c", "echo 'panic: boom' >&2; exit 7", "sh"}}.Render(t.Context(), t.TempDir(), ".", render.Options{}, Limits{})
	var ce *ChildError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "the render process failed (exit status 7): panic: boom", err.Error())
}

// An answer cut short is refused, never half a set.
func TestCorruptAnswer(t *testing.T) {
	_, err := Child{Command: []string{"/bin/sh", "-c", "printf 'aegis-render/1\\n\\000' >&3", "sh"}}.Render(t.Context(), t.TempDir(), ".", render.Options{}, Limits{})
	require.ErrorIs(t, err, errCorrupt)
}

func TestLimitErrorAdvice(t *testing.T) {
	err := limitError("render.memory", Limits{Memory: 256 << 20, Advice: "raise {setting} in p.yaml"})
	assert.Equal(t, "rendering needs more memory than its memory limit of 256Mi (render.memory): a template that calls itself (tpl), an expansion without end, or a source too large for the limit; raise render.memory in p.yaml", err.Error())
}

// TestForwardedLogIsInert: what the renderer logs (kustomize quotes the
// change's file names and content) reaches aegis's stderr with no line a
// GitHub runner reads as a command and with registered secrets masked.
func TestForwardedLogIsInert(t *testing.T) {
	secret.Add("forwarded-secret-0c4e")
	l := newLogBuffer()
	_, _ = l.Write([]byte("Warning: file a\n::warning file=x::forged\n##[error]forged\rmore forwarded-secret-0c4e\x1b[31m\n"))
	var out bytes.Buffer
	l.forward(&out)
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		assert.True(t, strings.HasPrefix(line, "aegis: render: "), line)
		assert.NotContains(t, line, "##[")
		assert.NotContains(t, line, "\r")
		assert.NotContains(t, line, "\x1b")
	}
	assert.NotContains(t, out.String(), "forwarded-secret-0c4e")
	assert.Contains(t, out.String(), "aegis: render: ::warning file=x::forged\n", "kept readable, after a prefix")
}
