package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestIsSecret(t *testing.T) {
	cases := []struct {
		kind string
		want bool
	}{
		{"Secret", true},
		{"secret", true},
		{"SECRET", true},
		{"sEcReT", true},
		{"Secret ", true},
		{" Secret\t", true},
		{"\nSecret\n", true},
		{"Secrets", false},
		{"SecretList", false},
		{"ExternalSecret", false},
		{"SealedSecret", false},
		{"Se cret", false},
		{"ConfigMap", false},
		{"", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, IsSecret(c.kind), "kind %q", c.kind)
	}
}

// The apiVersion does not matter: a hostile one must not turn a Secret
// into an object whose values are printed or scanned.
func TestIsSecretObjectIgnoresTheGroup(t *testing.T) {
	cases := []struct {
		apiVersion, kind string
		want             bool
	}{
		{"v1", "Secret", true},
		{"v1 ", "Secret", true},
		{"core/v1", "Secret", true},
		{"V1", "secret", true},
		{"example.com/v1", "Secret", true},
		{"", "Secret ", true},
		{"v1", "Secrets", false},
		{"v1", "SecretList", false},
		{"external-secrets.io/v1beta1", "ExternalSecret", false},
		{"v1", "ConfigMap", false},
	}
	for _, c := range cases {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": c.apiVersion, "kind": c.kind}}
		assert.Equal(t, c.want, IsSecretObject(u), "%q %q", c.apiVersion, c.kind)
	}
	assert.False(t, IsSecretObject(nil))
	assert.False(t, IsSecretObject(&unstructured.Unstructured{}))
	assert.False(t, IsSecretObject(&unstructured.Unstructured{Object: map[string]any{"kind": 7}}), "a kind that is no string")
}
