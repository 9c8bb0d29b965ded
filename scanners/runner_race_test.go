package scanners

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
)

// Every run is recorded, whatever the order in which scanners finish: a
// disabled scanner's runs are recorded while enabled scanners' runs finish
// concurrently. A lost run is a lost error, and the gate would pass without
// it (seen once under load: a missing semgrep left `verify` at exit 0).
func TestRunnerLosesNoRun(t *testing.T) {
	disabled := false
	cfg := config.Default()
	cfg.Scanners = map[string]config.ScannerSettings{}
	var set []Scanner
	// Enabled scanners that fail at once, each followed by disabled ones,
	// so that their goroutines finish while the loop still records.
	for i := range 8 {
		failing := fmt.Sprintf("failing%d", i)
		set = append(set, fakeScanner{name: failing, scan: func(context.Context, Target) ([]report.Finding, error) {
			return nil, errors.New("boom")
		}})
		cfg.Scanners[failing] = config.ScannerSettings{}
		for j := range 20 {
			off := fmt.Sprintf("off%d-%d", i, j)
			set = append(set, fakeScanner{name: off})
			cfg.Scanners[off] = config.ScannerSettings{Enabled: &disabled}
		}
	}
	want := 2 * len(set)
	for round := range 300 {
		res := (&Runner{Scanners: set, Config: cfg, Concurrency: 16}).Run(context.Background(), targets()...)
		require.Equal(t, want, len(res.Runs), "round %d: every scanner has a run per side", round)
		errs := 0
		for _, r := range res.Runs {
			if r.Status == report.StatusError {
				errs++
			}
		}
		require.Equal(t, 16, errs, "round %d: every failure is recorded", round)
	}
}
