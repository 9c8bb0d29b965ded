package sarif

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

// An approximate location (a Helm template line the value could not be
// traced from) is said so in the result's message and properties; an exact
// one is not.
func TestApproximateLocation(t *testing.T) {
	r := fixture()
	r.Findings[0].Location.Approximate = true // pss.privileged/new, the first posture result
	data, _ := write(t, r, Options{IncludeAbsent: true})
	requireIngestible(t, data)

	var log struct {
		Runs []struct {
			Results []struct {
				RuleID        string                `json:"ruleId"`
				BaselineState string                `json:"baselineState"`
				Message       struct{ Text string } `json:"message"`
				Properties    map[string]any        `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(data, &log))
	approx := 0
	for _, run := range log.Runs {
		for _, res := range run.Results {
			if res.RuleID == "pss.privileged" && res.BaselineState == string(report.New) {
				approx++
				assert.Equal(t, r.Findings[0].Message+ApproximateSuffix, res.Message.Text)
				assert.Equal(t, true, res.Properties["locationApproximate"])
				continue
			}
			assert.NotContains(t, res.Message.Text, ApproximateSuffix, res.RuleID)
			assert.NotContains(t, res.Properties, "locationApproximate", res.RuleID)
		}
	}
	assert.Equal(t, 1, approx)
}
