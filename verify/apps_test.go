package verify

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/apps"
	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
)

// An app aegis cannot verify is an error, unless the trusted policy allows
// it; then it is a reason of the report, never a silent pass.
func TestDropUnverifiable(t *testing.T) {
	found := [2]*apps.Result{{}, {Apps: []apps.App{
		{Name: "web", Sources: []apps.Source{{RepoURL: "https://github.com/a/b", Path: "x"}}},
		{Name: "vendor", Unverifiable: "its source https://github.com/v/x is another repository"},
	}}}
	cfg := config.Default()
	_, _, err := dropUnverifiable(Options{Config: cfg}, []string{"vendor", "web"}, found)
	require.Error(t, err)
	assert.True(t, IsBadInput(err))
	assert.Contains(t, err.Error(), "vendor (")
	assert.Contains(t, err.Error(), "apps.allowUnverifiable: true")

	cfg.Apps.AllowUnverifiable = true
	keep, skipped, err := dropUnverifiable(Options{Config: cfg}, []string{"vendor", "web"}, found)
	require.NoError(t, err)
	assert.Equal(t, []string{"web"}, keep)
	assert.Equal(t, []string{"app vendor was not verified: its source https://github.com/v/x is another repository (apps.allowUnverifiable)."}, skipped)
}

// The merged verdict is the worst; an unknown verdict is an error.
func TestWorse(t *testing.T) {
	assert.Equal(t, report.Fail, worse(report.Pass, report.Fail))
	assert.Equal(t, report.Error, worse(report.Fail, report.Error))
	assert.Equal(t, report.Fail, worse(report.Fail, report.Pass))
	assert.Equal(t, report.Error, worse(report.Pass, "bogus"))
}
