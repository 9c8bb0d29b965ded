package output

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

// The package's golden files are rewritten with go test ./output -update.
// The flag may be declared by another test file of the package (package
// variables are initialised before init runs): it is declared here only
// when it is not.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

// ciGolden compares got with testdata/name, or writes it with -update.
func ciGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./output -update to create %s", path)
	require.Equal(t, string(want), string(got), "golden %s differs; if intended (report.Problems groups differently, say), rerun with -update", path)
}

// ciFixture is a decided report built by hand (no gate, no policy), so
// that the JUnit and GitLab goldens depend on the writers and on
// report.Problems only. The change fixes a privileged container (posture
// and Trivy, one problem), keeps a root container, raises a mutable tag's
// severity, adds two hostPath volumes (posture twice, Trivy once: one
// problem, blocking at high), a waived critical CVE in an image two
// Deployments run, a missing probe and a finding without a file; semgrep
// is not installed.
func ciFixture() *report.Report {
	web := report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", Container: "app"}
	api := report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "api", Container: "api"}
	apiPod := report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "api"}
	worker := report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "worker", Container: "worker"}
	svc := report.Resource{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "api"}
	cve := func(res report.Resource, path string, line int) report.Finding {
		return report.Finding{Scanner: "trivy", RuleID: "CVE-2025-0001", Severity: report.Critical, Title: "openssl: buffer overflow",
			Message: "openssl 3.0.1 in ghcr.io/acme/api:2.0 is affected by CVE-2025-0001", Resource: res,
			Image: "ghcr.io/acme/api:2.0", CVE: "CVE-2025-0001", Location: report.Location{Path: path, Line: line},
			BaselineState: report.New, Waived: true, WaiverReason: "no fix released; not reachable"}
	}
	findings := []report.Finding{
		{Scanner: "posture", RuleID: "pss.privileged", Severity: report.High, Title: "Privileged container",
			Message: `container "app" must not set securityContext.privileged=true`, Resource: web,
			Location: report.Location{Path: "base/deployment.yaml", Line: 24}, BaselineState: report.Absent},
		{Scanner: "trivy", RuleID: "KSV-0017", Severity: report.High, Title: "Privileged",
			Message: "Container 'app' of Deployment 'web' should set 'securityContext.privileged' to false", Resource: web,
			Location: report.Location{Path: "base/deployment.yaml", Line: 24}, BaselineState: report.Absent},
		{Scanner: "posture", RuleID: "pss.runAsNonRoot", Severity: report.Medium, Title: "Container may run as root",
			Message: `pod or container "app" must set securityContext.runAsNonRoot=true`, Resource: web,
			Location: report.Location{Path: "base/deployment.yaml", Line: 21}, BaselineState: report.Unchanged},
		{Scanner: "posture", RuleID: "aegis.mutableImageTag", Severity: report.Medium, BaselineSeverity: report.Low,
			Title: "Image by mutable tag", Message: "image nginx:latest is not pinned by digest", Resource: web,
			Image: "nginx:latest", Location: report.Location{Path: "base/deployment.yaml", Line: 19}, BaselineState: report.Updated},
		{Scanner: "posture", RuleID: "pss.hostPathVolumes", Severity: report.High, Title: "hostPath volume",
			Message: `volume "data" uses hostPath /var/lib/data`, Resource: apiPod, Key: "data",
			Location: report.Location{Path: "overlays/prod/patch-api.yaml", Line: 12}, BaselineState: report.New},
		{Scanner: "posture", RuleID: "pss.hostPathVolumes", Severity: report.High, Title: "hostPath volume",
			Message: `volume "logs" uses hostPath /var/log`, Resource: apiPod, Key: "logs",
			Location: report.Location{Path: "overlays/prod/patch-api.yaml", Line: 15}, BaselineState: report.New},
		{Scanner: "trivy", RuleID: "KSV-0023", Severity: report.Medium, Title: "hostPath volumes mounted",
			Message: "Deployment 'api' should not set 'spec.template.volumes.hostPath'", Resource: apiPod,
			Location: report.Location{Path: "overlays/prod/patch-api.yaml", Line: 10}, BaselineState: report.New},
		{Scanner: "posture", RuleID: "aegis.missingProbes", Severity: report.Medium, Title: "No readiness probe",
			Message: `container "api" has no readinessProbe`, Resource: api,
			Location: report.Location{Path: `overlays\prod\api.yaml`, Line: 16}, BaselineState: report.New},
		cve(api, "overlays/prod/api.yaml", 14),
		cve(worker, "overlays/prod/worker.yaml", 14),
		{Scanner: "posture", RuleID: "aegis.serviceNodePort", Severity: report.Info, Title: "NodePort Service",
			Message: "Service api exposes a node port", Resource: svc, BaselineState: report.New},
	}
	for i := range findings {
		findings[i].Fingerprint = report.ComputeFingerprint(findings[i])
	}
	return &report.Report{
		APIVersion: report.APIVersion, Kind: report.Kind,
		Tool:    report.Tool{Name: "aegis", Version: "v0.1.0"},
		Verdict: report.Fail,
		Reasons: []string{
			"Failed: 2 new findings at or above high.",
			"hostPath volume (pss.hostPathVolumes) on Deployment/shop/api at overlays/prod/patch-api.yaml:12",
			"hostPath volume (pss.hostPathVolumes) on Deployment/shop/api at overlays/prod/patch-api.yaml:15",
			"Scanner semgrep is not installed; accepted because scanners.semgrep.allowMissing is set.",
		},
		Policy: report.PolicyRef{Path: ".aegis.yaml", FailOnSeverity: report.High, FailOnScannerErr: true},
		Base: report.Side{Source: "examples/kustomize/before", Type: "kustomize", Objects: 4,
			Digest: "sha256:2f1c0d6b4c9a7e3f5b8a1d0e9c7b6a5f4e3d2c1b0a99887766554433221100ff"},
		Head: report.Side{Source: "examples/kustomize/after", Type: "kustomize", Objects: 5,
			Digest: "sha256:9a8b7c6d5e4f30211f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f9"},
		Summary: report.Summary{New: 8, Updated: 1, Unchanged: 1, Fixed: 2, Waived: 2, NewWaived: 2, Blocking: 2},
		Scanners: []report.ScannerRun{
			{Name: "posture", Side: "base", Status: report.StatusOK, DurationMs: 41, Version: "v0.1.0", Findings: 3},
			{Name: "posture", Side: "head", Status: report.StatusOK, DurationMs: 38, Version: "v0.1.0", Findings: 7},
			{Name: "trivy", Side: "head", Status: report.StatusOK, DurationMs: 2480, Version: "0.58.1", Findings: 3},
			{Name: "semgrep", Side: "head", Status: report.StatusError, Missing: true, Error: "scanner not installed: semgrep not found in PATH"},
			{Name: "trivy", Side: "base", Status: report.StatusOK, DurationMs: 2310, Version: "0.58.1", Findings: 1},
		},
		Findings: findings,
	}
}

func writeString(t *testing.T, w Writer, r *report.Report) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, w.Write(&buf, r))
	return buf.String()
}

// The JUnit XSD's structure (the one Jenkins and GitLab read), in the
// test's own terms: every attribute is kept as written, to check that the
// required ones are present, and unknown children are caught.
type xTestsuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Attrs   []xml.Attr   `xml:",any,attr"`
	Suites  []xTestsuite `xml:"testsuite"`
	Other   []xAny       `xml:",any"`
}

type xTestsuite struct {
	Attrs      []xml.Attr  `xml:",any,attr"`
	Properties *xProps     `xml:"properties"`
	Cases      []xTestcase `xml:"testcase"`
	SystemOut  *string     `xml:"system-out"`
	SystemErr  *string     `xml:"system-err"`
	Other      []xAny      `xml:",any"`
}

type xProps struct {
	Props []struct {
		Name  *string `xml:"name,attr"`
		Value *string `xml:"value,attr"`
	} `xml:"property"`
}

type xTestcase struct {
	Attrs     []xml.Attr `xml:",any,attr"`
	Failures  []xResult  `xml:"failure"`
	Errors    []xResult  `xml:"error"`
	Skipped   []xResult  `xml:"skipped"`
	SystemOut []string   `xml:"system-out"`
	SystemErr []string   `xml:"system-err"`
	Other     []xAny     `xml:",any"`
}

type xResult struct {
	Attrs []xml.Attr `xml:",any,attr"`
	Body  string     `xml:",chardata"`
	Other []xAny     `xml:",any"`
}

type xAny struct {
	XMLName xml.Name
}

func attrs(as []xml.Attr) map[string]string {
	m := map[string]string{}
	for _, a := range as {
		m[a.Name.Local] = a.Value
	}
	return m
}

// checkJUnit decodes doc, checks it against the XSD's structure and the
// writer's promises, and returns the test cases by "classname > name".
func checkJUnit(t *testing.T, doc string) (xTestsuites, map[string]xTestcase) {
	t.Helper()
	require.True(t, strings.HasPrefix(doc, xml.Header), "XML declaration first")
	require.True(t, utf8.ValidString(doc), "valid UTF-8")
	// Well-formed: the decoder reads every token to the end.
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "well-formed XML")
	}

	var root xTestsuites
	require.NoError(t, xml.Unmarshal([]byte(doc), &root))
	assert.Empty(t, root.Other, "testsuites holds testsuite elements only")
	require.Len(t, root.Suites, 1, "one testsuite per report")
	ra := attrs(root.Attrs)
	s := root.Suites[0]
	sa := attrs(s.Attrs)
	assert.Equal(t, "aegis", sa["name"])
	assert.Empty(t, s.Other, "testsuite holds properties, testcase, system-out and system-err only")
	require.NotNil(t, s.Properties)
	for _, p := range s.Properties.Props {
		assert.NotNil(t, p.Name, "property name is required")
		assert.NotNil(t, p.Value, "property value is required")
	}
	assert.Equal(t, strconv.Itoa(len(s.Cases)), ra["tests"])

	count := map[string]int{}
	byName := map[string]xTestcase{}
	for _, c := range s.Cases {
		ca := attrs(c.Attrs)
		assert.NotEmpty(t, ca["name"], "testcase name is required")
		assert.NotEmpty(t, ca["classname"], "testcase classname")
		assert.NotContains(t, ca["name"], "\n")
		sec, err := strconv.ParseFloat(ca["time"], 64)
		assert.NoError(t, err, "testcase time is a number: %q", ca["time"])
		assert.GreaterOrEqual(t, sec, 0.0)
		assert.Empty(t, c.Other, "testcase %q has unknown children", ca["name"])
		outcomes := len(c.Failures) + len(c.Errors) + len(c.Skipped)
		assert.LessOrEqual(t, outcomes, 1, "testcase %q has at most one of failure, error, skipped", ca["name"])
		assert.LessOrEqual(t, len(c.SystemOut), 1)
		for _, f := range slices.Concat(c.Failures, c.Errors) {
			fa := attrs(f.Attrs)
			assert.NotEmpty(t, fa["message"], "failure/error message")
			assert.NotContains(t, fa["message"], "\n", "one-line message")
			assert.NotEmpty(t, fa["type"], "failure/error type")
			assert.Empty(t, f.Other)
		}
		count["failures"] += len(c.Failures)
		count["errors"] += len(c.Errors)
		count["skipped"] += len(c.Skipped)
		id := ca["classname"] + " > " + ca["name"]
		_, dup := byName[id]
		assert.False(t, dup, "test case %q is unique", id)
		byName[id] = c
	}
	for _, a := range []string{"tests", "failures", "errors", "skipped", "time"} {
		_, ok := sa[a]
		assert.True(t, ok, "testsuite attribute %s is present", a)
	}
	assert.Equal(t, strconv.Itoa(len(s.Cases)), sa["tests"])
	for _, a := range []string{"failures", "errors", "skipped"} {
		assert.Equal(t, strconv.Itoa(count[a]), sa[a], "testsuite %s equals its children", a)
	}
	for _, a := range []string{"failures", "errors"} {
		assert.Equal(t, sa[a], ra[a], "testsuites %s", a)
	}
	_, err := strconv.ParseFloat(sa["time"], 64)
	assert.NoError(t, err)
	return root, byName
}

func props(root xTestsuites) map[string]string {
	m := map[string]string{}
	for _, p := range root.Suites[0].Properties.Props {
		m[*p.Name] = *p.Value
	}
	return m
}

func TestJUnitGolden(t *testing.T) {
	ciGolden(t, "report.golden.junit.xml", []byte(writeString(t, JUnit(), ciFixture())))
}

func TestJUnitStructure(t *testing.T) {
	root, cases := checkJUnit(t, writeString(t, JUnit(), ciFixture()))
	assert.Equal(t, map[string]string{
		"verdict": "fail", "base": "examples/kustomize/before", "head": "examples/kustomize/after",
		"base.digest":    "sha256:2f1c0d6b4c9a7e3f5b8a1d0e9c7b6a5f4e3d2c1b0a99887766554433221100ff",
		"head.digest":    "sha256:9a8b7c6d5e4f30211f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f9",
		"failOnSeverity": "high", "policy": ".aegis.yaml", "tool": "aegis v0.1.0",
	}, props(root))
	sa := attrs(root.Suites[0].Attrs)
	assert.Equal(t, "4.869", sa["time"], "the scanners' durations")

	gate := cases["aegis > gate"]
	require.Len(t, gate.Failures, 1, "a failed verdict is a failure")
	assert.Equal(t, "Failed: 2 new findings at or above high.", attrs(gate.Failures[0].Attrs)["message"])
	assert.Contains(t, gate.SystemOut[0], "fixed by the change (1):\n  Deployment/web: Privileged container [KSV-0017, pss.privileged] (container app)")

	semgrep := cases["aegis.scanners > semgrep (head)"]
	// The policy accepts the missing semgrep (allowMissing): the verdict
	// was decided, so the run is skipped, not an error.
	require.Len(t, semgrep.Errors, 0)
	require.Len(t, semgrep.Skipped, 1, "an accepted missing scanner is skipped")
	assert.Equal(t, "scanner semgrep is not installed on the head: scanner not installed: semgrep not found in PATH (accepted by the policy)",
		attrs(semgrep.Skipped[0].Attrs)["message"])
	assert.Equal(t, "2.480", attrs(cases["aegis.scanners > trivy (head)"].Attrs)["time"])

	hostPath := cases["Deployment/api > hostPath volume [KSV-0023, pss.hostPathVolumes]"]
	require.Len(t, hostPath.Failures, 1, "the blocking problem is a failure")
	fa := attrs(hostPath.Failures[0].Attrs)
	assert.Equal(t, "high", fa["type"])
	assert.Equal(t, "high, new: hostPath volume at overlays/prod/patch-api.yaml:12", fa["message"])
	assert.Equal(t, 3, strings.Count(hostPath.Failures[0].Body, "\n")+1, "one line per source")
	assert.Contains(t, hostPath.Failures[0].Body, "posture pss.hostPathVolumes (high, new) overlays/prod/patch-api.yaml:15: volume \"logs\"")
	assert.Contains(t, hostPath.Failures[0].Body, "trivy KSV-0023 (medium, new) overlays/prod/patch-api.yaml:10")

	cve := cases["Deployment/api > openssl: buffer overflow [CVE-2025-0001]"]
	require.Len(t, cve.Skipped, 1, "a waived problem is skipped")
	assert.Equal(t, "waived: no fix released; not reachable", attrs(cve.Skipped[0].Attrs)["message"])
	assert.Contains(t, cve.SystemOut[0], "Deployment/shop/worker container worker overlays/prod/worker.yaml:14", "another object's source names it")
	assert.Contains(t, cases["Deployment/api > No readiness probe [aegis.missingProbes] (container api)"].SystemOut[0],
		"overlays/prod/api.yaml:16", "paths with forward slashes")

	for _, name := range []string{
		"Deployment/web > Container may run as root [pss.runAsNonRoot] (container app)",
		"Deployment/web > Image by mutable tag [aegis.mutableImageTag] (container app)",
		"Deployment/api > No readiness probe [aegis.missingProbes] (container api)",
		"Service/api > NodePort Service [aegis.serviceNodePort]",
	} {
		c, ok := cases[name]
		require.True(t, ok, "test case %q", name)
		assert.Empty(t, c.Failures, "%s is below the threshold or not new", name)
		assert.Empty(t, c.Skipped)
	}
	assert.Contains(t, cases["Deployment/web > Image by mutable tag [aegis.mutableImageTag] (container app)"].SystemOut[0],
		"(medium, updated from low)")
	for name := range cases {
		assert.NotContains(t, name, "Privileged", "a fixed problem is no test case of the head")
	}
	assert.Len(t, cases, 1+5+6)
}

func TestJUnitNeverGreenUnlessPass(t *testing.T) {
	okRun := report.ScannerRun{Name: "posture", Side: "head", Status: report.StatusOK}
	tests := []struct {
		name     string
		r        report.Report
		failures int
		errors   int
	}{
		{"pass", report.Report{Verdict: report.Pass, Scanners: []report.ScannerRun{okRun}}, 0, 0},
		{"error verdict", report.Report{Verdict: report.Error, Reasons: []string{"Error: no scanner ran, so aegis cannot tell whether the change is safe."}}, 0, 1},
		{"no verdict", report.Report{}, 0, 1},
		{"invalid verdict", report.Report{Verdict: "pass!", Scanners: []report.ScannerRun{okRun}}, 0, 1},
		// A decided verdict with a failed run: the policy accepted the
		// failure (the judge makes every other one an error verdict);
		// the gate's own verdict is what shows.
		{"scanner error the policy accepted, on a pass", report.Report{Verdict: report.Pass, Scanners: []report.ScannerRun{okRun,
			{Name: "trivy", Side: "base", Status: report.StatusError, Error: "db download failed"}}}, 0, 0},
		{"scanner error on an error verdict", report.Report{Verdict: report.Error, Scanners: []report.ScannerRun{okRun,
			{Name: "trivy", Side: "base", Status: report.StatusError, Error: "db download failed"}}}, 0, 2},
		{"unknown scanner status", report.Report{Verdict: report.Pass, Scanners: []report.ScannerRun{{Name: "trivy", Side: "head", Status: "weird"}}}, 0, 1},
		{"fail without a blocking problem (unhealthy head)", report.Report{Verdict: report.Fail,
			Reasons: []string{"Failed: the head is Degraded in its shadow namespace aegis-head, not Healthy (failOn.unhealthy)."}}, 1, 0},
		{"unknown severity blocks as in the gate", report.Report{Verdict: report.Fail, Policy: report.PolicyRef{FailOnSeverity: report.High},
			Findings: []report.Finding{{Scanner: "x", RuleID: "r", Severity: "bogus", Fingerprint: "f", BaselineState: report.New}}}, 2, 0},
		{"below threshold passes", report.Report{Verdict: report.Pass, Policy: report.PolicyRef{FailOnSeverity: report.High},
			Scanners: []report.ScannerRun{okRun},
			Findings: []report.Finding{{Scanner: "x", RuleID: "r", Severity: report.Medium, Fingerprint: "f", BaselineState: report.New}}}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := checkJUnit(t, writeString(t, JUnit(), &tt.r))
			sa := attrs(root.Suites[0].Attrs)
			assert.Equal(t, strconv.Itoa(tt.failures), sa["failures"])
			assert.Equal(t, strconv.Itoa(tt.errors), sa["errors"])
		})
	}
}

// hostile is every kind of string that breaks naive XML or JSON writers.
var hostile = []string{
	"]]>", "<b>&amp;</b>", `"'`, "\x00\x01\x08\x0b\x0c\x1b[31m", "\xff\xfe invalid UTF-8 \xc3",
	"\uFFFE\uFFFF", "line\nbreak\r\nand\ttab", "<![CDATA[x]]>", "--><!--", "\u2028\u2029", "🚀",
	strings.Repeat("long ", 400),
}

func hostileReport() *report.Report {
	r := ciFixture()
	r.Verdict = report.Error
	for i, h := range hostile {
		f := report.Finding{
			Scanner: h, RuleID: h, Severity: report.Severity(h), Title: h, Message: h, Key: h,
			Resource:      report.Resource{Kind: h, Namespace: h, Name: h, Container: h},
			Location:      report.Location{Path: h, Line: -i},
			BaselineState: []report.State{report.New, report.Unchanged, report.Updated, report.Absent, report.State(h)}[i%5],
			Waived:        i%3 == 0, WaiverReason: h, BaselineSeverity: report.Severity(h),
		}
		r.Findings = append(r.Findings, f)
		r.Reasons = append(r.Reasons, h)
		r.Scanners = append(r.Scanners, report.ScannerRun{Name: h, Side: h, Status: report.ScannerStatus(h), Version: h, Error: h, DurationMs: -1})
	}
	r.Base.Source, r.Head.Digest, r.Tool.Version, r.Policy.Path = hostile[0], hostile[3], hostile[4], hostile[6]
	return r
}

func TestJUnitHostileStrings(t *testing.T) {
	doc := writeString(t, JUnit(), hostileReport())
	_, cases := checkJUnit(t, doc)
	assert.NotContains(t, doc, "\x00")
	found := false
	for name := range cases {
		found = found || strings.Contains(name, "]]> [") // the title "]]>" with its rule ids, read back as text
	}
	assert.True(t, found, "]]> survives as text")

	// Each hostile string alone, in the title.
	for _, h := range hostile {
		r := &report.Report{Verdict: report.Fail, Findings: []report.Finding{{Title: h, Message: h, BaselineState: report.New, Severity: report.High}}}
		checkJUnit(t, writeString(t, JUnit(), r))
	}
}

func TestJUnitDeterministic(t *testing.T) {
	a := ciFixture()
	b := ciFixture()
	slices.Reverse(b.Findings)
	slices.Reverse(b.Scanners)
	assert.Equal(t, writeString(t, JUnit(), a), writeString(t, JUnit(), b))
}

func TestJUnitDuplicateNames(t *testing.T) {
	// A rule no row of the matching table covers: each fingerprint is a
	// problem, identical copies are one.
	f := report.Finding{Scanner: "kubescape", RuleID: "C-0012", Severity: report.High, Title: "Secrets in env",
		Resource: report.Resource{Kind: "Deployment", Name: "api", Container: "api"}, BaselineState: report.New}
	byKey := func(k string) report.Finding { g := f; g.Key = k; return g }
	copyAt := func(g report.Finding, line int) report.Finding { g.Location.Line = line; return g }
	noKey := f
	noKey.Fingerprint = "same"
	other := noKey
	other.Fingerprint = "other"
	r := &report.Report{Verdict: report.Fail, Findings: []report.Finding{
		byKey("PASSWORD"), byKey("TOKEN"), copyAt(byKey("TOKEN"), 9), noKey, copyAt(noKey, 9), other,
	}}
	_, cases := checkJUnit(t, writeString(t, JUnit(), r)) // checks that names are unique
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	slices.Sort(names)
	assert.Equal(t, []string{
		"Deployment/api > Secrets in env [C-0012] (container api) #other",
		"Deployment/api > Secrets in env [C-0012] (container api) #same",
		"Deployment/api > Secrets in env [C-0012] (container api) (PASSWORD)",
		"Deployment/api > Secrets in env [C-0012] (container api) (TOKEN)",
		"aegis > gate",
	}, names)
}

func TestJUnitDuplicateScannerRuns(t *testing.T) {
	run := report.ScannerRun{Name: "trivy", Side: "head", Status: report.StatusOK}
	r := &report.Report{Verdict: report.Pass, Scanners: []report.ScannerRun{run, run}}
	_, cases := checkJUnit(t, writeString(t, JUnit(), r))
	assert.Contains(t, cases, "aegis.scanners > trivy (head) (2)")
}

func TestJUnitNilReport(t *testing.T) {
	assert.Error(t, JUnit().Write(io.Discard, nil))
}

func TestOneLine(t *testing.T) {
	assert.Equal(t, "a b c", ciOneLine(" a\n\tb\x00\x1bc ", 0))
	assert.Equal(t, "abc…", ciOneLine("abcdef", 4))
	assert.Equal(t, "\uFFFD", ciOneLine("\xff", 0))
	assert.Equal(t, "x\uFFFDy", ciClean("x\uFFFEy"))
	assert.Equal(t, "a\nb\tc", ciClean("a\nb\tc"))
}
