package output

import (
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

// checkGitLab checks doc against GitLab's Code Quality report format
// (docs.gitlab.com, "Code Quality report format"), in the test's own
// words, and returns the issues.
func checkGitLab(t *testing.T, doc string) []map[string]any {
	t.Helper()
	require.True(t, json.Valid([]byte(doc)), "valid JSON")
	var issues []map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &issues), "a JSON array of objects")
	require.NotNil(t, issues, "an array, never null")
	severities := []string{"info", "minor", "major", "critical", "blocker"}
	fingerprints := map[string]bool{}
	drive := regexp.MustCompile(`^[A-Za-z]:`)
	for i, is := range issues {
		for k := range is {
			assert.Contains(t, []string{"description", "check_name", "fingerprint", "severity", "location"}, k, "issue %d: unknown field", i)
		}
		desc, ok := is["description"].(string)
		assert.True(t, ok && desc != "", "issue %d: description is a non-empty string", i)
		assert.NotContains(t, desc, "\n", "issue %d: description is one line", i)
		name, ok := is["check_name"].(string)
		assert.True(t, ok && name != "", "issue %d: check_name is a string", i)
		fp, ok := is["fingerprint"].(string)
		assert.True(t, ok && fp != "", "issue %d: fingerprint is a non-empty string", i)
		assert.False(t, fingerprints[fp], "issue %d: fingerprint %s is unique", i, fp)
		fingerprints[fp] = true
		sev, _ := is["severity"].(string)
		assert.Contains(t, severities, sev, "issue %d: severity", i)

		loc, ok := is["location"].(map[string]any)
		require.True(t, ok, "issue %d: location is an object", i)
		path, ok := loc["path"].(string)
		assert.True(t, ok && path != "", "issue %d: location.path is a non-empty string", i)
		assert.False(t, strings.HasPrefix(path, "/") || drive.MatchString(path), "issue %d: path %q is relative", i, path)
		assert.NotContains(t, path, `\`, "issue %d: forward slashes", i)
		assert.False(t, path == ".." || strings.HasPrefix(path, "../") || strings.Contains(path, "/../"), "issue %d: path %q stays in the repository", i, path)
		lines, ok := loc["lines"].(map[string]any)
		require.True(t, ok, "issue %d: location.lines is an object", i)
		begin, ok := lines["begin"].(float64)
		assert.True(t, ok, "issue %d: lines.begin is a number", i)
		assert.Equal(t, float64(int(begin)), begin, "issue %d: lines.begin is an integer", i)
		assert.GreaterOrEqual(t, begin, 1.0, "issue %d: lines.begin >= 1", i)
	}
	return issues
}

func TestGitLabGolden(t *testing.T) {
	ciGolden(t, "report.golden.gitlab.json", []byte(writeString(t, GitLab(), ciFixture())))
}

func TestGitLabContents(t *testing.T) {
	issues := checkGitLab(t, writeString(t, GitLab(), ciFixture()))
	byCheck := map[string]map[string]any{}
	for _, is := range issues {
		byCheck[is["check_name"].(string)] = is
	}
	assert.Len(t, issues, 6, "one issue per open problem of the head")
	for check := range byCheck {
		assert.NotContains(t, check, "privileged", "a fixed problem is no issue")
	}

	hostPath := byCheck["aegis/posture/pss.hostPathVolumes"]
	require.NotNil(t, hostPath, "%v", byCheck)
	assert.Equal(t, "critical", hostPath["severity"], "high is critical")
	assert.Equal(t, `hostPath volume on Deployment/shop/api: volume "data" uses hostPath /var/lib/data (+2 more findings)`, hostPath["description"])
	assert.Equal(t, map[string]any{"path": "overlays/prod/patch-api.yaml", "lines": map[string]any{"begin": 12.0}}, hostPath["location"])

	cve := byCheck["aegis/trivy/CVE-2025-0001"]
	require.NotNil(t, cve)
	assert.Equal(t, "blocker", cve["severity"], "critical is blocker")
	assert.Equal(t, "openssl: buffer overflow on Deployment/shop/api container api and 1 more object: "+
		"openssl 3.0.1 in ghcr.io/acme/api:2.0 is affected by CVE-2025-0001 (waived: no fix released; not reachable)", cve["description"])

	probes := byCheck["aegis/posture/aegis.missingProbes"]
	assert.Equal(t, "overlays/prod/api.yaml", probes["location"].(map[string]any)["path"], "backslashes become slashes")
	assert.Equal(t, "major", probes["severity"])

	svc := byCheck["aegis/posture/aegis.serviceNodePort"]
	assert.Equal(t, map[string]any{"path": "kubernetes/Service/shop/api", "lines": map[string]any{"begin": 1.0}}, svc["location"],
		"a problem without a file names its resource, line 1")
	assert.Equal(t, "info", svc["severity"])
	assert.NotNil(t, byCheck["aegis/posture/pss.runAsNonRoot"], "an unchanged problem is still open")
	assert.NotNil(t, byCheck["aegis/posture/aegis.mutableImageTag"], "an updated problem is open")
}

func TestGitLabSeverities(t *testing.T) {
	want := map[report.Severity]string{
		report.Info: "info", report.Low: "minor", report.Medium: "major", report.High: "critical", report.Critical: "blocker",
		"": "critical", "bogus": "critical",
	}
	for sev, gl := range want {
		r := &report.Report{Findings: []report.Finding{{Scanner: "s", RuleID: "r", Severity: sev, BaselineState: report.New}}}
		issues := checkGitLab(t, writeString(t, GitLab(), r))
		require.Len(t, issues, 1)
		assert.Equal(t, gl, issues[0]["severity"], "severity %q", sev)
	}
}

func TestGitLabEmpty(t *testing.T) {
	assert.Equal(t, "[]\n", writeString(t, GitLab(), &report.Report{}))
	onlyFixed := &report.Report{Findings: []report.Finding{{Scanner: "s", RuleID: "r", Severity: report.High, BaselineState: report.Absent}}}
	assert.Equal(t, "[]\n", writeString(t, GitLab(), onlyFixed), "fixed problems are not issues")
	assert.Error(t, GitLab().Write(io.Discard, nil))
}

func TestGitLabFingerprints(t *testing.T) {
	fps := func(r *report.Report) []string {
		var out []string
		for _, is := range checkGitLab(t, writeString(t, GitLab(), r)) {
			out = append(out, is["fingerprint"].(string))
		}
		slices.Sort(out)
		return out
	}
	a := ciFixture()
	b := ciFixture()
	for i := range b.Findings {
		b.Findings[i].Location.Line += 7 // lines move: the problems stay
	}
	slices.Reverse(b.Findings)
	assert.Equal(t, fps(a), fps(b), "fingerprints are stable across runs")

	// Problems that share a key (report.Problems makes keys unique; the
	// writer does not rely on it) still get distinct fingerprints: GitLab
	// shows only the first issue of a fingerprint.
	issues := []gitlabIssue{{Description: "b"}, {Description: "a"}, {Description: "c"}}
	gitlabFingerprints(issues, []string{"k", "k", "other"})
	assert.NotEqual(t, issues[0].Fingerprint, issues[1].Fingerprint)
	again := []gitlabIssue{{Description: "a"}, {Description: "b"}, {Description: "c"}}
	gitlabFingerprints(again, []string{"k", "k", "other"})
	assert.Equal(t, issues[1].Fingerprint, again[0].Fingerprint, "occurrences are counted in a fixed order, not the input's")
	assert.Equal(t, issues[2].Fingerprint, again[2].Fingerprint)
	assert.Regexp(t, `^[0-9a-f]{32}$`, issues[0].Fingerprint)
}

func TestGitLabDeterministic(t *testing.T) {
	a := ciFixture()
	b := ciFixture()
	slices.Reverse(b.Findings)
	assert.Equal(t, writeString(t, GitLab(), a), writeString(t, GitLab(), b))
}

func TestGitLabHostileStrings(t *testing.T) {
	doc := writeString(t, GitLab(), hostileReport())
	issues := checkGitLab(t, doc)
	assert.NotEmpty(t, issues)
	for _, is := range issues {
		assert.LessOrEqual(t, len([]rune(is["description"].(string))), ciMessageLen)
	}
}

func TestRelPath(t *testing.T) {
	for in, want := range map[string]string{
		"overlays/prod/api.yaml":   "overlays/prod/api.yaml",
		`overlays\prod\api.yaml`:   "overlays/prod/api.yaml",
		"./a//b/../c.yaml":         "a/c.yaml",
		"/abs/chart/values.yaml":   "abs/chart/values.yaml",
		`C:\repo\app\values.yaml`:  "repo/app/values.yaml",
		"../../outside.yaml":       "outside.yaml",
		"line\nbreak.yaml":         "linebreak.yaml",
		"  spaced name.yaml ":      "spaced name.yaml",
		"":                         "",
		".":                        "",
		"\xff.yaml":                "\uFFFD.yaml",
		"charts/x/templates/a.yml": "charts/x/templates/a.yml",
	} {
		assert.Equal(t, want, ciRelPath(in), "ciRelPath(%q)", in)
	}
}
