package output

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/kube-sentient/aegis/report"
)

func textReport() *report.Report {
	long := strings.Repeat("a message that goes on and on ", 10) + "END"
	res := report.Resource{Kind: "Deployment", Name: "web", Container: "app"}
	return &report.Report{Verdict: report.Fail, Findings: []report.Finding{
		{Scanner: "posture", RuleID: "pss.hostPathVolumes", Severity: report.High, Title: "hostPath", Message: long, Resource: res,
			Location: report.Location{Path: "a.yaml", Line: 3}, BaselineState: report.New, Fingerprint: "1"},
		{Scanner: "posture", RuleID: "pss.privileged", Severity: report.Critical, Title: "privileged", Message: "fixed one", Resource: res,
			Location: report.Location{Path: "a.yaml", Line: 9}, BaselineState: report.Absent, Fingerprint: "2"},
		{Scanner: "posture", RuleID: "aegis.readinessProbe", Severity: report.Low, Title: "probe", Message: "still here", Resource: res,
			Location: report.Location{Path: "a.yaml", Line: 5}, BaselineState: report.Unchanged, Fingerprint: "3"},
	}}
}

func TestTextWidth(t *testing.T) {
	var b bytes.Buffer
	PrintSummary(&b, textReport(), TextOptions{})
	assert.Contains(t, b.String(), "END", "not a terminal: nothing is cut")

	b.Reset()
	PrintSummary(&b, textReport(), TextOptions{Width: 80})
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "  high") {
			assert.LessOrEqual(t, utf8.RuneCountInString(line), 80, "%q", line)
			assert.True(t, strings.HasSuffix(line, "…"), "%q", line)
		}
	}
	assert.NotContains(t, b.String(), "END")
}

func TestTextStatesAndVerbose(t *testing.T) {
	var b bytes.Buffer
	PrintSummary(&b, textReport(), TextOptions{Color: true})
	out := b.String()
	assert.Contains(t, out, "\x1b[31mhigh    \x1b[0m", "new in red")
	assert.Contains(t, out, "\x1b[32mcritical\x1b[0m", "fixed in green, whatever its severity")
	assert.NotContains(t, out, "still here", "unchanged only with -v")

	b.Reset()
	PrintSummary(&b, textReport(), TextOptions{Verbose: true})
	assert.Contains(t, b.String(), "\nunchanged:\n")
	assert.Contains(t, b.String(), "still here")
}

func TestTextScannerOrderIsStable(t *testing.T) {
	runs := []report.ScannerRun{
		{Name: "trivy", Side: "head", Status: report.StatusError, Error: "boom"},
		{Name: "posture", Side: "head", Status: report.StatusOK},
		{Name: "semgrep", Side: "head", Status: report.StatusError, Error: "gone"},
		{Name: "trivy", Side: "base", Status: report.StatusError, Error: "boom"},
		{Name: "health", Side: "head", Status: report.StatusOK},
	}
	var a, b bytes.Buffer
	printScanners(&a, runs, false)
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	printScanners(&b, runs, false)
	assert.Equal(t, a.String(), b.String())
	assert.Contains(t, a.String(), "scanner semgrep (head): error: gone\nscanner trivy (base, head): error: boom\nscanners: ran health, posture\n")
	var c bytes.Buffer
	printScanners(&c, append(runs, report.ScannerRun{Name: "zap", Side: "head", Status: report.StatusSkipped, Error: "opt-in: set it"}), true)
	assert.Equal(t, "scanner semgrep (head): error, accepted (allowError): gone\nscanner trivy (base, head): error, accepted (allowError): boom\n"+
		"scanners: ran health, posture; not enabled zap (opt-in in .aegis.yaml)\n", c.String(), "a decided verdict accepted the failures, as the comment says")
}
