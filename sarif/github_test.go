package sarif

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

// gitHubSeverity is the severity GitHub code scanning shows for a
// security-severity score. GitHub's documentation ("SARIF support for code
// scanning", reportingDescriptor properties): "security-severity ... Code
// scanning translates numerical scores as follows: over 9.0 is critical,
// 7.0 to 8.9 is high, 4.0 to 6.9 is medium and 0.1 to 3.9 is low."
func gitHubSeverity(t testing.TB, score any) report.Severity {
	t.Helper()
	s, ok := score.(string)
	require.True(t, ok, "security-severity %v is not a string", score)
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	switch {
	case v > 9.0:
		return report.Critical
	case v >= 7.0:
		return report.High
	case v >= 4.0:
		return report.Medium
	case v >= 0.1:
		return report.Low
	}
	t.Fatalf("security-severity %q is below GitHub's lowest band", s)
	return ""
}

// asShown is an aegis severity as GitHub can show it: GitHub has no info,
// which aegis scores as low.
func asShown(s report.Severity) report.Severity {
	if s == report.Info {
		return report.Low
	}
	return s
}

// shownLog is what GitHub reads to show a result's severity: the rule the
// result points at (ruleIndex into the driver's rules) and that rule's
// security-severity and default level.
type shownLog struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Rules []struct {
					ID                   string `json:"id"`
					HelpURI              string `json:"helpUri"`
					DefaultConfiguration struct {
						Level string `json:"level"`
					} `json:"defaultConfiguration"`
					Properties map[string]any `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID     string         `json:"ruleId"`
			RuleIndex  int            `json:"ruleIndex"`
			Level      string         `json:"level"`
			Properties map[string]any `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

func decodeShown(t testing.TB, data []byte) shownLog {
	t.Helper()
	var log shownLog
	require.NoError(t, json.Unmarshal(data, &log))
	return log
}

// Every result, as GitHub shows it, has its finding's severity: the
// security-severity of the rule it points at falls in the band of the
// finding's severity, and the rule's default level is the result's level.
func TestResultSeverityAsGitHubShowsIt(t *testing.T) {
	r := fixture()
	// Every severity under rules declared with every other one, and under a
	// rule the report lacks.
	for _, declared := range report.Severities {
		for _, sev := range report.Severities {
			f := finding("posture", "aegis.rule-"+string(declared), sev, report.New, "a.yaml", 1, "app-"+string(sev))
			r.Findings = append(r.Findings, f)
		}
		r.Rules = append(r.Rules, report.Rule{Scanner: "posture", ID: "aegis.rule-" + string(declared), Title: "t", Severity: declared})
	}
	for _, sev := range report.Severities {
		r.Findings = append(r.Findings, finding("posture", "aegis.unlisted", sev, report.New, "a.yaml", 2, "app-"+string(sev)))
	}
	data, _ := write(t, r, Options{IncludeAbsent: true})
	requireIngestible(t, data)

	checked := 0
	for _, run := range decodeShown(t, data).Runs {
		rules := run.Tool.Driver.Rules
		for _, res := range run.Results {
			require.Less(t, res.RuleIndex, len(rules))
			rl := rules[res.RuleIndex]
			require.Equal(t, res.RuleID, rl.ID)
			sev := report.Severity(res.Properties["severity"].(string))
			assert.Equal(t, asShown(sev), gitHubSeverity(t, rl.Properties["security-severity"]), "result of %s (%s)", res.RuleID, sev)
			assert.Equal(t, Level(sev), rl.DefaultConfiguration.Level, res.RuleID)
			assert.Equal(t, res.Level, rl.DefaultConfiguration.Level, res.RuleID)
			checked++
		}
	}
	assert.Equal(t, 9+5*5+5, checked)
}

// A result's rule id follows from its finding and its rule's declared
// severity alone: the finding's rule when the severities are equal, else
// "<rule>/<severity>"; never from the other findings of the run, so that
// GitHub's alert identity (which includes the rule id) does not change when
// another finding comes or goes.
func TestRuleIDsDependOnTheFindingOnly(t *testing.T) {
	rules := []report.Rule{{Scanner: "posture", ID: "aegis.mutableImageTag", Title: "Image not pinned by digest", Severity: report.Medium}}
	low := finding("posture", "aegis.mutableImageTag", report.Low, report.New, "a.yaml", 3, "api")
	medium := finding("posture", "aegis.mutableImageTag", report.Medium, report.New, "a.yaml", 9, "web")
	unlisted := finding("posture", "aegis.unlisted", report.High, report.New, "a.yaml", 12, "web")
	unknown := finding("posture", "aegis.mutableImageTag", "severe", report.New, "a.yaml", 15, "db")

	ids := func(fs ...report.Finding) map[string]string { // resource name -> rule id
		data, _ := write(t, &report.Report{Rules: rules, Findings: fs}, Options{})
		requireIngestible(t, data)
		var log struct {
			Runs []struct {
				Results []struct {
					RuleID     string         `json:"ruleId"`
					Properties map[string]any `json:"properties"`
				}
			}
		}
		require.NoError(t, json.Unmarshal(data, &log))
		out := map[string]string{}
		for _, res := range log.Runs[0].Results {
			out[res.Properties["resource"].(string)] = res.RuleID
		}
		return out
	}
	assert.Equal(t, map[string]string{"Deployment/shop/api/app": "aegis.mutableImageTag/low"}, ids(low))
	assert.Equal(t, map[string]string{"Deployment/shop/web/app": "aegis.mutableImageTag"}, ids(medium))
	assert.Equal(t, map[string]string{
		"Deployment/shop/api/app": "aegis.mutableImageTag/low",
		"Deployment/shop/web/app": "aegis.mutableImageTag",
	}, ids(low, medium))
	// A rule the report lacks declares no severity: each finding goes to
	// the rule of its own severity, alone or not.
	assert.Equal(t, map[string]string{"Deployment/shop/web/app": "aegis.unlisted/high"}, ids(unlisted))
	// A severity aegis does not know is info, as its level and score are.
	assert.Equal(t, map[string]string{"Deployment/shop/db/app": "aegis.mutableImageTag/info"}, ids(unknown))
}

// The split rule keeps its rule's metadata and page, with its own severity.
func TestSplitRule(t *testing.T) {
	data, _ := write(t, fixture(), Options{ToolVersion: "1.4.0"})
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID               string
						HelpURI          string                    `json:"helpUri"`
						ShortDescription struct{ Text string }     `json:"shortDescription"`
						Help             struct{ Markdown string } `json:"help"`
						Properties       map[string]any
					}
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(data, &log))
	posture := log.Runs[1].Tool.Driver.Rules
	require.Equal(t, "aegis.mutableImageTag/low", posture[0].ID)
	assert.Equal(t, "Image not pinned by digest", posture[0].ShortDescription.Text)
	assert.Equal(t, "https://github.com/kube-sentient/aegis/blob/v1.4.0/docs/rules/aegis.mutableImageTag.md", posture[0].HelpURI)
	assert.Equal(t, "3.0", posture[0].Properties["security-severity"])
	assert.Contains(t, posture[0].Help.Markdown, "These are the rule's low findings; the rule is declared medium.")
}

// Every rule has an absolute helpUri: aegis's own rules their page in this
// repository at the release's tag (main for a development build), the
// other scanners' rules their own helpUri, else their scanner's page.
func TestHelpURIOfEveryRule(t *testing.T) {
	const base = "https://github.com/kube-sentient/aegis/blob/"
	for _, tc := range []struct {
		scanner, id, own, version, want string
	}{
		{"posture", "pss.privileged", "https://kubernetes.io/docs/concepts/security/pod-security-standards/", "v1.2.3", base + "v1.2.3/docs/rules/pss.privileged.md"},
		{"posture", "aegis.secretInEnv", "", "1.2.3", base + "v1.2.3/docs/rules/aegis.secretInEnv.md"},
		{"health", "health.crashLoop", "", "dev", base + "main/docs/rules/health.crashLoop.md"},
		{"admission", "admission.warning", "", "", base + "main/docs/rules/admission.warning.md"},
		{"trivy", "KSV-0014", "https://avd.aquasec.com/misconfig/ksv-0014", "v1.2.3", "https://avd.aquasec.com/misconfig/ksv-0014"},
		{"trivy", "KSV-0014", "", "v1.2.3", base + "v1.2.3/docs/rules/trivy.md"},
		{"trivy-image", "CVE-2024-0001", "not a uri", "v1.2.3", base + "v1.2.3/docs/rules/trivy.md"},
		{"semgrep", "rules.no-latest", "", "v1.2.3", base + "v1.2.3/docs/rules/semgrep.md"},
		{"falco", "Terminal shell in container", "https://falco.org/docs/reference/rules/default-rules/", "v1.2.3", "https://falco.org/docs/reference/rules/default-rules/"},
		{"zap", "zap.10021", "", "v1.2.3", base + "v1.2.3/docs/rules/zap.md"},
		{"wapiti", "wapiti.xss", "", "v1.2.3", base + "v1.2.3/docs/rules/wapiti.md"},
		{"other", "x", "", "v1.2.3", base + "v1.2.3/docs/rules/README.md"},
		{"posture", "aegis.odd id/..", "", "v1.2.3", base + "v1.2.3/docs/rules/aegis.odd%20id%2F...md"},
	} {
		got := HelpURI(tc.scanner, tc.id, tc.own, tc.version)
		assert.Equal(t, tc.want, got, "%s %s", tc.scanner, tc.id)
		assert.True(t, absoluteURI(got), got)
	}

	data, _ := write(t, fixture(), Options{ToolVersion: "v0.1.0", IncludeAbsent: true})
	n := 0
	for _, run := range decodeShown(t, data).Runs {
		for _, rl := range run.Tool.Driver.Rules {
			assert.True(t, absoluteURI(rl.HelpURI), "rule %s: helpUri %q", rl.ID, rl.HelpURI)
			n++
		}
	}
	assert.Equal(t, 8, n)
}

func TestRulesRef(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3":             "v1.2.3",
		"v1.2.3":            "v1.2.3",
		"v1.3.0-rc.1":       "v1.3.0-rc.1",
		"dev":               "main",
		"":                  "main",
		"92cf6fa":           "main",
		"v1.2.3-4-gabc1234": "main", // git describe past the tag
		"v1.2.3-dirty":      "main",
		"1.2.3+build.5":     "main",
		"v1.2":              "main",
	} {
		assert.Equal(t, want, RulesRef(in), in)
	}
}

func TestRulePage(t *testing.T) {
	assert.Equal(t, "docs/rules/pss.privileged.md", RulePage("posture", "pss.privileged"))
	assert.Equal(t, "docs/rules/trivy.md", RulePage("trivy-image", "CVE-2024-0001"))
	assert.Equal(t, "docs/rules/README.md", RulePage("other", "x"))
	assert.Equal(t, []string{"falco", "semgrep", "trivy", "wapiti", "zap"}, ScannerPages())
}

// SARIF 2.1.0 defines -1 as "not set" for index, parentIndex, a location's
// id, a region's byteOffset and charOffset, rank and the like; writing it
// is the same as leaving the property out. None is written: no number in
// the golden logs is negative.
func TestNoUnsetSentinels(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden.sarif"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc any
		require.NoError(t, json.Unmarshal(data, &doc))
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					walk(path+"."+k, e)
				}
			case []any:
				for i, e := range v {
					walk(path+"["+strconv.Itoa(i)+"]", e)
				}
			case float64:
				assert.GreaterOrEqual(t, v, 0.0, "%s: %s", f, path)
			}
		}
		walk("$", doc)
		assert.NotContains(t, string(data), ": -1", f)
	}
}

func TestStripUnset(t *testing.T) {
	for in, want := range map[string]string{
		`{"index":-1,"uri":"a"}`:                         `{"uri":"a"}`,
		`{"uri":"a","index":-1}`:                         `{"uri":"a"}`,
		`{"index":-1}`:                                   `{}`,
		`{"a":{"index":-1,"parentIndex":-1,"name":"x"}}`: `{"a":{"name":"x"}}`,
		`[{"id":-1},{"id":-1,"rank":-1}]`:                `[{},{}]`,
		// Not a sentinel: another value, another key, text in a string.
		`{"index":-10,"rank":-1.5,"startLine":-1}`:      `{"index":-10,"rank":-1.5,"startLine":-1}`,
		`{"text":"{\"index\":-1,\"id\":-1}","index":0}`: `{"text":"{\"index\":-1,\"id\":-1}","index":0}`,
		`{"text":"a\\","index":-1}`:                     `{"text":"a\\"}`,
		`{"text":",\"index\":-1}","id":"-1"}`:           `{"text":",\"index\":-1}","id":"-1"}`,
		`{"indexes":-1,"xindex":-1}`:                    `{"indexes":-1,"xindex":-1}`,
	} {
		assert.Equal(t, want, string(stripUnset([]byte(in))), in)
		assert.True(t, json.Valid(stripUnset([]byte(in))), in)
	}
}
