package trivy

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

// The images of pods inside custom resources go to trivy-image, each at
// the line of its image field: the containers of every well-known kind,
// of Argo templates (container, script, sidecars, containerSet, init
// containers), of pod-shaped fields of an unknown kind, and the images
// the Prometheus operator's kinds keep in spec.image (and spec.thanos.image).
func TestCollectImagesOfPodsInsideCustomResources(t *testing.T) {
	b, err := os.ReadFile("../podspec/testdata/crpods.yaml")
	require.NoError(t, err)
	src := string(b)
	set := writeManifests(t, "", map[string]string{"cr.yaml": src})
	uses, err := collectImages(set)
	require.NoError(t, err)
	type use struct{ kind, container, ref string }
	got := map[use]report.Location{}
	for _, u := range uses {
		k := use{u.obj.GetKind(), u.container, u.ref}
		assert.NotContains(t, got, k)
		got[k] = report.Location(u.obj.Locate(u.path))
	}
	at := func(marker string) report.Location {
		return report.Location{Path: "cr.yaml", Line: lineIn(t, src, "# "+marker, 1)}
	}
	want := map[use]report.Location{
		{"Rollout", "app", "img/rollout:1"}:                    at("ro-image"),
		{"Workflow", "main", "img/wf-build:1"}:                 at("wf-build-image"),
		{"Workflow", "main", "img/wf-lint:1"}:                  at("wf-lint-image"),
		{"Workflow", "helper", "img/wf-sidecar:1"}:             at("wf-sidecar-image"),
		{"Workflow", "a", "img/wf-set-a:1"}:                    at("wf-set-image"),
		{"Workflow", "main", "img/wf-patched:1"}:               at("wf-patched-image"),
		{"WorkflowTemplate", "init", "img/wft-init:1"}:         at("wft-init-image"),
		{"WorkflowTemplate", "main", "img/wft:1"}:              at("wft-image"),
		{"CronWorkflow", "main", "img/cwf:1"}:                  at("cwf-image"),
		{"ScaledJob", "worker", "img/scaledjob:1"}:             at("sj-image"),
		{"Service", "user-container", "img/knative:1"}:         at("kn-image"),
		{"Prometheus", "prometheus", "img/prometheus:1"}:       at("prom-image"),
		{"Prometheus", "thanos-sidecar", "img/thanos:1"}:       at("prom-thanos-image"),
		{"Alertmanager", "alertmanager", "img/alertmanager:1"}: at("am-image"),
		{"ThanosRuler", "thanos-ruler", "img/thanos-ruler:1"}:  at("tr-image"),
		{"ThanosRuler", "setup", "img/tr-init:1"}:              at("tr-init-image"),
		{"CloneSet", "app", "img/cloneset:1"}:                  at("cs-image"),
		{"StatefulSet", "db", "img/asts:1"}:                    at("asts-image"),
		{"Widget", "run", "img/widget:1"}:                      at("widget-image"),
		{"Widget", "job", "img/widget-job:1"}:                  at("widget-job-image"),
	}
	assert.Equal(t, want, got, "the Database's spec.image is not a pod's: it is listed as unscanned instead")
}

// A pod-shaped field of an unknown kind whose image is not a string
// cannot be pod-shaped (the shape asks for a string), and a well-known
// kind's container list of the wrong type fails the scan.
func TestCollectImagesRefusesMalformedCustomResources(t *testing.T) {
	for name, doc := range map[string]string{
		"rollout containers not a list": "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: p\nspec:\n  template:\n    spec:\n      containers: {c: x}\n",
		"workflow templates not a list": "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: p\nspec:\n  templates: x\n",
		"prometheus image not a string": "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata:\n  name: p\nspec:\n  image: [a]\n",
	} {
		t.Run(name, func(t *testing.T) {
			set := writeManifests(t, "", map[string]string{"p.yaml": doc})
			_, err := collectImages(set)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "p.yaml")
		})
	}
}
