package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/action"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/verify"
)

// publishFlags are the publishing inputs `aegis publish` takes as flags;
// they mean what the Action's inputs of the same names mean.
type publishFlags struct {
	category, commentMode, commentAuthor, uploadSarif string
	comment                                           bool
	uploadWait                                        string
}

// newPublishCommand is publish mode outside the Action's image: the same
// code as the Action's publish input, with the inputs as flags.
func newPublishCommand(stdout, stderr io.Writer) *cobra.Command {
	var f publishFlags
	c := &cobra.Command{
		Use:   "publish REPORT.json",
		Short: "Post the comment and the SARIF of a report a pull request's run saved (workflow_run job, fork pull requests)",
		Long: `publish posts the sticky PR comment, uploads the SARIF to code scanning and writes
the job summary from a JSON report that an earlier run saved, in a GitHub Actions
job triggered by workflow_run. It is the second half of the recipe for pull
requests from forks: their pull_request run verifies and gates with a read-only
token, and saves the report as an artifact; this job, which has a write token,
publishes it. It verifies nothing and runs none of the pull request's code.

The report is read as hostile (the pull request's run wrote it): at most 64 MiB,
every field checked, locations inside the repository, and a verdict that agrees
with its own findings; it must be for the head commit the completed run built.
The pull request is found from the event (the run's head repository, branch and
commit), never from the report. The comment says where the report came from,
and warns when the pull request changes the workflow file that wrote it.

It reads what a workflow_run job's environment holds: GITHUB_EVENT_NAME,
GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_SERVER_URL, and the
token from GITHUB_TOKEN (never a flag: flags show in process lists).

Exit codes: 0 published (whatever the verdict: the pull_request run's exit code
gates), 2 the event or the report is not what publish expects, 3 GitHub refused.`,
		Example: `  # in a job "on: workflow_run", after actions/download-artifact:
  GITHUB_TOKEN=${{ github.token }} aegis publish aegis-report/aegis-report.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			inputs := map[string]string{
				action.InputPublish:       args[0],
				action.InputCategory:      f.category,
				action.InputCommentMode:   f.commentMode,
				action.InputCommentAuthor: f.commentAuthor,
				action.InputUploadSarif:   f.uploadSarif,
				action.InputComment:       strconv.FormatBool(f.comment),
				action.InputUploadWait:    f.uploadWait,
				action.InputToken:         os.Getenv("GITHUB_TOKEN"),
				action.InputShadow:        "off",
			}
			getenv := func(k string) string {
				if name, ok := strings.CutPrefix(k, "INPUT_"); ok {
					return inputs[strings.ToLower(name)]
				}
				return os.Getenv(k)
			}
			code := action.Run(c.Context(), action.Deps{
				Verify:      refuseVerify,
				Scanners:    func(verify.Options) ([]scanners.Scanner, func(), error) { return nil, nil, nil },
				RestConfig:  func(string) (*rest.Config, error) { return nil, fmt.Errorf("publish uses no cluster") },
				ToolVersion: version,
				Getenv:      getenv,
				Stdout:      stdout,
				Stderr:      stderr,
				Redactor:    secret.Default,
			})
			if code != exitPass {
				return &exitError{code: code}
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.category, "category", "", "the category of the comment and of the code-scanning runs (as the Action's input)")
	fl.StringVar(&f.commentMode, "comment-mode", action.CommentUpdate, "update, recreate or hide-old")
	fl.StringVar(&f.commentAuthor, "comment-author", "", "the login the token writes comments as (empty: ask GitHub)")
	fl.StringVar(&f.uploadSarif, "upload-sarif", "auto", "auto, true or false")
	fl.BoolVar(&f.comment, "comment", true, "post or update the sticky comment")
	fl.StringVar(&f.uploadWait, "upload-wait", "2m", "how long to wait for code scanning to process the upload")
	return c
}

// refuseVerify stands in for the pipeline: publish mode never verifies.
func refuseVerify(_ context.Context, _ verify.Options) (*verify.Result, error) {
	return nil, fmt.Errorf("publish does not verify")
}
