package posture

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

// A capability the baseline forbids, without drop ALL: the baseline finding
// points at add; the restricted check still reports what remains (drop ALL
// is missing), not the capability again.
func TestCapabilitiesOverrideKeepsResidual(t *testing.T) {
	src := strings.Replace(variant(nil), `              drop: ["ALL"]`, `              add: ["SYS_ADMIN"]`, 1)
	fs := scan(t, src)
	assert.ElementsMatch(t, []got{{"pss.capabilities_baseline", "app", ""}, {"pss.capabilities_restricted", "app", ""}}, summary(fs))
	b, _ := find(fs, "pss.capabilities_baseline", "app", "")
	assert.Equal(t, report.High, b.Severity)
	assert.Contains(t, b.Message, "SYS_ADMIN")
	assert.Equal(t, lineOf(t, src, `add: ["SYS_ADMIN"]`), b.Location.Line)
	r, _ := find(fs, "pss.capabilities_restricted", "app", "")
	assert.Contains(t, r.Message, `drop=["ALL"]`)
	assert.NotContains(t, r.Message, "SYS_ADMIN", "the baseline finding already says it")
	assert.Equal(t, lineOf(t, src, "capabilities:"), r.Location.Line, "missing drop: the capabilities block")
}

// Annotations are their own subject, so an AppArmor annotation and an
// AppArmor field on the pod are two findings with two fingerprints.
func TestAppArmorAnnotationAndField(t *testing.T) {
	src := strings.Replace(variant(map[string]string{"PODSC": "        appArmorProfile: {type: Unconfined}"}), "      labels: {app: web}\n",
		"      labels: {app: web}\n      annotations:\n        container.apparmor.security.beta.kubernetes.io/app: unconfined\n", 1)
	fs := scan(t, src)
	assert.ElementsMatch(t, []got{{"pss.appArmorProfile", "", ""}, {"pss.appArmorProfile", "", "metadata.annotations"}}, summary(fs))
	pod, _ := find(fs, "pss.appArmorProfile", "", "")
	ann, _ := find(fs, "pss.appArmorProfile", "", "metadata.annotations")
	assert.Equal(t, lineOf(t, src, "appArmorProfile:"), pod.Location.Line)
	assert.Equal(t, lineOf(t, src, "annotations:"), ann.Location.Line)
	assert.NotEqual(t, pod.Fingerprint, ann.Fingerprint)
}

// Native sidecars run for the pod's lifetime: they need probes too.
func TestSidecarNeedsProbes(t *testing.T) {
	src := variant(map[string]string{"INIT": `      initContainers:
        - name: proxy
          image: ghcr.io/acme/proxy@` + digest + `
          restartPolicy: Always
          resources:
            limits: {cpu: 100m, memory: 64Mi}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: ["ALL"]}`})
	assert.ElementsMatch(t, []got{{RuleReadinessProbe, "proxy", ""}, {RuleLivenessProbe, "proxy", ""}}, summary(scan(t, src)))
}

func BenchmarkPostureScan(b *testing.B) {
	var src strings.Builder
	for i := range 1000 {
		if i > 0 {
			src.WriteString("---\n")
		}
		parts := map[string]string{}
		if i%3 == 0 { // a third of them insecure, so attribution runs too
			parts["APPSC"] = "            privileged: true"
			parts["POD"] = "      hostNetwork: true"
		}
		src.WriteString(strings.Replace(variant(parts), "name: web\n", fmt.Sprintf("name: web-%d\n", i), 1) + "\n")
	}
	set := decode(b, "deploys.yaml", src.String())
	require.Equal(b, 1000, set.Len())
	s := New()
	b.ReportAllocs()
	for b.Loop() {
		fs, err := s.Scan(b.Context(), scannersTarget(set))
		if err != nil || len(fs) == 0 {
			b.Fatal(err, len(fs))
		}
	}
}
