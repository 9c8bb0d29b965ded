package trivy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/manifest"
)

// A Secret spelled to dodge an exact check (odd apiVersion, kind in
// another case) is still a Secret: it stays out of Trivy's input and its
// values are masked in what Trivy says.
func TestHostileSecretSpellingsStayOutOfTrivysInput(t *testing.T) {
	set, err := manifest.NewSet(mustDecode(t, `apiVersion: "v1 "
kind: Secret
metadata: {name: a}
stringData: {k: first-hidden-value}
---
apiVersion: core/v1
kind: secret
metadata: {name: b}
stringData: {k: second-hidden-value}
---
apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: c}
spec: {refreshInterval: 1h}
`))
	require.NoError(t, err)
	in, err := writeInput(t.TempDir(), set)
	require.NoError(t, err)
	var kinds []string
	for _, f := range in.files {
		kinds = append(kinds, f.obj.GetKind())
	}
	assert.Equal(t, []string{"ExternalSecret"}, kinds, "only the object that is no Secret is scanned")
	vals := secretValues(set)
	assert.Contains(t, vals, "first-hidden-value")
	assert.Contains(t, vals, "second-hidden-value")
}
