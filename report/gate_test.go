package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
)

func okRuns(names ...string) []ScannerRun {
	var out []ScannerRun
	for _, n := range names {
		out = append(out, ScannerRun{Name: n, Side: "base", Status: StatusOK}, ScannerRun{Name: n, Side: "head", Status: StatusOK})
	}
	return out
}

func waiver(rule, fp, res, expires string) config.Waiver {
	w := config.Waiver{RuleID: rule, Fingerprint: fp, Resource: res, Reason: "accepted risk", Owner: "alice", Expires: expires, Line: 7}
	day, _ := time.Parse("2006-01-02", expires)
	w.ExpiresAt = day.AddDate(0, 0, 1)
	return w
}

func withState(f Finding, s State) Finding { f.BaselineState = s; return f }

func TestGate(t *testing.T) {
	high := withState(finding("pss.privileged", High, "web", 10), New)
	medium := withState(finding("pss.runAsNonRoot", Medium, "web", 12), New)
	fixedCritical := withState(finding("pss.hostPathVolumes", Critical, "web", 14), Absent)
	unchangedHigh := withState(finding("pss.hostPorts", High, "web", 16), Unchanged)
	highFP := ComputeFingerprint(high)
	no, yes := false, true

	tests := []struct {
		name        string
		findings    []Finding
		runs        []ScannerRun
		cfg         func(*config.Config)
		want        Verdict
		wantReason  string // in the first reason
		wantReasons []string
		wantWaived  int
		wantExpired int
	}{
		{name: "no findings pass", runs: okRuns("posture"), want: Pass, wantReason: "Passed: no new finding at or above high"},
		{name: "new high fails at default threshold", findings: []Finding{high, medium}, runs: okRuns("posture"), want: Fail,
			wantReason: "1 new finding at or above high (1 high)", wantReasons: []string{"New high finding pss.privileged on Deployment/default/web container app at deploy.yaml:10"}},
		{name: "new medium below threshold passes", findings: []Finding{medium}, runs: okRuns("posture"), want: Pass,
			wantReason: "1 new finding below it"},
		{name: "threshold medium fails on medium", findings: []Finding{medium}, runs: okRuns("posture"),
			cfg: func(c *config.Config) { c.FailOn.Severity = "medium" }, want: Fail},
		{name: "threshold critical passes on high", findings: []Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) { c.FailOn.Severity = "critical" }, want: Pass},
		{name: "unchanged and fixed never fail", findings: []Finding{fixedCritical, unchangedHigh}, runs: okRuns("posture"), want: Pass,
			wantReason: "1 finding fixed"},
		{name: "unknown severity fails closed", findings: []Finding{withState(finding("x", "bogus", "web", 1), New)}, runs: okRuns("posture"), want: Fail},
		{name: "finding without state counts as new", findings: []Finding{finding("pss.privileged", High, "web", 10)}, runs: okRuns("posture"), want: Fail},
		{name: "waiver by rule", findings: []Finding{high}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("pss.privileged", "", "", "2026-12-31")} },
			want: Pass, wantReason: "1 new finding waived", wantWaived: 1},
		{name: "waiver by fingerprint", findings: []Finding{high}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("", highFP, "", "2026-12-31")} },
			want: Pass, wantWaived: 1},
		{name: "waiver by resource Kind/name in any namespace", findings: []Finding{high}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("", "", "deployment/web", "2026-12-31")} },
			want: Pass, wantWaived: 1},
		{name: "waiver by resource Kind/namespace/name", findings: []Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Waivers = []config.Waiver{waiver("", "", "Deployment/default/web", "2026-12-31")}
			},
			want: Pass, wantWaived: 1},
		{name: "waiver in another namespace does not match", findings: []Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Waivers = []config.Waiver{waiver("", "", "Deployment/prod/web", "2026-12-31")}
			},
			want: Fail},
		{name: "all selectors must match", findings: []Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Waivers = []config.Waiver{waiver("pss.privileged", "", "Deployment/api", "2026-12-31")}
			},
			want: Fail},
		{name: "waiver valid through its last day", findings: []Finding{high}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("pss.privileged", "", "", "2026-03-01")} },
			want: Pass, wantWaived: 1},
		{name: "expired waiver does not waive and is reported", findings: []Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Path = ".aegis.yaml"
				c.Waivers = []config.Waiver{waiver("pss.privileged", "", "", "2026-02-28")}
			},
			want: Fail, wantExpired: 1,
			wantReasons: []string{"The waiver at .aegis.yaml:7 (rule pss.privileged, owner alice) expired on 2026-02-28 and no longer waives anything (it matches 1 finding); renew or remove it."}},
		{name: "waiver without a readable date is expired", findings: []Finding{high}, runs: okRuns("posture"),
			cfg: func(c *config.Config) {
				c.Waivers = []config.Waiver{{RuleID: "pss.privileged", Reason: "r", Owner: "o"}}
			},
			want: Fail, wantExpired: 1},
		{name: "waived new high passes", findings: []Finding{high, medium}, runs: okRuns("posture"),
			cfg:  func(c *config.Config) { c.Waivers = []config.Waiver{waiver("pss.privileged", "", "", "2026-12-31")} },
			want: Pass, wantWaived: 1},
		{name: "no scanner ran is an error", want: Error, wantReason: "no scanner ran"},
		{name: "only skipped scanners is an error", runs: []ScannerRun{{Name: "trivy", Side: "head", Status: StatusSkipped}}, want: Error,
			wantReason: "no scanner completed"},
		{name: "scanner error is an error", findings: []Finding{high},
			runs: append(okRuns("posture"), ScannerRun{Name: "trivy", Side: "head", Status: StatusError, Error: "exit status 2: db\nlocked"}),
			want: Error, wantReason: "1 scanner run failed",
			wantReasons: []string{"Scanner trivy failed on head: exit status 2: db locked. To accept this, set scanners.trivy.allowError in the policy.", "Also: the change introduces 1 new finding"}},
		{name: "unknown status is an error", runs: append(okRuns("posture"), ScannerRun{Name: "trivy", Side: "head", Status: "weird"}), want: Error},
		{name: "allowError accepts a scanner error", runs: append(okRuns("posture"), ScannerRun{Name: "trivy", Side: "head", Status: StatusError, Error: "boom"}),
			cfg:  func(c *config.Config) { c.Scanners["trivy"] = config.ScannerSettings{AllowError: true} },
			want: Pass, wantReasons: []string{"Scanner trivy failed on head: boom; accepted because scanners.trivy.allowError is set."}},
		{name: "allowMissing accepts a missing scanner", runs: append(okRuns("posture"), ScannerRun{Name: "zap", Side: "head", Status: StatusError, Missing: true, Error: "scanner not installed"}),
			cfg:  func(c *config.Config) { c.Scanners["zap"] = config.ScannerSettings{AllowMissing: true} },
			want: Pass, wantReasons: []string{"Scanner zap is not installed; accepted because scanners.zap.allowMissing is set."}},
		{name: "allowMissing does not accept a crash", runs: append(okRuns("posture"), ScannerRun{Name: "zap", Side: "head", Status: StatusError, Error: "panic"}),
			cfg:  func(c *config.Config) { c.Scanners["zap"] = config.ScannerSettings{AllowMissing: true} },
			want: Error},
		{name: "missing scanner without allowMissing is an error", runs: append(okRuns("posture"), ScannerRun{Name: "zap", Side: "head", Status: StatusError, Missing: true}),
			want: Error, wantReasons: []string{"Scanner zap is not installed (head side). To accept this, set scanners.zap.allowMissing in the policy."}},
		{name: "failOn.scannerError false accepts errors", runs: append(okRuns("posture"), ScannerRun{Name: "trivy", Side: "base", Status: StatusError}),
			cfg:  func(c *config.Config) { c.FailOn.ScannerError = &no },
			want: Pass, wantReasons: []string{"Scanner trivy failed on base; accepted because failOn.scannerError is false."}},
		{name: "every scanner failed is an error even when allowed", runs: []ScannerRun{{Name: "trivy", Side: "head", Status: StatusError}},
			cfg:  func(c *config.Config) { c.FailOn.ScannerError = &no },
			want: Error, wantReason: "no scanner completed"},
		// An enabled scanner that did not look at the head cannot vouch for
		// it; a skip on the base can only make head findings new.
		{name: "enabled scanner skipped on the head is an error", runs: append(okRuns("posture"),
			ScannerRun{Name: "zap", Side: "base", Status: StatusOK}, ScannerRun{Name: "zap", Side: "head", Status: StatusSkipped, Error: "no Service in shadow namespace ns-head: nothing to scan"}),
			cfg:  func(c *config.Config) { c.Scanners["zap"] = config.ScannerSettings{Enabled: &yes} },
			want: Error, wantReason: "Error: 1 scanner run failed or did not run and the policy does not allow it",
			wantReasons: []string{"Scanner zap is enabled but did not run on the head: no Service in shadow namespace ns-head: nothing to scan. An enabled scanner that did not look at the change cannot vouch for it: give it something to scan (deploy the head with --shadow head or both, select a Service), disable it, or set scanners.zap.allowSkip in the policy."}},
		{name: "allowSkip accepts a skip on the head", runs: append(okRuns("posture"), ScannerRun{Name: "falco", Side: "head", Status: StatusSkipped, Error: "the head side is not deployed"}),
			cfg:  func(c *config.Config) { c.Scanners["falco"] = config.ScannerSettings{Enabled: &yes, AllowSkip: true} },
			want: Pass, wantReasons: []string{"Scanner falco is enabled but did not run on the head: the head side is not deployed; accepted because scanners.falco.allowSkip is set."}},
		{name: "allowError does not accept a skip", runs: append(okRuns("posture"), ScannerRun{Name: "wapiti", Side: "head", Status: StatusSkipped}),
			cfg: func(c *config.Config) {
				c.Scanners["wapiti"] = config.ScannerSettings{Enabled: &yes, AllowError: true, AllowMissing: true}
			},
			want: Error},
		{name: "failOn.scannerError false accepts a skip", runs: append(okRuns("posture"), ScannerRun{Name: "wapiti", Side: "head", Status: StatusSkipped}),
			cfg: func(c *config.Config) {
				c.FailOn.ScannerError = &no
				c.Scanners["wapiti"] = config.ScannerSettings{Enabled: &yes}
			},
			want: Pass, wantReasons: []string{"Scanner wapiti is enabled but did not run on the head; accepted because failOn.scannerError is false."}},
		{name: "a skip on the base is not an error", runs: append(okRuns("posture"),
			ScannerRun{Name: "zap", Side: "base", Status: StatusSkipped, Error: "the base side is not deployed"}, ScannerRun{Name: "zap", Side: "head", Status: StatusOK}),
			cfg:  func(c *config.Config) { c.Scanners["zap"] = config.ScannerSettings{Enabled: &yes} },
			want: Pass},
		{name: "a disabled scanner's skip is not an error", runs: append(okRuns("posture"),
			ScannerRun{Name: "semgrep", Side: "base", Status: StatusSkipped, Error: "opt-in"}, ScannerRun{Name: "semgrep", Side: "head", Status: StatusSkipped, Error: "opt-in"}),
			want: Pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			r := &Report{Findings: append([]Finding(nil), tt.findings...), Scanners: tt.runs}
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
			assert.Equal(t, APIVersion, r.APIVersion)
			assert.Equal(t, Kind, r.Kind)
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
	assert.Equal(t, Fail, r.Verdict)
	assert.Equal(t, PolicyRef{Path: ".aegis.yaml", FailOnSeverity: High, FailOnScannerErr: true}, r.Policy)
	assert.Equal(t, Summary{
		New: 3, Unchanged: 2, Fixed: 1, Waived: 1, NewWaived: 1, Blocking: 1,
		NewBySeverity:       map[Severity]int{Critical: 1, High: 1, Medium: 1, Low: 0, Info: 0},
		FixedBySeverity:     map[Severity]int{Critical: 0, High: 1, Medium: 0, Low: 0, Info: 0},
		UnchangedBySeverity: map[Severity]int{Critical: 0, High: 0, Medium: 1, Low: 1, Info: 0},
	}, r.Summary)
	require.Len(t, r.ExpiredWaivers, 1)
	assert.Equal(t, ExpiredWaiver{RuleID: "pss.hostPathVolumes", Resource: "Deployment/shop/api", Reason: "legacy data dir", Owner: "alice",
		Expires: "2026-01-31", Location: Location{Path: ".aegis.yaml", Line: 15}, Matches: 1}, r.ExpiredWaivers[0])
	var waived []Finding
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
	var fs []Finding
	for i := range 8 {
		fs = append(fs, withState(finding("pss.privileged", High, "web", i+1), New))
	}
	r := &Report{Findings: fs, Scanners: okRuns("posture")}
	Gate(r, nil, gateNow)
	assert.Equal(t, Fail, r.Verdict)
	assert.Equal(t, "Failed: the change introduces 8 new findings at or above high (8 high) that no waiver accepts.", r.Reasons[0])
	assert.Len(t, r.Reasons, 1+topFindings+1)
	assert.Equal(t, "And 3 more blocking findings.", r.Reasons[len(r.Reasons)-1])
}
