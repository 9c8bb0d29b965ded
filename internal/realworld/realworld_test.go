package realworld

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeTB records what Dir does to a test instead of ending it.
type fakeTB struct {
	testing.TB
	name           string
	fatal, skipped string
	fatals, skips  int
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return f.name }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatals++
	f.fatal = fmt.Sprintf(format, args...)
}
func (f *fakeTB) Skip(args ...any) {
	f.skips++
	f.skipped = fmt.Sprint(args...)
}

// env sets the variables Dir reads for one test, the status file included.
func env(t *testing.T, dir, require string) string {
	status := filepath.Join(t.TempDir(), "status")
	t.Setenv(EnvDir, dir)
	t.Setenv(EnvRequire, require)
	t.Setenv(EnvStatus, status)
	return status
}

func statusLines(t *testing.T, p string) []string {
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func corpus(t *testing.T) string {
	d := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(d, "SOURCES.md"), []byte("# corpus\n"), 0o644))
	return d
}

func TestDirFromEnvironment(t *testing.T) {
	d := corpus(t)
	status := env(t, d, "1")
	f := &fakeTB{name: "TestX"}
	assert.Equal(t, d, Dir(f))
	assert.Zero(t, f.fatals+f.skips)
	assert.Equal(t, []string{"ran TestX"}, statusLines(t, status))
}

func TestDirNamedButNotACorpus(t *testing.T) {
	// Named explicitly, a directory without SOURCES.md is a mistake to
	// report, never a skip, required or not.
	status := env(t, t.TempDir(), "")
	f := &fakeTB{name: "TestX"}
	assert.Empty(t, Dir(f))
	assert.Equal(t, 1, f.fatals)
	assert.Zero(t, f.skips)
	assert.Contains(t, f.fatal, "AEGIS_REALWORLD=")
	assert.Contains(t, f.fatal, "has no SOURCES.md")
	assert.Equal(t, []string{"failed TestX: AEGIS_REALWORLD names no corpus"}, statusLines(t, status))
}

// withoutDefaultCorpus runs Dir from a module whose ../shared/realworld
// does not exist: a go.mod in a temporary directory, as the working
// directory.
func withoutDefaultCorpus(t *testing.T) {
	mod := filepath.Join(t.TempDir(), "main")
	pkg := filepath.Join(mod, "some", "pkg")
	require.NoError(t, os.MkdirAll(pkg, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/m\n"), 0o644))
	t.Chdir(pkg)
}

func TestDirAbsentSkips(t *testing.T) {
	status := env(t, "", "")
	withoutDefaultCorpus(t)
	f := &fakeTB{name: "TestX"}
	assert.Empty(t, Dir(f))
	assert.Equal(t, 1, f.skips)
	assert.Zero(t, f.fatals)
	assert.True(t, strings.HasPrefix(f.skipped, SkipPrefix), f.skipped)
	assert.Contains(t, f.skipped, filepath.Join("shared", "realworld"))
	assert.Contains(t, f.skipped, "AEGIS_REQUIRE_REALWORLD=1")
	lines := statusLines(t, status)
	require.Len(t, lines, 1)
	assert.True(t, strings.HasPrefix(lines[0], "not run TestX: "+SkipPrefix), lines[0])
}

func TestDirAbsentRequiredFails(t *testing.T) {
	status := env(t, "", "1")
	withoutDefaultCorpus(t)
	f := &fakeTB{name: "TestX"}
	assert.Empty(t, Dir(f))
	assert.Equal(t, 1, f.fatals)
	assert.Zero(t, f.skips)
	assert.Contains(t, f.fatal, "AEGIS_REQUIRE_REALWORLD=1 but the real-world corpus is absent")
	assert.Contains(t, f.fatal, "set AEGIS_REALWORLD")
	assert.Equal(t, []string{"failed TestX: corpus required and absent"}, statusLines(t, status))
}

func TestDirDefaultBesideTheModule(t *testing.T) {
	// <tmp>/main/go.mod and <tmp>/shared/realworld/SOURCES.md: found from
	// a package directory below the module root.
	top := t.TempDir()
	mod := filepath.Join(top, "main")
	pkg := filepath.Join(mod, "a", "b")
	want := filepath.Join(top, "shared", "realworld")
	require.NoError(t, os.MkdirAll(pkg, 0o755))
	require.NoError(t, os.MkdirAll(want, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/m\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(want, "SOURCES.md"), nil, 0o644))
	env(t, "", "")
	t.Chdir(pkg)
	f := &fakeTB{name: "TestX"}
	assert.Equal(t, want, Dir(f))
	assert.Zero(t, f.fatals+f.skips)
}
