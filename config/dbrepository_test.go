package config

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDBRepository(t *testing.T) {
	const head = "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy-image:\n"

	t.Run("a list, in order, or one string", func(t *testing.T) {
		c, err := Parse("p.yaml", []byte(head+"    dbRepository:\n      - 127.0.0.1:5000/trivy-db:2\n      - registry.example/mirrors/trivy-db\n      - ghcr.io/aquasecurity/trivy-db@sha256:"+
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"))
		require.NoError(t, err)
		assert.Equal(t, Repositories{"127.0.0.1:5000/trivy-db:2", "registry.example/mirrors/trivy-db",
			"ghcr.io/aquasecurity/trivy-db@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}, c.Scanner("trivy-image").DBRepository)

		c, err = Parse("p.yaml", []byte(head+"    dbRepository: mirror.example/trivy-db:2\n"))
		require.NoError(t, err)
		assert.Equal(t, Repositories{"mirror.example/trivy-db:2"}, c.Scanner("trivy-image").DBRepository)

		c, err = Parse("p.yaml", []byte(head+"    offline: true\n"))
		require.NoError(t, err)
		assert.Empty(t, c.Scanner("trivy-image").DBRepository, "empty: Trivy's default")
	})

	for _, tc := range []struct {
		name, value string
		line        int
		want        string
	}{
		{"a URL", "\n      - mirror.gcr.io/aquasec/trivy-db:2\n      - https://ghcr.io/aquasecurity/trivy-db:2", 7, `"https://ghcr.io/aquasecurity/trivy-db:2" is a URL: write the repository without a scheme`},
		{"two in one entry", " mirror.gcr.io/aquasec/trivy-db:2,ghcr.io/aquasecurity/trivy-db:2", 5, "holds a comma: list each repository as an entry of its own"},
		{"whitespace", "\n      - \"ghcr.io/aquasecurity/trivy-db:2 --insecure\"", 6, "holds whitespace"},
		{"an option in disguise", "\n      - --insecure", 6, "is not an OCI reference"},
		{"upper case", "\n      - ghcr.io/AquaSecurity/trivy-db:2", 6, "is not an OCI reference"},
		{"empty entry", "\n      - \"\"", 6, `"" is empty`},
		{"empty list", " []", 5, "lists no repository; leave the key out for Trivy's default"},
		{"twice", "\n      - ghcr.io/aquasecurity/trivy-db:2\n      - ghcr.io/aquasecurity/trivy-db:2", 7, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/repo/.aegis.yaml", []byte(head+"    dbRepository:"+tc.value+"\n"))
			var ce *Error
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, tc.line, ce.Line, ce.Error())
			assert.Contains(t, ce.Msg, "scanners.trivy-image.dbRepository: ")
			assert.Contains(t, ce.Msg, tc.want)
		})
	}

	t.Run("trivy-image only", func(t *testing.T) {
		_, err := Parse("p.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy:\n    dbRepository: [ghcr.io/aquasecurity/trivy-db:2]\n"))
		var ce *Error
		require.True(t, errors.As(err, &ce), "%v", err)
		assert.Equal(t, 5, ce.Line)
		assert.Contains(t, ce.Msg, `dbRepository does not apply to scanner "trivy"`)
	})
	t.Run("a map is a type error at its line", func(t *testing.T) {
		_, err := Parse("p.yaml", []byte(head+"    dbRepository:\n      ghcr.io: trivy-db\n"))
		var ce *Error
		require.True(t, errors.As(err, &ce), "%v", err)
		assert.Equal(t, 6, ce.Line, ce.Error())
	})
}
