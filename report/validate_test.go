package report

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden report is what aegis writes: it must read back as valid.
func TestReadUntrustedAcceptsWhatAegisWrites(t *testing.T) {
	data, err := os.ReadFile("testdata/report.golden.json")
	require.NoError(t, err)
	r, err := ReadUntrusted(bytes.NewReader(data))
	require.NoError(t, err)
	assert.NotEmpty(t, r.Findings)
}

func TestValidateRefuses(t *testing.T) {
	golden, err := os.ReadFile("testdata/report.golden.json")
	require.NoError(t, err)
	firstFinding := func(m map[string]any) map[string]any { return m["findings"].([]any)[0].(map[string]any) }
	for _, c := range []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"unknown verdict", func(m map[string]any) { m["verdict"] = "PASS" }, `verdict "PASS" is not pass, fail or error`},
		{"unknown state", func(m map[string]any) { firstFinding(m)["baselineState"] = "gone" }, "is not new, unchanged, updated or absent"},
		{"negative line", func(m map[string]any) { firstFinding(m)["location"].(map[string]any)["line"] = -1 }, "is out of range"},
		{"absolute path", func(m map[string]any) { firstFinding(m)["location"].(map[string]any)["path"] = "/etc/passwd" }, "is not a clean relative path"},
		{"javascript URL", func(m map[string]any) { firstFinding(m)["location"].(map[string]any)["path"] = "javascript:alert(1)" }, "is not a relative slash path"},
		{"backslash path", func(m map[string]any) { firstFinding(m)["location"].(map[string]any)["path"] = `..\..\x` }, "is not a relative slash path"},
		{"unclean path", func(m map[string]any) { firstFinding(m)["location"].(map[string]any)["path"] = "a/./b" }, "is not a clean relative path"},
		{"no rule", func(m map[string]any) { firstFinding(m)["ruleId"] = "" }, "has no scanner or ruleId"},
		{"huge message", func(m map[string]any) { firstFinding(m)["message"] = strings.Repeat("é", maxTextRunes+1) }, "is longer than"},
		{"NUL in a name", func(m map[string]any) { firstFinding(m)["resource"].(map[string]any)["name"] = "a\x00b" }, "has a control character"},
		{"unknown scanner status", func(m map[string]any) { m["scanners"].([]any)[0].(map[string]any)["status"] = "fine" }, "is not ok, error or skipped"},
		{"unknown threshold", func(m map[string]any) { m["policy"].(map[string]any)["failOnSeverity"] = "none" }, "policy.failOnSeverity"},
		{"pass with no completed scanner", func(m map[string]any) {
			m["verdict"] = "pass"
			m["findings"] = []any{}
			for _, s := range m["scanners"].([]any) {
				s.(map[string]any)["status"] = "error"
			}
		}, "no scanner run completed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(golden, &m))
			c.edit(m)
			data, err := json.Marshal(m)
			require.NoError(t, err)
			_, err = ReadUntrusted(bytes.NewReader(data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestReadUntrustedBounds(t *testing.T) {
	_, err := ReadUntrusted(bytes.NewReader([]byte("{\"apiVersion\":\"\xff\"}")))
	require.ErrorContains(t, err, "not valid UTF-8")
	_, err = ReadUntrusted(bytes.NewReader(bytes.Repeat([]byte(" "), MaxUntrustedBytes+1)))
	require.ErrorContains(t, err, "larger than 64 MiB")
}

// The summary shown is counted from the findings, not taken from the
// document.
func TestReadUntrustedRecounts(t *testing.T) {
	golden, err := os.ReadFile("testdata/report.golden.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(golden, &m))
	m["summary"].(map[string]any)["new"] = 0
	m["summary"].(map[string]any)["newBySeverity"] = map[string]any{"critical": 0}
	data, err := json.Marshal(m)
	require.NoError(t, err)
	r, err := ReadUntrusted(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, Summarize(r.Findings).New, r.Summary.New)
	assert.Positive(t, r.Summary.New)
}
