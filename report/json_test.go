package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/internal/reporttest"
	"github.com/kube-sentient/aegis/judge"
	"github.com/kube-sentient/aegis/report"
)

// fixtureReport is the shared fixture, gated.
func fixtureReport() *report.Report {
	r := reporttest.Report()
	judge.Gate(r, reporttest.Config(), reporttest.Now)
	return r
}

func TestWriteJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, report.WriteJSON(&buf, fixtureReport()))
	reporttest.Golden(t, "report.golden.json", buf.Bytes())
}

// TestWriteJSONRequiredFields checks the fields issue 2 requires, by name,
// on the decoded document rather than on Go structs, as a consumer sees it.
func TestWriteJSONRequiredFields(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, report.WriteJSON(&buf, fixtureReport()))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))

	assert.Equal(t, "aegis/v1alpha1", doc["apiVersion"])
	assert.Equal(t, "Report", doc["kind"])
	assert.Contains(t, []any{"pass", "fail", "error"}, doc["verdict"])
	assert.IsType(t, []any{}, doc["reasons"])
	assert.NotEmpty(t, at(t, doc, "base", "digest"))
	assert.NotEmpty(t, at(t, doc, "head", "digest"))

	scanners, ok := doc["scanners"].([]any)
	require.True(t, ok)
	require.NotEmpty(t, scanners)
	for _, s := range scanners {
		run := s.(map[string]any)
		for _, k := range []string{"name", "side", "status", "durationMs", "version"} {
			assert.Contains(t, run, k)
		}
		assert.Contains(t, []any{"ok", "error", "skipped"}, run["status"])
		if run["status"] == "error" {
			assert.NotEmpty(t, run["error"])
		}
	}

	findings, ok := doc["findings"].([]any)
	require.True(t, ok)
	require.NotEmpty(t, findings)
	for _, x := range findings {
		f := x.(map[string]any)
		for _, k := range []string{"scanner", "ruleId", "severity", "title", "message", "baselineState", "fingerprint", "waived", "resource", "location"} {
			assert.Contains(t, f, k)
		}
		assert.Contains(t, []any{"critical", "high", "medium", "low", "info"}, f["severity"])
		assert.Contains(t, []any{"new", "unchanged", "absent"}, f["baselineState"])
		assert.IsType(t, true, f["waived"])
		for _, k := range []string{"apiVersion", "kind", "namespace", "name", "container"} {
			assert.Contains(t, f["resource"], k)
		}
		for _, k := range []string{"path", "line"} {
			assert.Contains(t, f["location"], k)
		}
	}
}

func at(t *testing.T, doc map[string]any, path ...string) any {
	t.Helper()
	var v any = doc
	for _, k := range path {
		m, ok := v.(map[string]any)
		require.True(t, ok, "%s is not an object", k)
		v = m[k]
	}
	return v
}

func TestWriteJSONEmptyListsAreArrays(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, report.WriteJSON(&buf, &report.Report{}))
	out := buf.String()
	for _, k := range []string{"reasons", "findings", "scanners", "changes", "rules"} {
		assert.Contains(t, out, `"`+k+`": []`)
	}
	assert.NotContains(t, out, "null")
	assert.Contains(t, out, `"apiVersion": "aegis/v1alpha1"`)
	assert.Contains(t, out, `"kind": "Report"`)
	assert.Contains(t, out, `"newBySeverity": {`)
}

func TestWriteJSONIsStableAndLeavesReportAlone(t *testing.T) {
	r := fixtureReport()
	// Shuffle what the writer must order.
	r.Findings[0], r.Findings[len(r.Findings)-1] = r.Findings[len(r.Findings)-1], r.Findings[0]
	r.Scanners[0], r.Scanners[len(r.Scanners)-1] = r.Scanners[len(r.Scanners)-1], r.Scanners[0]
	before := append([]report.Finding(nil), r.Findings...)
	var a, b bytes.Buffer
	require.NoError(t, report.WriteJSON(&a, r))
	require.NoError(t, report.WriteJSON(&b, fixtureReport()))
	assert.Equal(t, b.String(), a.String(), "order does not depend on the input order")
	assert.Equal(t, before, r.Findings, "the report is not modified")
}

func TestReadJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	want := fixtureReport()
	require.NoError(t, report.WriteJSON(&buf, want))
	got, err := report.ReadJSON(&buf)
	require.NoError(t, err)
	var again bytes.Buffer
	require.NoError(t, report.WriteJSON(&again, got))
	var first bytes.Buffer
	require.NoError(t, report.WriteJSON(&first, want))
	assert.Equal(t, first.String(), again.String())

	_, err = report.ReadJSON(strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap"}`))
	assert.ErrorContains(t, err, "apiVersion")
	_, err = report.ReadJSON(strings.NewReader(`{`))
	assert.Error(t, err)
}

func TestWriteJSONResourceKeysAlwaysPresent(t *testing.T) {
	r := &report.Report{Findings: []report.Finding{{Scanner: "posture", RuleID: "x", Severity: report.Low, Resource: report.Resource{Kind: "Namespace", Name: "shop"}}}}
	var buf bytes.Buffer
	require.NoError(t, report.WriteJSON(&buf, r))
	var doc struct {
		Findings []struct {
			Resource map[string]any `json:"resource"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	assert.Equal(t, map[string]any{"apiVersion": "", "kind": "Namespace", "namespace": "", "name": "shop", "container": ""}, doc.Findings[0].Resource)
}
