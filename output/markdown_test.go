package output

import (
	"flag"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/internal/reporttest"
	"github.com/kube-sentient/aegis/judge"
	"github.com/kube-sentient/aegis/report"
)

const (
	testMarker = "<!-- aegis:default -->"
	testURL    = "https://github.com/acme/shop/actions/runs/42"
)

func TestMarkdownGolden(t *testing.T) {
	out := Markdown(fixtureReport(), MarkdownOptions{Marker: testMarker, DetailsURL: testURL})
	reporttest.Golden(t, "comment.golden.md", []byte(out))
}

func TestMarkdownStructure(t *testing.T) {
	out := Markdown(fixtureReport(), MarkdownOptions{Marker: testMarker, DetailsURL: testURL})
	require.True(t, strings.HasPrefix(out, testMarker+"\n### ❌ aegis: FAIL\n"), "marker first, then the verdict")
	assert.Contains(t, out, "| 🆕 **New** | 1 | 1 | 1 | 0 | 0 | **3** |")
	assert.Contains(t, out, "| ✅ Fixed | 0 | 1 | 0 | 0 | 0 | **1** |")
	assert.Contains(t, out, "overlays/prod/patch-api.yaml:12", "new findings with file:line")
	assert.Contains(t, out, "<details><summary>✅ Fixed problems (1)</summary>")
	assert.Contains(t, out, "Resource changes: 1 added, 0 removed, 1 changed")
	assert.Contains(t, out, "| semgrep | 0 | 0 | 0 | — | ❌ missing |")
	assert.Contains(t, out, "⏰ Expired waivers (1)")
	assert.Equal(t, strings.Count(out, "<details>"), strings.Count(out, "</details>"))
}

func TestMarkdownVerdicts(t *testing.T) {
	tests := []struct {
		verdict report.Verdict
		want    string
	}{
		{report.Pass, "### ✅ aegis: PASS\n"},
		{report.Fail, "### ❌ aegis: FAIL\n"},
		{report.Error, "### ⚠️ aegis: ERROR\n"},
		{"", "### ⚠️ aegis: ERROR\n\nThe report has no valid verdict"},
		{"pass!", "### ⚠️ aegis: ERROR\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.verdict), func(t *testing.T) {
			out := Markdown(&report.Report{Verdict: tt.verdict}, MarkdownOptions{})
			assert.True(t, strings.HasPrefix(out, tt.want), out)
			assert.Contains(t, out, "No scanner ran.")
			assert.Contains(t, out, "None: the change introduces no finding.")
		})
	}
}

// bigReport has 10,000 findings per side, half shared: 5,000 new, 5,000
// unchanged, 5,000 fixed, and 2,000 resource changes.
func bigReport() *report.Report {
	r := &report.Report{
		Findings: report.Delta(reporttest.ManyFindings(10_000, 0), reporttest.ManyFindings(10_000, 5_000)),
		Scanners: reporttest.OKRuns("posture", "trivy", "semgrep"),
	}
	for i := range 2000 {
		r.Changes = append(r.Changes, report.ResourceChange{Change: []string{"added", "removed", "changed"}[i%3], Kind: "Deployment", Namespace: "default", Name: fmt.Sprintf("app-%d", i)})
	}
	judge.Gate(r, nil, reporttest.Now)
	return r
}

func TestMarkdownTenThousandFindingsFitsGitHubLimit(t *testing.T) {
	r := bigReport()
	out := Markdown(r, MarkdownOptions{Marker: testMarker, DetailsURL: testURL})
	n := utf8.RuneCountInString(out)
	assert.LessOrEqual(t, n, 65536)
	assert.Greater(t, n, 60000, "the budget is used, not wasted")
	assert.True(t, strings.HasPrefix(out, testMarker+"\n### ❌ aegis: FAIL\n"))
	s := r.Summary
	assert.Contains(t, out, fmt.Sprintf("| 🆕 **New** | %d | %d | %d | %d | %d | **%d** |",
		s.NewBySeverity[report.Critical], s.NewBySeverity[report.High], s.NewBySeverity[report.Medium], s.NewBySeverity[report.Low], s.NewBySeverity[report.Info], s.New))
	assert.Contains(t, out, fmt.Sprintf("| ✅ Fixed | %d | %d | %d | %d | %d | **%d** |",
		s.FixedBySeverity[report.Critical], s.FixedBySeverity[report.High], s.FixedBySeverity[report.Medium], s.FixedBySeverity[report.Low], s.FixedBySeverity[report.Info], s.Fixed))
	assert.Contains(t, out, "| Scanner | New | Fixed | Unchanged | Base | Head |")
	assert.Contains(t, out, "| posture | ")
	assert.Regexp(t, `\n… and \d+ more \(see \[details\]\(`+regexp.QuoteMeta(testURL)+`\)\)\n`, out, "the new list is truncated with a pointer")
	assert.Contains(t, out, "5000 fixed problems not listed here")
	assert.Contains(t, out, "5000 unchanged problems not listed here")
	assert.Contains(t, out, "<details><summary>Scanner runs (6)</summary>\n\n| Scanner | Side |", "the few scanner rows outlast the new list")
	assert.Contains(t, out, "Some lists were shortened to fit GitHub's comment size limit.")
	assert.Equal(t, strings.Count(out, "<details>"), strings.Count(out, "</details>"), "no <details> left open")
}

// TestMarkdownDegradesInStages shrinks the budget step by step and checks
// which lists are still complete at each step.
func TestMarkdownDegradesInStages(t *testing.T) {
	r := &report.Report{Findings: report.Delta(reporttest.ManyFindings(60, 0), reporttest.ManyFindings(60, 30)), Scanners: reporttest.OKRuns("posture")}
	judge.Gate(r, nil, reporttest.Now)
	full := Markdown(r, MarkdownOptions{})
	fullLen := utf8.RuneCountInString(full)
	rows := func(out, title string) int {
		_, sec, ok := strings.Cut(out, title)
		require.True(t, ok, "section %q present", title)
		for _, end := range []string{"</details>", "\n<details>", "\n#### ", "<sub>"} {
			sec, _, _ = strings.Cut(sec, end)
		}
		return strings.Count(sec, "\n| ") - 1 // minus the delimiter row
	}
	tests := []struct {
		name                    string
		limit                   int
		news, fixed, unchanged  int // rows expected; -1: shortened but some rows shown
		shortenedNote, noneNote bool
	}{
		{name: "fits", limit: fullLen, news: 30, fixed: 30, unchanged: 30},
		{name: "one rune short drops from unchanged", limit: fullLen - 1, news: 30, fixed: 30, unchanged: -1},
		{name: "then fixed", limit: fullLen - 30*150 - 1000, news: 30, fixed: -1, unchanged: 0},
		{name: "then new", limit: fullLen - 60*150 - 1500, news: -1, fixed: 0, unchanged: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Markdown(r, MarkdownOptions{MaxChars: tt.limit})
			assert.LessOrEqual(t, utf8.RuneCountInString(out), tt.limit)
			assert.True(t, strings.HasPrefix(out, "### ❌ aegis: FAIL\n"))
			assert.Contains(t, out, "| 🆕 **New** |")
			assert.Contains(t, out, "| ✅ Fixed |")
			assert.Contains(t, out, "| Unchanged |")
			check := func(title string, want int) {
				got := rows(out, title)
				if want < 0 {
					assert.Greater(t, got, 0, title)
					assert.Less(t, got, 30, title)
				} else {
					if want == 0 {
						got = max(got, 0)
					}
					assert.Equal(t, want, got, title)
				}
			}
			check("New problems (30)", tt.news)
			check("Fixed problems (30)", tt.fixed)
			check("Unchanged problems (30)", tt.unchanged)
		})
	}
}

func TestMarkdownTinyLimitStillBounded(t *testing.T) {
	r := fixtureReport()
	for _, limit := range []int{1, 50, 300, 1200} {
		out := Markdown(r, MarkdownOptions{MaxChars: limit, Marker: testMarker})
		assert.LessOrEqual(t, utf8.RuneCountInString(out), limit)
	}
}

func TestMarkdownEscapesHostileStrings(t *testing.T) {
	hostile := "evil|name\n| injected | row |\r<script>alert(1)</script> `code` [click](https://evil.example) @acme/security-team </details><!-- \u202egnp.exe"
	f := report.Finding{Scanner: "posture", RuleID: "rule|x", Severity: report.High, Title: hostile, Message: hostile,
		Resource: report.Resource{Kind: "Deployment", Namespace: "ns", Name: hostile, Container: hostile},
		Location: report.Location{Path: "dir/" + hostile + ".yaml", Line: 3}, BaselineState: report.New}
	r := &report.Report{
		Findings: []report.Finding{f, withState(f, report.Absent), withState(f, report.Unchanged)},
		Scanners: []report.ScannerRun{{Name: "posture", Side: "head", Status: report.StatusError, Error: hostile}},
		Changes:  []report.ResourceChange{{Change: "added", Kind: "Deployment", Name: hostile, Path: hostile}},
		Base:     report.Side{Source: hostile, Digest: hostile},
	}
	cfg := config.Default()
	cfg.Waivers = []config.Waiver{waiver("rule|x", "", "", "2000-01-01")}
	cfg.Waivers[0].Owner = hostile
	judge.Gate(r, cfg, reporttest.Now)
	out := Markdown(r, MarkdownOptions{Marker: testMarker, DetailsURL: "javascript:alert(1)"})

	for _, bad := range []string{"<script", "</script", "<!-- \u202e", "\u202e", "[click](", "@acme", "`code`", "| injected | row |", "javascript:"} {
		assert.NotContains(t, out, bad)
	}
	assert.Contains(t, out, "&lt;script&gt;")
	assert.Contains(t, out, "@\u2060acme/security-team")
	assert.Equal(t, 1, strings.Count(out, "<!--"), "only the marker opens a comment")
	assert.Equal(t, strings.Count(out, "<details>"), strings.Count(out, "</details>"))
	// Every table row keeps its column count: no cell was broken out of.
	unescapedPipe := regexp.MustCompile(`(^|[^\\])\|`)
	cols := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := len(unescapedPipe.FindAllString(line, -1))
		if cols == 0 {
			cols = n // the header row
		}
		assert.Equal(t, cols, n, "row %q", line)
	}
}

func TestMarkdownIgnoresUnsafeDetailsURL(t *testing.T) {
	for _, u := range []string{"javascript:alert(1)", "ftp://x/y", "not a url", "https://"} {
		out := Markdown(fixtureReport(), MarkdownOptions{DetailsURL: u})
		assert.NotContains(t, out, "[Full details]", u)
	}
	out := Markdown(fixtureReport(), MarkdownOptions{DetailsURL: "https://x.example/a (b)"})
	assert.Contains(t, out, "[Full details](https://x.example/a%20%28b%29)")
}

func BenchmarkMarkdown(b *testing.B) {
	r := bigReport()
	b.ReportAllocs()
	for b.Loop() {
		Markdown(r, MarkdownOptions{Marker: testMarker, DetailsURL: testURL})
	}
}

func TestMarkdownMarker(t *testing.T) {
	tests := []struct{ marker, wantPrefix string }{
		{"<!-- aegis:default -->", "<!-- aegis:default -->\n### "},
		{"<!-- aegis:prod/app -->", "<!-- aegis:prod/app -->\n### "},
		{"<!-- open", "&lt;\\!-- open\n\n### "},
		{"<!-- a --> <script> -->", "&lt;\\!-- a --&gt; &lt;script&gt; --&gt;\n\n### "},
		{"", "### "},
	}
	for _, tt := range tests {
		out := Markdown(nil, MarkdownOptions{Marker: tt.marker})
		assert.True(t, strings.HasPrefix(out, tt.wantPrefix), "%q gave %q", tt.marker, out[:min(len(out), 60)])
	}
}

// update rewrites the golden files under testdata: go test ./output -update
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// fixtureReport is the shared fixture, gated.
func fixtureReport() *report.Report {
	r := reporttest.Report()
	judge.Gate(r, reporttest.Config(), reporttest.Now)
	return r
}

func withState(f report.Finding, s report.State) report.Finding { f.BaselineState = s; return f }

func waiver(rule, fp, res, expires string) config.Waiver {
	w := config.Waiver{RuleID: rule, Fingerprint: fp, Resource: res, Reason: "accepted risk", Owner: "alice", Expires: expires, Line: 7}
	day, _ := time.Parse("2006-01-02", expires)
	w.ExpiresAt = day.AddDate(0, 0, 1)
	return w
}
