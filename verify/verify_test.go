package verify

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/posture"
)

func run(t *testing.T, base, head, path string) *Result {
	t.Helper()
	res, err := Run(context.Background(), Options{
		Base: Source{Dir: base}, Head: Source{Dir: head}, Path: path,
		Scanners: []scanners.Scanner{posture.New()},
		Now:      func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) },
	})
	require.NoError(t, err)
	return res
}

func TestSameSourceOnBothSides(t *testing.T) {
	dir := "../examples/kustomize-overlay/before"
	res := run(t, dir, dir, "overlays/prod")
	r := res.Report
	assert.Equal(t, r.Base.Digest, r.Head.Digest, "identical renders, identical digests")
	assert.Empty(t, r.Changes)
	assert.Zero(t, r.Summary.New)
	assert.Zero(t, r.Summary.Fixed)
	assert.NotZero(t, r.Summary.Unchanged)
	assert.Equal(t, report.Pass, r.Verdict, "nothing new: the gate passes even though findings remain")
}

func TestKustomizeFixWithNewOverlayFinding(t *testing.T) {
	res := run(t, "../examples/kustomize-overlay/before", "../examples/kustomize-overlay/after", "overlays/prod")
	r := res.Report
	assert.Equal(t, report.Fail, r.Verdict)
	assert.Equal(t, "kustomize", r.Head.Type)
	assert.NotEqual(t, r.Base.Digest, r.Head.Digest)
	var newHostPath, fixedPrivileged bool
	for _, f := range r.Findings {
		if f.RuleID == "pss.hostPathVolumes" && f.BaselineState == report.New {
			newHostPath = true
			assert.Equal(t, "overlays/prod/node-logs.yaml", f.Location.Path)
			assert.Equal(t, "shop", f.Resource.Namespace)
		}
		if f.RuleID == "pss.privileged" && f.BaselineState == report.Absent {
			fixedPrivileged = true
			assert.Equal(t, "base/deployment.yaml", f.Location.Path)
		}
	}
	assert.True(t, newHostPath, "the overlay's hostPath volume is new")
	assert.True(t, fixedPrivileged, "the base's privileged container is fixed")
	require.Len(t, r.Changes, 1)
	assert.Equal(t, "changed", r.Changes[0].Change)
}

func TestWaiverLetsTheGatePass(t *testing.T) {
	cfg, err := config.Parse(".aegis.yaml", []byte(`apiVersion: aegis.dev/v1alpha1
kind: Config
waivers:
  - ruleId: pss.hostPathVolumes
    resource: Deployment/shop/prod-web
    reason: log shipping until the node agent lands
    owner: team-platform
    expires: 2027-01-31
`))
	require.NoError(t, err)
	res, err := Run(context.Background(), Options{
		Base: Source{Dir: "../examples/kustomize-overlay/before"}, Head: Source{Dir: "../examples/kustomize-overlay/after"}, Path: "overlays/prod",
		Config: cfg, Scanners: []scanners.Scanner{posture.New()},
		Now: func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) },
	})
	require.NoError(t, err)
	assert.Equal(t, report.Pass, res.Report.Verdict, res.Report.Reasons)
	assert.Equal(t, 1, res.Report.Summary.Waived)
}

func TestShadowModesNeedACluster(t *testing.T) {
	_, err := Run(context.Background(), Options{Base: Source{Dir: "."}, Head: Source{Dir: "."}, Shadow: ShadowHead})
	require.Error(t, err)
	assert.True(t, IsBadInput(err))
}

func TestNoScannerIsNoPass(t *testing.T) {
	dir := "../examples/plain-yaml/after"
	res, err := Run(context.Background(), Options{Base: Source{Dir: dir}, Head: Source{Dir: dir}})
	require.NoError(t, err)
	assert.Equal(t, report.Error, res.Report.Verdict, "a verdict is never pass by accident")
}
