package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A finding the base has too, whose severity the change raises (an image
// tag moved to :latest: aegis.mutableImageTag goes from low to medium), is
// updated: it blocks like a new finding once it reaches the threshold, and
// SARIF says baselineState "updated".
func TestSeverityRaisedIsUpdated(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"base/app.yaml": goodDeployment,
		"head/app.yaml": strings.Replace(goodDeployment, "nginx:1.27", "nginx:latest", 1),
		"policy.yaml":   quickPolicy + "failOn:\n  severity: medium\n",
	})
	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(out, 0o755))
	res := runBinaryIn(t, dir, "verify", "-c", "policy.yaml", "--base-dir", "base", "--head-dir", "head",
		"--json", filepath.Join(out, "r.json"), "--sarif", filepath.Join(out, "r.sarif"), "--markdown", filepath.Join(out, "r.md"), ".")
	require.Equal(t, exitFail, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "New medium finding aegis.mutableImageTag")
	assert.Regexp(t, `medium\s+aegis\.mutableImageTag\s+app\.yaml:12\s+.*\(was low\)`, res.stdout)

	var rep struct {
		Summary struct {
			New, Updated, Blocking int
		}
		Findings []struct {
			RuleID           string `json:"ruleId"`
			Severity         string
			BaselineState    string `json:"baselineState"`
			BaselineSeverity string `json:"baselineSeverity"`
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "r.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rep))
	found := false
	for _, f := range rep.Findings {
		if f.RuleID == "aegis.mutableImageTag" {
			found = true
			assert.Equal(t, "updated", f.BaselineState)
			assert.Equal(t, "medium", f.Severity)
			assert.Equal(t, "low", f.BaselineSeverity)
		}
	}
	require.True(t, found)
	assert.Equal(t, 1, rep.Summary.Updated)
	assert.Equal(t, 1, rep.Summary.Blocking)

	sarifData, err := os.ReadFile(filepath.Join(out, "r.sarif"))
	require.NoError(t, err)
	assert.Contains(t, string(sarifData), `"baselineState": "updated"`)
	md, err := os.ReadFile(filepath.Join(out, "r.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "medium (was low)")

	// Below the threshold it is reported, and does not block.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(quickPolicy+"failOn:\n  severity: high\n"), 0o644))
	res = runBinaryIn(t, dir, "verify", "-c", "policy.yaml", "--base-dir", "base", "--head-dir", "head", ".")
	assert.Equal(t, exitPass, res.code, res.stderr)
	assert.Contains(t, res.stdout, "(was low)")
}
