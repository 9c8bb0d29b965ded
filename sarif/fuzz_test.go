package sarif

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/kube-sentient/aegis/report"
)

// fuzzReport builds a report from fuzzed strings and numbers: n findings
// (1 to 8) of one scanner that vary in rule, line, resource name and
// state, the rule's metadata, and the scanner's runs on both sides.
func fuzzReport(scanner, ruleID, title, message, path string, line int, kind, ns, name, container, image, cve,
	severity, state string, waived bool, waiverReason, ruleTitle, ruleDesc, ruleHelp, helpURI, tag string, headStatus, n uint8) *report.Report {
	statuses := []report.ScannerStatus{report.StatusOK, report.StatusError, report.StatusSkipped, report.ScannerStatus(state)}
	states := []report.State{report.State(state), report.New, report.Unchanged, report.Absent}
	r := &report.Report{
		APIVersion: report.APIVersion,
		Kind:       report.Kind,
		Scanners: []report.ScannerRun{
			{Name: scanner, Side: "base", Status: report.StatusOK},
			{Name: scanner, Side: "head", Status: statuses[int(headStatus)%len(statuses)], Version: title},
			{Name: "posture", Side: "head", Status: report.StatusOK},
		},
		Rules: []report.Rule{{Scanner: scanner, ID: ruleID, Title: ruleTitle, Description: ruleDesc, Help: ruleHelp, HelpURI: helpURI,
			Severity: report.Severity(severity), Tags: []string{tag, "", tag}}},
	}
	for i := range int(n)%8 + 1 {
		f := report.Finding{
			Scanner:  scanner,
			RuleID:   ruleID,
			Severity: report.Severity(severity),
			Title:    title,
			Message:  message,
			Resource: report.Resource{Kind: kind, Namespace: ns, Name: name, Container: container},
			Location: report.Location{Path: path, Line: line + i},
			Image:    image,
			CVE:      cve,
			Waived:   waived && i%2 == 0, WaiverReason: waiverReason,
			BaselineState: states[i%len(states)],
		}
		switch i % 4 {
		case 1:
			f.RuleID += fmt.Sprint(i) // a rule without metadata
			f.Severity = report.Severities[i%len(report.Severities)]
		case 2:
			f.Resource.Name += "-" + fmt.Sprint(i)
			f.Scanner = "posture" // a second run
		}
		if i%3 != 2 {
			f.Fingerprint = report.ComputeFingerprint(f) // else Build computes it
		}
		r.Findings = append(r.Findings, f)
	}
	return r
}

// FuzzWrite writes SARIF from reports built of fuzzed strings and numbers
// (run it with hack/fuzz.sh, or `go test -run '^$' -fuzz FuzzWrite
// ./sarif/`). Without -fuzz, `go test` runs the seeds and every crasher kept
// under testdata/fuzz/FuzzWrite as a regression test.
//
// Invariants: Write never fails on a report; its output is JSON that the
// official SARIF 2.1.0 schema (with format assertions) and GitHub's
// ingestion checks (CheckGitHub) accept; it is deterministic; every result
// of a run has its own primaryLocationLineHash; and it holds one result per
// finding of a scanner whose head run succeeded (absent ones only with
// IncludeAbsent).
func FuzzWrite(f *testing.F) {
	sch := compileSchema(f) // the official schema go-sarif ships, with format assertions

	type seed struct {
		scanner, ruleID, title, message, path string
		line                                  int
		kind, ns, name, container, image, cve string
		severity, state                       string
		waived                                bool
		waiverReason, ruleTitle, ruleDesc     string
		ruleHelp, helpURI, tag                string
		headStatus, n                         uint8
		absent                                bool
		toolVersion                           string
	}
	// From the unit tests' fixture, then hostile ones.
	for _, fd := range fixture().Findings {
		f.Add(fd.Scanner, fd.RuleID, fd.Title, fd.Message, fd.Location.Path, fd.Location.Line, fd.Resource.Kind, fd.Resource.Namespace,
			fd.Resource.Name, fd.Resource.Container, fd.Image, fd.CVE, string(fd.Severity), string(fd.BaselineState), fd.Waived, fd.WaiverReason,
			"Privileged container", "Privileged containers disable most security mechanisms.", "Remove securityContext.privileged.",
			"https://kubernetes.io/docs/concepts/security/pod-security-standards/", "pss", uint8(0), uint8(3), true, "0.1.0")
	}
	long := strings.Repeat("é", 3000)
	for _, s := range []seed{
		{},
		{scanner: "trivy", ruleID: " ", title: " ", message: " ", path: " ", line: -5, severity: "CRITICAL", state: "updated"},
		{scanner: "a b/c", ruleID: "x\x00y", title: "\xff\xfe", message: "\xed\xa0\x80", path: "\xff/../../etc/passwd", line: 1 << 62},
		{ruleID: "r", path: "/abs/path.yaml", line: -1 << 62, name: "\u202e", kind: "K", ns: "n", container: "c"},
		{ruleID: "r", path: `C:\repo\deploy.yaml`, line: 3, helpURI: "not a uri", tag: " security "},
		{ruleID: "r", path: "a:b/c.yaml", helpURI: "://x", ruleTitle: long, ruleDesc: long, ruleHelp: long, message: long},
		{ruleID: "r", path: "dir with spaces/%zz#frag?q=1.yaml", helpURI: "https://example.com/a b", tag: "t"},
		{ruleID: "r", path: "./././a.yaml", image: "ghcr.io/a/b:1@sha256:00", cve: "CVE-2024-0001", severity: "medium"},
		{ruleID: "r", path: "..", state: "absent", absent: true, waived: true},
		{ruleID: "r", path: "//host/share/x.yaml", toolVersion: "v1.2.3-rc.1+build"},
		{ruleID: "r", path: "deploy.yaml", toolVersion: "not a version \xff", headStatus: 1},
		{ruleID: "r", path: "deploy.yaml", headStatus: 2},
		{ruleID: "r", path: "deploy.yaml", headStatus: 3, state: "ok"},
		{scanner: "unknown", ruleID: "r", path: "deploy.yaml", n: 255},
		{ruleID: "r", title: "<script>alert(1)</script>", message: "**bold** [x](javascript:alert(1))", path: "deploy.yaml"},
	} {
		f.Add(s.scanner, s.ruleID, s.title, s.message, s.path, s.line, s.kind, s.ns, s.name, s.container, s.image, s.cve, s.severity, s.state,
			s.waived, s.waiverReason, s.ruleTitle, s.ruleDesc, s.ruleHelp, s.helpURI, s.tag, s.headStatus, s.n, s.absent, s.toolVersion)
	}

	f.Fuzz(func(t *testing.T, scanner, ruleID, title, message, path string, line int, kind, ns, name, container, image, cve,
		severity, state string, waived bool, waiverReason, ruleTitle, ruleDesc, ruleHelp, helpURI, tag string, headStatus, n uint8,
		absent bool, toolVersion string) {
		r := fuzzReport(scanner, ruleID, title, message, path, line, kind, ns, name, container, image, cve, severity, state, waived,
			waiverReason, ruleTitle, ruleDesc, ruleHelp, helpURI, tag, headStatus, n)
		opts := Options{IncludeAbsent: absent, ToolVersion: toolVersion}
		var buf bytes.Buffer
		if _, err := Write(&buf, r, opts); err != nil {
			t.Fatalf("Write: %v", err)
		}
		data := buf.Bytes()
		if !json.Valid(data) {
			t.Fatalf("not JSON:\n%s", data)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Fatalf("schema: %v\n%s", err, data)
		}
		if err := CheckGitHub(data); err != nil {
			t.Fatalf("GitHub's checks: %v\n%s", err, data)
		}
		var again bytes.Buffer
		if _, err := Write(&again, r, opts); err != nil || !bytes.Equal(again.Bytes(), data) {
			t.Fatalf("Write is not deterministic (%v)", err)
		}
		checkResults(t, r, opts, data)
	})
}

// checkResults counts the results of each run against the findings the
// report gives, and checks that no primaryLocationLineHash repeats in a run.
func checkResults(t *testing.T, r *report.Report, opts Options, data []byte) {
	t.Helper()
	var log struct {
		Runs []struct {
			AutomationDetails struct{ ID string } `json:"automationDetails"`
			Results           []struct {
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatal(err)
	}
	// A scanner with any head run that did not succeed has no run.
	headOK := map[string]bool{}
	for _, s := range r.Scanners {
		if s.Side == "head" {
			ok, seen := headOK[s.Name]
			headOK[s.Name] = (ok || !seen) && s.Status == report.StatusOK
		}
	}
	want := map[string]int{}
	for _, fd := range r.Findings {
		if fd.BaselineState == report.Absent && !opts.IncludeAbsent {
			continue
		}
		name := fd.Scanner
		if name == "" {
			name = "unknown"
		}
		if ok, ran := headOK[name]; ran && !ok {
			continue
		}
		want[asJSON(Category(name))]++
	}
	got := map[string]int{}
	for _, run := range log.Runs {
		seen := map[string]bool{}
		for _, res := range run.Results {
			h := res.PartialFingerprints[PrimaryLocationLineHash]
			if seen[h] {
				t.Fatalf("run %s: primaryLocationLineHash %q repeats", run.AutomationDetails.ID, h)
			}
			seen[h] = true
		}
		got[run.AutomationDetails.ID] += len(run.Results)
	}
	for cat, n := range want {
		if got[cat] != n {
			t.Fatalf("run %s has %d results, want %d (runs: %v)", cat, got[cat], n, got)
		}
	}
}

// asJSON is s as it reads back from JSON: encoding/json writes each byte of
// invalid UTF-8 as U+FFFD.
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}
