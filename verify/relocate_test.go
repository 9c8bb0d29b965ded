package verify

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

func finding(rule string, sev report.Severity, state report.State, path string, line int, name string) report.Finding {
	return report.Finding{Scanner: "posture", RuleID: rule, Severity: sev, BaselineState: state,
		Resource: report.Resource{Kind: "Deployment", Name: name}, Location: report.Location{Path: path, Line: line}}
}

// When the sides are directories inside the workspace, locations become
// repository paths, so that annotations and code-scanning alerts land on
// the repository's files.
func TestRelocate(t *testing.T) {
	ws := t.TempDir()
	for _, d := range []string{"examples/x/before", "examples/x/after"} {
		require.NoError(t, os.MkdirAll(filepath.Join(ws, d), 0o755))
	}
	r := &report.Report{
		Findings: []report.Finding{
			finding("n", report.High, report.New, "overlays/prod/a.yaml", 3, "a"),
			finding("u", report.High, report.Unchanged, "base/b.yaml", 4, "b"),
			finding("f", report.High, report.Absent, "base/b.yaml", 5, "b"),
			finding("nopath", report.High, report.New, "", 0, "c"),
		},
		Shadow: &report.Shadow{Head: &report.ShadowSide{Objects: []report.ShadowObject{{Kind: "Pod", Location: report.Location{Path: "base/p.yaml", Line: 1}}}}},
	}
	t.Chdir(ws)
	relocate(r, ws, Source{Dir: "examples/x/before"}, Source{Dir: "examples/x/after"})
	assert.Equal(t, "examples/x/after/overlays/prod/a.yaml", r.Findings[0].Location.Path)
	assert.Equal(t, "examples/x/after/base/b.yaml", r.Findings[1].Location.Path)
	assert.Equal(t, "examples/x/before/base/b.yaml", r.Findings[2].Location.Path)
	assert.Equal(t, "", r.Findings[3].Location.Path)
	assert.Equal(t, "examples/x/after/base/p.yaml", r.Shadow.Head.Objects[0].Location.Path)

	// Revisions: paths are repository paths already.
	r2 := &report.Report{Findings: []report.Finding{finding("n", report.High, report.New, "deploy/a.yaml", 3, "a")}}
	relocate(r2, ws, Source{Revision: "main"}, Source{Revision: "HEAD"})
	assert.Equal(t, "deploy/a.yaml", r2.Findings[0].Location.Path)
	// A directory outside the workspace is left as it is.
	r3 := &report.Report{Findings: []report.Finding{finding("n", report.High, report.New, "a.yaml", 3, "a")}}
	relocate(r3, filepath.Join(ws, "examples"), Source{Dir: t.TempDir()}, Source{Dir: t.TempDir()})
	assert.Equal(t, "a.yaml", r3.Findings[0].Location.Path)
}
