package judge

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
)

func TestGateUnhealthyHead(t *testing.T) {
	off := false
	noUnhealthy := config.Default()
	noUnhealthy.FailOn.Unhealthy = &off
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		shadow *report.Shadow
		cfg    *config.Config
		want   report.Verdict
		reason string
	}{
		{"no shadow", nil, nil, report.Pass, "Passed"},
		{"healthy head", &report.Shadow{Head: &report.ShadowSide{Namespace: "aegis-1-head", Health: "Healthy"}}, nil, report.Pass, "Passed"},
		{"degraded head fails", &report.Shadow{Head: &report.ShadowSide{Namespace: "aegis-1-head", Health: "Degraded"}}, nil, report.Fail,
			"Failed: the head is Degraded in its shadow namespace aegis-1-head"},
		{"progressing head fails", &report.Shadow{Head: &report.ShadowSide{Namespace: "aegis-1-head", Health: "Progressing"}}, nil, report.Fail, "is Progressing"},
		{"degraded base alone passes", &report.Shadow{Base: &report.ShadowSide{Health: "Degraded"}, Head: &report.ShadowSide{Health: "Healthy"}}, nil, report.Pass, "Passed"},
		{"policy accepts unhealthy", &report.Shadow{Head: &report.ShadowSide{Health: "Degraded"}}, noUnhealthy, report.Pass, "Passed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &report.Report{Scanners: okRuns("posture"), Shadow: tc.shadow}
			assert.Equal(t, tc.want, Gate(r, tc.cfg, now))
			assert.Contains(t, r.Reasons[0], tc.reason)
		})
	}
}
