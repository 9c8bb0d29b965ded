package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/output"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/verify"
)

// EventWorkflowRun is the event of a workflow that another one's completion
// triggered: the fork-PR recipe's publishing job.
const EventWorkflowRun = "workflow_run"

// workflowRun is the part of a workflow_run event payload that publish
// reads. GitHub writes it (not the pull request): which run completed, for
// which commit of which repository, from which workflow file.
type workflowRun struct {
	ID             int64       `json:"id"`
	Event          string      `json:"event"`
	Conclusion     string      `json:"conclusion"`
	HeadBranch     string      `json:"head_branch"`
	HeadSHA        string      `json:"head_sha"`
	Path           string      `json:"path"`
	HeadRepository *repository `json:"head_repository"`
}

var (
	shaPattern  = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
	wordPattern = regexp.MustCompile(`^[a-z_]{1,32}$`)
)

// publishMain is publish mode (the publish input, or `aegis publish`): it
// posts the sticky comment, uploads the SARIF and writes the job summary
// from a report that an earlier run saved, in a workflow_run job that has
// the write token a fork's pull_request run lacks. It runs no code of the
// pull request: it reads a JSON file, checks it, and talks to GitHub.
//
// The report is the pull request's: its run wrote it, and a fork can
// change that run's workflow. So the report is read as hostile input
// (report.ReadUntrusted: bounded, every field checked, the verdict checked
// against the findings), it must be for the commit the completed run
// built, the pull request is found from what GitHub says about the run
// (never from the report), and the comment says where the report came
// from, loudly when the pull request changes the workflow that wrote it.
//
// The verdict gates nothing here: the pull_request run's exit code does.
// publish exits 0 when it published (whatever the verdict), 2 when the
// event or the report is not what it expects, 3 when GitHub refused.
func (r *run) publishMain(ctx context.Context, p *payload) int {
	in := &r.in
	// Nothing is verified here, so nothing is written but the summary
	// and the outputs.
	in.SarifFile, in.ReportJSON = "", ""
	wr, err := checkWorkflowRun(r.ghc.EventName, p)
	if err != nil {
		return r.abort(ExitBadInput, err)
	}
	rep, err := readUntrustedReport(in.Publish)
	if err != nil {
		return r.abort(ExitBadInput, err)
	}
	if !strings.EqualFold(rep.Head.Source, wr.HeadSHA) {
		return r.abort(ExitBadInput, &verify.InputError{Msg: fmt.Sprintf(
			"%s is the report of head %q, but the workflow run %d built %s: it is not that run's report (download the artifact of github.event.workflow_run.id)",
			in.Publish, clipText(rep.Head.Source, 80), wr.ID, wr.HeadSHA)})
	}
	headRepo := wr.HeadRepository.FullName
	r.logf("publishing the report of workflow run %d (%s, %s) for %s@%s", wr.ID, wr.Event, orDash(wr.Conclusion), headRepo, short(wr.HeadSHA))

	if in.Token == "" {
		return r.abort(ExitInfra, errors.New("the token input is empty: publish needs a token with pull-requests: write (and security-events: write for the SARIF upload)"))
	}
	pub, err := newPublisher(r.ghc.APIURL, r.ghc.GraphqlURL, r.ghc.Repository, in.Token, r.d.HTTPClient, r.logf)
	if err != nil {
		return r.abort(ExitInfra, err)
	}
	prs, err := pub.openPullRequests(ctx, headRepo, wr.HeadBranch, wr.HeadSHA)
	if err != nil {
		return r.abort(ExitInfra, fmt.Errorf("finding the pull request of %s@%s: %w", headRepo, short(wr.HeadSHA), err))
	}
	if len(prs) == 0 {
		msg := fmt.Sprintf("no open pull request of this repository has head %s from %s:%s (closed, or pushed again since the run): nothing to publish",
			short(wr.HeadSHA), headRepo, wr.HeadBranch)
		r.logf("%s", msg)
		r.notes = append(r.notes, note{kind: alertNote, text: "aegis: " + msg})
		if err := addSummary(r.gha, r.red.Redact(buildSummary(rep, r.notes, nil, output.Links{}))); err != nil {
			r.logf("warning: %v", err)
		}
		r.setOutputs(rep)
		return ExitPass
	}

	// A report that cannot be written as SARIF is the untrusted input's
	// fault (Render masks too; that cannot fail on its own output).
	sarifData, err := output.Render(rep, output.FormatSARIF, r.outputOptions(), r.red)
	if err != nil {
		return r.abort(ExitBadInput, fmt.Errorf("%s: %w", in.Publish, err))
	}
	started := r.d.Now()
	for _, pr := range prs {
		r.t = &Target{
			Event: EventWorkflowRun, PR: pr, CommitSHA: wr.HeadSHA, Ref: fmt.Sprintf("refs/pull/%d/head", pr),
			HeadRepo: headRepo, Fork: !strings.EqualFold(headRepo, r.ghc.Repository),
			// For links only: the head is the run's commit (the report was
			// checked to be its); the base is the report's word, a commit
			// of this repository's network at worst.
			Head: verify.Source{Revision: wr.HeadSHA}, Base: verify.Source{Revision: rep.Base.Source},
		}
		r.preface = r.provenance(ctx, pub, wr, rep, pr)
		r.publish(ctx, rep, sarifData, started)
	}
	if err := addSummary(r.gha, r.red.Redact(r.preface+"\n\n"+buildSummary(rep, r.notes, r.published, r.links()))); err != nil {
		r.logf("warning: %v", err)
	}
	r.setOutputs(rep)
	if r.publishFailed {
		return ExitInfra
	}
	return ExitPass
}

// checkWorkflowRun reads the workflow_run event that publish needs.
func checkWorkflowRun(event string, p *payload) (*workflowRun, error) {
	bad := func(format string, args ...any) error {
		return &verify.InputError{Msg: fmt.Sprintf(format, args...)}
	}
	if event != EventWorkflowRun {
		return nil, bad("publish runs in a job triggered by workflow_run (on: workflow_run: workflows: [aegis], types: [completed]), not by %s: see docs/github-action.md#pull-requests-from-forks-publish-from-workflow_run", orDash(event))
	}
	wr := p.WorkflowRun
	if wr == nil {
		return nil, bad("the workflow_run event payload has no workflow_run: is GITHUB_EVENT_PATH the event's payload?")
	}
	if wr.Event != EventPullRequest {
		return nil, bad("the completed run was triggered by %q, not pull_request: there is no pull request to publish to (add `if: github.event.workflow_run.event == 'pull_request'` to the job)", clipText(wr.Event, 40))
	}
	if !shaPattern.MatchString(wr.HeadSHA) {
		return nil, bad("the workflow_run payload's head_sha %q is not a commit id", clipText(wr.HeadSHA, 80))
	}
	if wr.ID <= 0 || wr.HeadRepository == nil || !repoPattern.MatchString(wr.HeadRepository.FullName) || wr.HeadBranch == "" || strings.ContainsAny(wr.HeadBranch, ":\r\n\x00") {
		return nil, bad("the workflow_run payload lacks the run's id, head repository or head branch")
	}
	if wr.Conclusion != "" && !wordPattern.MatchString(wr.Conclusion) {
		wr.Conclusion = "unknown"
	}
	return wr, nil
}

// repoPattern is an owner/name as GitHub allows them.
var repoPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)

// readUntrustedReport reads the report a pull request's run saved: a
// regular file, bounded, checked field by field.
func readUntrustedReport(path string) (*report.Report, error) {
	data, err := manifest.ReadFile(path, report.MaxUntrustedBytes)
	if err != nil {
		return nil, &verify.InputError{Msg: fmt.Sprintf("reading the report %s: %v", path, err)}
	}
	rep, err := report.ReadUntrusted(bytes.NewReader(data))
	if err != nil {
		return nil, &verify.InputError{Msg: fmt.Sprintf("%s: %v", path, err)}
	}
	return rep, nil
}

// provenance is what the comment says first: whether the pull request
// changes the workflow that wrote the report (then the report is its own
// claim), and where the report came from.
func (r *run) provenance(ctx context.Context, pub *publisher, wr *workflowRun, rep *report.Report, pr int) string {
	var b strings.Builder
	alert := func(kind, text string) { fmt.Fprintf(&b, "> [!%s]\n> %s\n\n", kind, text) }
	if wf := runWorkflowFile(wr.Path); wf != "" {
		changed, err := pub.pullRequestChanges(ctx, pr, wf)
		switch {
		case err != nil:
			msg := r.red.Redact(fmt.Sprintf("could not tell whether pull request #%d changes %s, the workflow that wrote this report: %v", pr, wf, err))
			r.logf("warning: %s", msg)
			alert(alertWarning, "aegis "+summaryText(msg)+". If it does, the report is the pull request's own claim.")
		case changed:
			msg := fmt.Sprintf("pull request #%d changes %s, the workflow that wrote this report: the report and its verdict are the pull request's own claim; review the workflow change before trusting them", pr, wf)
			r.logf("warning: %s", msg)
			r.ann.annotate("warning", map[string]string{"title": "aegis: the pull request changes the workflow that wrote the report"}, msg)
			alert(alertCaution, fmt.Sprintf("This pull request changes `%s`, the workflow that wrote this report: the report and its verdict are the pull request's own claim. Review the workflow change before trusting them.", summaryText(wf)))
		}
	}
	runLink := fmt.Sprintf("workflow run %d", wr.ID)
	if u := r.runURLFor(wr.ID); u != "" {
		runLink = fmt.Sprintf("[workflow run %d](%s)", wr.ID, u)
	}
	text := fmt.Sprintf("Published from the report of the pull request's %s (conclusion: %s) for head `%s`, by a separate job that ran none of the pull request's code.",
		runLink, orDash(wr.Conclusion), short(wr.HeadSHA))
	if rep.Verdict == report.Pass && wr.Conclusion != "" && wr.Conclusion != "success" {
		text += fmt.Sprintf(" The run concluded %s although its report says PASS: look at the run before trusting the verdict.", wr.Conclusion)
	}
	alert(alertNote, text)
	return strings.TrimRight(b.String(), "\n")
}

// runWorkflowFile is the repository path of the completed run's workflow
// file (workflow_run.path, ".github/workflows/F.yml", sometimes with
// "@ref"), "" when it is not one.
func runWorkflowFile(p string) string {
	wf, _, _ := strings.Cut(strings.TrimSpace(p), "@")
	if !strings.HasPrefix(wf, ".github/workflows/") || strings.Contains(wf, "..") || strings.ContainsAny(wf, "\r\n\x00") {
		return ""
	}
	return wf
}

// runURLFor is the page of another run of this repository.
func (r *run) runURLFor(id int64) string {
	g := r.ghc
	if id <= 0 || g.Repository == "" || g.ServerURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/%s/actions/runs/%d", strings.TrimSuffix(g.ServerURL, "/"), g.Repository, id)
}

// clipText shortens a value quoted in an error.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncateBytes(s, n)
}
