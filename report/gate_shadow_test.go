package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/kube-sentient/aegis/config"
)

func TestGateUnhealthyHead(t *testing.T) {
	off := false
	noUnhealthy := config.Default()
	noUnhealthy.FailOn.Unhealthy = &off
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		shadow *Shadow
		cfg    *config.Config
		want   Verdict
		reason string
	}{
		{"no shadow", nil, nil, Pass, "Passed"},
		{"healthy head", &Shadow{Head: &ShadowSide{Namespace: "aegis-1-head", Health: "Healthy"}}, nil, Pass, "Passed"},
		{"degraded head fails", &Shadow{Head: &ShadowSide{Namespace: "aegis-1-head", Health: "Degraded"}}, nil, Fail,
			"Failed: the head is Degraded in its shadow namespace aegis-1-head"},
		{"progressing head fails", &Shadow{Head: &ShadowSide{Namespace: "aegis-1-head", Health: "Progressing"}}, nil, Fail, "is Progressing"},
		{"degraded base alone passes", &Shadow{Base: &ShadowSide{Health: "Degraded"}, Head: &ShadowSide{Health: "Healthy"}}, nil, Pass, "Passed"},
		{"policy accepts unhealthy", &Shadow{Head: &ShadowSide{Health: "Degraded"}}, noUnhealthy, Pass, "Passed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Scanners: okRuns("posture"), Shadow: tc.shadow}
			assert.Equal(t, tc.want, Gate(r, tc.cfg, now))
			assert.Contains(t, r.Reasons[0], tc.reason)
		})
	}
}
