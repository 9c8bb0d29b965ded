package main

import (
	"io"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/action"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/verify"
)

// newActionCommand is the GitHub Action's entrypoint (action.yml runs the
// image with args [action]). Everything it does is package action; this
// wires it to the pipeline, the scanners and the kubeconfig loading the
// verify command uses.
func newActionCommand(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "action",
		Short: "Run as the GitHub Action step: inputs from INPUT_*, the event from GITHUB_EVENT_PATH",
		Long: `action is what the aegis GitHub Action runs. It reads the step's inputs
(INPUT_PATH, INPUT_BASE, INPUT_FAIL-ON, ...: see action.yml) and the event
payload, verifies the pull request's head against its base, and publishes:
outputs (GITHUB_OUTPUT), the job summary with a chart of the delta
(GITHUB_STEP_SUMMARY), annotations on the new findings' source lines, one
sticky PR comment and a SARIF upload to code scanning (GITHUB_API_URL).

Workflow commands go to stdout, the log to stderr, one line per message; a
message of several lines (a tool's stderr, a multi-line error) goes to stdout
between ::stop-commands:: fences, so that nothing a pull request puts into a
file name or a message can issue a workflow command. The token and the
kubeconfig inputs, and every credential in the kubeconfig, are masked in
everything printed, written or sent to GitHub. Exit codes are verify's:
0 pass, 1 gate failed, 2 bad input, 3 infrastructure error. A comment or
upload that GitHub refuses to a fork's read-only token does not change it.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			code := action.Run(c.Context(), action.Deps{
				Verify:      verify.Run,
				VerifyApps:  verify.RunApps,
				Scanners:    actionScanners,
				RestConfig:  actionRestConfig,
				ToolVersion: version,
				Stdout:      stdout,
				Stderr:      stderr,
				// The redactor every writer of aegis masks with: what the
				// Action registers (its token, the kubeconfig's
				// credentials) is masked everywhere else too.
				Redactor: secret.Default,
			})
			if code != exitPass {
				return &exitError{code: code}
			}
			return nil
		},
	}
}

// actionScanners builds the scanners the way verify does, from the policy
// and the shadow mode.
func actionScanners(o verify.Options) ([]scanners.Scanner, func(), error) {
	set, err := buildScanners(o.Config, o.Shadow, o.Kube, o.Progress)
	if err != nil {
		return nil, nil, err
	}
	return set.scanners, set.close, nil
}

// actionRestConfig loads the shadow cluster as --kubeconfig does.
func actionRestConfig(kubeconfig string) (*rest.Config, error) {
	k := kubeFlags{kubeconfig: kubeconfig}
	return k.restConfig()
}
