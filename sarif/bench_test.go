package sarif

import (
	"fmt"
	"io"
	"testing"

	"github.com/kube-sentient/aegis/report"
)

// benchReport has n findings over 4 scanners, 40 rules, all severities and
// states.
func benchReport(n int) *report.Report {
	scanners := []string{"posture", "trivy", "semgrep", "zap"}
	states := []report.State{report.New, report.Unchanged, report.Absent}
	r := &report.Report{}
	for _, s := range scanners {
		r.Scanners = append(r.Scanners, report.ScannerRun{Name: s, Side: "head", Status: report.StatusOK})
		for i := 0; i < 10; i++ {
			r.Rules = append(r.Rules, report.Rule{Scanner: s, ID: fmt.Sprintf("%s.rule%d", s, i), Title: fmt.Sprintf("Rule %d of %s", i, s),
				Description: "A description of the rule.", Help: "How to fix it.", Severity: report.Severities[i%5]})
		}
	}
	for i := 0; i < n; i++ {
		s := scanners[i%len(scanners)]
		f := finding(s, fmt.Sprintf("%s.rule%d", s, i%10), report.Severities[i%5], states[i%3],
			fmt.Sprintf("deploy/app%03d/deployment.yaml", i%500), 10+i%40, fmt.Sprintf("app%d", i))
		r.Findings = append(r.Findings, f)
	}
	return r
}

func BenchmarkWriteSARIF(b *testing.B) {
	r := benchReport(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Write(io.Discard, r, Options{ToolVersion: "v0.1.0"}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchReportIsIngestible(t *testing.T) {
	data, warnings := write(t, benchReport(2000), Options{IncludeAbsent: true})
	requireIngestible(t, data)
	if len(warnings) > 0 {
		t.Fatalf("warnings: %q", warnings)
	}
}
