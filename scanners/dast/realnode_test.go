package dast_test

// The DAST scanner on a real node: both sides of examples/kustomize-overlay
// (web 1.0, then 1.1) deployed in two shadow namespaces whose pods really
// run, scanned by the real Wapiti through client-go port-forwards.
//
//	NODE=real make cluster-up && make images   # and hack/cluster/node-import.sh .cache/images/*.tar on a running node
//	AEGIS_NODE=real AEGIS_KUBECONFIG=$(NODE=real hack/cluster/status.sh) \
//	    go test -count=1 -run RealNode -v ./scanners/dast/
//
// Without AEGIS_NODE=real and AEGIS_KUBECONFIG it skips; with
// AEGIS_REQUIRE_REAL_NODE=1 a missing real node, or a missing wapiti, is a
// failure instead.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/internal/testcluster"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/dast"
	"github.com/kube-sentient/aegis/scanners/dast/internal/dasttest"
	"github.com/kube-sentient/aegis/scanners/dast/wapiti"
	"github.com/kube-sentient/aegis/shadow"
)

func TestRealNodeWapitiSeesTheFixOfTheKustomizeExample(t *testing.T) {
	_, cfg := testcluster.RealNode(t)
	dasttest.RequireWapiti(t, "AEGIS_REQUIRE_REAL_NODE")
	root := dasttest.RepoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	sets := map[string]*manifest.Set{}
	for side, dir := range map[string]string{scanners.Base: "before", scanners.Head: "after"} {
		res, err := render.Render(ctx, filepath.Join(root, "examples", "kustomize-overlay", dir), "overlays/prod", render.Options{})
		require.NoError(t, err, side)
		sets[side] = res.Set
	}

	run := fmt.Sprintf("dast%d", time.Now().UnixNano()%1_000_000_000)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := shadow.GC(ctx, cfg, run, time.Now()); err != nil {
			t.Errorf("gc of run %s: %v", run, err)
		}
	})
	m, err := shadow.NewManager(cfg, shadow.Options{RunID: run, HealthTimeout: 2 * time.Minute, Progress: t.Logf})
	require.NoError(t, err)

	start := time.Now()
	deployed := map[string]*shadow.Deployment{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, side := range []string{scanners.Base, scanners.Head} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := m.Deploy(ctx, side, sets[side])
			if err != nil {
				t.Errorf("deploying %s: %v", side, err)
				return
			}
			mu.Lock()
			deployed[side] = d
			mu.Unlock()
		}()
	}
	wg.Wait()
	defer func() {
		for _, d := range deployed {
			if err := m.Teardown(context.Background(), d); err != nil {
				t.Errorf("teardown of %s: %v", d.Namespace, err)
			}
		}
	}()
	require.Len(t, deployed, 2)
	for side, d := range deployed {
		require.Equal(t, shadow.Healthy, d.Health, "%s: %+v %+v", side, d.Objects, d.Diagnoses)
	}
	t.Logf("both sides deployed and healthy in %s", time.Since(start).Round(time.Millisecond))

	// Through the runner, as verify runs it.
	sc := dast.New(wapiti.New(wapiti.Options{Logf: t.Logf}), dast.Options{Kube: cfg, Logf: t.Logf})
	policy := config.Default()
	on := true
	policy.Scanners["wapiti"] = config.ScannerSettings{Enabled: &on} // opt-in, as in .aegis.yaml
	runner := scanners.Runner{Scanners: []scanners.Scanner{sc}, Config: policy, Progress: t.Logf}
	res := runner.Run(ctx,
		scanners.Target{Side: scanners.Base, Set: sets[scanners.Base], Shadow: deployed[scanners.Base]},
		scanners.Target{Side: scanners.Head, Set: sets[scanners.Head], Shadow: deployed[scanners.Head]},
	)
	require.Len(t, res.Runs, 2)
	for _, r := range res.Runs {
		require.Equal(t, report.StatusOK, r.Status, "%s: %s", r.Side, r.Error)
		assert.Equal(t, "wapiti", r.Name)
		assert.Regexp(t, `^\d+\.\d+\.\d+`, r.Version)
		t.Logf("wapiti on %s (%s): %d findings in %d ms, port-forward included", r.Side, deployed[r.Side].Namespace, r.Findings, r.DurationMs)
	}

	base, head := res.Findings[scanners.Base], res.Findings[scanners.Head]
	svc, ok := sets[scanners.Base].Find(manifest.Identity{Kind: "Service", Namespace: "shop", Name: "prod-web"})
	require.True(t, ok)
	var xss *report.Finding
	for i, f := range base {
		assert.Equal(t, report.Resource{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "prod-web"}, f.Resource, "the Service as the rendered set names it")
		assert.Equal(t, svc.Origin.Location, f.Location)
		if f.RuleID == "wapiti.xss" {
			xss = &base[i]
		}
	}
	require.NotNil(t, xss, "web 1.0 reflects ?q= unescaped: %v", ruleKeys(base))
	assert.Equal(t, "port 80 GET /?q param=q", xss.Key)
	assert.Contains(t, xss.Message, "Service shop/prod-web port 80 (pod prod-web-")
	t.Logf("base XSS: %s", xss.Message)

	states := map[string]report.State{}
	for _, f := range report.Delta(base, head) {
		states[f.RuleID+" "+f.Key] = f.BaselineState
	}
	t.Logf("delta: %v", states)
	for _, k := range []string{
		"wapiti.xss port 80 GET /?q param=q",
		"wapiti.http_headers port 80 GET /: X-Frame-Options is not set",
		"wapiti.http_headers port 80 GET /: X-Content-Type-Options is not set",
		"wapiti.csp port 80 GET /: CSP is not set",
	} {
		assert.Equal(t, report.Absent, states[k], "%s: in the base, fixed by the head", k)
	}
	for k, s := range states {
		assert.NotEqual(t, report.New, s, "the head introduces nothing: %s", k)
		if strings.HasPrefix(k, "wapiti.xss") {
			assert.Equal(t, report.Absent, s)
		}
	}
}

func ruleKeys(fs []report.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.RuleID + " " + f.Key
	}
	return out
}
