package semgrep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kube-sentient/aegis/internal/procio"
	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

// Name is the scanner's id.
const Name = "semgrep"

// DefaultBatchSize bounds the files given to one semgrep process, keeping the
// command line far below the kernel's argument limit on a large change.
const DefaultBatchSize = 500

// maxOutput bounds what aegis reads of semgrep's stdout: more is an error,
// not a truncated (and so silently incomplete) result.
const maxOutput = 256 << 20

// installHint ends the "not installed" error.
const installHint = "install it with `pipx install semgrep` (or `pip install semgrep`, `brew install semgrep`), " +
	"or set the semgrep binary in aegis's configuration"

// Options configure the scanner.
type Options struct {
	// Binary is the semgrep executable: a name looked up in PATH or a path
	// (default "semgrep").
	Binary string
	// Configs are semgrep --config values: local rule files or directories
	// (made absolute by New) or registry references (p/..., r/..., s/...,
	// auto, URLs), which need the network.
	Configs []string
	// ExtraArgs go to `semgrep scan` after aegis's own flags (e.g. the
	// scanner's args from .aegis.yaml). A --config here counts as rules.
	ExtraArgs []string
	// Files returns the slash-separated paths, relative to the side root,
	// to scan on a side: normally the ChangedFiles list for both sides. Paths
	// missing on the side are left out there. Nil is an error at Scan.
	Files func(side string) ([]string, error)
	// HonorNosemgrep keeps Semgrep's default of dropping findings on lines
	// marked "nosemgrep". By default aegis passes --disable-nosem and keeps
	// them: a pull request that adds the comment would otherwise show its
	// finding as fixed. Accept findings with an aegis waiver instead.
	HonorNosemgrep bool
	// Strict makes errors[] entries of level "warn" (a file parsed only
	// partially, a rule timing out on a file) fail the scan too.
	Strict bool
	// BatchSize is the number of files per semgrep process (default
	// DefaultBatchSize).
	BatchSize int
}

// Scanner runs semgrep. It is safe for concurrent use: base and head may be
// scanned at the same time.
type Scanner struct {
	opts Options

	mu    sync.Mutex
	rules map[string]report.Rule
	// changed is what Prepare found when Options.Files is nil.
	changed []string
}

var _ scanners.Preparer = (*Scanner)(nil)

// Prepare lists the files that differ between the sides (ChangedFiles),
// unless Options.Files says what to scan. The runner calls it before
// scanning either side.
func (s *Scanner) Prepare(_ context.Context, base, head scanners.Target) error {
	if s.opts.Files != nil {
		return nil
	}
	files, err := ChangedFiles(base.Root, head.Root, nil)
	if err != nil {
		return fmt.Errorf("files that differ between base and head: %w", err)
	}
	s.mu.Lock()
	s.changed = files
	s.mu.Unlock()
	return nil
}

// files returns the paths to scan on a side.
func (s *Scanner) files(side string) ([]string, error) {
	if s.opts.Files != nil {
		return s.opts.Files(side)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		return nil, fmt.Errorf("no list of files to scan: Options.Files is nil and Prepare was not called")
	}
	return s.changed, nil
}

var _ scanners.Scanner = (*Scanner)(nil)

// New returns a scanner with opts. Local rule paths (in opts.Configs and
// after --config, -c or -f in opts.ExtraArgs) are made absolute against the
// current directory: semgrep runs in each side's root, where a relative path
// would read rules out of the tree under verification.
func New(opts Options) *Scanner {
	opts.Binary = cmp.Or(opts.Binary, "semgrep")
	opts.Configs = slices.Clone(opts.Configs)
	for i, c := range opts.Configs {
		opts.Configs[i] = absConfig(c)
	}
	// A --config among the extra args (the usual way from .aegis.yaml) is
	// resolved the same way.
	opts.ExtraArgs = slices.Clone(opts.ExtraArgs)
	for i, a := range opts.ExtraArgs {
		switch {
		case isConfigFlag(a) && i+1 < len(opts.ExtraArgs):
			opts.ExtraArgs[i+1] = absConfig(opts.ExtraArgs[i+1])
		case strings.HasPrefix(a, "--config="):
			opts.ExtraArgs[i] = "--config=" + absConfig(strings.TrimPrefix(a, "--config="))
		}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	return &Scanner{opts: opts, rules: map[string]report.Rule{}}
}

func absConfig(c string) string {
	if isRegistryConfig(c) {
		return c
	}
	if abs, err := filepath.Abs(c); err == nil {
		return abs
	}
	return c
}

func isConfigFlag(a string) bool { return a == "--config" || a == "-c" || a == "-f" }

func isRegistryConfig(c string) bool {
	if c == "auto" {
		return true
	}
	for _, p := range []string{"p/", "r/", "s/", "http://", "https://"} {
		if strings.HasPrefix(c, p) {
			return true
		}
	}
	return false
}

// Name returns "semgrep".
func (*Scanner) Name() string { return Name }

// Version runs `semgrep --version`. A missing binary wraps
// scanners.ErrNotInstalled.
func (s *Scanner) Version(ctx context.Context) (string, error) {
	bin, err := s.binary()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	stdout, stderr, code, err := run(ctx, bin, "", []string{"--version"})
	if err != nil {
		return "", fmt.Errorf("semgrep --version: %w", err)
	}
	if code != 0 {
		return "", fmt.Errorf("semgrep --version exited with %d: %s", code, text.OneLine(stderr, 300))
	}
	// semgrep may print an upgrade notice after the version: keep line one.
	v, _, _ := strings.Cut(strings.TrimSpace(string(stdout)), "\n")
	if v = strings.TrimSpace(v); v == "" {
		return "", fmt.Errorf("semgrep --version printed nothing")
	}
	return v, nil
}

// Rules lists the rules that produced findings in this scanner's scans so
// far, ordered by id: semgrep's rules come from configuration and the
// registry, so aegis learns them from the results.
func (s *Scanner) Rules() []report.Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]report.Rule, 0, len(s.rules))
	for _, r := range s.rules {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b report.Rule) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Scan runs semgrep on the side's copy of the files Options.Files lists and
// returns the findings in semgrep's order. No file to scan on the side is a
// clean scan (no findings, no error).
func (s *Scanner) Scan(ctx context.Context, t scanners.Target) ([]report.Finding, error) {
	if !s.hasRules() {
		return nil, fmt.Errorf("semgrep: no rules configured: set a --config (a local rules file or directory); " +
			"semgrep's default rules need the network")
	}
	bin, err := s.binary()
	if err != nil {
		return nil, err
	}
	listed, err := s.files(t.Side)
	if err != nil {
		return nil, fmt.Errorf("semgrep: files to scan on %s: %w", t.Side, err)
	}
	root, err := os.OpenRoot(t.Root)
	if err != nil {
		return nil, fmt.Errorf("semgrep: %s root: %w", t.Side, err)
	}
	defer root.Close()
	files, err := presentFiles(root, listed)
	if err != nil {
		return nil, fmt.Errorf("semgrep: %s: %w", t.Side, err)
	}
	if len(files) == 0 {
		return nil, nil
	}

	src := newSourceCache(root)
	var findings []report.Finding
	for batch := range slices.Chunk(files, s.opts.BatchSize) {
		got, err := s.scanBatch(ctx, bin, t, batch, src)
		if err != nil {
			return nil, err
		}
		findings = append(findings, got...)
	}
	return findings, nil
}

func (s *Scanner) scanBatch(ctx context.Context, bin string, t scanners.Target, files []string, src *sourceCache) ([]report.Finding, error) {
	args := s.args(files)
	stdout, stderr, code, err := run(ctx, bin, t.Root, args)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("semgrep on %s: %w", t.Side, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("semgrep on %s: %w", t.Side, err)
	}
	out, perr := parseOutput(stdout)
	// Semgrep exits 0 whether or not it finds anything, and 1 with findings
	// when --error is among the extra args. Anything else failed.
	if code != 0 && (code != 1 || perr != nil || len(*out.Results) == 0) {
		detail := text.OneLine(stderr, 500)
		if perr == nil {
			if msgs := fatalErrors(out, true); len(msgs) > 0 {
				detail = strings.Join(msgs, "; ")
			}
		}
		return nil, fmt.Errorf("semgrep on %s exited with %s: %s", t.Side, exitDescription(code), cmp.Or(detail, "no message"))
	}
	if perr != nil {
		return nil, fmt.Errorf("semgrep on %s: %w", t.Side, perr)
	}
	if msgs := fatalErrors(out, s.opts.Strict); len(msgs) > 0 {
		return nil, fmt.Errorf("semgrep on %s reported errors: %s", t.Side, strings.Join(msgs, "; "))
	}
	requested := make(map[string]bool, len(files))
	for _, f := range files {
		requested[f] = true
	}
	if msgs := hiddenTargets(out, requested); len(msgs) > 0 {
		return nil, fmt.Errorf("semgrep on %s did not scan changed files: %s", t.Side, strings.Join(msgs, "; "))
	}

	findings := make([]report.Finding, 0, len(*out.Results))
	for i, m := range *out.Results {
		if m.Extra.IsIgnored && s.opts.HonorNosemgrep {
			continue
		}
		f, rule, err := convert(m, t.Root, src.lines)
		if err != nil {
			return nil, fmt.Errorf("semgrep on %s: result %d: %w", t.Side, i, err)
		}
		s.learn(rule)
		findings = append(findings, f)
	}
	return findings, nil
}

// args builds the command line. --metrics=off and --disable-version-check
// keep semgrep off the network; --no-rewrite-rule-ids keeps a local rule's
// id as written instead of prefixing the rule file's directory (which would
// change with where CI keeps the rules and break waivers).
func (s *Scanner) args(files []string) []string {
	args := []string{"scan", "--json", "--metrics=off", "--disable-version-check", "--no-rewrite-rule-ids"}
	if !s.opts.HonorNosemgrep {
		args = append(args, "--disable-nosem")
	}
	for _, c := range s.opts.Configs {
		args = append(args, "--config", c)
	}
	args = append(args, s.opts.ExtraArgs...)
	for _, f := range files {
		// A path starting with "-" would be read as a flag.
		if strings.HasPrefix(f, "-") {
			f = "./" + f
		}
		args = append(args, f)
	}
	return args
}

func (s *Scanner) hasRules() bool {
	if len(s.opts.Configs) > 0 {
		return true
	}
	for _, a := range s.opts.ExtraArgs {
		if isConfigFlag(a) || strings.HasPrefix(a, "--config=") {
			return true
		}
	}
	return false
}

func (s *Scanner) learn(r report.Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.rules[r.ID]; ok && old.Severity.AtLeast(r.Severity) {
		return
	}
	s.rules[r.ID] = r
}

func (s *Scanner) binary() (string, error) {
	bin, err := exec.LookPath(s.opts.Binary)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("semgrep: %w: %q not found: %s", scanners.ErrNotInstalled, s.opts.Binary, installHint)
		}
		return "", fmt.Errorf("semgrep: %q: %w", s.opts.Binary, err)
	}
	return bin, nil
}

// presentFiles keeps the listed paths that are regular files on this side,
// in sorted order. The root confines every lookup, so a symlinked directory
// in the pull request cannot point semgrep (or aegis) outside the tree; such
// a path is left out like a missing one.
func presentFiles(root *os.Root, listed []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, p := range listed {
		rel := cleanRel(p)
		if filepath.IsAbs(rel) || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, fmt.Errorf("file to scan %q is not relative to the side root", p)
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		info, err := root.Lstat(filepath.FromSlash(rel))
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		out = append(out, rel)
	}
	slices.Sort(out)
	return out, nil
}

// sourceCache reads the scanned files once per scan to key findings by
// their code.
type sourceCache struct {
	root  *os.Root
	mu    sync.Mutex
	files map[string][]string
}

func newSourceCache(root *os.Root) *sourceCache {
	return &sourceCache{root: root, files: map[string][]string{}}
}

// maxSource bounds the file size read for keys; a larger file keys findings
// by semgrep's extra.lines when it has them.
const maxSource = 16 << 20

func (c *sourceCache) lines(rel string, from, to int) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lines, ok := c.files[rel]
	if !ok {
		lines = c.load(rel)
		c.files[rel] = lines
	}
	if lines == nil || from < 1 || to > len(lines) || from > to {
		return "", false
	}
	return strings.Join(lines[from-1:to], "\n"), true
}

func (c *sourceCache) load(rel string) []string {
	f, err := c.root.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSource+1))
	if err != nil || len(data) > maxSource {
		return nil
	}
	return strings.Split(string(data), "\n")
}

// run starts bin in dir and returns stdout, stderr's tail and the exit code
// (-1 for a death by signal). err is set when the process could not be
// started or waited for, when the context ended, or when it wrote more
// than maxOutput.
func run(ctx context.Context, bin, dir string, args []string) ([]byte, string, int, error) {
	res, err := procio.Run(ctx, procio.Command{
		Path:       bin,
		Args:       args,
		Dir:        dir,
		MaxStdout:  maxOutput,
		StderrTail: 8 << 10, // a tool's fatal message is at the end
	})
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return res.Stdout, string(res.Stderr), exit.ExitCode(), nil
	}
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return nil, "", -1, fmt.Errorf("%w: %v: %s", scanners.ErrNotInstalled, err, installHint)
		}
		return nil, "", -1, err
	}
	return res.Stdout, string(res.Stderr), 0, nil
}

// exitDescription names a death by signal (ExitCode -1) or the code.
func exitDescription(code int) string {
	if code < 0 {
		return "a signal (crashed or killed)"
	}
	return fmt.Sprintf("code %d", code)
}
