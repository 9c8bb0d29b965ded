package scanners

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
)

// fakeScanner is a scanner whose behaviour each test sets.
type fakeScanner struct {
	name       string
	versionErr error
	scan       func(ctx context.Context, t Target) ([]report.Finding, error)
}

func (f fakeScanner) Name() string { return f.name }
func (f fakeScanner) Version(context.Context) (string, error) {
	return "1.2.3", f.versionErr
}
func (f fakeScanner) Rules() []report.Rule { return nil }
func (f fakeScanner) Scan(ctx context.Context, t Target) ([]report.Finding, error) {
	return f.scan(ctx, t)
}

func finding(rule string, sev report.Severity) report.Finding {
	return report.Finding{RuleID: rule, Severity: sev, Resource: report.Resource{Kind: "Deployment", Name: "web"}}
}

func targets() []Target { return []Target{{Side: Base}, {Side: Head}} }

func TestRunnerRecordsEverySide(t *testing.T) {
	s := fakeScanner{name: "posture", scan: func(_ context.Context, t Target) ([]report.Finding, error) {
		if t.Side == Base {
			return []report.Finding{finding("a", report.High), finding("b", report.Low)}, nil
		}
		return []report.Finding{finding("a", report.High)}, nil
	}}
	res := (&Runner{Scanners: []Scanner{s}}).Run(context.Background(), targets()...)
	require.Len(t, res.Runs, 2)
	for _, run := range res.Runs {
		assert.Equal(t, report.StatusOK, run.Status)
		assert.Equal(t, "1.2.3", run.Version)
		assert.Equal(t, "posture", run.Name)
	}
	assert.Len(t, res.Findings[Base], 2)
	assert.Len(t, res.Findings[Head], 1)
	for _, f := range res.Findings[Head] {
		assert.Equal(t, "posture", f.Scanner, "the runner names the scanner")
		assert.Equal(t, report.ComputeFingerprint(f), f.Fingerprint, "and fingerprints what the scanner did not")
	}
}

func TestRunnerFailsClosed(t *testing.T) {
	tests := []struct {
		name    string
		scanner fakeScanner
		timeout string
		want    string
		missing bool
	}{
		{"error", fakeScanner{name: "trivy", scan: func(context.Context, Target) ([]report.Finding, error) {
			return nil, errors.New("unparsable output")
		}}, "", "unparsable output", false},
		{"panic", fakeScanner{name: "trivy", scan: func(context.Context, Target) ([]report.Finding, error) {
			panic("boom")
		}}, "", "scanner crashed: boom", false},
		{"timeout", fakeScanner{name: "trivy", scan: func(ctx context.Context, _ Target) ([]report.Finding, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}}, "50ms", "timed out after 50ms", false},
		{"ignores its deadline and returns nothing", fakeScanner{name: "trivy", scan: func(ctx context.Context, _ Target) ([]report.Finding, error) {
			time.Sleep(100 * time.Millisecond)
			return nil, nil
		}}, "20ms", "context deadline exceeded", false},
		{"not installed", fakeScanner{name: "trivy", versionErr: fmt.Errorf("trivy: %w: not in PATH", ErrNotInstalled)}, "", "not in PATH", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			if tc.timeout != "" {
				cfg.Scanners["trivy"] = config.ScannerSettings{Timeout: tc.timeout}
			}
			res := (&Runner{Scanners: []Scanner{tc.scanner}, Config: cfg}).Run(context.Background(), targets()...)
			require.Len(t, res.Runs, 2)
			for _, run := range res.Runs {
				assert.Equal(t, report.StatusError, run.Status)
				assert.Contains(t, run.Error, tc.want)
				assert.Equal(t, tc.missing, run.Missing)
			}
			assert.Empty(t, res.Findings[Head])
		})
	}
}

func TestRunnerSettings(t *testing.T) {
	off := false
	cfg := config.Default()
	cfg.Scanners["semgrep"] = config.ScannerSettings{Enabled: &off}
	cfg.Scanners["posture"] = config.ScannerSettings{Severity: "medium"}
	called := false
	semgrep := fakeScanner{name: "semgrep", scan: func(context.Context, Target) ([]report.Finding, error) {
		called = true
		return nil, nil
	}}
	posture := fakeScanner{name: "posture", scan: func(context.Context, Target) ([]report.Finding, error) {
		return []report.Finding{finding("a", report.High), finding("b", report.Low), finding("c", report.Medium)}, nil
	}}
	var progress []string
	r := &Runner{Scanners: []Scanner{semgrep, posture}, Config: cfg, Progress: func(f string, a ...any) { progress = append(progress, fmt.Sprintf(f, a...)) }}
	res := r.Run(context.Background(), targets()...)
	assert.False(t, called, "a disabled scanner does not run")
	statuses := map[string]report.ScannerStatus{}
	for _, run := range res.Runs {
		statuses[run.Name+"/"+run.Side] = run.Status
	}
	assert.Equal(t, map[string]report.ScannerStatus{
		"posture/base": report.StatusOK, "posture/head": report.StatusOK,
		"semgrep/base": report.StatusSkipped, "semgrep/head": report.StatusSkipped,
	}, statuses)
	assert.Len(t, res.Findings[Head], 2, "findings below the scanner's severity are dropped")
	assert.Len(t, progress, 2)
}

// pairScanner records what Prepare saw.
type pairScanner struct {
	fakeScanner
	err      error
	prepared *[2]string
}

func (p pairScanner) Prepare(_ context.Context, base, head Target) error {
	*p.prepared = [2]string{base.Root, head.Root}
	return p.err
}

func TestRunnerPreparesBothSidesFirst(t *testing.T) {
	var seen [2]string
	scanned := 0
	s := pairScanner{prepared: &seen, fakeScanner: fakeScanner{name: "pair", scan: func(context.Context, Target) ([]report.Finding, error) {
		scanned++
		return nil, nil
	}}}
	res := (&Runner{Scanners: []Scanner{s}, Concurrency: 1}).Run(context.Background(), Target{Side: Base, Root: "/b"}, Target{Side: Head, Root: "/h"})
	assert.Equal(t, [2]string{"/b", "/h"}, seen)
	assert.Equal(t, 2, scanned)
	for _, run := range res.Runs {
		assert.Equal(t, report.StatusOK, run.Status)
	}

	s.err = errors.New("git is confused")
	res = (&Runner{Scanners: []Scanner{s}}).Run(context.Background(), Target{Side: Base}, Target{Side: Head})
	require.Len(t, res.Runs, 2)
	for _, run := range res.Runs {
		assert.Equal(t, report.StatusError, run.Status, "a failed preparation fails every side")
		assert.Contains(t, run.Error, "preparing pair: git is confused")
	}

	s.err, seen = nil, [2]string{}
	res = (&Runner{Scanners: []Scanner{s}}).Run(context.Background(), Target{Side: Head, Root: "/h"})
	require.Len(t, res.Runs, 1)
	assert.Equal(t, [2]string{}, seen, "no pair, no Prepare: Scan decides")
}

func TestRunnerSkipsOptInScannersUnlessEnabled(t *testing.T) {
	called := false
	s := fakeScanner{name: "semgrep", scan: func(context.Context, Target) ([]report.Finding, error) {
		called = true
		return nil, nil
	}}
	res := (&Runner{Scanners: []Scanner{s}}).Run(context.Background(), targets()...)
	assert.False(t, called)
	for _, run := range res.Runs {
		assert.Equal(t, report.StatusSkipped, run.Status)
		assert.Equal(t, "opt-in: set scanners.semgrep.enabled: true in .aegis.yaml", run.Error)
	}
	cfg, err := config.Parse("a.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  semgrep:\n    enabled: true\n"))
	require.NoError(t, err)
	res = (&Runner{Scanners: []Scanner{s}, Config: cfg}).Run(context.Background(), targets()...)
	assert.True(t, called)
	assert.Equal(t, report.StatusOK, res.Runs[0].Status)
}

// liveFake is a live scanner (it needs a deployed side).
type liveFake struct{ fakeScanner }

func (liveFake) NeedsShadow() {}

// A scanner that says it had nothing to scan is skipped with its reason
// (the gate decides what that means), not "ok" with no findings; a live
// scanner on an undeployed side says which side.
func TestRunnerRecordsSkips(t *testing.T) {
	s := fakeScanner{name: "posture", scan: func(_ context.Context, t Target) ([]report.Finding, error) {
		if t.Side == Head {
			return nil, Skip("no Service in %s", "ns-head")
		}
		return []report.Finding{finding("a", report.High)}, nil
	}}
	res := (&Runner{Scanners: []Scanner{s}}).Run(context.Background(), targets()...)
	require.Len(t, res.Runs, 2)
	assert.Equal(t, report.StatusOK, res.Runs[0].Status)
	assert.Equal(t, report.ScannerRun{Name: "posture", Side: Head, Status: report.StatusSkipped, Version: "1.2.3", Error: "no Service in ns-head", DurationMs: res.Runs[1].DurationMs}, res.Runs[1])
	assert.Empty(t, res.Findings[Head])

	// A skip that comes with the deadline is a timeout, not a skip.
	slow := fakeScanner{name: "posture", scan: func(ctx context.Context, _ Target) ([]report.Finding, error) {
		<-ctx.Done()
		return nil, Skip("gave up")
	}}
	cfg, err := config.Parse("a.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  posture:\n    timeout: 50ms\n"))
	require.NoError(t, err)
	res = (&Runner{Scanners: []Scanner{slow}, Config: cfg}).Run(context.Background(), Target{Side: Head})
	assert.Equal(t, report.StatusError, res.Runs[0].Status)
	assert.Contains(t, res.Runs[0].Error, "timed out")

	live := liveFake{fakeScanner{name: "health", scan: func(context.Context, Target) ([]report.Finding, error) {
		t.Error("a live scanner never scans an undeployed side")
		return nil, nil
	}}}
	res = (&Runner{Scanners: []Scanner{live}}).Run(context.Background(), targets()...)
	for _, run := range res.Runs {
		assert.Equal(t, report.StatusSkipped, run.Status)
		assert.Contains(t, run.Error, "the "+run.Side+" side is not deployed in a shadow namespace")
	}
}
