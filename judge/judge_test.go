package judge

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/internal/reporttest"
	"github.com/kube-sentient/aegis/report"
)

func okRuns(names ...string) []report.ScannerRun {
	var out []report.ScannerRun
	for _, n := range names {
		out = append(out, report.ScannerRun{Name: n, Side: "base", Status: report.StatusOK}, report.ScannerRun{Name: n, Side: "head", Status: report.StatusOK})
	}
	return out
}

func waiver(rule, fp, res, expires string) config.Waiver {
	w := config.Waiver{RuleID: rule, Fingerprint: fp, Resource: res, Reason: "accepted risk", Owner: "alice", Expires: expires, Line: 7}
	day, _ := time.Parse("2006-01-02", expires)
	w.ExpiresAt = day.AddDate(0, 0, 1)
	return w
}

func withState(f report.Finding, s report.State) report.Finding { f.BaselineState = s; return f }

func TestGate(t *testing.T) {
	high := withState(finding("pss.privileged", report.High, "web", 10), report.New)
	medium := withState(finding("pss.runAsNonRoot", report.Medium, "web", 12), report.New)
	fixedCritical := withState(finding("pss.hostPathVolumes", report.Critical, "web", 14), report.Absent)
	unchangedHigh := withState(finding("pss.hostPorts", report.High, "web", 16), report.Unchanged)
	highFP := report.ComputeFingerprint(high)
	no, yes := false, true

	tests := []struct {
		name        string
		findings    []report.Finding
		runs        []report.ScannerRun
		cfg         func(*config.Config)
		want        report.Verdict
		wantReason  string // in the first reason
		wantReasons []string
		wantWaived  int
		wantExpired int
	}{
		{name: "no findings pass", runs: okRuns("posture"), want: report.Pass, wantReason: "Passed: no new finding at or above high"},
		{name: "new high fails at default threshold", findings: []report.Finding{high, medium}, runs: okRuns("posture"), want: report.Fail,
			wantReason: "1 new finding at or above high (1 high)", wantReasons: []string{"New high finding pss.privileged on Deployment/default/web container app at deploy.yaml:10"}},
		{name: "new medium below threshold passes", findings: []report.Finding{medium}, runs: okRuns("posture"), want: report.Pass,
			wantReason: "1 new finding below it"},
		{name: "threshold medium fails on medium", findings: []report.Finding{medium}, runs: okRuns("posture"),
			cfg: func(c *config.Config) { c.FailOn.Severity = "medium" }, want: report.Fail},
		{name: "threshold critical passes on high", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) { c.FailOn.Severity = "critical" }, want: report.Pass},
		{name: "unchanged and fixed never fail", findings: []report.Finding{fixedCritical, unchangedHigh}, runs: okRuns("posture"), want: report.Pass,
			wantReason: "1 finding fixed"},
		{name: "unknown severity fails closed", findings: []report.Finding{withState(finding("x", "bogus", "web", 1), report.New)}, runs: okRuns("posture"), want: report.Fail},
		{name: "finding without state counts as new", findings: []report.Finding{finding("pss.privileged", report.High, "web", 10)}, runs: okRuns("posture"), want: report.Fail},
		{name: "waiver by rule", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("pss.privileged", "", "", "2026-12-31")} },
			want: report.Pass, wantReason: "1 new finding waived", wantWaived: 1},
		{name: "waiver by fingerprint", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("", highFP, "", "2026-12-31")} },
			want: report.Pass, wantWaived: 1},
		{name: "waiver by resource Kind/name in any namespace", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("", "", "deployment/web", "2026-12-31")} },
			want: report.Pass, wantWaived: 1},
		{name: "waiver by resource Kind/namespace/name", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Waivers = []config.Waiver{waiver("", "", "Deployment/default/web", "2026-12-31")}
			},
			want: report.Pass, wantWaived: 1},
		{name: "waiver in another namespace does not match", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Waivers = []config.Waiver{waiver("", "", "Deployment/prod/web", "2026-12-31")}
			},
			want: report.Fail},
		{name: "all selectors must match", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Waivers = []config.Waiver{waiver("pss.privileged", "", "Deployment/api", "2026-12-31")}
			},
			want: report.Fail},
		{name: "waiver valid through its last day", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("pss.privileged", "", "", "2026-03-01")} },
			want: report.Pass, wantWaived: 1},
		{name: "expired waiver does not waive and is reported", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Path = ".aegis.yaml"
				c.Waivers = []config.Waiver{waiver("pss.privileged", "", "", "2026-02-28")}
			},
			want: report.Fail, wantExpired: 1,
			wantReasons: []string{"The waiver at .aegis.yaml:7 (rule pss.privileged, owner alice) expired on 2026-02-28 and no longer waives anything (it matches 1 finding); renew or remove it."}},
		{name: "waiver without a readable date is expired", findings: []report.Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Waivers = []config.Waiver{{RuleID: "pss.privileged", Reason: "r", Owner: "o"}}
			},
			want: report.Fail, wantExpired: 1},
		{name: "waived new high passes", findings: []report.Finding{high, medium}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("pss.privileged", "", "", "2026-12-31")} },
			want: report.Pass, wantWaived: 1},
		{name: "no scanner ran is an error", want: report.Error, wantReason: "no scanner ran"},
		{name: "only skipped scanners is an error", runs: []report.ScannerRun{{Name: "trivy", Side: "head", Status: report.StatusSkipped}}, want: report.Error,
			wantReason: "no scanner completed"},
		{name: "scanner error is an error", findings: []report.Finding{high},
			runs: append(okRuns("posture"), report.ScannerRun{Name: "trivy", Side: "head", Status: report.StatusError, Error: "exit status 2: db\nlocked"}),
			want: report.Error, wantReason: "1 scanner run failed",
			wantReasons: []string{"Scanner trivy failed on head: exit status 2: db locked. To accept this, set scanners.trivy.allowError in the policy.", "Also: the change introduces 1 new finding"}},
		{name: "unknown status is an error", runs: append(okRuns("posture"), report.ScannerRun{Name: "trivy", Side: "head", Status: "weird"}), want: report.Error},
		{name: "allowError accepts a scanner error", runs: append(okRuns("posture"), report.ScannerRun{Name: "trivy", Side: "head", Status: report.StatusError, Error: "boom"}),
			cfg:  func(c *config.Config) { c.Scanners["trivy"] = config.ScannerSettings{AllowError: true} },
			want: report.Pass, wantReasons: []string{"Scanner trivy failed on head: boom; accepted because scanners.trivy.allowError is set."}},
		{name: "allowMissing accepts a missing scanner", runs: append(okRuns("posture"), report.ScannerRun{Name: "zap", Side: "head", Status: report.StatusError, Missing: true, Error: "scanner not installed"}),
			cfg:  func(c *config.Config) { c.Scanners["zap"] = config.ScannerSettings{AllowMissing: true} },
			want: report.Pass, wantReasons: []string{"Scanner zap is not installed; accepted because scanners.zap.allowMissing is set."}},
		{name: "allowMissing does not accept a crash", runs: append(okRuns("posture"), report.ScannerRun{Name: "zap", Side: "head", Status: report.StatusError, Error: "panic"}),
			cfg:  func(c *config.Config) { c.Scanners["zap"] = config.ScannerSettings{AllowMissing: true} },
			want: report.Error},
		{name: "missing scanner without allowMissing is an error", runs: append(okRuns("posture"), report.ScannerRun{Name: "zap", Side: "head", Status: report.StatusError, Missing: true}),
			want: report.Error, wantReasons: []string{"Scanner zap is not installed (head side). To accept this, set scanners.zap.allowMissing in the policy."}},
		{name: "failOn.scannerError false accepts errors", runs: append(okRuns("posture"), report.ScannerRun{Name: "trivy", Side: "base", Status: report.StatusError}),
			cfg:  func(c *config.Config) { c.FailOn.ScannerError = &no },
			want: report.Pass, wantReasons: []string{"Scanner trivy failed on base; accepted because failOn.scannerError is false."}},
		{name: "every scanner failed is an error even when allowed", runs: []report.ScannerRun{{Name: "trivy", Side: "head", Status: report.StatusError}},
			cfg:  func(c *config.Config) { c.FailOn.ScannerError = &no },
			want: report.Error, wantReason: "no scanner completed"},
		// An enabled scanner that did not look at the head cannot vouch for
		// it; a skip on the base can only make head findings new.
		{name: "enabled scanner skipped on the head is an error", runs: append(okRuns("posture"),
			report.ScannerRun{Name: "zap", Side: "base", Status: report.StatusOK}, report.ScannerRun{Name: "zap", Side: "head", Status: report.StatusSkipped, Error: "no Service in shadow namespace ns-head: nothing to scan"}),
			cfg:  func(c *config.Config) { c.Scanners["zap"] = config.ScannerSettings{Enabled: &yes} },
			want: report.Error, wantReason: "Error: 1 scanner run failed or did not run and the policy does not allow it",
			wantReasons: []string{"Scanner zap is enabled but did not run on the head: no Service in shadow namespace ns-head: nothing to scan. An enabled scanner that did not look at the change cannot vouch for it: give it something to scan (deploy the head with --shadow head or both, select a Service), disable it, or set scanners.zap.allowSkip in the policy."}},
		{name: "allowSkip accepts a skip on the head", runs: append(okRuns("posture"), report.ScannerRun{Name: "falco", Side: "head", Status: report.StatusSkipped, Error: "the head side is not deployed"}),
			cfg:  func(c *config.Config) { c.Scanners["falco"] = config.ScannerSettings{Enabled: &yes, AllowSkip: true} },
			want: report.Pass, wantReasons: []string{"Scanner falco is enabled but did not run on the head: the head side is not deployed; accepted because scanners.falco.allowSkip is set."}},
		{name: "allowError does not accept a skip", runs: append(okRuns("posture"), report.ScannerRun{Name: "wapiti", Side: "head", Status: report.StatusSkipped}),
			cfg: func(c *config.Config) {
				c.Scanners["wapiti"] = config.ScannerSettings{Enabled: &yes, AllowError: true, AllowMissing: true}
			},
			want: report.Error},
		{name: "failOn.scannerError false accepts a skip", runs: append(okRuns("posture"), report.ScannerRun{Name: "wapiti", Side: "head", Status: report.StatusSkipped}),
			cfg: func(c *config.Config) {
				c.FailOn.ScannerError = &no
				c.Scanners["wapiti"] = config.ScannerSettings{Enabled: &yes}
			},
			want: report.Pass, wantReasons: []string{"Scanner wapiti is enabled but did not run on the head; accepted because failOn.scannerError is false."}},
		{name: "a skip on the base is not an error", runs: append(okRuns("posture"),
			report.ScannerRun{Name: "zap", Side: "base", Status: report.StatusSkipped, Error: "the base side is not deployed"}, report.ScannerRun{Name: "zap", Side: "head", Status: report.StatusOK}),
			cfg:  func(c *config.Config) { c.Scanners["zap"] = config.ScannerSettings{Enabled: &yes} },
			want: report.Pass},
		{name: "a disabled scanner's skip is not an error", runs: append(okRuns("posture"),
			report.ScannerRun{Name: "semgrep", Side: "base", Status: report.StatusSkipped, Error: "opt-in"}, report.ScannerRun{Name: "semgrep", Side: "head", Status: report.StatusSkipped, Error: "opt-in"}),
			want: report.Pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			r := &report.Report{Findings: append([]report.Finding(nil), tt.findings...), Scanners: tt.runs}
			got := Gate(r, cfg, gateNow)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, r.Verdict)
			require.NotEmpty(t, r.Reasons, "a verdict always has a reason")
			assert.Contains(t, r.Reasons[0], tt.wantReason)
			for _, want := range tt.wantReasons {
				assert.True(t, containsPrefix(r.Reasons, want), "reasons %q\nwant one starting with %q", r.Reasons, want)
			}
			for _, reason := range r.Reasons {
				assert.NotContains(t, reason, "\n", "reasons are one line each")
				assert.True(t, strings.HasSuffix(reason, "."), "reason is a sentence: %q", reason)
			}
			assert.Equal(t, tt.wantWaived, r.Summary.Waived)
			assert.Len(t, r.ExpiredWaivers, tt.wantExpired)
			assert.Equal(t, report.APIVersion, r.APIVersion)
			assert.Equal(t, report.Kind, r.Kind)
		})
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestGateFixture(t *testing.T) {
	r := fixtureReport()
	assert.Equal(t, report.Fail, r.Verdict)
	assert.Equal(t, report.PolicyRef{Path: ".aegis.yaml", FailOnSeverity: report.High, FailOnScannerErr: true}, r.Policy)
	assert.Equal(t, report.Summary{
		New: 3, Unchanged: 2, Fixed: 1, Waived: 1, NewWaived: 1, Blocking: 1,
		NewBySeverity:       map[report.Severity]int{report.Critical: 1, report.High: 1, report.Medium: 1, report.Low: 0, report.Info: 0},
		FixedBySeverity:     map[report.Severity]int{report.Critical: 0, report.High: 1, report.Medium: 0, report.Low: 0, report.Info: 0},
		UnchangedBySeverity: map[report.Severity]int{report.Critical: 0, report.High: 0, report.Medium: 1, report.Low: 1, report.Info: 0},
	}, r.Summary)
	require.Len(t, r.ExpiredWaivers, 1)
	assert.Equal(t, report.ExpiredWaiver{RuleID: "pss.hostPathVolumes", Resource: "Deployment/shop/api", Reason: "legacy data dir", Owner: "alice",
		Expires: "2026-01-31", Location: report.Location{Path: ".aegis.yaml", Line: 15}, Matches: 1}, r.ExpiredWaivers[0])
	var waived []report.Finding
	for _, f := range r.Findings {
		if f.Waived {
			waived = append(waived, f)
		}
	}
	require.Len(t, waived, 1)
	assert.Equal(t, "CVE-2025-0001", waived[0].RuleID)
	assert.Equal(t, "no fix released; not reachable (team-api, until 2026-06-30)", waived[0].WaiverReason)
}

func TestGateIsIdempotent(t *testing.T) {
	r := fixtureReport()
	first := *r
	first.Reasons = append([]string(nil), r.Reasons...)
	Gate(r, fixtureConfig(), gateNow)
	assert.Equal(t, first.Reasons, r.Reasons)
	assert.Equal(t, first.Summary, r.Summary)
	assert.Len(t, r.ExpiredWaivers, 1, "expired waivers are not recorded twice")
}

func TestGateNamesTopFindings(t *testing.T) {
	var fs []report.Finding
	for i := range 8 {
		fs = append(fs, withState(finding("pss.privileged", report.High, "web", i+1), report.New))
	}
	r := &report.Report{Findings: fs, Scanners: okRuns("posture")}
	Gate(r, nil, gateNow)
	assert.Equal(t, report.Fail, r.Verdict)
	assert.Equal(t, "Failed: the change introduces 8 new findings at or above high (8 high) that no waiver accepts.", r.Reasons[0])
	assert.Len(t, r.Reasons, 1+topFindings+1)
	assert.Equal(t, "And 3 more blocking findings.", r.Reasons[len(r.Reasons)-1])
}

// gateNow is the shared fixture's "now".
var gateNow = reporttest.Now

func fixtureConfig() *config.Config { return reporttest.Config() }

// fixtureReport is the shared fixture, gated.
func fixtureReport() *report.Report {
	r := reporttest.Report()
	Gate(r, reporttest.Config(), reporttest.Now)
	return r
}

func finding(rule string, sev report.Severity, name string, line int) report.Finding {
	return report.Finding{Scanner: "posture", RuleID: rule, Severity: sev, Title: rule, Message: rule + " on " + name,
		Resource: reporttest.Deploy("default", name, "app"), Location: report.Location{Path: "deploy.yaml", Line: line}}
}
