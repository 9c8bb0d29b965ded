package trivy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

// TestUpdateFixture regenerates testdata/config-output.json with the real
// binary when AEGIS_UPDATE_TRIVY_FIXTURE=1: the input is what Scan writes
// for testdata/manifests, and the arguments are Scan's.
func TestUpdateFixture(t *testing.T) {
	if os.Getenv("AEGIS_UPDATE_TRIVY_FIXTURE") != "1" {
		t.Skip("set AEGIS_UPDATE_TRIVY_FIXTURE=1 to regenerate testdata/config-output.json")
	}
	bin := realTrivy(t)
	s := New(Options{Binary: bin})
	tmp := t.TempDir()
	_, err := writeInput(filepath.Join(tmp, "manifests"), fixtureSet(t))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := s.run(ctx, bin, tmp, s.configArgs("manifests", filepath.Join(tmp, "cache"))...)
	require.NoError(t, err)
	_, err = ParseReport(out)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("testdata/config-output.json", out, 0o644))
	v, err := s.Version(ctx)
	require.NoError(t, err)
	t.Logf("wrote testdata/config-output.json with Trivy %s", v)
}

// TestRealTrivyOnTheKustomizeExample runs the real binary on both sides of
// examples/kustomize-overlay, rendered as aegis renders them, and checks
// that findings land on the source lines and that the delta shows the fix
// (the privileged container) and the regression (the hostPath volume).
func TestRealTrivyOnTheKustomizeExample(t *testing.T) {
	bin := realTrivy(t)
	s := New(Options{Binary: bin})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	v, err := s.Version(ctx)
	require.NoError(t, err)
	t.Logf("trivy %s at %s", v, bin)

	ex := filepath.Join("..", "..", "examples", "kustomize-overlay")
	base := renderSet(t, filepath.Join(ex, "before"), "overlays/prod")
	head := renderSet(t, filepath.Join(ex, "after"), "overlays/prod")

	baseFindings, err := s.Scan(ctx, target(scanners.Base, base))
	require.NoError(t, err)
	headFindings, err := s.Scan(ctx, target(scanners.Head, head))
	require.NoError(t, err)
	for _, f := range baseFindings {
		t.Logf("base: %s %s %s %s: %s", f.Location, f.RuleID, f.Severity, f.Resource, f.Message)
	}
	for _, f := range headFindings {
		t.Logf("head: %s %s %s %s: %s", f.Location, f.RuleID, f.Severity, f.Resource, f.Message)
	}

	// The privileged container, at `privileged: true` in the base file.
	priv := find(baseFindings, "KSV-0017", "web")
	require.NotNil(t, priv, "base must report the privileged container")
	assert.Equal(t, "base/deployment.yaml:23", priv.Location.String())
	assert.Equal(t, report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "prod-web", Container: "web"}, priv.Resource)
	assert.Equal(t, report.High, priv.Severity)
	assert.Nil(t, find(headFindings, "KSV-0017", "web"), "head dropped privileged")

	// The hostPath volume the head's overlay patch adds, in that patch.
	hp := find(headFindings, "KSV-0023", "")
	require.NotNil(t, hp, "head must report the hostPath volume")
	assert.Equal(t, "overlays/prod/node-logs.yaml", hp.Location.Path)
	assert.Nil(t, find(baseFindings, "KSV-0023", ""))

	// Every finding is placed in a source file the side has.
	for _, f := range append(append([]report.Finding{}, baseFindings...), headFindings...) {
		assert.NotEmpty(t, f.Location.Path, "%s", f.RuleID)
		assert.Positive(t, f.Location.Line, "%s %s", f.RuleID, f.Location)
	}

	delta := report.Delta(baseFindings, headFindings)
	state := map[string]report.State{}
	for _, f := range delta {
		state[f.RuleID+"/"+f.Resource.Container] = f.BaselineState
		t.Logf("delta: %-9s %s %s %s", f.BaselineState, f.RuleID, f.Resource, f.Location)
	}
	assert.Equal(t, report.Absent, state["KSV-0017/web"], "privileged is fixed")
	assert.Equal(t, report.New, state["KSV-0023/"], "hostPath is new")
}

func find(fs []report.Finding, rule, container string) *report.Finding {
	for i := range fs {
		if fs[i].RuleID == rule && fs[i].Resource.Container == container {
			return &fs[i]
		}
	}
	return nil
}
