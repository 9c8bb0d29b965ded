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
	require.True(t, strings.HasPrefix(out, testMarker+"\n### ❌ aegis: FAIL\n\nFailed: the change introduces 1 new finding"), "marker first, then the verdict and its reason")
	// What the change fixes and introduces is named before any fold.
	firstFold := strings.Index(out, "<details>")
	fixes := strings.Index(out, "**This change fixes 1 problem:**\n\n- 🟠 high · **Privileged container** · [pss.privileged](")
	introduces := strings.Index(out, "**This change introduces 3 problems:**\n\n- 🔴 critical · **openssl: buffer overflow**")
	require.True(t, fixes > 0 && introduces > fixes && firstFold > introduces, "named lists first:\n%s", out)
	assert.Contains(t, out, "Findings: 3 new (1 critical, 1 high, 1 medium; 1 waived) · 1 fixed (1 high) · 2 unchanged (1 medium, 1 low)")
	assert.Contains(t, out, "#### ⏰ Expired waivers (1)")
	assert.Contains(t, out, "<details><summary>Resource diff: 1 added, 0 removed, 1 changed</summary>")
	assert.Contains(t, out, "- ➖ **semgrep** is not installed (head); the policy accepts that (allowMissing)", "an accepted missing scanner has its own icon")
	assert.Equal(t, 1, strings.Count(out, "❌"), "only the verdict: no scanner failed")
	assert.Contains(t, out, "| semgrep | 0 | 0 | 0 | — | ➖ missing (accepted) |")
	for _, fold := range []string{"🆕 New problems (3)", "✅ Fixed problems (1)", "Scanner runs (5)", "Waived findings (1)", "Unchanged problems (2)", "All reasons for the verdict (4)"} {
		assert.Contains(t, out, "<details><summary>"+fold+"</summary>")
	}
	assert.NotContains(t, out, "| Severity |", "findings are list items, which wrap to the comment's width")
	assert.Equal(t, strings.Count(out, "<details>"), strings.Count(out, "</details>"))
}

func TestMarkdownScannerNotesOnlyWhenNotable(t *testing.T) {
	r := fixtureReport()
	r.Scanners = reporttest.OKRuns("posture", "trivy")
	assert.NotContains(t, Markdown(r, MarkdownOptions{}), "**Scanners:**", "every scanner ran: nothing to say")

	r.Scanners = append(r.Scanners,
		report.ScannerRun{Name: "zap", Side: "head", Status: report.StatusSkipped, Error: "opt-in: not enabled"},
		report.ScannerRun{Name: "zap", Side: "base", Status: report.StatusSkipped, Error: "opt-in: not enabled"},
		report.ScannerRun{Name: "falco", Side: "base", Status: report.StatusSkipped, Error: "opt-in: set scanners.falco.enabled"},
		report.ScannerRun{Name: "wapiti", Side: "head", Status: report.StatusSkipped, Error: "no URL to scan"},
		report.ScannerRun{Name: "semgrep", Side: "head", Status: report.StatusError, Missing: true, Error: "not found"},
		report.ScannerRun{Name: "falco", Side: "head", Status: report.StatusError, Error: "timed out"})
	out := Markdown(r, MarkdownOptions{})
	notes := "**Scanners:**\n\n" +
		"- ⚠️ **falco** failed on head; the policy accepts that (allowError): timed out\n" +
		"- ➖ **semgrep** is not installed (head); the policy accepts that (allowMissing)\n" +
		"- ⏭️ **wapiti** did not run on head: no URL to scan\n" +
		"- ⏭️ Not enabled (opt-in, `scanners.NAME.enabled` in the policy): falco, zap\n"
	assert.Contains(t, out, notes, "failures first, sides merged, a stable order")

	r.Verdict = report.Error // undecided: the failures are why
	out = Markdown(r, MarkdownOptions{})
	assert.Contains(t, out, "- ❌ **falco** failed on head: timed out\n- ❌ **semgrep** failed on head: not found\n")
}

func TestMarkdownLinks(t *testing.T) {
	r := fixtureReport()
	r.Changes = append(r.Changes, report.ResourceChange{Change: "removed", Kind: "ConfigMap", Namespace: "shop", Name: "old", Path: "base/old cm.yaml"})
	head, base := "https://github.com/acme/shop/blob/bbbb/", "https://github.com/acme/shop/blob/aaaa"
	out := Markdown(r, MarkdownOptions{Links: Links{Head: head, Base: base}})
	assert.Contains(t, out, "[overlays/prod/patch-api.yaml:12](https://github.com/acme/shop/blob/bbbb/overlays/prod/patch-api.yaml#L12)", "a new problem at the head's commit")
	assert.Contains(t, out, "[base/deployment.yaml:24](https://github.com/acme/shop/blob/aaaa/base/deployment.yaml#L24)", "a fixed problem at the base's commit")
	assert.Contains(t, out, "**changed** Deployment shop/web · [base/deployment.yaml](https://github.com/acme/shop/blob/bbbb/base/deployment.yaml)")
	assert.Contains(t, out, "**removed** ConfigMap shop/old · [base/old cm.yaml](https://github.com/acme/shop/blob/aaaa/base/old%20cm.yaml)", "a removed object at the base")
	assert.Contains(t, out, "[pss.privileged](https://github.com/kube-sentient/aegis/blob/v0.1.0/docs/rules/pss.privileged.md)", "aegis's rules link to their page at the release")

	// Without prefixes, locations are text; rules still link.
	out = Markdown(r, MarkdownOptions{})
	assert.NotContains(t, out, "](https://github.com/acme/")
	assert.Contains(t, out, "· overlays/prod/patch-api.yaml:12")

	// A path that does not name a file of the repository, or a prefix that
	// is not http(s), gives no link.
	for _, p := range []string{"/etc/passwd", "../x.yaml", "a/../../x.yaml", "a\\b.yaml", "./a.yaml"} {
		assert.Empty(t, lineURL(head, p, 1), p)
	}
	assert.Equal(t, "https://github.com/acme/shop/blob/bbbb/a/%5Bx%5D%28y%29.yaml#L3", lineURL(head, "a/[x](y).yaml", 3), "escaped: the path cannot end the link")
	out = Markdown(r, MarkdownOptions{Links: Links{Head: "javascript:alert(1)//", Base: "file:///etc/"}})
	assert.NotContains(t, out, "javascript:")
	assert.NotContains(t, out, "file:")
}

func TestMarkdownResourceDiff(t *testing.T) {
	r := fixtureReport()
	hostileDiff := "--- base/Deployment/shop/web\n+++ head/Deployment/shop/web\n@@ -1,2 +1,2 @@\n-  image: nginx:1.25\n+  image: nginx:1.26 ```` </details> <script>x</script> @acme/team \u202e\n"
	r.Changes[1].Diff = hostileDiff
	var long strings.Builder
	for i := range 500 {
		fmt.Fprintf(&long, "+  line%d: value\n", i)
	}
	r.Changes[0].Diff = long.String()
	out := Markdown(r, MarkdownOptions{})
	// A fence longer than any backtick run in the diff: nothing in it can
	// close the fence, and within a fence nothing is HTML or a mention.
	assert.Contains(t, out, "`````diff\n--- base/Deployment/shop/web\n")
	assert.Contains(t, out, "+  image: nginx:1.26 ```` </details> <script>x</script> @acme/team \n`````\n")
	assert.NotContains(t, out, "\u202e")
	assert.Contains(t, out, "+  line59: value\n```\n", "a long diff is cut at 60 lines")
	assert.NotContains(t, out, "line60:")
	assert.Contains(t, out, "… 440 more lines: `aegis diff` prints them all.")
	assert.Equal(t, strings.Count(out, "<details>"), strings.Count(out, "</details>")-1, "the diff's </details> is code, not a tag")
}

func TestMarkdownHidesLocalPaths(t *testing.T) {
	r := fixtureReport()
	r.Base.Source, r.Head.Source = "/home/runner/work/shop/base-checkout", "/tmp/aegis-123/head"
	out := Markdown(r, MarkdownOptions{})
	assert.NotContains(t, out, "/home/runner")
	assert.NotContains(t, out, "/tmp/")
	assert.Contains(t, out, "(…/base-checkout, kustomize)")
	assert.Contains(t, out, "(…/head, kustomize)")
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
			assert.Contains(t, out, "**Scanners:** none ran.")
			assert.Contains(t, out, "**This change fixes** no finding.\n\n**This change introduces** no finding.")
		})
	}
}

// bigReport is the large change: 5,000 new, 5,000 fixed and 5,000
// unchanged findings, and 300 changed objects, each with a diff.
func bigReport() *report.Report {
	r := &report.Report{
		Tool:     report.Tool{Name: "aegis", Version: "v1.2.3"},
		Findings: report.Delta(reporttest.ManyFindings(10_000, 0), reporttest.ManyFindings(10_000, 5_000)),
		Scanners: reporttest.OKRuns("posture", "trivy", "semgrep"),
	}
	for i := range 300 {
		var d strings.Builder
		fmt.Fprintf(&d, "--- base/Deployment/default/app-%d\n+++ head/Deployment/default/app-%d\n@@ -1,20 +1,20 @@\n", i, i)
		for j := range 20 {
			fmt.Fprintf(&d, "-  key%d: old value %d\n+  key%d: new value %d\n", j, j, j, j)
		}
		r.Changes = append(r.Changes, report.ResourceChange{Change: "changed", Kind: "Deployment", Namespace: "default",
			Name: fmt.Sprintf("app-%d", i), Path: fmt.Sprintf("manifests/app-%d.yaml", i%100), Diff: d.String()})
	}
	judge.Gate(r, nil, reporttest.Now)
	return r
}

func TestMarkdownLargeChangeFitsGitHubLimit(t *testing.T) {
	r := bigReport()
	out := Markdown(r, MarkdownOptions{Marker: testMarker, DetailsURL: testURL, Links: Links{Head: "https://github.com/a/b/blob/h/", Base: "https://github.com/a/b/blob/b/"}})
	n := utf8.RuneCountInString(out)
	assert.LessOrEqual(t, n, 65536)
	assert.Greater(t, n, 60000, "the budget is used, not wasted")
	assert.True(t, strings.HasPrefix(out, testMarker+"\n### ❌ aegis: FAIL\n"))
	// The named lists are whole, before anything else, however large the
	// change.
	fixes, introduces, nFixes, nIntroduces := Named(r)
	require.Len(t, fixes, MaxNamed)
	require.Len(t, introduces, MaxNamed)
	assert.Equal(t, 5000, nFixes+0*nIntroduces) // ManyFindings gives distinct problems
	firstFold := strings.Index(out, "<details>")
	for _, p := range append(fixes, introduces...) {
		i := strings.Index(out, mdText(p.Resource.String(), 160))
		assert.True(t, i > 0 && i < firstFold, "%s named before the folds", p.Resource)
	}
	assert.Contains(t, out, "**This change introduces 5000 problems:**")
	assert.Contains(t, out, "- … and 4995 more, listed below\n")
	s := r.Summary
	assert.Contains(t, out, fmt.Sprintf("Findings: %d new (", s.New))
	assert.Contains(t, out, "<details><summary>Resource diff: 0 added, 0 removed, 300 changed</summary>")
	assert.Regexp(t, `\n… and \d+ more \(see \[details\]\(`+regexp.QuoteMeta(testURL)+`\)\)\n`, out, "the new list is shortened with a pointer")
	assert.Contains(t, out, "5000 unchanged problems not listed here")
	assert.Contains(t, out, "300 resource changes not listed here", "diffs go before the fixed and new lists")
	assert.Contains(t, out, "<details><summary>Scanner runs (6)</summary>\n\n| Scanner | New |", "the few scanner rows outlast the new list")
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
		return strings.Count(sec, "\n- ")
	}
	tests := []struct {
		name                    string
		limit                   int
		news, fixed, unchanged  int // rows expected; -1: shortened but some rows shown
		shortenedNote, noneNote bool
	}{
		{name: "fits", limit: fullLen, news: 30, fixed: 30, unchanged: 30},
		{name: "one rune short drops from unchanged", limit: fullLen - 1, news: 30, fixed: 30, unchanged: -1},
		{name: "then fixed", limit: fullLen - 30*230 - 1000, news: 30, fixed: -1, unchanged: 0},
		{name: "then new", limit: fullLen - 60*230 - 1500, news: -1, fixed: 0, unchanged: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Markdown(r, MarkdownOptions{MaxChars: tt.limit})
			assert.LessOrEqual(t, utf8.RuneCountInString(out), tt.limit)
			assert.True(t, strings.HasPrefix(out, "### ❌ aegis: FAIL\n"))
			assert.Contains(t, out, "**This change introduces 30 problems:**", "the named lists are never dropped")
			assert.Contains(t, out, "**This change fixes 30 problems:**")
			assert.Contains(t, out, "<sub>Findings: 30 new")
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
	// A location that is not a clean path is not linked, whatever the prefix.
	linked := Markdown(r, MarkdownOptions{Links: Links{Head: "https://github.com/a/b/blob/c/", Base: "https://github.com/a/b/blob/d/"}})
	assert.NotContains(t, linked, "[dir/")
	assert.NotContains(t, linked, "[click](")
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
