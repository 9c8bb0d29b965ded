package secret

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLooking(t *testing.T) {
	tests := []struct {
		name, value string
		want        bool
	}{
		{"DB_PASSWORD", "hunter2", true},
		{"API_KEY", "abc123def", true},
		{"anything", "AKIAIOSFODNN7EXAMPLE", true},
		{"anything", "ghp_abcdefghijklmnopqrstuvwxyz0123456789AB", true},
		{"DATABASE_URL", "postgres://app:s3cret@db:5432/app", true},
		{"TLS_KEY", "-----BEGIN RSA PRIVATE KEY-----", true},
		{"PASSWORD_FILE", "/run/secrets/db", false},
		{"TOKEN_TTL", "3600", false},
		{"SECRET_ENABLED", "true", false},
		{"API_TOKEN", "$(TOKEN_FROM_ENV)", false},
		{"LOG_LEVEL", "debug", false},
		{"QUEUE_URL", "amqp://queue:5672", false},
	}
	for _, tc := range tests {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			why, got := Looking(tc.name, tc.value)
			assert.Equal(t, tc.want, got)
			assert.NotContains(t, why, tc.value, "the reason never repeats the value")
		})
	}
}
