// Command commentcases writes the cases of the browser check
// (hack/browser-check.sh, hack/screenshot check): for each report given,
// the PR comment and the job summary aegis renders for it, and what a
// reviewer must see in the first screen of each (the verdict, every named
// fix and new problem) and where its links must lead; and the same for a
// large generated change (5,000 new, 5,000 fixed and 5,000 unchanged
// findings, 300 changed objects). hack/comment-check.sh drives it.
//
//	commentcases -out DIR [-shots] NAME=REPORT.json ...
//
// The expected links are built here from the link prefixes and the
// findings' locations, not by the renderer's own functions, so that a
// renderer that links wrongly fails the check.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kube-sentient/aegis/action"
	"github.com/kube-sentient/aegis/internal/reporttest"
	"github.com/kube-sentient/aegis/judge"
	"github.com/kube-sentient/aegis/output"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/sarif"
)

// The link prefixes of the cases: a repository and two commits.
const (
	headURL = "https://github.com/acme/shop/blob/1111111111111111111111111111111111111111/"
	baseURL = "https://github.com/acme/shop/blob/2222222222222222222222222222222222222222/"
)

// kase is one page for hack/screenshot check (its format).
type kase struct {
	Name       string  `json:"name"`
	Markdown   string  `json:"markdown"`
	Verdict    string  `json:"verdict,omitempty"`
	Named      []named `json:"named,omitempty"`
	Links      []link  `json:"links,omitempty"`
	Screenshot string  `json:"screenshot,omitempty"`
}

type named struct {
	All []string `json:"all"`
}

type link struct {
	Text string `json:"text"`
	Href string `json:"href"`
}

func main() {
	out := flag.String("out", "", "directory to write the cases into")
	shots := flag.Bool("shots", false, "ask for a screenshot of each example's comment and summary")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: commentcases -out DIR [-shots] NAME=REPORT.json ...")
		os.Exit(2)
	}
	if err := run(*out, *shots, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "commentcases:", err)
		os.Exit(1)
	}
}

func run(out string, shots bool, args []string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, arg := range args {
		name, path, ok := strings.Cut(arg, "=")
		if !ok {
			return fmt.Errorf("%q: want NAME=REPORT.json", arg)
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		r, err := report.ReadJSON(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := write(out, name, r, shots, true); err != nil {
			return err
		}
	}
	if err := write(out, "large-change", large(), false, true); err != nil {
		return err
	}
	// The hostile page's strings are long by design (its labels are cut):
	// its case checks the verdict, the widths and that every link is
	// http(s), not the first screen or named links.
	return write(out, "hostile", hostile(), false, false)
}

// write renders r as a comment and as a summary, with their cases.
func write(dir, name string, r *report.Report, shots, firstScreen bool) error {
	links := output.Links{Head: headURL, Base: baseURL}
	pages := map[string]string{
		"comment": output.Markdown(r, output.MarkdownOptions{Marker: "<!-- aegis:default -->", DetailsURL: "https://github.com/acme/shop/actions/runs/1", Links: links}),
		"summary": action.Summary(r, links),
	}
	for kind, md := range pages {
		base := name + "-" + kind
		if err := os.WriteFile(filepath.Join(dir, base+".md"), []byte(md), 0o644); err != nil {
			return err
		}
		c := expect(r)
		c.Name, c.Markdown = name+" "+kind, base+".md"
		if !firstScreen {
			c.Named, c.Links = nil, nil
		}
		if shots {
			c.Screenshot = base + ".png"
		}
		data, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, base+".json"), append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// expect is what a reviewer must see: the verdict, and each problem the
// comment names (its rule and resource) with its links.
func expect(r *report.Report) kase {
	verdicts := map[report.Verdict]string{report.Pass: "aegis: PASS", report.Fail: "aegis: FAIL"}
	c := kase{Verdict: verdicts[r.Verdict]}
	if c.Verdict == "" {
		c.Verdict = "aegis: ERROR"
	}
	fixes, introduces, _, _ := output.Named(r)
	add := func(p report.Problem, prefix string) {
		lead := p.Findings[0]
		c.Named = append(c.Named, named{All: []string{lead.RuleID, p.Resource.String()}})
		if p.Location.Path != "" {
			href := prefix + p.Location.Path
			if p.Location.Line > 0 {
				href += fmt.Sprintf("#L%d", p.Location.Line)
			}
			c.Links = append(c.Links, link{Text: p.Location.String(), Href: href})
		}
		if sarif.OwnRule(lead.RuleID) {
			c.Links = append(c.Links, link{Text: lead.RuleID,
				Href: "https://github.com/kube-sentient/aegis/blob/" + sarif.RulesRef(r.Tool.Version) + "/docs/rules/" + lead.RuleID + ".md"})
		}
	}
	for _, p := range fixes {
		add(p, baseURL)
	}
	for _, p := range introduces {
		add(p, headURL)
	}
	return c
}

// hostile is a report whose every string a pull request could write is
// built to break the page: Markdown and HTML that would open tags, tables
// and links, unbreakable tokens far wider than the comment, a diff with
// its own fences and 400-character lines, and many failing scanners.
func hostile() *report.Report {
	long := strings.Repeat("x", 300)
	evil := "a|b <b>bold</b> [x](javascript:alert(1)) \x60code\x60 </details> @acme/team"
	var fs []report.Finding
	for i := range 8 {
		fs = append(fs, report.Finding{Scanner: "posture", RuleID: fmt.Sprintf("pss.privileged%d", i), Severity: report.High,
			Title: evil + " " + long, Message: evil + " " + long,
			Resource: report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "ns", Name: fmt.Sprintf("web-%d-%s", i, strings.Repeat("y", 60))},
			Location: report.Location{Path: "dir/" + long + ".yaml", Line: 3}, Image: "registry.example/" + long + ":1"})
	}
	head := fs[:4]
	base := fs[4:]
	r := &report.Report{
		Tool:     report.Tool{Name: "aegis", Version: "dev"},
		Base:     report.Side{Source: "/home/runner/work/" + long, Type: "plain", Digest: "sha256:" + long},
		Head:     report.Side{Source: evil, Type: "plain", Digest: "sha256:bb"},
		Findings: report.Delta(base, head),
	}
	for i := range 12 {
		r.Scanners = append(r.Scanners, report.ScannerRun{Name: fmt.Sprintf("scanner-%d-%s", i, strings.Repeat("z", 50)), Side: "head",
			Status: report.StatusError, Error: evil + " " + long})
	}
	diff := "--- base/x\n+++ head/x\n@@ -1 +1 @@\n-  a: ```` " + long + long + "\n+  a: </details><script>x</script> " + long + "\n"
	r.Changes = []report.ResourceChange{{Change: "changed", Kind: "ConfigMap", Namespace: "ns", Name: evil, Path: "dir/" + long + ".yaml", Diff: diff}}
	judge.Gate(r, nil, reporttest.Now)
	return r
}

// large is the large change: 5,000 new, 5,000 fixed, 5,000
// unchanged findings and 300 changed objects with diffs, gated by the
// default policy.
func large() *report.Report {
	r := &report.Report{
		Tool:     report.Tool{Name: "aegis", Version: "dev"},
		Base:     report.Side{Source: "2222222222222222222222222222222222222222", Type: "kustomize", Digest: "sha256:aa"},
		Head:     report.Side{Source: "1111111111111111111111111111111111111111", Type: "kustomize", Digest: "sha256:bb"},
		Findings: report.Delta(reporttest.ManyFindings(10_000, 0), reporttest.ManyFindings(10_000, 5_000)),
		Scanners: reporttest.OKRuns("posture", "trivy", "semgrep"),
	}
	for i := range 300 {
		var d strings.Builder
		fmt.Fprintf(&d, "--- base/Deployment/default/app-%d\n+++ head/Deployment/default/app-%d\n@@ -1,20 +1,20 @@\n", i, i)
		for j := range 20 {
			fmt.Fprintf(&d, "-  key%d: an old value that is rather long, to make the lines realistic %d\n+  key%d: a new value %d\n", j, j, j, j)
		}
		r.Changes = append(r.Changes, report.ResourceChange{Change: "changed", Kind: "Deployment", Namespace: "default",
			Name: fmt.Sprintf("app-%d", i), Path: fmt.Sprintf("manifests/app-%d.yaml", i%100), Diff: d.String()})
	}
	judge.Gate(r, nil, reporttest.Now)
	return r
}
