package verify

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-sentient/aegis/internal/testcluster"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/health"
	"github.com/kube-sentient/aegis/scanners/posture"
	"github.com/kube-sentient/aegis/shadow"
)

var setsNow = func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }

func renderExample(t *testing.T, side string) *render.Result {
	t.Helper()
	res, err := render.Render(context.Background(), "../examples/kustomize-overlay/"+side, "overlays/prod", render.Options{})
	require.NoError(t, err)
	return res
}

// RunSets on the sets Run would render gives Run's verdict, findings,
// digests and changes: it is the same pipeline without the rendering.
func TestRunSetsMatchesRun(t *testing.T) {
	viaRun := run(t, "../examples/kustomize-overlay/before", "../examples/kustomize-overlay/after", "overlays/prod")
	base, head := renderExample(t, "before"), renderExample(t, "after")
	viaSets, err := RunSets(context.Background(),
		SetSide{Set: base.Set, Source: "before", Type: base.Type},
		SetSide{Set: head.Set, Source: "after", Type: head.Type},
		Options{Scanners: []scanners.Scanner{posture.New()}, Now: setsNow})
	require.NoError(t, err)
	a, b := viaRun.Report, viaSets.Report
	assert.Equal(t, report.Fail, b.Verdict)
	assert.Equal(t, a.Verdict, b.Verdict)
	assert.Equal(t, a.Reasons, b.Reasons)
	assert.Equal(t, a.Findings, b.Findings)
	assert.Equal(t, a.Changes, b.Changes)
	assert.Equal(t, a.Summary, b.Summary)
	assert.Equal(t, a.Base.Digest, b.Base.Digest)
	assert.Equal(t, a.Head.Digest, b.Head.Digest)
	assert.Equal(t, "before", b.Base.Source)
	assert.Equal(t, "after", b.Head.Source)
	assert.Equal(t, "kustomize", b.Head.Type)
	assert.Same(t, head.Set, viaSets.Head.Set)
}

func TestRunSetsSameSetPasses(t *testing.T) {
	s := renderExample(t, "before").Set
	res, err := RunSets(context.Background(), SetSide{Set: s}, SetSide{Set: s}, Options{Scanners: []scanners.Scanner{posture.New()}, Now: setsNow})
	require.NoError(t, err)
	r := res.Report
	assert.Equal(t, report.Pass, r.Verdict, "%v", r.Reasons)
	assert.Zero(t, r.Summary.New)
	assert.NotZero(t, r.Summary.Unchanged, "the base's privileged container is in both sides")
	assert.Equal(t, "base", r.Base.Source, "an unnamed side is named after its role")
	assert.Empty(t, r.Base.Type)
}

// An empty base (nothing runs yet) makes every finding of the head new.
func TestRunSetsEmptyBase(t *testing.T) {
	head := renderExample(t, "before").Set
	res, err := RunSets(context.Background(), SetSide{Set: &manifest.Set{}}, SetSide{Set: head}, Options{Scanners: []scanners.Scanner{posture.New()}, Now: setsNow})
	require.NoError(t, err)
	r := res.Report
	assert.Equal(t, report.Fail, r.Verdict)
	assert.Zero(t, r.Summary.Unchanged)
	assert.Equal(t, r.Summary.New, len(r.Findings))
}

func TestRunSetsBadInput(t *testing.T) {
	s := renderExample(t, "before").Set
	_, err := RunSets(context.Background(), SetSide{}, SetSide{Set: s}, Options{})
	require.Error(t, err)
	assert.True(t, IsBadInput(err))
	_, err = RunSets(context.Background(), SetSide{Set: s}, SetSide{Set: s}, Options{Shadow: ShadowBoth})
	require.Error(t, err)
	assert.True(t, IsBadInput(err), "a shadow mode without a cluster is bad input, as for Run")
	assert.Contains(t, err.Error(), "needs a cluster")
}

// TestIntegrationRunSetsShadow deploys both sets into shadow namespaces on
// the local control plane and tears them down.
func TestIntegrationRunSetsShadow(t *testing.T) {
	_, cfg := testcluster.Kubeconfig(t)
	runID := realNodeRunID("sets")
	collectRun(t, cfg, runID)
	base, head := renderExample(t, "before"), renderExample(t, "after")
	res, err := RunSets(context.Background(), SetSide{Set: base.Set, Source: "live"}, SetSide{Set: head.Set, Source: "rendered"}, Options{
		Scanners:      []scanners.Scanner{posture.New(), health.Health{}},
		Shadow:        ShadowBoth,
		Kube:          cfg,
		ShadowOptions: shadow.Options{RunID: runID, HealthTimeout: 2 * time.Minute},
		Progress:      testProgress(t),
		Now:           setsNow,
	})
	require.NoError(t, err)
	r := res.Report
	require.NotNil(t, r.Shadow)
	require.NotNil(t, r.Shadow.Base)
	require.NotNil(t, r.Shadow.Head)
	assert.Equal(t, shadow.NamespaceName(runID, "head"), r.Shadow.Head.Namespace)
	assert.Equal(t, report.Fail, r.Verdict, "the head's hostPath volume is new")
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	left, err := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: shadow.LabelRun + "=" + runID})
	require.NoError(t, err)
	assert.Empty(t, left.Items, "RunSets tears its shadow namespaces down")
}
