package action

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/internal/atomicfile"
	"github.com/kube-sentient/aegis/output"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/sarif"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/shadow"
	"github.com/kube-sentient/aegis/verify"
)

// Exit codes, the CLI's: 0 pass, 1 gate failed, 2 bad input or
// configuration, 3 infrastructure error.
const (
	ExitPass     = 0
	ExitFail     = 1
	ExitBadInput = 2
	ExitInfra    = 3
)

// Deps are what the command layer provides. Verify, Scanners and
// RestConfig are required; the rest have defaults.
type Deps struct {
	// Verify runs one verification (verify.Run).
	Verify func(context.Context, verify.Options) (*verify.Result, error)
	// VerifyApps verifies several Argo CD apps with one report
	// (verify.RunApps), for the input apps; nil refuses that input.
	VerifyApps func(context.Context, verify.Options, verify.AppsOptions) (*verify.Result, error)
	// Scanners builds the scanners for the options, which are complete but
	// for Scanners (Config, Shadow, Kube and Progress are set), and returns
	// what releases them after the run (a listener, say), or nil.
	Scanners func(verify.Options) ([]scanners.Scanner, func(), error)
	// RestConfig loads the shadow cluster from a kubeconfig file; "" means
	// the default loading rules ($KUBECONFIG, ~/.kube/config). Called only
	// when shadow is not off.
	RestConfig func(kubeconfig string) (*rest.Config, error)

	// ToolVersion is the aegis version, written into the report and SARIF.
	ToolVersion string
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	// Stdout carries the workflow commands (annotations) and the log's
	// multi-line messages, fenced; Stderr the log. Everything the Action
	// prints goes through one console (console.go).
	Stdout, Stderr io.Writer
	// Redactor masks secret values in everything the Action prints, writes
	// or sends to GitHub (default secret.Default, which the rest of aegis
	// prints through). The token and kubeconfig inputs are registered with
	// it as soon as they are read.
	Redactor *secret.Redactor
	// HTTPClient talks to the GitHub API (default: a 60 s timeout).
	HTTPClient *http.Client
	// UploadPollInterval is how often the SARIF processing status is read
	// (default 5 s, as github/codeql-action does); the input upload-wait
	// bounds the whole wait.
	UploadPollInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (d Deps) withDefaults() Deps {
	if d.Getenv == nil {
		d.Getenv = os.Getenv
	}
	if d.Stdout == nil {
		d.Stdout = os.Stdout
	}
	if d.Stderr == nil {
		d.Stderr = os.Stderr
	}
	if d.Redactor == nil {
		d.Redactor = secret.Default
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if d.UploadPollInterval <= 0 {
		d.UploadPollInterval = 5 * time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

// Run is the `aegis action` entrypoint: it reads the inputs and the event,
// verifies, writes the SARIF and JSON files, uploads the SARIF, posts the
// sticky comment, writes the job summary, the annotations and the outputs,
// and returns the exit code. The gate decides the code; a comment or upload
// refused because the token is read-only (a fork's pull request) is
// reported and changes nothing; any other publishing failure turns a pass
// into 3, because what the workflow asked for did not happen.
func Run(ctx context.Context, d Deps) int {
	r := &run{d: d.withDefaults()}
	return r.main(ctx)
}

type run struct {
	d Deps
	// con prints everything the run prints; red masks the secrets in it
	// and in everything written or sent.
	con *console
	red *secret.Redactor
	gha *githubactions.Action
	ann *annotator
	in  Inputs
	ghc *githubactions.GitHubContext
	t   *Target

	notes     []note
	published []string
	// readOnly says why the pull request's token is read-only (a fork, or
	// Dependabot), "" when it should not be.
	readOnly string
	// refused lists what a read-only token was refused.
	refused []string
	// publishFailed is set by a publishing failure other than a refusal.
	publishFailed bool
	commentURL    string
	// preface is what the comment says before the report: in publish
	// mode, where the report came from.
	preface string
}

// logf prints one message of the log (progress, warnings, errors).
func (r *run) logf(format string, args ...any) { r.con.logf(format, args...) }

func (r *run) main(ctx context.Context) int {
	d := r.d
	r.red = d.Redactor
	r.con = newConsole(d.Stdout, d.Stderr, r.red)
	if d.Verify == nil || d.Scanners == nil || d.RestConfig == nil {
		r.logf("action: Verify, Scanners and RestConfig must be wired")
		return ExitInfra
	}
	// Workflow commands go through the console too: masked, one line each.
	r.gha = githubactions.New(githubactions.WithWriter(r.con.commands()), githubactions.WithGetenv(d.Getenv))
	r.ann = newAnnotator(r.gha, r.red)

	var err error
	r.in, err = readInputs(r.gha)
	// The secrets first, before anything (an invalid input's error
	// included) can print them.
	registerSecrets(r.red, r.in.Token, r.in.Kubeconfig)
	if err != nil {
		return r.abort(ExitBadInput, err)
	}
	// The payload first, with aegis's bounds (size, UTF-8, JSON): the
	// GitHub context below reads the same file without any.
	p, err := readPayload(d.Getenv("GITHUB_EVENT_PATH"))
	if err != nil {
		return r.abort(ExitBadInput, err)
	}
	r.ghc, err = r.gha.Context()
	if r.ghc == nil {
		return r.abort(ExitBadInput, &verify.InputError{Msg: fmt.Sprintf("reading the GitHub context: %v", err)})
	}
	if r.in.Publish != "" {
		return r.publishMain(ctx, p)
	}
	if r.t, err = resolveTarget(r.ghc.EventName, p, r.in, r.ghc.Ref, r.ghc.SHA); err != nil {
		return r.abort(ExitBadInput, err)
	}
	t := r.t
	where := "path " + r.in.Path
	if r.in.App != "" {
		where = "app " + r.in.App
	}
	r.logf("event %s: base %s, head %s, %s", orDash(t.Event), describe(t.Base), describe(t.Head), where)
	switch {
	case t.PR > 0 && t.Fork:
		r.readOnly = "comes from the fork " + orDash(t.HeadRepo)
	case t.PR > 0 && r.ghc.Actor == "dependabot[bot]":
		r.readOnly = "was triggered by Dependabot"
	}
	if r.readOnly != "" && t.Event == EventPullRequest {
		r.logf("pull request #%d %s: GitHub gives its workflow a read-only token", t.PR, r.readOnly)
	}
	r.checkWorkflow(ctx)

	opts, cleanup, code, err := r.options(ctx)
	defer cleanup()
	if err != nil {
		return r.abort(code, err)
	}
	started := d.Now()
	var res *verify.Result
	if r.in.Apps != "" {
		if d.VerifyApps == nil {
			return r.abort(ExitInfra, errors.New("the apps input is not wired in this build"))
		}
		res, err = d.VerifyApps(ctx, opts, r.appsOptions())
	} else {
		res, err = d.Verify(ctx, opts)
	}
	if err != nil {
		code := ExitInfra
		if verify.IsBadInput(err) && ctx.Err() == nil {
			code = ExitBadInput
		}
		return r.abort(code, err)
	}
	if res == nil || res.Report == nil {
		return r.abort(ExitInfra, errors.New("the verification returned no report"))
	}
	// The verdict was decided once, in verify (locations already relative
	// to the workspace): nothing below may change it.
	rep := res.Report
	r.logf("verdict %s in %d ms", strings.ToUpper(string(rep.Verdict)), d.Now().Sub(started).Milliseconds())

	sarifData, err := r.writeFiles(rep)
	if err != nil {
		return r.abort(ExitInfra, err)
	}
	r.publish(ctx, rep, sarifData, started)

	if err := addSummary(r.gha, r.red.Redact(buildSummary(rep, r.notes, r.published, r.links()))); err != nil {
		r.logf("warning: %v", err)
	}
	code = verdictCode(rep, r.ann) // first: an expired waiver's error must not be crowded out
	r.ann.annotateFindings(rep.Findings)
	r.setOutputs(rep)
	if code == ExitPass && r.publishFailed {
		r.logf("the gate passed, but publishing failed (see above): exit %d", ExitInfra)
		code = ExitInfra
	}
	if code == ExitFail && r.in.ReportOnly {
		r.logf("the gate failed; report-only is set, so the step exits %d (the verdict stays fail in every output)", ExitPass)
		code = ExitPass
	}
	return code
}

// checkWorkflow warns, in the log, an annotation and the job summary, when
// this run's workflow file is one the pull request changes.
func (r *run) checkWorkflow(ctx context.Context) {
	path, err := changedWorkflow(ctx, r.t, r.d.Getenv("GITHUB_WORKFLOW_REF"), r.ghc.Repository)
	if err != nil {
		r.logf("warning: could not tell whether the pull request changes this run's workflow: %v", err)
		return
	}
	if path == "" {
		return
	}
	msg := changedWorkflowMessage(path, r.t.PR)
	r.logf("warning: %s", msg)
	r.ann.annotate("warning", map[string]string{"title": "aegis: the pull request changes this workflow", "file": path}, oneLine(msg, 2000))
	r.notes = append(r.notes, note{kind: alertWarning, text: "aegis: " + msg})
}

// options builds the verification's options: the cluster (the kubeconfig
// input is written to a private temporary file that cleanup removes), the
// policy, and the scanners.
func (r *run) options(ctx context.Context) (verify.Options, func(), int, error) {
	in, t, d := r.in, r.t, r.d
	cleanup := func() {}
	opts := verify.Options{
		Base:          t.Base,
		Head:          t.Head,
		Path:          in.Path,
		Render:        in.Render,
		Shadow:        in.Shadow,
		ShadowOptions: shadow.Options{RunID: runID(r.ghc), HealthTimeout: in.ShadowTimeout},
		ToolVersion:   d.ToolVersion,
		Progress:      r.logf,
		LocationRoot:  r.workspace(),
	}
	if in.Shadow != verify.ShadowOff {
		path := ""
		if in.Kubeconfig != "" {
			p, remove, err := writeKubeconfig(in.Kubeconfig)
			if err != nil {
				return opts, cleanup, ExitInfra, err
			}
			path, cleanup = p, remove
		}
		kube, err := d.RestConfig(path)
		if err != nil {
			// The loader's error may quote the kubeconfig (a server URL
			// with credentials): masked here, and again when printed.
			return opts, cleanup, ExitBadInput, &verify.InputError{Msg: fmt.Sprintf("shadow %s needs a cluster: %s (give the kubeconfig input from a secret)", in.Shadow, r.red.Redact(err.Error()))}
		}
		opts.Kube = kube
	} else if in.Kubeconfig != "" {
		r.logf("shadow is off: the kubeconfig input is not used")
	}
	if in.App != "" {
		var urls []string
		if g := r.ghc; g != nil && g.ServerURL != "" && g.Repository != "" {
			urls = append(urls, strings.TrimSuffix(g.ServerURL, "/")+"/"+g.Repository)
		}
		removeApp, err := verify.AppOptions(ctx, &opts, in.App, urls, r.logf)
		if err != nil {
			return opts, cleanup, exitFor(err), err
		}
		prev := cleanup
		cleanup = func() {
			removeApp()
			prev()
		}
	}
	policy, err := verify.LoadPolicy(ctx, verify.PolicySource{
		File: in.Config, Base: t.Base, Path: opts.Path, From: "input config",
	}, r.logf)
	if err != nil {
		return opts, cleanup, exitFor(err), err
	}
	cleanupBefore := cleanup
	cleanup = func() {
		policy.Close()
		cleanupBefore()
	}
	cfg := policy.Config
	if in.FailOn != "" {
		cfg.FailOn.Severity = string(in.FailOn)
	}
	if dir, why := useRunnerTrivyCache(cfg, d.Getenv, d.Now()); dir != "" {
		r.logf("trivy-image: Trivy's cache (its vulnerability database) is %s", dir)
	} else if why != "" {
		r.logf("trivy-image: Trivy's cache stays in its default directory: %s", why)
	}
	opts.Config = cfg
	scs, release, err := d.Scanners(opts)
	if err != nil {
		return opts, cleanup, exitFor(err), err
	}
	opts.Scanners = scs
	if release != nil {
		removeKubeconfig := cleanup
		cleanup = func() {
			release()
			removeKubeconfig()
		}
	}
	return opts, cleanup, ExitPass, nil
}

func exitFor(err error) int {
	if verify.IsBadInput(err) {
		return ExitBadInput
	}
	return ExitInfra
}

// runID names the shadow namespaces after the workflow run, with a random
// suffix so that two steps of one job do not collide.
func runID(ghc *githubactions.GitHubContext) string {
	if ghc == nil || ghc.RunID <= 0 {
		return ""
	}
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("gh-%d-%d-%s", ghc.RunID, max(ghc.RunAttempt, 1), hex.EncodeToString(b))
}

func (r *run) workspace() string {
	if w := r.d.Getenv("GITHUB_WORKSPACE"); w != "" {
		return w
	}
	w, _ := os.Getwd()
	return w
}

// runURL is the workflow run's page, where the job summary is.
func (r *run) runURL() string {
	g := r.ghc
	if g.RunID <= 0 || g.Repository == "" {
		return ""
	}
	return fmt.Sprintf("%s/%s/actions/runs/%d", strings.TrimSuffix(g.ServerURL, "/"), g.Repository, g.RunID)
}

// appsOptions are the apps input's: auto (the apps the change can
// affect), all, or names separated by commas; the repository is the
// workflow's.
func (r *run) appsOptions() verify.AppsOptions {
	var ao verify.AppsOptions
	if g := r.ghc; g != nil && g.ServerURL != "" && g.Repository != "" {
		ao.RepoURLs = []string{strings.TrimSuffix(g.ServerURL, "/") + "/" + g.Repository}
	}
	switch r.in.Apps {
	case "auto":
	case "all":
		ao.All = true
	default:
		for _, n := range strings.Split(r.in.Apps, ",") {
			if n = strings.TrimSpace(n); n != "" {
				ao.Names = append(ao.Names, n)
			}
		}
	}
	return ao
}

// links are the blob URL prefixes of the two sides' commits, so that the
// comment and the summary link each location to its line (locations are
// relative to the workspace, the repository's root). A side that is not a
// commit id (a directory, a branch name, "sha^1") is not linked: its
// commit is not known here.
func (r *run) links() output.Links {
	g := r.ghc
	if r.t == nil || g.ServerURL == "" || g.Repository == "" {
		return output.Links{}
	}
	at := func(s verify.Source) string {
		if s.Dir != "" || !shaPattern.MatchString(s.Revision) {
			return ""
		}
		return strings.TrimSuffix(g.ServerURL, "/") + "/" + g.Repository + "/blob/" + s.Revision + "/"
	}
	return output.Links{Head: at(r.t.Head), Base: at(r.t.Base)}
}

// writeFiles writes the SARIF and JSON files the inputs name and returns
// the SARIF log (also when no file is written: the upload needs it).
func (r *run) writeFiles(rep *report.Report) ([]byte, error) {
	opts := r.outputOptions()
	// The file and the upload are the same masked bytes.
	data, err := output.Render(rep, output.FormatSARIF, opts, r.red)
	if err != nil {
		return nil, err
	}
	if f := r.in.SarifFile; f != "" {
		if err := atomicfile.Write(f, data, 0o644); err != nil {
			return nil, err
		}
		r.logf("wrote %s", f)
	}
	if f := r.in.ReportJSON; f != "" {
		if err := output.WriteFiles(rep, []output.File{{Format: output.FormatJSON, Path: f}}, opts, r.red); err != nil {
			return nil, err
		}
		r.logf("wrote %s", f)
	}
	return data, nil
}

// outputOptions are the writers' options for this run: SARIF in the
// input's category, warnings in the log.
func (r *run) outputOptions() output.Options {
	return output.Options{
		SARIF:         sarif.Options{ToolVersion: r.d.ToolVersion},
		SARIFCategory: r.in.Category,
		Warn:          func(m string) { r.logf("warning: %s", m) },
	}
}

// publish uploads the SARIF and posts the sticky comment, as the inputs ask.
func (r *run) publish(ctx context.Context, rep *report.Report, sarifData []byte, started time.Time) {
	in, t := r.in, r.t
	if !in.UploadSarif && !in.Comment {
		return
	}
	var pub *publisher
	var perr error
	if in.Token == "" {
		perr = errors.New("the token input is empty")
	} else {
		pub, perr = newPublisher(r.ghc.APIURL, r.ghc.GraphqlURL, r.ghc.Repository, in.Token, r.d.HTTPClient, r.logf)
	}

	if !in.UploadSarif {
		where := "the SARIF file"
		if in.SarifFile != "" {
			where = "`" + summaryText(in.SarifFile) + "`"
		}
		r.published = append(r.published, "SARIF: not uploaded (upload-sarif: false); "+where+" is left for github/codeql-action/upload-sarif")
	} else if perr != nil {
		r.failed("SARIF upload", perr)
	} else if err := sarif.CheckGitHub(sarifData); err != nil {
		r.failed("SARIF upload", fmt.Errorf("the SARIF log breaks code scanning's rules, not uploaded: %w", err))
	} else {
		res, err := pub.uploadSARIF(ctx, sarifData, t.CommitSHA, t.Ref, started, r.d.UploadPollInterval, in.UploadWait)
		switch {
		case err != nil:
			r.failed("SARIF upload", err)
		case res.Status == "complete":
			r.published = append(r.published, fmt.Sprintf("SARIF: uploaded to code scanning for `%s` (upload %s, processed)", summaryText(t.Ref), res.ID))
		default:
			msg := fmt.Sprintf("SARIF: uploaded to code scanning for `%s` (upload %s); still %s after waiting %s: the alerts appear once GitHub has processed it", summaryText(t.Ref), res.ID, res.Status, in.UploadWait)
			r.published = append(r.published, msg)
			r.logf("%s", msg)
		}
	}

	switch {
	case !in.Comment:
	case t.PR == 0:
		r.published = append(r.published, fmt.Sprintf("Comment: none (the %s event has no pull request)", orDash(t.Event)))
	case perr != nil:
		r.failed("comment", perr)
	default:
		marker := commentMarker(in.Category)
		runURL := r.runURL()
		body := func(maxChars int) string {
			return r.red.Redact(output.Markdown(rep, output.MarkdownOptions{MaxChars: maxChars, Marker: marker, DetailsURL: runURL, Preface: r.preface, Links: r.links()}))
		}
		url, err := pub.upsertComment(ctx, t.PR, marker, in.CommentMode, in.CommentAuthor, body)
		if err != nil {
			r.failed("comment", err)
		} else {
			r.commentURL = url
			r.published = append(r.published, fmt.Sprintf("Comment: %s (mode %s)", summaryText(url), in.CommentMode))
		}
	}

	if len(r.refused) > 0 {
		msg := fmt.Sprintf("Pull request #%d %s: GitHub gives its workflow a read-only token, so it refused the %s (403). "+
			"The verdict still gates this pull request through the step's exit code; the full report is in this job summary. "+
			"To comment on pull requests from forks, publish the saved report from a workflow_run job (examples/workflows/aegis-publish.yml).",
			t.PR, r.readOnly, strings.Join(r.refused, " and the "))
		r.logf("%s", msg)
		r.ann.annotate("warning", map[string]string{"title": "aegis: read-only token"}, msg)
		r.notes = append(r.notes, note{kind: alertWarning, text: msg})
	}
}

// failed records a publishing failure. On a fork's (or Dependabot's) pull
// request a 403 is the read-only token, expected and explained once;
// anything else is an error in the log, an annotation and the summary.
func (r *run) failed(what string, err error) {
	if r.readOnly != "" && isForbidden(err) {
		r.refused = append(r.refused, what)
		r.published = append(r.published, fmt.Sprintf("%s: refused, read-only token (403)", capitalize(what)))
		return
	}
	if what == "SARIF upload" && r.in.UploadSarifAuto && isForbidden(err) {
		// The default: a repository without code scanning (GitHub Advanced
		// Security off, or a token without security-events: write) gets
		// its verdict, not a red step for want of a feature.
		msg := fmt.Sprintf("code scanning refused the SARIF upload (403: %s). upload-sarif is auto, so this is not a failure: "+
			"enable code scanning for the repository and give the workflow `permissions: security-events: write` to see the findings as alerts, "+
			"or set upload-sarif: false (or true, to fail when the upload fails)", summaryText(r.red.Redact(err.Error())))
		r.logf("warning: %s", msg)
		r.ann.annotate("warning", map[string]string{"title": "aegis: SARIF not uploaded"}, oneLine(msg, 2000))
		r.notes = append(r.notes, note{kind: alertWarning, text: msg})
		r.published = append(r.published, "SARIF: not uploaded, code scanning refused it (403; upload-sarif: auto)")
		return
	}
	hint := ""
	if isForbidden(err) {
		switch what {
		case "comment":
			hint = " The workflow needs `permissions: pull-requests: write`."
		default:
			hint = " The workflow needs `permissions: security-events: write`, and code scanning must be available to the repository (or set upload-sarif: false)."
		}
	}
	errText := r.red.Redact(err.Error())
	msg := fmt.Sprintf("could not publish the %s: %s.%s", what, errText, hint)
	r.publishFailed = true
	r.logf("%s", msg)
	msg = "aegis " + msg
	r.ann.annotate("error", map[string]string{"title": "aegis: " + what + " failed"}, oneLine(msg, 2000))
	r.notes = append(r.notes, note{kind: alertCaution, text: msg})
	r.published = append(r.published, fmt.Sprintf("%s: failed (%s)", capitalize(what), summaryText(errText)))
}

func (r *run) setOutputs(rep *report.Report) {
	s := counts(rep)
	sarifFile, jsonFile := r.in.SarifFile, r.in.ReportJSON
	for _, o := range []struct{ name, value string }{
		{OutputVerdict, string(rep.Verdict)},
		{OutputSarifFile, sarifFile},
		{OutputReportJSON, jsonFile},
		{OutputNewFindings, strconv.Itoa(s.New)},
		{OutputFixedFindings, strconv.Itoa(s.Fixed)},
		{OutputCommentURL, r.commentURL},
	} {
		if err := setOutput(r.gha, o.name, r.red.Redact(o.value)); err != nil {
			r.logf("warning: %v", err)
		}
	}
}

// verdictCode maps the verdict to the exit code, as `aegis verify` does: an
// expired waiver is configuration to renew or remove (2, after the reports
// are written, so the reader sees what it no longer waives).
func verdictCode(rep *report.Report, ann *annotator) int {
	if n := len(rep.ExpiredWaivers); n > 0 {
		w := rep.ExpiredWaivers[0]
		msg := fmt.Sprintf("%s: waiver (owner %s) expired on %s: it no longer waives anything; renew its expiry or remove it (%d expired in all)", w.Location, w.Owner, w.Expires, n)
		ann.annotate("error", map[string]string{"title": "aegis: expired waiver"}, oneLine(msg, 1000))
		return ExitBadInput
	}
	switch rep.Verdict {
	case report.Pass:
		return ExitPass
	case report.Fail:
		return ExitFail
	}
	return ExitInfra
}

// abort ends a run that has no verdict: an error annotation, the reason in
// the job summary and the log, and verdict "error" in the outputs.
func (r *run) abort(code int, err error) int {
	kind := "bad input"
	if code == ExitInfra {
		kind = "infrastructure error"
	}
	// Masked before it is shortened or escaped: a secret must match whole.
	text := r.red.Redact(err.Error())
	what := "verify"
	if r.in.Publish != "" {
		what = "publish"
	}
	msg := fmt.Sprintf("aegis could not %s (%s): %s", what, kind, text)
	r.logf("%s", text)
	if r.gha == nil {
		return code
	}
	r.ann.annotate("error", map[string]string{"title": "aegis: " + kind}, oneLine(msg, 4000))
	if err := addSummary(r.gha, r.red.Redact(fmt.Sprintf("### ⚠️ aegis: ERROR\n\n> [!CAUTION]\n> %s\n", summaryText(msg)))); err != nil {
		r.logf("warning: %v", err)
	}
	if err := setOutput(r.gha, OutputVerdict, string(report.Error)); err != nil {
		r.logf("warning: %v", err)
	}
	return code
}

// describe is a side for the log: a revision shortened, a directory as given.
func describe(s verify.Source) string {
	if s.IsDir() {
		return s.Dir + " (directory)"
	}
	return short(s.Revision)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
