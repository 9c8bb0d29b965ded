package sarif

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func finding(scanner, rule string, sev report.Severity, state report.State, path string, line int, name string) report.Finding {
	f := report.Finding{
		Scanner:       scanner,
		RuleID:        rule,
		Severity:      sev,
		Title:         "title of " + rule,
		Message:       fmt.Sprintf("%s: %s violates %s", sev, name, rule),
		Resource:      report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: name, Container: "app"},
		Location:      report.Location{Path: path, Line: line},
		BaselineState: state,
	}
	f.Fingerprint = report.ComputeFingerprint(f)
	return f
}

// fixture is a hand-made report: every severity and state, a waiver, a rule
// without metadata, a finding less severe than its rule, a finding without a line, a scanner that ran clean, one
// that failed on the head and one that was disabled.
func fixture() *report.Report {
	findings := []report.Finding{
		finding("posture", "pss.privileged", report.Critical, report.New, "deploy/overlays/prod/patch.yaml", 12, "api"),
		finding("posture", "pss.hostPathVolumes", report.High, report.Unchanged, "deploy/base/deployment.yaml", 30, "api"),
		finding("posture", "pss.runAsNonRoot", report.Medium, report.Absent, "deploy/base/deployment.yaml", 18, "web"),
		finding("posture", "aegis.resourceLimits", report.Low, report.New, "deploy/base/deployment.yaml", 0, "web"),
		finding("posture", "aegis.probes", report.Info, report.Unchanged, `deploy\base\worker.yaml`, 7, "worker"),
		finding("posture", "pss.privileged", report.Critical, report.Absent, "deploy/base/deployment.yaml", 22, "web"),
		finding("trivy", "AVD-KSV-0014", report.High, report.New, "deploy/base/deployment.yaml", 25, "api"),
		// A low finding of a rule declared medium (a tag without a digest).
		finding("posture", "aegis.mutableImageTag", report.Low, report.New, "deploy/base/deployment.yaml", 19, "api"),
	}
	// A waived finding.
	findings[1].Waived = true
	findings[1].WaiverReason = "host path is read-only log shipping, ADR-12"
	// An image finding with a CVE.
	img := finding("trivy", "CVE-2024-0001", report.Medium, report.Unchanged, "deploy/base/deployment.yaml", 20, "api")
	img.Image, img.CVE = "ghcr.io/acme/api:1.2.3", "CVE-2024-0001"
	img.Fingerprint = report.ComputeFingerprint(img)
	findings = append(findings, img)
	// A failed scanner's finding: its run must be left out.
	findings = append(findings, finding("semgrep", "yaml.secret", report.High, report.New, "deploy/base/config.yaml", 3, "cfg"))

	return &report.Report{
		APIVersion: report.APIVersion,
		Kind:       report.Kind,
		Tool:       report.Tool{Name: "aegis", Version: "0.1.0"},
		Verdict:    report.Fail,
		Scanners: []report.ScannerRun{
			{Name: "posture", Side: "base", Status: report.StatusOK, Version: "0.1.0"},
			{Name: "posture", Side: "head", Status: report.StatusOK, Version: "0.1.0"},
			{Name: "trivy", Side: "base", Status: report.StatusOK, Version: "0.58.1"},
			{Name: "trivy", Side: "head", Status: report.StatusOK, Version: "0.58.1"},
			{Name: "health", Side: "base", Status: report.StatusOK},
			{Name: "health", Side: "head", Status: report.StatusOK},
			{Name: "semgrep", Side: "base", Status: report.StatusOK},
			{Name: "semgrep", Side: "head", Status: report.StatusError, Error: "semgrep: executable not found"},
			{Name: "zap", Side: "head", Status: report.StatusSkipped, Error: "disabled in configuration"},
		},
		Findings: findings,
		Rules: []report.Rule{
			{Scanner: "posture", ID: "pss.privileged", Title: "Privileged container", Description: "Privileged containers disable most security mechanisms.", Help: "Remove securityContext.privileged or set it to false.", HelpURI: "https://kubernetes.io/docs/concepts/security/pod-security-standards/", Severity: report.Critical, Tags: []string{"pss", "baseline"}},
			{Scanner: "posture", ID: "pss.hostPathVolumes", Title: "hostPath volume", Description: "hostPath volumes give access to the node's filesystem.", Help: "Use another volume type.", Severity: report.High, Tags: []string{"pss", "baseline"}},
			{Scanner: "posture", ID: "pss.runAsNonRoot", Title: "Container may run as root", Description: "Containers must set runAsNonRoot: true.", Help: "Set securityContext.runAsNonRoot: true.", Severity: report.Medium, Tags: []string{"pss", "restricted"}},
			{Scanner: "posture", ID: "aegis.resourceLimits", Title: "Missing resource limits", Description: "A container without CPU and memory limits can starve its node.", Help: "Set resources.limits.cpu and resources.limits.memory.", Severity: report.Low},
			{Scanner: "posture", ID: "aegis.probes", Title: "Missing probes", Description: strings.Repeat("Readiness and liveness probes let Kubernetes route and restart. ", 30), Help: "Add readinessProbe and livenessProbe.", Severity: report.Info},
			{Scanner: "posture", ID: "aegis.unused", Title: "A rule without findings", Severity: report.Low},
			{Scanner: "posture", ID: "aegis.mutableImageTag", Title: "Image not pinned by digest", Description: "A tag can move.", Help: "Pin the image by digest.", Severity: report.Medium},
			{Scanner: "trivy", ID: "AVD-KSV-0014", Title: "Root file system is not read-only", Help: "Set readOnlyRootFilesystem: true.", HelpURI: "https://avd.aquasec.com/misconfig/ksv-0014", Severity: report.High},
			// CVE-2024-0001 has no rule: it is synthesised from the finding.
		},
	}
}

func write(t testing.TB, r *report.Report, opts Options) ([]byte, []string) {
	t.Helper()
	var buf bytes.Buffer
	warnings, err := Write(&buf, r, opts)
	require.NoError(t, err)
	return buf.Bytes(), warnings
}

// requireIngestible asserts that a log passes the official schema (the one
// go-sarif ships, schema_test.go), GitHub's ingestion checks and go-sarif's
// own validation.
func requireIngestible(t testing.TB, data []byte) {
	t.Helper()
	require.NoError(t, Validate(data, schemaFile(t)))
	log, err := gosarif.FromBytes(data)
	require.NoError(t, err)
	require.NoError(t, log.Validate(), "go-sarif validation")
}

// decoded is the generic form of a log, for assertions.
type decoded struct {
	Runs []struct {
		AutomationDetails struct{ ID string } `json:"automationDetails"`
		Tool              struct {
			Driver struct {
				Name  string
				Rules []struct {
					ID         string         `json:"id"`
					Properties map[string]any `json:"properties"`
				}
			}
		}
		Results []struct {
			RuleID              string            `json:"ruleId"`
			Level               string            `json:"level"`
			BaselineState       string            `json:"baselineState"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Fingerprints        map[string]string `json:"fingerprints"`
			Properties          map[string]any    `json:"properties"`
			Suppressions        []struct {
				Kind          string `json:"kind"`
				Justification string `json:"justification"`
			} `json:"suppressions"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
					Region           struct{ StartLine int } `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
		}
	}
}

func decode(t testing.TB, data []byte) decoded {
	t.Helper()
	var d decoded
	require.NoError(t, json.Unmarshal(data, &d))
	return d
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   Options
		golden string
	}{
		{"head", Options{ToolVersion: "v0.1.0"}, "report.golden.sarif"},
		{"include-absent", Options{ToolVersion: "v0.1.0", IncludeAbsent: true}, "report-absent.golden.sarif"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, warnings := write(t, fixture(), tc.opts)
			requireIngestible(t, data)
			assert.Len(t, warnings, 2, "warnings: %q", warnings)

			path := filepath.Join("testdata", tc.golden)
			if *update {
				require.NoError(t, os.WriteFile(path, data, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./sarif -update to create it")
			assert.Equal(t, string(want), string(data), "golden %s differs; rerun with -update if intended", path)

			// Same input, same bytes.
			again, _ := write(t, fixture(), tc.opts)
			assert.Equal(t, data, again)
		})
	}
}

func TestGoldenFilesAreIngestible(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden.sarif"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		requireIngestible(t, data)
	}
}

func TestRunsPerScanner(t *testing.T) {
	data, warnings := write(t, fixture(), Options{})
	d := decode(t, data)
	var cats []string
	for _, run := range d.Runs {
		cats = append(cats, run.AutomationDetails.ID)
		assert.Equal(t, "aegis", run.Tool.Driver.Name)
	}
	// health ran clean: an empty run, so code scanning closes its alerts;
	// semgrep failed on the head and zap was disabled: no run.
	assert.Equal(t, []string{"aegis/health/", "aegis/posture/", "aegis/trivy/"}, cats)
	assert.Empty(t, d.Runs[0].Results)
	assert.NotNil(t, d.Runs[0].Results)
	require.NotEmpty(t, warnings)
	assert.Contains(t, strings.Join(warnings, "\n"), "scanner semgrep did not succeed on the head (status error)")
	assert.NotContains(t, strings.Join(warnings, "\n"), "zap")
}

func TestAbsentOnlyWithIncludeAbsent(t *testing.T) {
	states := func(opts Options) map[string]int {
		data, _ := write(t, fixture(), opts)
		d := decode(t, data)
		out := map[string]int{}
		for _, run := range d.Runs {
			for _, res := range run.Results {
				out[res.BaselineState]++
			}
		}
		return out
	}
	assert.Equal(t, map[string]int{"new": 4, "unchanged": 3}, states(Options{}))
	assert.Equal(t, map[string]int{"new": 4, "unchanged": 3, "absent": 2}, states(Options{IncludeAbsent: true}))
}

func TestResultFields(t *testing.T) {
	data, _ := write(t, fixture(), Options{IncludeAbsent: true})
	d := decode(t, data)
	posture := d.Runs[1]
	require.Equal(t, "aegis/posture/", posture.AutomationDetails.ID)

	// Order: most severe first, new before absent.
	var order []string
	for _, res := range posture.Results {
		order = append(order, res.RuleID+"/"+res.BaselineState)
	}
	assert.Equal(t, []string{
		"pss.privileged/new", "pss.privileged/absent", "pss.hostPathVolumes/unchanged",
		"pss.runAsNonRoot/absent", "aegis.resourceLimits/new", "aegis.mutableImageTag/low/new", "aegis.probes/unchanged",
	}, order)

	levels := map[string]string{}
	for _, res := range posture.Results {
		levels[res.RuleID] = res.Level
		fp := res.Fingerprints[FingerprintKey]
		assert.Len(t, fp, 32)
		assert.Equal(t, fp+":1", res.PartialFingerprints[PrimaryLocationLineHash])
	}
	assert.Equal(t, map[string]string{
		"pss.privileged": "error", "pss.hostPathVolumes": "error", "pss.runAsNonRoot": "warning",
		"aegis.resourceLimits": "note", "aegis.mutableImageTag/low": "note", "aegis.probes": "note",
	}, levels)

	// Unknown line -> 1; backslashes -> slashes.
	limits := posture.Results[4]
	assert.Equal(t, 1, limits.Locations[0].PhysicalLocation.Region.StartLine)
	assert.Equal(t, "deploy/base/worker.yaml", posture.Results[6].Locations[0].PhysicalLocation.ArtifactLocation.URI)

	// The waived finding is an external, accepted suppression.
	waived := posture.Results[2]
	require.Len(t, waived.Suppressions, 1)
	assert.Equal(t, "external", waived.Suppressions[0].Kind)
	assert.Equal(t, "host path is read-only log shipping, ADR-12", waived.Suppressions[0].Justification)
	assert.Equal(t, true, waived.Properties["waived"])
	assert.Equal(t, "Deployment/shop/api/app", waived.Properties["resource"])
	assert.Empty(t, posture.Results[0].Suppressions)

	// Rules: only those with results, sorted, with a string security-severity.
	sev := map[string]any{}
	var ids []string
	for _, rl := range posture.Tool.Driver.Rules {
		ids = append(ids, rl.ID)
		sev[rl.ID] = rl.Properties["security-severity"]
		assert.Equal(t, "security", rl.Properties["tags"].([]any)[0])
	}
	assert.Equal(t, []string{"aegis.mutableImageTag/low", "aegis.probes", "aegis.resourceLimits", "pss.hostPathVolumes", "pss.privileged", "pss.runAsNonRoot"}, ids)
	assert.Equal(t, map[string]any{"pss.privileged": "9.5", "pss.hostPathVolumes": "8.0", "pss.runAsNonRoot": "5.5", "aegis.resourceLimits": "3.0",
		"aegis.mutableImageTag/low": "3.0", "aegis.probes": "1.0"}, sev)
}

func TestSecuritySeverityMatchesGitHubBands(t *testing.T) {
	// GitHub: > 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
	band := func(v float64) report.Severity {
		switch {
		case v > 9.0:
			return report.Critical
		case v >= 7.0:
			return report.High
		case v >= 4.0:
			return report.Medium
		default:
			return report.Low
		}
	}
	for _, s := range report.Severities {
		v, err := strconv.ParseFloat(SecuritySeverity(s), 64)
		require.NoError(t, err)
		assert.Greater(t, v, 0.0, s)
		assert.LessOrEqual(t, v, 10.0, s)
		want := s
		if s == report.Info {
			want = report.Low
		}
		assert.Equal(t, want, band(v), s)
	}
}

func TestMissingRuleIsSynthesised(t *testing.T) {
	data, warnings := write(t, fixture(), Options{})
	requireIngestible(t, data)
	assert.Contains(t, strings.Join(warnings, "\n"), "scanner trivy: 1 rules had no metadata")
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID               string
						ShortDescription struct{ Text string } `json:"shortDescription"`
					}
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(data, &log))
	trivy := log.Runs[2].Tool.Driver.Rules
	require.Len(t, trivy, 2)
	assert.Equal(t, "AVD-KSV-0014", trivy[0].ID)
	// A rule the report lacks declares no severity: its finding goes to
	// the rule of its own severity (see TestRuleIDsDependOnTheFindingOnly).
	assert.Equal(t, "CVE-2024-0001/medium", trivy[1].ID)
	assert.Equal(t, "title of CVE-2024-0001", trivy[1].ShortDescription.Text)
}

func TestLongDescriptionIsTruncated(t *testing.T) {
	data, _ := write(t, fixture(), Options{})
	require.NoError(t, CheckGitHub(data))
	assert.Contains(t, string(data), "…")
}

func TestPrimaryLocationLineHashSurvivesLineMoves(t *testing.T) {
	hash := func(line int, path string) (string, string) {
		f := finding("posture", "pss.privileged", report.Critical, report.New, path, line, "api")
		r := &report.Report{
			Scanners: []report.ScannerRun{{Name: "posture", Side: "head", Status: report.StatusOK}},
			Findings: []report.Finding{f},
		}
		data, _ := write(t, r, Options{})
		d := decode(t, data)
		res := d.Runs[0].Results[0]
		return res.PartialFingerprints[PrimaryLocationLineHash], res.Fingerprints[FingerprintKey]
	}
	h1, f1 := hash(12, "deploy/a.yaml")
	h2, f2 := hash(48, "deploy/a.yaml")
	assert.Equal(t, h1, h2)
	assert.Equal(t, f1, f2)
	assert.NotEmpty(t, h1)
}

func TestSharedFingerprintsStayApart(t *testing.T) {
	a := finding("posture", "pss.privileged", report.Critical, report.New, "a.yaml", 3, "api")
	b := a
	b.Resource.Namespace, b.Location.Line = "other", 30
	require.Equal(t, a.Fingerprint, b.Fingerprint, "the namespace is not part of the fingerprint")
	r := &report.Report{Findings: []report.Finding{b, a}}
	data, _ := write(t, r, Options{})
	requireIngestible(t, data)
	res := decode(t, data).Runs[0].Results
	require.Len(t, res, 2)
	assert.Equal(t, a.Fingerprint+":1", res[0].PartialFingerprints[PrimaryLocationLineHash])
	assert.Equal(t, a.Fingerprint+":2", res[1].PartialFingerprints[PrimaryLocationLineHash])
	assert.Equal(t, 3, res[0].Locations[0].PhysicalLocation.Region.StartLine)
}

func TestTrimKeepsMostSevereAndWarns(t *testing.T) {
	r := &report.Report{Scanners: []report.ScannerRun{{Name: "posture", Side: "head", Status: report.StatusOK}}}
	sevs := []report.Severity{report.Info, report.Low, report.Medium, report.High, report.Critical}
	for i := 0; i < 7; i++ {
		r.Rules = append(r.Rules, report.Rule{Scanner: "posture", ID: fmt.Sprintf("rule.%d", i), Title: "Rule", Severity: report.Medium})
	}
	for i := 0; i < 50; i++ {
		state := report.Unchanged
		if i%2 == 0 {
			state = report.New
		}
		r.Findings = append(r.Findings, finding("posture", fmt.Sprintf("rule.%d", i%7), sevs[i%5], state, fmt.Sprintf("f%02d.yaml", i), i+1, fmt.Sprintf("d%d", i)))
	}
	data, warnings := write(t, r, Options{MaxResultsPerRun: 15})
	requireIngestible(t, data)
	d := decode(t, data)
	require.Len(t, d.Runs[0].Results, 15)
	// 10 critical (5 new, 5 unchanged), then the 5 new highs.
	for i, res := range d.Runs[0].Results {
		if i < 10 {
			assert.Equal(t, "critical", res.Properties["severity"], i)
		} else {
			assert.Equal(t, "high", res.Properties["severity"], i)
			assert.Equal(t, "new", res.BaselineState, i)
		}
	}
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "left out the 35 least severe (5 high, 10 medium, 10 low, 10 info)")

	// The default cap is GitHub's.
	_, warnings = write(t, r, Options{MaxResultsPerRun: 1 << 30})
	assert.Empty(t, warnings)
}

func TestTooManyRunsAreDroppedWithAWarning(t *testing.T) {
	r := &report.Report{}
	for i := 0; i < 23; i++ {
		r.Scanners = append(r.Scanners, report.ScannerRun{Name: fmt.Sprintf("s%02d", i), Side: "head", Status: report.StatusOK})
	}
	data, warnings := write(t, r, Options{})
	requireIngestible(t, data)
	assert.Len(t, decode(t, data).Runs, MaxRuns)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "left out s20, s21, s22")
}

func TestUnknownStateIsWrittenAsNew(t *testing.T) {
	f := finding("posture", "pss.privileged", report.Critical, "", "a.yaml", 1, "api")
	f.Fingerprint = ""
	f.Message, f.Title = "", ""
	r := &report.Report{Findings: []report.Finding{f}}
	data, warnings := write(t, r, Options{})
	requireIngestible(t, data)
	res := decode(t, data).Runs[0].Results[0]
	assert.Equal(t, "new", res.BaselineState)
	assert.Equal(t, report.ComputeFingerprint(f), res.Fingerprints[FingerprintKey])
	assert.Len(t, warnings, 2) // the state, and the synthesised rule
}

func TestFindingWithoutPathNamesItsResource(t *testing.T) {
	f := finding("zap", "zap.10021", report.Low, report.New, "", 0, "web")
	r := &report.Report{Findings: []report.Finding{f}}
	data, warnings := write(t, r, Options{})
	requireIngestible(t, data)
	res := decode(t, data).Runs[0].Results[0]
	assert.Equal(t, "kubernetes/Deployment/shop/web/app", res.Locations[0].PhysicalLocation.ArtifactLocation.URI)
	assert.Contains(t, strings.Join(warnings, "\n"), "1 findings had no source file")
}

func TestRuleTagsAreCapped(t *testing.T) {
	var tags []string
	for i := 0; i < 30; i++ {
		tags = append(tags, fmt.Sprintf("t%d", i), "security")
	}
	got := ruleTags("posture", tags)
	assert.Len(t, got, MaxTagsPerRule)
	assert.Equal(t, "security", got[0])
}

func TestNilReport(t *testing.T) {
	_, err := Write(&bytes.Buffer{}, nil, Options{})
	assert.Error(t, err)
}

func TestDriverVersions(t *testing.T) {
	for in, want := range map[string][2]string{
		"v0.1.0":       {"0.1.0", "0.1.0"},
		"1.2.3-rc.1":   {"1.2.3-rc.1", "1.2.3-rc.1"},
		"dev":          {"", DevSemanticVersion},
		"":             {"", DevSemanticVersion},
		"92cf6fa":      {"92cf6fa", DevSemanticVersion},
		"v1.2":         {"1.2", DevSemanticVersion},
		"version-next": {"", DevSemanticVersion},
	} {
		version, semver := driverVersions(in)
		assert.Equal(t, want, [2]string{version, semver}, in)
	}

	// Every run has a semanticVersion, a development build included; the
	// version as given is in the run's properties.
	data, _ := write(t, fixture(), Options{ToolVersion: "dev"})
	requireIngestible(t, data)
	var log struct {
		Runs []struct {
			Properties map[string]any
			Tool       struct {
				Driver map[string]any
			}
		}
	}
	require.NoError(t, json.Unmarshal(data, &log))
	require.NotEmpty(t, log.Runs)
	for _, run := range log.Runs {
		assert.Equal(t, DevSemanticVersion, run.Tool.Driver["semanticVersion"])
		assert.NotContains(t, run.Tool.Driver, "version")
		assert.Equal(t, "dev", run.Properties["toolVersion"])
	}
}

func TestSemanticVersion(t *testing.T) {
	for in, want := range map[string]string{"v1.2.3": "1.2.3", "0.1.0-rc.1": "0.1.0-rc.1", "dev": "", "v1.2": ""} {
		got, ok := semanticVersion(in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, want != "", ok, in)
	}
}

// The checks must catch what GitHub rejects; each case breaks a valid log.
func TestCheckGitHubRejects(t *testing.T) {
	good, _ := write(t, fixture(), Options{})
	require.NoError(t, CheckGitHub(good))

	for _, tc := range []struct {
		name, want string
		schema     bool // the schema rejects it too
		mutate     func(m map[string]any)
	}{
		{"existing baselineState", "baselineState \"existing\"", true, func(m map[string]any) {
			result(m, 1, 0)["baselineState"] = "existing"
		}},
		{"baselineState on some results only", "all or none", false, func(m map[string]any) {
			delete(result(m, 1, 0), "baselineState")
		}},
		{"no primaryLocationLineHash", "primaryLocationLineHash is missing", false, func(m map[string]any) {
			delete(result(m, 1, 0), "partialFingerprints")
		}},
		{"numeric security-severity", "not a string", false, func(m map[string]any) {
			rule(m, 1, 0)["properties"].(map[string]any)["security-severity"] = 8.0
		}},
		{"security-severity zero", "not a number in (0, 10]", false, func(m map[string]any) {
			rule(m, 1, 0)["properties"].(map[string]any)["security-severity"] = "0.0"
		}},
		{"empty message", "message.text", true, func(m map[string]any) {
			result(m, 1, 0)["message"] = map[string]any{"text": ""}
		}},
		{"no startLine", "startLine", false, func(m map[string]any) {
			loc := result(m, 1, 0)["locations"].([]any)[0].(map[string]any)
			delete(loc["physicalLocation"].(map[string]any), "region")
		}},
		{"long shortDescription", "above 1024", false, func(m map[string]any) {
			rule(m, 1, 0)["shortDescription"] = map[string]any{"text": strings.Repeat("x", 1025)}
		}},
		{"no help", "help.text", false, func(m map[string]any) {
			delete(rule(m, 1, 0), "help")
		}},
		{"too many tags", "21 tags", false, func(m map[string]any) {
			var tags []any
			for i := 0; i < 21; i++ {
				tags = append(tags, fmt.Sprint(i))
			}
			rule(m, 1, 0)["properties"].(map[string]any)["tags"] = tags
		}},
		{"repeated category", "repeat runs[1]", false, func(m map[string]any) {
			runs := m["runs"].([]any)
			runs[2].(map[string]any)["automationDetails"] = runs[1].(map[string]any)["automationDetails"]
		}},
		{"bad ruleIndex", "ruleIndex", false, func(m map[string]any) {
			result(m, 1, 0)["ruleIndex"] = 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(good, &m))
			tc.mutate(m)
			bad, err := json.Marshal(m)
			require.NoError(t, err)
			err = CheckGitHub(bad)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.schema {
				assert.Error(t, Validate(bad, schemaFile(t)))
			}
		})
	}
}

func TestValidateNeedsTheSchema(t *testing.T) {
	good, _ := write(t, fixture(), Options{})
	assert.Error(t, Validate(good, filepath.Join(t.TempDir(), "missing.json")))
}

func result(m map[string]any, run, i int) map[string]any {
	return m["runs"].([]any)[run].(map[string]any)["results"].([]any)[i].(map[string]any)
}

func rule(m map[string]any, run, i int) map[string]any {
	tool := m["runs"].([]any)[run].(map[string]any)["tool"].(map[string]any)
	return tool["driver"].(map[string]any)["rules"].([]any)[i].(map[string]any)
}

// Two different invalid UTF-8 tags encode to the same U+FFFD text: they
// must be one tag, or the schema's uniqueItems fails (found by FuzzWrite).
func TestRuleTagsUniqueAfterUTF8Repair(t *testing.T) {
	got := ruleTags("trivy", []string{"\xca", "\x80", "a", " a ", "trivy"})
	assert.Equal(t, []string{"security", "\uFFFD", "a", "trivy"}, got)
}
