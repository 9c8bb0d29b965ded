package action

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/verify"
)

// Input names, exactly as action.yml declares them. GitHub hands input NAME
// to a Docker action as the environment variable INPUT_<NAME>, upper-cased,
// spaces turned into '_' and hyphens KEPT: fail-on arrives as INPUT_FAIL-ON.
const (
	InputPath               = "path"
	InputApp                = "app"
	InputApps               = "apps"
	InputBase               = "base"
	InputHead               = "head"
	InputBaseDir            = "base-dir"
	InputHeadDir            = "head-dir"
	InputConfig             = "config"
	InputShadow             = "shadow"
	InputKubeconfig         = "kubeconfig"
	InputShadowTimeout      = "shadow-timeout"
	InputFailOn             = "fail-on"
	InputSarifFile          = "sarif-file"
	InputReportJSON         = "report-json"
	InputUploadSarif        = "upload-sarif"
	InputUploadWait         = "upload-wait"
	InputReportOnly         = "report-only"
	InputComment            = "comment"
	InputCommentMode        = "comment-mode"
	InputCommentAuthor      = "comment-author"
	InputToken              = "token"
	InputCategory           = "category"
	InputAllowUntrustedHead = "allow-untrusted-head"
	InputValues             = "values"
	InputSet                = "set"
	InputSetJSON            = "set-json"
	InputSetString          = "set-string"
	InputSetFile            = "set-file"
	InputSetLiteral         = "set-literal"
	InputReleaseName        = "release-name"
	InputNamespace          = "namespace"
	InputKubeVersion        = "kube-version"
	InputRecurse            = "recurse"
	InputInclude            = "include"
	InputExclude            = "exclude"
	InputJsonnetTLA         = "jsonnet-tla"
	InputJsonnetTLACode     = "jsonnet-tla-code"
	InputJsonnetExtVar      = "jsonnet-ext-var"
	InputJsonnetExtVarCode  = "jsonnet-ext-var-code"
	InputJsonnetLibs        = "jsonnet-libs"
	InputPublish            = "publish"
)

// Output names, exactly as action.yml declares them.
const (
	OutputVerdict       = "verdict"
	OutputSarifFile     = "sarif-file"
	OutputReportJSON    = "report-json"
	OutputNewFindings   = "new-findings"
	OutputFixedFindings = "fixed-findings"
	OutputCommentURL    = "comment-url"
)

// Comment modes: update edits aegis's comment in place; recreate deletes
// it and posts a new one (the newest activity is at the bottom of the PR);
// hide-old minimizes the old one as outdated and posts a new one.
const (
	CommentUpdate   = "update"
	CommentRecreate = "recreate"
	CommentHideOld  = "hide-old"
)

// Inputs are the step's parsed inputs.
type Inputs struct {
	Path string
	// App is the Argo CD app to verify (verify.AppOptions): its
	// Application gives the path and render settings.
	App string
	// Apps verifies several apps with one report (verify.RunApps):
	// "auto", "all" or names separated by commas.
	Apps string
	Base string // a revision; empty: from the event
	Head string // a revision; empty: from the event
	// BaseDir and HeadDir are directories in place of the revisions.
	BaseDir, HeadDir string
	Config           string // empty: .aegis.yaml if present
	Shadow           string
	// Kubeconfig is the kubeconfig's contents (a secret). Never logged.
	Kubeconfig    string
	ShadowTimeout time.Duration
	FailOn        report.Severity // empty: the policy's
	SarifFile     string
	ReportJSON    string
	UploadSarif   bool
	// UploadSarifAuto: upload-sarif is auto, so code scanning refusing the
	// upload (403: not enabled for the repository, or a read-only token)
	// is a warning, not a failure.
	UploadSarifAuto bool
	// ReportOnly turns a failed gate's exit code 1 into 0; the verdict
	// stays as decided in every output.
	ReportOnly bool
	// UploadWait bounds the wait for code scanning to process the upload
	// (0: do not wait).
	UploadWait  time.Duration
	Comment     bool
	CommentMode string
	// CommentAuthor is the login the token writes comments as; empty: ask
	// GitHub. Only comments by it are edited, deleted or hidden.
	CommentAuthor string
	// Token is the GitHub token. Never logged.
	Token              string
	Category           string
	AllowUntrustedHead bool
	// Publish is a saved JSON report to publish instead of verifying
	// (publish mode: a workflow_run job of the fork-PR recipe).
	Publish string
	// Render holds the Helm settings (values files, --set, release name,
	// namespace, Kubernetes version), as the CLI's flags give them.
	Render render.Options
}

// categoryPattern keeps the category safe inside an HTML comment marker and
// a SARIF automationDetails.id.
var categoryPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$`)

// loginPattern is a GitHub login: a user's (letters, digits, hyphens; GHES
// may also have '_' and '.') or an app's bot, "<app-slug>[bot]".
var loginPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}(\[bot\])?$`)

// readInputs reads every input the action declares, each exactly once and
// unconditionally (the contract test records them), and validates them.
// Errors are bad input: they name the input and what it accepts.
func readInputs(gha *githubactions.Action) (Inputs, error) {
	get := gha.GetInput
	raw := map[string]string{}
	for _, name := range inputNames {
		raw[name] = get(name)
	}
	in := Inputs{
		Path:        raw[InputPath],
		App:         strings.TrimSpace(raw[InputApp]),
		Apps:        strings.TrimSpace(raw[InputApps]),
		Base:        raw[InputBase],
		Head:        raw[InputHead],
		BaseDir:     raw[InputBaseDir],
		HeadDir:     raw[InputHeadDir],
		Config:      raw[InputConfig],
		Shadow:      raw[InputShadow],
		Kubeconfig:  raw[InputKubeconfig],
		SarifFile:   raw[InputSarifFile],
		ReportJSON:  raw[InputReportJSON],
		CommentMode: raw[InputCommentMode],
		Token:       raw[InputToken],
		Category:    raw[InputCategory],
		Publish:     strings.TrimSpace(raw[InputPublish]),
	}
	in.CommentAuthor = strings.TrimSpace(raw[InputCommentAuthor])
	var errs []string
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("input %s: ", name)+fmt.Sprintf(format, args...))
	}
	if in.App != "" && in.Apps != "" {
		errs = append(errs, "inputs app and apps are both set: give one app, or several")
	}
	if in.App != "" || in.Apps != "" {
		which := InputApp
		if in.Apps != "" {
			which = InputApps
		}
		if in.Path != "" && in.Path != "." {
			errs = append(errs, fmt.Sprintf("inputs %s and path are both set: the apps' Applications give their paths", which))
		}
		for _, name := range renderInputs {
			// recurse's default is "false": only true is set.
			if v := raw[name]; v != "" && !(name == InputRecurse && v == "false") {
				errs = append(errs, fmt.Sprintf("inputs %s and %s are both set: the apps' Applications give their render settings", which, name))
			}
		}
	}
	if in.Path == "" {
		in.Path = "."
	}
	switch in.Shadow {
	case "":
		in.Shadow = verify.ShadowOff
	case verify.ShadowOff, verify.ShadowHead, verify.ShadowBoth:
	default:
		bad(InputShadow, "%q is not one of off, head, both", in.Shadow)
	}
	if in.CommentMode == "" {
		in.CommentMode = CommentUpdate
	}
	switch in.CommentMode {
	case CommentUpdate, CommentRecreate, CommentHideOld:
	default:
		bad(InputCommentMode, "%q is not one of update, recreate, hide-old", in.CommentMode)
	}
	if in.CommentAuthor != "" && !loginPattern.MatchString(in.CommentAuthor) {
		bad(InputCommentAuthor, "%q is not a GitHub login (a user's, or an app's <app-slug>[bot])", in.CommentAuthor)
	}
	if v := raw[InputFailOn]; v != "" {
		sev, err := report.ParseSeverity(v)
		if err != nil {
			bad(InputFailOn, "%v", err)
		}
		in.FailOn = sev
	}
	var err error
	switch v := raw[InputUploadSarif]; v {
	case "", "auto":
		in.UploadSarif, in.UploadSarifAuto = true, true
	default:
		if in.UploadSarif, err = parseBool(v, true); err != nil {
			bad(InputUploadSarif, "%q is not auto, true or false", v)
		}
	}
	if in.ReportOnly, err = parseBool(raw[InputReportOnly], false); err != nil {
		bad(InputReportOnly, "%v", err)
	}
	if in.Comment, err = parseBool(raw[InputComment], true); err != nil {
		bad(InputComment, "%v", err)
	}
	if in.AllowUntrustedHead, err = parseBool(raw[InputAllowUntrustedHead], false); err != nil {
		bad(InputAllowUntrustedHead, "%v", err)
	}
	if in.ShadowTimeout, err = parseDuration(raw[InputShadowTimeout], 5*time.Minute); err != nil {
		bad(InputShadowTimeout, "%v", err)
	}
	if in.UploadWait, err = parseDuration(raw[InputUploadWait], 2*time.Minute); err != nil {
		bad(InputUploadWait, "%v", err)
	}
	if in.Category != "" && !categoryPattern.MatchString(in.Category) {
		bad(InputCategory, "%q must be letters, digits, '.', '_', '/' or '-' (at most 63, starting with a letter or digit)", in.Category)
	}
	for _, f := range []struct{ name, v string }{{InputSarifFile, in.SarifFile}, {InputReportJSON, in.ReportJSON}} {
		if strings.ContainsAny(f.v, "\r\n\x00") {
			bad(f.name, "a file name cannot hold a line break or NUL")
		} else if f.v != "" && filepath.Base(f.v) == "." {
			bad(f.name, "%q is not a file name", f.v)
		}
	}
	in.Render = render.Options{
		ValuesFiles: lines(raw[InputValues]),
		Set:         lines(raw[InputSet]),
		SetJSON:     lines(raw[InputSetJSON]),
		SetString:   lines(raw[InputSetString]),
		SetFile:     lines(raw[InputSetFile]),
		SetLiteral:  lines(raw[InputSetLiteral]),
		ReleaseName: raw[InputReleaseName],
		Namespace:   raw[InputNamespace],
		KubeVersion: raw[InputKubeVersion],
		Include:     strings.TrimSpace(raw[InputInclude]),
		Exclude:     strings.TrimSpace(raw[InputExclude]),
	}
	// Plain directories, as Argo CD's spec.source.directory.
	if in.Render.Recurse, err = parseBool(raw[InputRecurse], false); err != nil {
		bad(InputRecurse, "%v", err)
	}
	in.Render.Jsonnet.Libs = lines(raw[InputJsonnetLibs])
	for _, set := range []struct {
		name string
		code bool
		dst  *[]render.JsonnetVar
	}{
		{InputJsonnetTLA, false, &in.Render.Jsonnet.TLAs},
		{InputJsonnetTLACode, true, &in.Render.Jsonnet.TLAs},
		{InputJsonnetExtVar, false, &in.Render.Jsonnet.ExtVars},
		{InputJsonnetExtVarCode, true, &in.Render.Jsonnet.ExtVars},
	} {
		for _, l := range lines(raw[set.name]) {
			v, err := render.ParseJsonnetVar(l, set.code)
			if err != nil {
				bad(set.name, "%v", err)
				continue
			}
			*set.dst = append(*set.dst, v)
		}
	}
	if err := render.CheckDirectory(in.Render); err != nil {
		var ge *render.GlobError
		if errors.As(err, &ge) {
			bad(ge.Setting, "%v", err)
		} else {
			bad(InputJsonnetLibs, "%v", err)
		}
	}
	if len(errs) > 0 {
		return in, &verify.InputError{Msg: strings.Join(errs, "; ")}
	}
	return in, nil
}

// lines splits a multi-line input into its non-empty, trimmed lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// inputNames is every input readInputs reads, in action.yml's order.
var inputNames = []string{
	InputPath, InputApp, InputApps, InputBase, InputHead, InputBaseDir, InputHeadDir, InputConfig, InputShadow, InputKubeconfig, InputShadowTimeout,
	InputFailOn, InputSarifFile, InputReportJSON, InputUploadSarif, InputUploadWait, InputReportOnly,
	InputComment, InputCommentMode, InputCommentAuthor, InputToken, InputCategory, InputAllowUntrustedHead,
	InputValues, InputSet, InputSetJSON, InputSetString, InputSetFile, InputSetLiteral, InputReleaseName, InputNamespace, InputKubeVersion,
	InputRecurse, InputInclude, InputExclude, InputJsonnetTLA, InputJsonnetTLACode, InputJsonnetExtVar, InputJsonnetExtVarCode, InputJsonnetLibs, InputPublish,
}

// renderInputs are the inputs an app's Application replaces (input app).
var renderInputs = []string{InputValues, InputSet, InputSetJSON, InputSetString, InputSetFile, InputSetLiteral, InputReleaseName,
	InputNamespace, InputKubeVersion, InputRecurse, InputInclude, InputExclude, InputJsonnetTLA, InputJsonnetTLACode,
	InputJsonnetExtVar, InputJsonnetExtVarCode, InputJsonnetLibs}

// parseBool accepts the YAML 1.2 core booleans, as actions/toolkit's
// getBooleanInput does; empty means def.
func parseBool(v string, def bool) (bool, error) {
	switch v {
	case "":
		return def, nil
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", v)
}

// parseDuration accepts a Go duration ("90s", "2m") or "0"; empty means def.
func parseDuration(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 90s or 2m", v)
	}
	return d, nil
}
