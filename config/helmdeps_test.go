package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelmDependenciesPolicy(t *testing.T) {
	const head = "apiVersion: aegis.dev/v1alpha1\nkind: Config\n"
	c, err := Parse(".aegis.yaml", []byte(head+`helm:
  dependencies:
    allowHosts: [charts.example.com, "*.github.io", "127.0.0.1:8080", "[::1]:5000"]
    pin:
      grafana@12.11.1: sha256:`+"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"+`
    mirrors:
      https://prometheus-community.github.io/helm-charts: https://mirror.example.com/prom
    cacheDir: /var/cache/aegis-charts
`))
	require.NoError(t, err)
	d := c.Helm.Dependencies
	assert.Equal(t, []string{"charts.example.com", "*.github.io", "127.0.0.1:8080", "[::1]:5000"}, d.AllowHosts)
	assert.Len(t, d.Pin, 1)
	assert.Equal(t, "https://mirror.example.com/prom", d.Mirrors["https://prometheus-community.github.io/helm-charts"])

	for _, tt := range []struct {
		name, yaml, want string
		line             int
	}{
		{"a URL as host", "helm:\n  dependencies:\n    allowHosts: [https://charts.example.com]\n", "allowHosts", 5},
		{"a wildcard inside", "helm:\n  dependencies:\n    allowHosts: [charts.*.com]\n", "allowHosts", 5},
		{"a bare wildcard", "helm:\n  dependencies:\n    allowHosts: [\"*\"]\n", "allowHosts", 5},
		{"a TLD wildcard", "helm:\n  dependencies:\n    allowHosts: [\"*.com\"]\n", "two labels", 5},
		{"a bad port", "helm:\n  dependencies:\n    allowHosts: [\"a.example.com:99999\"]\n", "bad port", 5},
		{"a pin without version", "helm:\n  dependencies:\n    pin:\n      grafana: sha256:00\n", "name@version", 6},
		{"a pin not sha256", "helm:\n  dependencies:\n    pin:\n      grafana@1.0.0: md5:00\n", "sha256:<64", 6},
		{"a mirror with credentials", "helm:\n  dependencies:\n    mirrors:\n      https://a.example.com: https://u:p@b.example.com\n", "without credentials", 6},
		{"a relative cache", "helm:\n  dependencies:\n    cacheDir: cache\n", "absolute", 5},
		{"an unknown key", "helm:\n  dependencies:\n    allowHost: [a.example.com]\n", "allowHost", 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(".aegis.yaml", []byte(head+tt.yaml))
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Contains(t, ce.Error(), tt.want)
			assert.Equal(t, tt.line, ce.Line)
		})
	}
}
