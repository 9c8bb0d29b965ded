package plugin

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-sentient/aegis/manifest"
)

// gateJobFor returns the gate Job generated for a one-object set with the
// gate image image.
func gateJobFor(t *testing.T, image string) map[string]any {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("app.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: shop}\ndata: {a: b}\n"))
	require.NoError(t, err)
	set, err := manifest.NewSet(objs)
	require.NoError(t, err)
	env, err := ParseEnv(argoEnviron(baseApp()))
	require.NoError(t, err)
	s, err := env.Settings("v0.9.0")
	require.NoError(t, err)
	s.Image = image
	gate, err := Gate(GateSpec{Settings: s, Namespace: "shop", Set: set})
	require.NoError(t, err)
	job := gate[len(gate)-1]
	require.Equal(t, "Job", job.GetKind())
	containers, _, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers")
	require.Len(t, containers, 1)
	return containers[0].(map[string]any)
}

// The gate Job pulls an image named by digest only when the node lacks it
// (immutable: the cached copy is that image), and any other reference on
// every run (a tag can move; a node's copy may be stale).
func TestGateJobPullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"ghcr.io/kube-sentient/aegis:v1.4.0@" + testDigest:                 corev1.PullIfNotPresent,
		"ghcr.io/kube-sentient/aegis@" + testDigest:                        corev1.PullIfNotPresent,
		"registry.example:5000/aegis@sha512:" + repeat("ab", 64):           corev1.PullIfNotPresent,
		"ghcr.io/kube-sentient/aegis:v1.4.0":                               corev1.PullAlways,
		"ghcr.io/kube-sentient/aegis:latest":                               corev1.PullAlways,
		"ghcr.io/kube-sentient/aegis":                                      corev1.PullAlways,
		"registry.example:5000/aegis":                                      corev1.PullAlways,
		"ghcr.io/kube-sentient/aegis:v1@sha256:0123":                       corev1.PullAlways, // not a digest
		"ghcr.io/kube-sentient/aegis:v1@sha256:" + repeat("AB", 32):        corev1.PullAlways, // digests are lower-case hex
		"ghcr.io/kube-sentient/aegis@" + testDigest + "-not-the-end":       corev1.PullAlways,
		"ghcr.io/kube-sentient/aegis:v1.4.0@" + testDigest + "@" + "extra": corev1.PullAlways,
	} {
		assert.Equal(t, want, GatePullPolicy(image), image)
		assert.Equal(t, string(want), gateJobFor(t, image)["imagePullPolicy"], image)
	}
}

// The gate Job sets a CPU limit as well as a memory one.
func TestGateJobLimits(t *testing.T) {
	c := gateJobFor(t, "ghcr.io/kube-sentient/aegis:v1.4.0@"+testDigest)
	limits, _, _ := unstructured.NestedStringMap(c, "resources", "limits")
	assert.NotEmpty(t, limits["cpu"])
	assert.NotEmpty(t, limits["memory"])
}

// A tag-only :latest (written or implied) is warned about; a digest, or any
// other tag, is not.
func TestGateImageWarning(t *testing.T) {
	for _, image := range []string{
		"ghcr.io/kube-sentient/aegis:latest",
		"ghcr.io/kube-sentient/aegis",
		"registry.example:5000/aegis",
		"aegis",
	} {
		w := GateImageWarning(image)
		assert.Contains(t, w, image, image)
		assert.Contains(t, w, "Always", image)
	}
	for _, image := range []string{
		"ghcr.io/kube-sentient/aegis:latest@" + testDigest,
		"ghcr.io/kube-sentient/aegis@" + testDigest,
		"ghcr.io/kube-sentient/aegis:v1.4.0",
		"registry.example:5000/aegis:v2",
	} {
		assert.Empty(t, GateImageWarning(image), image)
	}
	assert.Equal(t, "ghcr.io/kube-sentient/aegis:latest", DefaultImage("dev"), "a development build's default is warned about")
	assert.NotEmpty(t, GateImageWarning(DefaultImage("dev")))
	assert.Empty(t, GateImageWarning(DefaultImage("v1.4.0")))
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
