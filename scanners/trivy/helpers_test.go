package trivy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/scanners"
)

var (
	fakeOnce sync.Once
	fakePath string
	fakeErr  error
	fakeDir  string
)

// TestMain removes the stand-in binary's directory and the image tests'
// fixture after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if fakeDir != "" {
		os.RemoveAll(fakeDir)
	}
	closeImageFixture()
	os.Exit(code)
}

// fakeTrivy builds testdata/faketrivy once per test binary and returns its
// path.
func fakeTrivy(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		fakeDir, fakeErr = os.MkdirTemp("", "faketrivy-")
		if fakeErr != nil {
			return
		}
		fakePath = filepath.Join(fakeDir, "trivy")
		out, err := exec.Command("go", "build", "-o", fakePath, "./testdata/faketrivy").CombinedOutput()
		if err != nil {
			fakeErr = &buildError{err: err, out: string(out)}
		}
	})
	require.NoError(t, fakeErr)
	return fakePath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// realTrivy returns the real binary, skipping the test when there is none
// unless AEGIS_REQUIRE_TRIVY=1 (CI sets it once it builds Trivy), where a
// missing binary fails the test.
func realTrivy(t *testing.T) string {
	t.Helper()
	bin, err := New(Options{}).binary()
	if err != nil {
		if os.Getenv("AEGIS_REQUIRE_TRIVY") == "1" {
			t.Fatalf("AEGIS_REQUIRE_TRIVY=1 but %v", err)
		}
		t.Skipf("%v (set AEGIS_REQUIRE_TRIVY=1 to fail instead)", err)
	}
	return bin
}

// renderSet renders root/path with package render, as aegis does a side.
func renderSet(t *testing.T, root, path string) *manifest.Set {
	t.Helper()
	res, err := render.Render(context.Background(), root, path, render.Options{})
	require.NoError(t, err)
	return res.Set
}

// fixtureSet is the source of testdata/config-output.json.
func fixtureSet(t *testing.T) *manifest.Set {
	return renderSet(t, "testdata/manifests", ".")
}

func target(side string, set *manifest.Set) scanners.Target {
	return scanners.Target{Side: side, Set: set}
}
