package semgrep

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

func TestSeverity(t *testing.T) {
	for in, want := range map[string]report.Severity{
		"ERROR": report.High, "WARNING": report.Medium, "INFO": report.Low,
		"CRITICAL": report.Critical, "HIGH": report.High, "MEDIUM": report.Medium, "LOW": report.Low,
		"EXPERIMENT": report.Info, "INVENTORY": report.Info,
		"warning": report.Medium, "": report.High, "SEVERE": report.High,
	} {
		assert.Equal(t, want, Severity(in), in)
	}
}

func readOutput(t *testing.T, name string) *cliOutput {
	t.Helper()
	data, err := os.ReadFile("testdata/output/" + name)
	require.NoError(t, err)
	out, err := parseOutput(data)
	require.NoError(t, err)
	return out
}

// The key is the same whether the lines come from the side's tree or from
// a logged-in semgrep's extra.lines, and empty when neither is there.
func TestKeySources(t *testing.T) {
	out := readOutput(t, "loggedin.json")
	require.Len(t, *out.Results, 1)
	m := (*out.Results)[0]
	noDisk := func(string, int, int) (string, bool) { return "", false }

	root, err := os.OpenRoot("testdata/scenario/head")
	require.NoError(t, err)
	defer root.Close()
	fromDisk, _, err := convert(m, "", newSourceCache(root).lines)
	require.NoError(t, err)
	fromLines, _, err := convert(m, "", noDisk)
	require.NoError(t, err)
	assert.NotEmpty(t, fromDisk.Key)
	assert.Equal(t, fromDisk.Key, fromLines.Key)
	assert.Equal(t, report.ComputeFingerprint(fromDisk), report.ComputeFingerprint(fromLines))

	m.Extra.Lines = requiresLogin
	none, _, err := convert(m, "", noDisk)
	require.NoError(t, err)
	assert.Empty(t, none.Key)
}

func TestParseErrorsAndMetadata(t *testing.T) {
	out := readOutput(t, "partial.json")
	assert.Empty(t, fatalErrors(out, false))
	assert.Equal(t, []string{`warn "PartialParsing" on app/main.py: Syntax error at line app/main.py:17: ` + "`HTTP` was unexpected"}, fatalErrors(out, true))

	var e cliError
	require.NoError(t, json.Unmarshal([]byte(`{"code": 2, "level": "fatal", "type": "Fatal error", "message": "boom"}`), &e))
	assert.Equal(t, `fatal "Fatal error": boom`, describeError(e), "an unknown level is fatal")
	only := []cliError{e}
	assert.Len(t, fatalErrors(&cliOutput{Errors: &only}, false), 1)

	md := parseMetadata(json.RawMessage(`{"cwe": "CWE-95: Eval Injection", "owasp": ["A03:2021 - Injection"], "confidence": "HIGH", "shortlink": "https://sg.run/x", "category": "correctness", "references": "https://example.com"}`))
	assert.Equal(t, metadata{CWE: []string{"CWE-95: Eval Injection"}, OWASP: []string{"A03:2021 - Injection"},
		References: []string{"https://example.com"}, Category: "correctness", Confidence: "HIGH", Source: "https://sg.run/x"}, md)
	assert.Equal(t, []string{"security", "correctness", "external/cwe/cwe-95"}, ruleTags(md))
	assert.Equal(t, metadata{}, parseMetadata(json.RawMessage(`[1]`)))
}

func TestPaths(t *testing.T) {
	assert.Equal(t, "app/main.py", relPath("/src/base", "/src/base/app/main.py"))
	assert.Equal(t, "app/main.py", relPath("/src/base", "./app/main.py"))
	assert.Equal(t, "/elsewhere/x.py", relPath("/src/base", "/elsewhere/x.py"))
	assert.Equal(t, "Eval detected", ruleTitle(ruleEval))
	assert.Equal(t, "Missing user", ruleTitle(ruleMissingUser))
	assert.Equal(t, "Plain", ruleTitle("plain"))
}
