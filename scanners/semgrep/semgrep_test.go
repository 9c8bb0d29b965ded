package semgrep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

// fakeBin is the stand-in semgrep built from testdata/fakesemgrep.
var fakeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fakesemgrep")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeBin = filepath.Join(dir, "semgrep")
	if runtime.GOOS == "windows" {
		fakeBin += ".exe"
	}
	build := exec.Command("go", "build", "-o", fakeBin, "./testdata/fakesemgrep")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the fake semgrep: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	ruleSubprocess  = "python.lang.security.audit.dangerous-subprocess-use.dangerous-subprocess-use"
	ruleMissingUser = "dockerfile.security.missing-user.missing-user"
	ruleEval        = "python.lang.security.audit.eval-detected.eval-detected"
)

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}

// scenario sets the fake up for testdata/scenario and returns a scanner
// whose file list is ChangedFiles of the two trees, and the two targets.
func scenario(t *testing.T, fixture string, mutate ...func(*Options)) (*Scanner, []scanners.Target) {
	t.Helper()
	baseRoot := abs(t, "testdata/scenario/base")
	headRoot := abs(t, "testdata/scenario/head")
	changed, err := ChangedFiles(baseRoot, headRoot, nil)
	require.NoError(t, err)

	rules := filepath.Join(t.TempDir(), "rules.yaml") // never read: the fake replays outputs
	t.Setenv("FAKESEMGREP_EXPECT_CONFIGS", rules)
	t.Setenv("FAKESEMGREP_EXPECT_FILES_BASE", "Dockerfile\napp/main.py")
	t.Setenv("FAKESEMGREP_EXPECT_FILES_HEAD", "Dockerfile\napp/main.py\napp/util.py")
	t.Setenv("FAKESEMGREP_EXPECT_FLAGS", "--disable-nosem\n--no-rewrite-rule-ids\n--disable-version-check")
	t.Setenv("FAKESEMGREP_FIXTURE", abs(t, "testdata/output/"+fixture))

	opts := Options{
		Binary:  fakeBin,
		Configs: []string{rules},
		Files:   func(string) ([]string, error) { return changed, nil },
	}
	for _, m := range mutate {
		m(&opts)
	}
	return New(opts), []scanners.Target{
		{Side: scanners.Base, Root: baseRoot},
		{Side: scanners.Head, Root: headRoot},
	}
}

var yes = true

// enabled is the default policy with semgrep, which is opt-in, turned on.
func enabled() *config.Config {
	c := config.Default()
	c.Scanners[Name] = config.ScannerSettings{Enabled: &yes}
	return c
}

// TestScanDelta is the baseline/post-fix scenario end to end: the runner
// scans both sides with the fake semgrep, and the delta shows the fixed
// Dockerfile finding absent, the moved subprocess finding unchanged and the
// new eval finding new.
func TestScanDelta(t *testing.T) {
	// No Files: the runner's Prepare computes the changed files itself.
	s, targets := scenario(t, "%s.json", func(o *Options) { o.Files = nil })
	runner := scanners.Runner{Scanners: []scanners.Scanner{s}, Config: enabled()}
	res := runner.Run(context.Background(), targets...)

	require.Len(t, res.Runs, 2)
	for _, run := range res.Runs {
		assert.Equal(t, report.StatusOK, run.Status, run.Error)
		assert.Equal(t, "1.161.0", run.Version)
		assert.Equal(t, 2, run.Findings)
	}

	delta := report.Delta(res.Findings[scanners.Base], res.Findings[scanners.Head])
	require.Len(t, delta, 3)
	byState := map[report.State]report.Finding{}
	for _, f := range delta {
		byState[f.BaselineState] = f
	}
	require.Len(t, byState, 3, "one finding per state: %+v", delta)

	fresh := byState[report.New]
	assert.Equal(t, ruleEval, fresh.RuleID)
	assert.Equal(t, report.Medium, fresh.Severity)
	assert.Equal(t, report.Location{Path: "app/util.py", Line: 3}, fresh.Location)
	assert.Equal(t, report.Resource{Kind: "File", Name: "app/util.py"}, fresh.Resource)
	assert.Equal(t, "Eval detected", fresh.Title)
	assert.Contains(t, fresh.Message, "Detected the use of eval()")
	assert.Equal(t, Name, fresh.Scanner)

	same := byState[report.Unchanged]
	assert.Equal(t, ruleSubprocess, same.RuleID)
	assert.Equal(t, report.High, same.Severity)
	// The head's copy, at the line the change moved it to.
	assert.Equal(t, report.Location{Path: "app/main.py", Line: 15}, same.Location)
	assert.NotEmpty(t, same.Key)

	gone := byState[report.Absent]
	assert.Equal(t, ruleMissingUser, gone.RuleID)
	assert.Equal(t, report.High, gone.Severity)
	assert.Equal(t, report.Location{Path: "Dockerfile", Line: 7}, gone.Location)

	rules := s.Rules()
	require.Len(t, rules, 3)
	assert.Equal(t, ruleMissingUser, rules[0].ID)
	assert.Equal(t, ruleSubprocess, rules[1].ID)
	assert.Equal(t, ruleEval, rules[2].ID)
	assert.Equal(t, "https://semgrep.dev/r/"+ruleSubprocess, rules[1].HelpURI)
	assert.Equal(t, []string{"security", "external/cwe/cwe-78"}, rules[1].Tags)
	assert.Contains(t, rules[1].Help, "Confidence: MEDIUM")
	assert.Equal(t, report.High, rules[1].Severity)
	assert.Equal(t, report.Medium, rules[2].Severity)
}

// A finding whose matched code changes is a different finding: the fix of
// one line and the introduction of another must not pair up.
func TestKeyFollowsCode(t *testing.T) {
	assert.Equal(t, codeKey("  x = eval(y)\n"), codeKey("x =   eval(y)"))
	assert.Equal(t, codeKey("a(\n    b)\n"), codeKey("a(\n\n  b)"))
	assert.NotEqual(t, codeKey("x = eval(y)"), codeKey("x = eval(z)"))
	assert.Empty(t, codeKey(" \n\t"))
}

func TestVersion(t *testing.T) {
	s := New(Options{Binary: fakeBin})
	v, err := s.Version(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "1.161.0", v)
}

func TestNoChangedFilesIsACleanScan(t *testing.T) {
	log := filepath.Join(t.TempDir(), "runs.log")
	t.Setenv("FAKESEMGREP_LOG", log)
	for name, files := range map[string][]string{
		"empty list":          {},
		"only missing here":   {"gone.py"},
		"symlinks and dirs":   {"app"},
		"duplicates of none":  {"nope.go", "nope.go"},
		"manifest filtered":   nil, // ChangedFiles of identical trees
		"not on the base too": {"app/util.py"},
	} {
		t.Run(name, func(t *testing.T) {
			if files == nil {
				var err error
				files, err = ChangedFiles("testdata/scenario/base", "testdata/scenario/base", nil)
				require.NoError(t, err)
				require.NotNil(t, files)
			}
			s := New(Options{Binary: fakeBin, Configs: []string{"rules.yaml"}, Files: func(string) ([]string, error) { return files, nil }})
			got, err := s.Scan(context.Background(), scanners.Target{Side: scanners.Base, Root: "testdata/scenario/base"})
			require.NoError(t, err)
			assert.Empty(t, got)
		})
	}
	_, err := os.Stat(log)
	assert.ErrorIs(t, err, os.ErrNotExist, "semgrep must not run without files to scan")
}

func TestFailClosed(t *testing.T) {
	cases := []struct {
		name    string
		fixture string
		env     map[string]string
		mutate  func(*Options)
		want    string
		is      error
	}{
		{name: "crash with a partial output", fixture: "base.json", env: map[string]string{"FAKESEMGREP_MODE": "crash"},
			want: "exited with code 139: Segmentation fault"},
		{name: "killed by a signal", fixture: "base.json", env: map[string]string{"FAKESEMGREP_MODE": "kill"},
			want: "exited with a signal"},
		{name: "garbage output", fixture: "base.json", env: map[string]string{"FAKESEMGREP_MODE": "garbage"},
			want: "output is not Semgrep JSON"},
		{name: "fatal rule error with exit 2", fixture: "rule-error.json", env: map[string]string{"FAKESEMGREP_EXIT": "2"},
			want: `exited with code 2: error "Rule parse error" in rule aegis-test.command-injection`},
		{name: "fatal rule error with exit 0", fixture: "rule-error.json",
			want: `reported errors: error "Rule parse error" in rule aegis-test.command-injection`},
		{name: "partial parse under Strict", fixture: "partial.json", mutate: func(o *Options) { o.Strict = true },
			want: `reported errors: warn "PartialParsing" on app/main.py: Syntax error at line app/main.py:17`},
		{name: "changed file hidden by .semgrepignore", fixture: "ignored.json",
			want: "did not scan changed files: app/main.py skipped (semgrepignore_patterns_match)"},
		{name: "exit 1 without results", fixture: "empty.json", env: map[string]string{"FAKESEMGREP_EXIT": "1"},
			want: "exited with code 1"},
		{name: "valid JSON that is not semgrep's", fixture: "notsemgrep.json", want: "no results or errors array"},
		{name: "data after the JSON", fixture: "trailing.json", want: "data after the JSON object"},
		{name: "result without a path", fixture: "nopath.json", want: "result 0: result without check_id, path or start line"},
		{name: "unexpected arguments", fixture: "base.json", env: map[string]string{"FAKESEMGREP_EXPECT_CONFIGS": "p/default"},
			want: "exited with code 2: fakesemgrep: --config values"},
		{name: "no file list", fixture: "base.json", mutate: func(o *Options) { o.Files = nil }, want: "no list of files to scan"},
		{name: "file list fails", fixture: "base.json",
			mutate: func(o *Options) { o.Files = func(string) ([]string, error) { return nil, errors.New("boom") } },
			want:   "files to scan on base: boom"},
		{name: "path outside the root", fixture: "base.json",
			mutate: func(o *Options) {
				o.Files = func(string) ([]string, error) { return []string{"../head/app/util.py"}, nil }
			},
			want: "not relative to the side root"},
		{name: "no rules", fixture: "base.json", mutate: func(o *Options) { o.Configs = nil }, want: "no rules configured"},
		{name: "binary missing", fixture: "base.json", mutate: func(o *Options) { o.Binary = filepath.Join(t.TempDir(), "semgrep") },
			want: "pipx install semgrep", is: scanners.ErrNotInstalled},
		{name: "binary not in PATH", fixture: "base.json", mutate: func(o *Options) { o.Binary = "aegis-no-such-semgrep" },
			want: `"aegis-no-such-semgrep" not found`, is: scanners.ErrNotInstalled},
	}
	extra := t.TempDir()
	for name, body := range map[string]string{
		"empty.json":      `{"version": "1.161.0", "results": [], "errors": [], "paths": {"scanned": []}, "skipped_rules": []}`,
		"notsemgrep.json": `{"SchemaVersion": 2, "Results": []}`,
		"trailing.json":   `{"results": [], "errors": [], "paths": {"scanned": []}} {"results": []}`,
		"nopath.json":     `{"results": [{"check_id": "x", "start": {"line": 1, "col": 1, "offset": 0}, "end": {"line": 1, "col": 2, "offset": 1}, "extra": {"message": "m", "metadata": {}, "severity": "ERROR", "fingerprint": "requires login", "lines": "requires login"}}], "errors": [], "paths": {"scanned": []}}`,
	} {
		require.NoError(t, os.WriteFile(filepath.Join(extra, name), []byte(body), 0o644))
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, targets := scenario(t, tc.fixture, func(o *Options) {
				if tc.mutate != nil {
					tc.mutate(o)
				}
			})
			if _, err := os.Stat(filepath.Join(extra, tc.fixture)); err == nil {
				t.Setenv("FAKESEMGREP_FIXTURE", filepath.Join(extra, tc.fixture))
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got, err := s.Scan(context.Background(), targets[0])
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tc.want)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
				_, verr := s.Version(context.Background())
				assert.ErrorIs(t, verr, tc.is)
			}
		})
	}
}

// The runner's timeout reaches semgrep: the process (group) is killed and
// the error is the context's deadline, which the runner reports as a
// timeout.
func TestTimeout(t *testing.T) {
	s, targets := scenario(t, "base.json")
	t.Setenv("FAKESEMGREP_SLEEP", "1m")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	got, err := s.Scan(ctx, targets[0])
	require.Error(t, err)
	assert.Nil(t, got)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	runner := scanners.Runner{Scanners: []scanners.Scanner{s}, Config: &config.Config{Scanners: map[string]config.ScannerSettings{
		Name: {Timeout: "300ms", Enabled: &yes},
	}}}
	res := runner.Run(context.Background(), targets[0])
	require.Len(t, res.Runs, 1)
	assert.Equal(t, report.StatusError, res.Runs[0].Status)
	assert.Contains(t, res.Runs[0].Error, "timed out after 300ms")
}

func TestRunnerRecordsMissingBinary(t *testing.T) {
	s, targets := scenario(t, "%s.json", func(o *Options) { o.Binary = filepath.Join(t.TempDir(), "semgrep") })
	runner := scanners.Runner{Scanners: []scanners.Scanner{s}, Config: enabled()}
	res := runner.Run(context.Background(), targets...)
	require.Len(t, res.Runs, 2)
	for _, run := range res.Runs {
		assert.Equal(t, report.StatusError, run.Status)
		assert.True(t, run.Missing)
	}
}

func TestWarningsPassUnlessStrict(t *testing.T) {
	s, targets := scenario(t, "partial.json")
	got, err := s.Scan(context.Background(), targets[0])
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, ruleSubprocess, got[0].RuleID)
}

// Semgrep's --error makes it exit 1 when it finds something: that is a
// successful scan.
func TestExitOneWithFindings(t *testing.T) {
	s, targets := scenario(t, "%s.json", func(o *Options) { o.ExtraArgs = []string{"--error"} })
	t.Setenv("FAKESEMGREP_EXIT", "1")
	t.Setenv("FAKESEMGREP_EXPECT_FLAGS", "--error")
	got, err := s.Scan(context.Background(), targets[1])
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

func TestHonorNosemgrepDropsTheFlag(t *testing.T) {
	s, targets := scenario(t, "%s.json", func(o *Options) { o.HonorNosemgrep = true })
	assert.NotContains(t, s.args([]string{"a.py"}), "--disable-nosem")
	_, err := s.Scan(context.Background(), targets[0])
	require.Error(t, err, "the fake insists on --disable-nosem, so the flag really went")
	assert.Contains(t, err.Error(), "missing flag --disable-nosem")
}

func TestConfigFromExtraArgsCounts(t *testing.T) {
	s, targets := scenario(t, "%s.json", func(o *Options) {
		o.ExtraArgs = []string{"--config", o.Configs[0]}
		o.Configs = nil
	})
	got, err := s.Scan(context.Background(), targets[0])
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

func TestBatches(t *testing.T) {
	log := filepath.Join(t.TempDir(), "runs.log")
	s, targets := scenario(t, "%s.json", func(o *Options) { o.BatchSize = 2 })
	empty := filepath.Join(t.TempDir(), "empty.json")
	require.NoError(t, os.WriteFile(empty, []byte(`{"results": [], "errors": [], "paths": {"scanned": []}}`), 0o644))
	t.Setenv("FAKESEMGREP_FIXTURE", empty)
	t.Setenv("FAKESEMGREP_EXPECT_BATCHES", "Dockerfile app/main.py\napp/util.py")
	t.Setenv("FAKESEMGREP_LOG", log)
	got, err := s.Scan(context.Background(), targets[1])
	require.NoError(t, err)
	assert.Empty(t, got)
	runs, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Equal(t, "head Dockerfile app/main.py\nhead app/util.py\n", string(runs))
}

func TestNewMakesLocalConfigsAbsolute(t *testing.T) {
	s := New(Options{
		Configs:   []string{"rules/python.yaml", "p/default", "r/python.lang.security", "auto", "https://example.com/r.yaml"},
		ExtraArgs: []string{"--config", "more.yaml", "--config=p/ci", "-f", "x.yml", "--config=y.yml", "--timeout", "5"},
	})
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(wd, "rules/python.yaml"), "p/default", "r/python.lang.security", "auto", "https://example.com/r.yaml"}, s.opts.Configs)
	assert.Equal(t, []string{"--config", filepath.Join(wd, "more.yaml"), "--config=p/ci", "-f", filepath.Join(wd, "x.yml"),
		"--config=" + filepath.Join(wd, "y.yml"), "--timeout", "5"}, s.opts.ExtraArgs)
	assert.Equal(t, "semgrep", s.opts.Binary)
}

func TestArgs(t *testing.T) {
	s := New(Options{Configs: []string{"/rules"}, ExtraArgs: []string{"--timeout", "30"}})
	assert.Equal(t, []string{
		"scan", "--json", "--metrics=off", "--disable-version-check", "--no-rewrite-rule-ids", "--disable-nosem",
		"--config", "/rules", "--timeout", "30", "a.py", "./-odd.py",
	}, s.args([]string{"a.py", "-odd.py"}))
}

// run keeps the end of semgrep's stderr, where its fatal message is, and
// the exit code.
func TestRunKeepsTheEndOfStderr(t *testing.T) {
	script := `i=0; while [ $i -lt 2000 ]; do echo "line $i" >&2; i=$((i+1)); done; echo "the end" >&2; exit 2`
	stdout, stderr, code, err := run(context.Background(), "/bin/sh", "", []string{"-c", script})
	require.NoError(t, err)
	assert.Empty(t, stdout)
	assert.Equal(t, 2, code)
	assert.True(t, strings.HasSuffix(stderr, "line 1999\nthe end\n"), "the end is kept: %q", stderr[max(0, len(stderr)-40):])
	assert.LessOrEqual(t, len(stderr), 8<<10)
	assert.NotContains(t, stderr, "line 0\n", "the start is dropped")
}
