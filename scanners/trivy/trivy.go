package trivy

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kube-sentient/aegis/internal/procio"
	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

// Name is the scanner's id.
const Name = "trivy"

// PinnedVersion is the Trivy release hack/tools/trivy.sh builds and this
// package was written and tested against.
const PinnedVersion = "v0.74.0"

const trivyModule = "github.com/aquasecurity/trivy"

// maxOutput bounds Trivy's JSON report: a report this large means something
// is wrong, and reading it all could exhaust the runner's memory.
const maxOutput = 256 << 20

// versionTimeout bounds `trivy --version` when the caller's context has no
// deadline of its own.
const versionTimeout = 30 * time.Second

// Options configure the scanner. The zero value finds Trivy on its own.
type Options struct {
	// Binary is Trivy's path, or a name looked up in PATH. Empty means
	// `trivy` in PATH, else the copy in aegis's tool cache (CachedBinary).
	Binary string
	// ExtraArgs are appended to `trivy config` (e.g. "--k8s-version",
	// "1.33"), before the directory.
	ExtraArgs []string
}

// Scanner runs `trivy config` on a side's rendered manifests. It is safe
// for concurrent use: base and head may be scanned at the same time.
type Scanner struct {
	opts Options

	mu   sync.Mutex
	seen map[string]report.Rule // rules met while scanning, by id
}

var _ scanners.Scanner = (*Scanner)(nil)

// New returns a Trivy scanner.
func New(opts Options) *Scanner {
	return &Scanner{opts: opts, seen: map[string]report.Rule{}}
}

// Name returns "trivy".
func (*Scanner) Name() string { return Name }

// CachedBinary is where hack/tools/trivy.sh puts Trivy: the same lookup of
// AEGIS_CACHE, XDG_CACHE_HOME and HOME as the script, so that a binary the
// script built is found without touching PATH.
func CachedBinary() string {
	cache := os.Getenv("AEGIS_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "aegis")
	}
	return filepath.Join(cache, "tools", "trivy-"+PinnedVersion, "trivy")
}

// binary resolves the executable to run, or says how to get one.
func (s *Scanner) binary() (string, error) { return findBinary(s.opts.Binary) }

// findBinary resolves Trivy's executable: b when set (a path or a name in
// PATH), else `trivy` in PATH, else CachedBinary. A miss wraps
// scanners.ErrNotInstalled. Both scanners of this package share it.
func findBinary(b string) (string, error) {
	if b != "" {
		p, err := exec.LookPath(b)
		if err != nil {
			return "", fmt.Errorf("trivy: %w: %s: %v", scanners.ErrNotInstalled, b, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("trivy"); err == nil {
		return p, nil
	}
	if c := CachedBinary(); c != "" {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("trivy: %w: no trivy in PATH nor at %s; install Trivy %s (https://trivy.dev/latest/getting-started/installation/) and put it in PATH, or name it with the scanner's binary in .aegis.yaml", scanners.ErrNotInstalled, CachedBinary(), PinnedVersion)
}

// Version returns Trivy's version ("0.74.0") from the first line of
// `trivy --version`, which reads "Version: 0.74.0". A binary built with
// `go install` (as hack/tools/trivy.sh does) says "Version: dev"; its Go
// module version stands in then.
func (s *Scanner) Version(ctx context.Context) (string, error) {
	bin, err := s.binary()
	if err != nil {
		return "", err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, versionTimeout)
		defer cancel()
	}
	return toolVersion(ctx, bin)
}

// toolVersion is Version for the binary bin.
func toolVersion(ctx context.Context, bin string) (string, error) {
	out, err := runTrivy(ctx, bin, "", "--version")
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(string(out), "\n")
	v, ok := strings.CutPrefix(strings.TrimSpace(first), "Version:")
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return "", fmt.Errorf("trivy: unexpected `trivy --version` output %q", text.Truncate(first, 200))
	}
	return releaseOf(bin, v), nil
}

// releaseOf is the version v Trivy reports, or, when that is "dev", the
// release recorded in the binary: a `go install` build (hack/tools/trivy.sh)
// does not stamp the release into Trivy, which then says "dev", but the
// module version the Go toolchain records still says which release it is.
func releaseOf(bin, v string) string {
	if v == "dev" {
		if mv := moduleVersion(bin); mv != "" {
			return mv
		}
	}
	return v
}

// moduleVersion is the Trivy module version recorded in a Go binary
// ("0.74.0"), or "".
func moduleVersion(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil || bi.Main.Path != trivyModule {
		return ""
	}
	v := strings.TrimPrefix(bi.Main.Version, "v")
	if v == "" || v == "(devel)" {
		return ""
	}
	return v
}

// configArgs are the arguments of `trivy config` on dir. Every one of them
// keeps the run offline and reproducible: Trivy's embedded checks, no check
// bundle download, no version check or telemetry call home, an in-memory
// cache in a directory of ours, and the Kubernetes scanner only (the input
// is Kubernetes manifests; other scanners could claim the same YAML).
func (s *Scanner) configArgs(dir, cacheDir string) []string {
	args := []string{
		"config",
		"--format", "json",
		"--quiet",
		"--skip-check-update",
		"--skip-version-check",
		"--disable-telemetry",
		"--misconfig-scanners", "kubernetes",
		"--cache-dir", cacheDir,
		"--exit-code", "0",
	}
	args = append(args, s.opts.ExtraArgs...)
	return append(args, dir)
}

// run runs Trivy and returns its standard output. A non-zero exit, a
// context that ends (timeout, cancellation) or oversized output is an
// error that quotes the end of Trivy's standard error.
func (s *Scanner) run(ctx context.Context, bin, dir string, args ...string) ([]byte, error) {
	return runTrivy(ctx, bin, dir, args...)
}

// runTrivy is run for any of this package's scanners.
func runTrivy(ctx context.Context, bin, dir string, args ...string) ([]byte, error) {
	res, err := procio.Run(ctx, procio.Command{
		Path: bin,
		Args: args,
		// A trivy.yaml in the working directory would be read as
		// configuration and could, say, raise the severity filter: run
		// where there is none.
		Dir:        dir,
		Env:        environ(),
		MaxStdout:  maxOutput,
		StderrTail: 4 << 10, // the end of Trivy's log is where the fatal error is
	})
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("trivy: %w", ctxErr)
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil, fmt.Errorf("trivy: %s: %v: %s", strings.Join(args[:min(1, len(args))], " "), err, stderrText(res.Stderr))
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("trivy: %w: %v", scanners.ErrNotInstalled, err)
		}
		return nil, fmt.Errorf("trivy: %w", err)
	}
	return res.Stdout, nil
}

// stderrText is the end of Trivy's standard error for a message.
func stderrText(tail []byte) string {
	if s := strings.TrimSpace(string(tail)); s != "" {
		return s
	}
	return "(no output on stderr)"
}

// environ is the process environment without TRIVY_* variables: Trivy
// reads every flag from one (TRIVY_SEVERITY, TRIVY_IGNOREFILE, ...), and a
// stray one on a CI runner must not change what aegis reports. Settings
// belong in Options.ExtraArgs, where the report can show them.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToUpper(kv), "TRIVY_") {
			env = append(env, kv)
		}
	}
	return env
}
