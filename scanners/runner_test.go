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
