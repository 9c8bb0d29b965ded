package trivy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

func TestMissingBinaryIsNotInstalled(t *testing.T) {
	s := New(Options{Binary: filepath.Join(t.TempDir(), "no-trivy-here")})
	_, err := s.Version(context.Background())
	require.Error(t, err)
	assert.True(t, errors.Is(err, scanners.ErrNotInstalled), "%v", err)

	_, err = s.Scan(context.Background(), target(scanners.Head, fixtureSet(t)))
	require.Error(t, err)
	assert.True(t, errors.Is(err, scanners.ErrNotInstalled), "%v", err)
}

func TestMissingEverywhereSaysHowToBuild(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("AEGIS_CACHE", t.TempDir())
	_, err := New(Options{}).Version(context.Background())
	require.Error(t, err)
	assert.True(t, errors.Is(err, scanners.ErrNotInstalled))
	assert.Contains(t, err.Error(), "install Trivy "+PinnedVersion+" (https://trivy.dev/")
}

func TestCachedBinaryFollowsTheBuildScript(t *testing.T) {
	t.Setenv("AEGIS_CACHE", "/c/aegis")
	assert.Equal(t, "/c/aegis/tools/trivy-v0.74.0/trivy", CachedBinary())
	t.Setenv("AEGIS_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/x")
	assert.Equal(t, "/x/aegis/tools/trivy-v0.74.0/trivy", CachedBinary())
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	assert.Equal(t, "/home/u/.cache/aegis/tools/trivy-v0.74.0/trivy", CachedBinary())
}

func TestFindsTheCachedBinaryWithoutPATH(t *testing.T) {
	fake := fakeTrivy(t)
	cache := t.TempDir()
	dir := filepath.Join(cache, "tools", "trivy-"+PinnedVersion)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	data, err := os.ReadFile(fake)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "trivy"), data, 0o755))
	t.Setenv("PATH", t.TempDir())
	t.Setenv("AEGIS_CACHE", cache)

	v, err := New(Options{}).Version(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "0.74.0", v)
}

func TestVersion(t *testing.T) {
	s := New(Options{Binary: fakeTrivy(t)})
	v, err := s.Version(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "0.74.0", v)

	t.Setenv("FAKETRIVY_MODE", "badver")
	_, err = s.Version(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unexpected")
}

func TestGarbageOutputFails(t *testing.T) {
	t.Setenv("FAKETRIVY_MODE", "garbage")
	_, err := New(Options{Binary: fakeTrivy(t)}).Scan(context.Background(), target(scanners.Head, fixtureSet(t)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a JSON report")
}

func TestNonZeroExitFails(t *testing.T) {
	t.Setenv("FAKETRIVY_MODE", "exit")
	_, err := New(Options{Binary: fakeTrivy(t)}).Scan(context.Background(), target(scanners.Head, fixtureSet(t)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status 3")
	assert.Contains(t, err.Error(), "unable to load", "the error quotes Trivy's stderr")
	assert.False(t, errors.Is(err, scanners.ErrNotInstalled))
}

func TestTimeoutFails(t *testing.T) {
	t.Setenv("FAKETRIVY_MODE", "sleep")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := New(Options{Binary: fakeTrivy(t)}).Scan(ctx, target(scanners.Head, fixtureSet(t)))
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Less(t, time.Since(start), 20*time.Second, "the scan must end with its context")
}

// The runner records every failure mode as an error run, with Missing set
// only for a missing binary, so that allowMissing cannot hide a crash.
func TestRunnerRecordsFailuresAsErrors(t *testing.T) {
	fake := fakeTrivy(t)
	set := fixtureSet(t)
	for _, tc := range []struct {
		mode, binary string
		missing      bool
	}{
		{mode: "garbage", binary: fake},
		{mode: "exit", binary: fake},
		{mode: "replay", binary: filepath.Join(t.TempDir(), "absent"), missing: true},
	} {
		t.Run(tc.mode+map[bool]string{true: "-missing"}[tc.missing], func(t *testing.T) {
			t.Setenv("FAKETRIVY_MODE", tc.mode)
			r := scanners.Runner{Scanners: []scanners.Scanner{New(Options{Binary: tc.binary})}, Config: config.Default()}
			res := r.Run(context.Background(), target(scanners.Base, set), target(scanners.Head, set))
			require.Len(t, res.Runs, 2)
			for _, run := range res.Runs {
				assert.Equal(t, report.StatusError, run.Status)
				assert.Equal(t, tc.missing, run.Missing)
				assert.NotEmpty(t, run.Error)
			}
			assert.Empty(t, res.Findings[scanners.Base])
			assert.Empty(t, res.Findings[scanners.Head])
		})
	}
}

func TestArgumentsKeepTrivyOfflineAndIsolated(t *testing.T) {
	dir := t.TempDir()
	argsFile, listFile := filepath.Join(dir, "args"), filepath.Join(dir, "list")
	t.Setenv("FAKETRIVY_MODE", "replay")
	t.Setenv("FAKETRIVY_OUTPUT", mustAbs(t, "testdata/config-output.json"))
	t.Setenv("FAKETRIVY_ARGS", argsFile)
	t.Setenv("FAKETRIVY_LIST", listFile)
	t.Setenv("TRIVY_SEVERITY", "CRITICAL") // must not reach Trivy

	s := New(Options{Binary: fakeTrivy(t), ExtraArgs: []string{"--k8s-version", "1.33"}})
	_, err := s.Scan(context.Background(), target(scanners.Head, fixtureSet(t)))
	require.NoError(t, err)

	args := readLines(t, argsFile)
	require.NotEmpty(t, args)
	assert.Equal(t, "config", args[0])
	for _, want := range []string{"--skip-check-update", "--skip-version-check", "--disable-telemetry", "--quiet"} {
		assert.Contains(t, args, want)
	}
	assert.Equal(t, []string{"--format", "json"}, after(args, "--format", 1))
	assert.Equal(t, []string{"--misconfig-scanners", "kubernetes"}, after(args, "--misconfig-scanners", 1))
	assert.Equal(t, []string{"--k8s-version", "1.33"}, after(args, "--k8s-version", 1))
	assert.Equal(t, "manifests", args[len(args)-1])

	// One file per object, Secrets left out.
	files := readLines(t, listFile)
	assert.Contains(t, files, "0001-configmap-app-config.yaml")
	for _, f := range files {
		assert.NotContains(t, f, "secret")
	}
	assert.Len(t, files, fixtureSet(t).Len()-1)
}

func TestEnvironmentDropsTrivyVariables(t *testing.T) {
	t.Setenv("TRIVY_IGNOREFILE", "/tmp/x")
	t.Setenv("trivy_severity", "LOW")
	t.Setenv("AEGIS_KEEP", "1")
	env := strings.Join(environ(), "\n")
	assert.NotContains(t, env, "TRIVY_IGNOREFILE")
	assert.NotContains(t, env, "trivy_severity")
	assert.Contains(t, env, "AEGIS_KEEP=1")
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}

func readLines(t *testing.T, p string) []string {
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	return strings.Fields(string(data))
}

// after returns the flag and the n arguments that follow it.
func after(args []string, flag string, n int) []string {
	for i, a := range args {
		if a == flag && i+n < len(args) {
			return args[i : i+n+1]
		}
	}
	return nil
}

func TestNothingToCheckDoesNotRunTrivy(t *testing.T) {
	set, err := manifest.NewSet(mustDecode(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: only}\nstringData: {k: value-here}\n"))
	require.NoError(t, err)
	t.Setenv("FAKETRIVY_MODE", "exit") // would fail if it ran
	fs, err := New(Options{Binary: fakeTrivy(t)}).Scan(context.Background(), target(scanners.Head, set))
	require.NoError(t, err)
	assert.Empty(t, fs)

	_, err = New(Options{Binary: fakeTrivy(t)}).Scan(context.Background(), scanners.Target{Side: scanners.Head})
	assert.Error(t, err, "no set is not a clean side")
}
