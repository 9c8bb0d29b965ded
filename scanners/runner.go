package scanners

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
)

// ErrNotInstalled is wrapped by a scanner whose tool is missing, so the gate
// can honour a policy's allowMissing for it.
var ErrNotInstalled = errors.New("scanner not installed")

// SkipError is returned by a scanner that could not scan a side for a
// reason that is not a failure of the tool: a live scanner whose side is
// not deployed, a DAST scanner that finds no Service port to scan. The
// run is recorded as skipped with the reason; the gate fails closed on an
// enabled scanner skipped on the head unless the policy's allowSkip says
// otherwise (judge.Gate).
type SkipError struct{ Reason string }

// Error is the reason, marked as a skip.
func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip returns a SkipError with the formatted reason.
func Skip(format string, args ...any) error {
	return &SkipError{Reason: fmt.Sprintf(format, args...)}
}

// DefaultTimeout bounds one scanner on one side when .aegis.yaml sets none.
const DefaultTimeout = 10 * time.Minute

// Runner runs scanners on the base and the head.
type Runner struct {
	Scanners []Scanner
	Config   *config.Config
	// Concurrency bounds how many scanner runs go at once (default 4: live
	// scanners spend most of a run waiting for a soak window or a target).
	Concurrency int
	// Progress, if set, hears one line per finished run (for stderr).
	Progress func(format string, args ...any)
}

// Result is what the runner found: findings per side and one record per
// scanner and side.
type Result struct {
	Findings map[string][]report.Finding
	Runs     []report.ScannerRun
}

// Run scans every target with every enabled scanner. It never fails as a
// whole: each failure is recorded on its run, which the gate turns into an
// error verdict unless the policy allows it.
func (r *Runner) Run(ctx context.Context, targets ...Target) Result {
	cfg := r.Config
	if cfg == nil {
		cfg = config.Default()
	}
	limit := r.Concurrency
	if limit <= 0 {
		limit = 4
	}
	sem := make(chan struct{}, limit)
	var mu sync.Mutex
	res := Result{Findings: map[string][]report.Finding{}}
	var wg sync.WaitGroup
	for _, s := range r.Scanners {
		settings := cfg.Scanner(s.Name())
		if !cfg.Enabled(s.Name()) {
			why := "disabled in configuration"
			if cfg.Scanner(s.Name()).Enabled == nil {
				why = fmt.Sprintf("opt-in: set scanners.%s.enabled: true in .aegis.yaml", s.Name())
			}
			// Under the lock: the runs of scanners started above finish
			// concurrently, and an append that races with theirs loses one
			// (a lost error is a gate that passes).
			mu.Lock()
			for _, t := range targets {
				res.Runs = append(res.Runs, report.ScannerRun{Name: s.Name(), Side: t.Side, Status: report.StatusSkipped, Error: why})
			}
			mu.Unlock()
			continue
		}
		version, verr := s.Version(ctx)
		if verr == nil {
			verr = prepare(ctx, s, targets)
		}
		for _, t := range targets {
			wg.Add(1)
			go func(s Scanner, t Target) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				run, findings := r.runOne(ctx, s, t, settings, version, verr)
				mu.Lock()
				defer mu.Unlock()
				res.Runs = append(res.Runs, run)
				res.Findings[t.Side] = append(res.Findings[t.Side], findings...)
				if r.Progress != nil {
					r.Progress("scanner %s on %s: %s (%d findings, %d ms)", run.Name, run.Side, run.Status, run.Findings, run.DurationMs)
				}
			}(s, t)
		}
	}
	wg.Wait()
	sort.Slice(res.Runs, func(i, j int) bool {
		if res.Runs[i].Name != res.Runs[j].Name {
			return res.Runs[i].Name < res.Runs[j].Name
		}
		return res.Runs[i].Side < res.Runs[j].Side
	})
	return res
}

// prepare shows a Preparer both sides. With one side only there is no
// pair: the scanner's Scan decides whether it can do without.
func prepare(ctx context.Context, s Scanner, targets []Target) error {
	p, ok := s.(Preparer)
	if !ok {
		return nil
	}
	var base, head *Target
	for i := range targets {
		switch targets[i].Side {
		case Base:
			base = &targets[i]
		case Head:
			head = &targets[i]
		}
	}
	if base == nil || head == nil {
		return nil
	}
	if err := p.Prepare(ctx, *base, *head); err != nil {
		return fmt.Errorf("preparing %s: %w", s.Name(), err)
	}
	return nil
}

func (r *Runner) runOne(ctx context.Context, s Scanner, t Target, settings config.ScannerSettings, version string, verr error) (report.ScannerRun, []report.Finding) {
	run := report.ScannerRun{Name: s.Name(), Side: t.Side, Version: version}
	if _, live := s.(LiveScanner); live && t.Shadow == nil {
		run.Status = report.StatusSkipped
		run.Error = fmt.Sprintf("the %s side is not deployed in a shadow namespace (--shadow off deploys neither side, --shadow head only the head)", t.Side)
		return run, nil
	}
	if verr != nil {
		run.Status = report.StatusError
		run.Error = verr.Error()
		run.Missing = errors.Is(verr, ErrNotInstalled)
		return run, nil
	}
	ctx, cancel := context.WithTimeout(ctx, settings.TimeoutOr(DefaultTimeout))
	defer cancel()
	start := time.Now()
	findings, err := scanSafely(ctx, s, t)
	run.DurationMs = time.Since(start).Milliseconds()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err() // a scanner that ignores its deadline must not pass
	}
	var skip *SkipError
	if errors.As(err, &skip) {
		if ctx.Err() == nil {
			run.Status = report.StatusSkipped
			run.Error = skip.Reason
			return run, nil
		}
		err = fmt.Errorf("%w (%v)", ctx.Err(), err) // cut short: a timeout, not a skip
	}
	if err != nil {
		run.Status = report.StatusError
		run.Error = err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			run.Error = fmt.Sprintf("timed out after %s: %v", settings.TimeoutOr(DefaultTimeout), err)
		}
		run.Missing = errors.Is(err, ErrNotInstalled)
		return run, nil
	}
	min := report.Info
	if settings.Severity != "" {
		min, _ = report.ParseSeverity(settings.Severity)
	}
	kept := findings[:0]
	for _, f := range findings {
		if !f.Severity.AtLeast(min) {
			continue
		}
		f.Scanner = s.Name()
		if f.Fingerprint == "" {
			f.Fingerprint = report.ComputeFingerprint(f)
		}
		kept = append(kept, f)
	}
	run.Status = report.StatusOK
	run.Findings = len(kept)
	return run, kept
}

// scanSafely turns a scanner's panic into an error: a crash is a failed
// scan, not a crashed verification.
func scanSafely(ctx context.Context, s Scanner, t Target) (findings []report.Finding, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("scanner crashed: %v\n%s", p, debug.Stack())
		}
	}()
	return s.Scan(ctx, t)
}
