package diff

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/manifest"
)

func set(t *testing.T, path, yaml string) *manifest.Set {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode(path, []byte(yaml))
	require.NoError(t, err)
	s, err := manifest.NewSet(objs)
	require.NoError(t, err)
	return s
}

const baseYAML = `apiVersion: v1
kind: ConfigMap
metadata: {name: keep}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gone}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 1}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: c2VjcmV0LWJhc2U=, user: YWRtaW4=}
`

const headYAML = `apiVersion: v1
kind: ConfigMap
metadata: {name: keep}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 2}
---
apiVersion: v1
kind: Service
metadata: {name: web}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: c2VjcmV0LWhlYWQ=, user: YWRtaW4=}
`

func TestCompute(t *testing.T) {
	changes, err := Compute(set(t, "base.yaml", baseYAML), set(t, "head.yaml", headYAML))
	require.NoError(t, err)

	got := map[string]Type{}
	for _, c := range changes {
		got[c.ID.String()] = c.Type
	}
	assert.Equal(t, map[string]Type{
		"ConfigMap/gone":      Removed,
		"Deployment.apps/web": Changed,
		"Service/web":         Added,
		"Secret/creds":        Changed,
	}, got)
	assert.Equal(t, "1 added, 1 removed, 2 changed", Summary(changes))

	for _, c := range changes {
		if c.ID.Name == "web" && c.Type == Changed {
			assert.Contains(t, c.Unified, "-  replicas: 1")
			assert.Contains(t, c.Unified, "+  replicas: 2")
			assert.Equal(t, "head.yaml", c.Path())
		}
	}
}

func TestSecretValuesNeverShown(t *testing.T) {
	changes, err := Compute(set(t, "base.yaml", baseYAML), set(t, "head.yaml", headYAML))
	require.NoError(t, err)
	out := Format(changes)
	for _, secret := range []string{"c2VjcmV0LWJhc2U=", "c2VjcmV0LWhlYWQ=", "YWRtaW4="} {
		assert.NotContains(t, out, secret)
	}
	assert.Contains(t, out, "password: '*** (changed)'")
	assert.NotContains(t, out, "user: '*** (changed)'", "an unchanged value is not flagged")
}

func TestIdenticalSetsHaveNoChanges(t *testing.T) {
	changes, err := Compute(set(t, "a.yaml", baseYAML), set(t, "b.yaml", baseYAML))
	require.NoError(t, err)
	assert.Empty(t, changes, "origins differ but content does not")
}

func TestSecretLookingLiteralsMasked(t *testing.T) {
	base := set(t, "a.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec:
  template:
    spec:
      containers:
        - name: w
          env:
            - {name: DB_PASSWORD, value: hunter2-base}
            - {name: LOG_LEVEL, value: debug}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  github: ghp_abcdefghijklmnopqrstuvwxyz0123456789AB
  mode: fast
`)
	head := set(t, "a.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec:
  template:
    spec:
      containers:
        - name: w
          env:
            - {name: DB_PASSWORD, value: hunter2-head}
            - {name: LOG_LEVEL, value: info}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  github: ghp_abcdefghijklmnopqrstuvwxyz0123456789AB
  mode: slow
`)
	changes, err := Compute(base, head)
	require.NoError(t, err)
	out := Format(changes)
	for _, s := range []string{"hunter2", "ghp_"} {
		assert.NotContains(t, out, s)
	}
	assert.Contains(t, out, "+              value: '*** (changed)'")
	assert.Contains(t, out, "+              value: info", "ordinary values are shown")
	assert.Contains(t, out, "+  mode: slow")
}

// TestSecretValuesNeverShownInAnyShape: a Secret whose values are not a
// map (stringData a list, data a string), whose apiVersion is not exactly
// "v1", or whose values sit in a field of a CRD's kind Secret, is still
// masked whole.
func TestSecretValuesNeverShownInAnyShape(t *testing.T) {
	base := `apiVersion: v1
kind: ConfigMap
metadata: {name: anchor}
`
	head := base + `---
apiVersion: "core/v1"
kind: Secret
metadata: {name: a}
stringData: [list-shaped-value]
data: string-shaped-value
---
apiVersion: example.com/v1
kind: Secret
metadata: {name: b}
spec: {token: crd-field-value, nested: [{deep: deep-value}], port: 4242}
`
	changes, err := Compute(set(t, "base.yaml", base), set(t, "head.yaml", head))
	require.NoError(t, err)
	out := Format(changes)
	for _, v := range []string{"list-shaped-value", "string-shaped-value", "crd-field-value", "deep-value", "4242"} {
		assert.NotContains(t, out, v)
	}
	assert.Contains(t, out, "token: '***'", "keys stay, values go")
	assert.Contains(t, out, "name: b", "metadata stays")
}
