package action

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// changedWorkflow names the workflow file this run comes from when the
// pull request under review changes it, "" otherwise. On pull_request,
// GitHub runs the workflow file of the pull request's merge commit: a
// change can rewrite (or drop) the very check that judges it, and nothing
// inside this step can prevent that. aegis says so loudly; the fix is in
// the repository's settings (docs/threat-model.md).
//
// workflowRef is GITHUB_WORKFLOW_REF ("OWNER/REPO/.github/workflows/F.yml@REF").
func changedWorkflow(ctx context.Context, t *Target, workflowRef, repository string) (string, error) {
	if t.PR == 0 || t.Base.Revision == "" || t.Head.Revision == "" {
		return "", nil
	}
	path := workflowPath(workflowRef, repository)
	if path == "" {
		return "", nil
	}
	cmd := exec.CommandContext(ctx, "git", "diff", "--quiet", t.Base.Revision, t.Head.Revision, "--", path)
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return path, nil
	}
	return "", fmt.Errorf("comparing %s between the base and the head: %v", path, err)
}

// workflowPath is the repository path of the workflow file in
// GITHUB_WORKFLOW_REF, "" when it is not this repository's (a reusable or
// required workflow from elsewhere, which the pull request does not hold).
func workflowPath(workflowRef, repository string) string {
	ref, _, ok := strings.Cut(workflowRef, "@")
	if !ok || repository == "" {
		return ""
	}
	path, ok := strings.CutPrefix(ref, repository+"/")
	if !ok || !strings.HasPrefix(path, ".github/workflows/") || strings.Contains(path, "..") {
		return ""
	}
	return path
}

// changedWorkflowMessage is what a run from a workflow file the pull
// request changed says.
func changedWorkflowMessage(path string, pr int) string {
	return fmt.Sprintf("this run's workflow file %s is changed by pull request #%d itself: the pull request controls the check that judges it "+
		"(it could remove aegis or ignore its exit code). Do not trust a green check from this run; require aegis from the base repository "+
		"(a ruleset's required workflow, or pull_request_target running aegis on the head as data with shadow off): see docs/threat-model.md", path, pr)
}
