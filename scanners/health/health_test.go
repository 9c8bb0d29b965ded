package health

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/shadow"
)

func target(t *testing.T, d *shadow.Deployment) scanners.Target {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("app/deploy.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"))
	require.NoError(t, err)
	set, err := manifest.NewSet(objs)
	require.NoError(t, err)
	return scanners.Target{Side: scanners.Head, Set: set, Shadow: d}
}

var web = manifest.Identity{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"}
var webOrigin = manifest.Origin{Location: manifest.Location{Path: "app/deploy.yaml", Line: 1}}

func TestHealthFindings(t *testing.T) {
	d := &shadow.Deployment{
		Namespace: "aegis-abc-head",
		Health:    shadow.Degraded,
		Objects: []shadow.ObjectStatus{
			{ID: web, Origin: webOrigin, Health: shadow.Degraded},
			{ID: manifest.Identity{Kind: "Service", Namespace: "shop", Name: "web"}, Origin: webOrigin, Health: shadow.Healthy},
			{ID: manifest.Identity{Kind: "PersistentVolumeClaim", Namespace: "shop", Name: "data"}, Origin: manifest.Origin{Location: manifest.Location{Path: "app/pvc.yaml", Line: 3}}, Health: shadow.Progressing, Message: "waiting for a volume"},
		},
		Diagnoses: []shadow.Diagnosis{
			{ID: web, Origin: webOrigin, Reason: shadow.ReasonCrashLoop, Pod: "web-1", Container: "app", Message: "back-off restarting"},
		},
	}
	fs, err := Health{}.Scan(context.Background(), target(t, d))
	require.NoError(t, err)
	require.Len(t, fs, 2, "the diagnosed Deployment once, the PVC generically, the healthy Service not at all")
	assert.Equal(t, "health.crashLoop", fs[0].RuleID)
	assert.Equal(t, report.High, fs[0].Severity)
	assert.Equal(t, "app", fs[0].Resource.Container)
	assert.Equal(t, "apps/v1", fs[0].Resource.APIVersion)
	assert.Equal(t, report.Location{Path: "app/deploy.yaml", Line: 1}, fs[0].Location)
	assert.Equal(t, "health.degraded", fs[1].RuleID)
	assert.Contains(t, fs[1].Message, "waiting for a volume")
	assert.Equal(t, "app/pvc.yaml", fs[1].Location.Path)

	// The fingerprint ignores the shadow namespace: the same failure on the
	// base and the head is one unchanged finding.
	d2 := *d
	d2.Namespace = "aegis-abc-base"
	fs2, err := Health{}.Scan(context.Background(), target(t, &d2))
	require.NoError(t, err)
	assert.Equal(t, fs[0].Fingerprint, fs2[0].Fingerprint)
}

func TestAdmissionFindings(t *testing.T) {
	d := &shadow.Deployment{
		Namespace: "aegis-abc-head",
		Warnings:  []shadow.Warning{{ID: web, Origin: webOrigin, Text: `would violate PodSecurity "restricted:latest": privileged (container "app" must not set securityContext.privileged=true)`}},
		Refusals: []shadow.Refusal{
			{ID: manifest.Identity{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "admin-ish"}, Origin: manifest.Origin{Location: manifest.Location{Path: "app/rbac.yaml", Line: 9}}, Reason: shadow.ReasonClusterScoped},
			{ID: manifest.Identity{Group: "example.com", Kind: "Widget", Namespace: "shop", Name: "w"}, Origin: webOrigin, Reason: shadow.ReasonMissingCRD},
		},
	}
	fs, err := Admission{}.Scan(context.Background(), target(t, d))
	require.NoError(t, err)
	require.Len(t, fs, 3)
	rules := map[string]report.Severity{}
	for _, f := range fs {
		rules[f.RuleID] = f.Severity
		assert.Equal(t, "admission", f.Scanner)
	}
	assert.Equal(t, map[string]report.Severity{"admission.warning": report.Medium, "admission.clusterScoped": report.Info, "admission.missingCRD": report.Medium}, rules)
	assert.Equal(t, "app/rbac.yaml", fs[1].Location.Path)
}

func TestRulesCoverEveryFinding(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range append(Health{}.Rules(), Admission{}.Rules()...) {
		ids[r.ID] = true
		assert.NotEmpty(t, r.Help)
		assert.Contains(t, r.Tags, "security")
	}
	for _, r := range healthRules {
		assert.True(t, ids[r.id])
	}
	b, err := json.Marshal(Health{}.Rules())
	require.NoError(t, err)
	assert.NotEmpty(t, b)
}

func TestRunnerSkipsWithoutShadow(t *testing.T) {
	res := (&scanners.Runner{Scanners: []scanners.Scanner{Health{}}}).Run(context.Background(), scanners.Target{Side: scanners.Base})
	require.Len(t, res.Runs, 1)
	assert.Equal(t, report.StatusSkipped, res.Runs[0].Status)
}
