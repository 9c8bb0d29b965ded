package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/output"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/sarif"
	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/shadow"
	"github.com/kube-sentient/aegis/verify"
)

// sourceFlags select and render both sides; verify and diff share them.
type sourceFlags struct {
	base, head       string
	baseDir, headDir string
	allowRemoteBases bool
	valuesFiles      []string
	set              []string
	setJSON          []string
	setString        []string
	setFile          []string
	setLiteral       []string
	releaseName      string
	namespace        string
	kubeVersion      string
	apiVersions      []string
	// Plain directories, as Argo CD's spec.source.directory.
	recurse           bool
	include, exclude  string
	jsonnetTLA        []string
	jsonnetTLACode    []string
	jsonnetExtVar     []string
	jsonnetExtVarCode []string
	jsonnetLibs       []string
}

func (f *sourceFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.base, "base", "", "the base: a git revision (sha, branch, tag) of the repository holding PATH")
	fl.StringVar(&f.head, "head", "", "the head (the proposed change): a git revision of the repository holding PATH")
	fl.StringVar(&f.baseDir, "base-dir", "", "the base as a directory instead of a revision (PATH is relative to it)")
	fl.StringVar(&f.headDir, "head-dir", "", "the head as a directory instead of a revision (PATH is relative to it)")
	fl.BoolVar(&f.allowRemoteBases, "allow-remote-bases", false, "let kustomize fetch remote bases (off: a PR could make the runner fetch anything)")
	fl.StringArrayVarP(&f.valuesFiles, "values", "f", nil, "Helm values file, relative to the chart (repeatable)")
	fl.StringArrayVar(&f.set, "set", nil, "Helm value key=value (repeatable)")
	fl.StringArrayVar(&f.setJSON, "set-json", nil, "Helm value key=JSON, or a JSON object (repeatable)")
	fl.StringArrayVar(&f.setString, "set-string", nil, "Helm value key=value, always a string (repeatable)")
	fl.StringArrayVar(&f.setFile, "set-file", nil, "Helm value key=path: the file's content; path relative to the chart, inside the source (repeatable)")
	fl.StringArrayVar(&f.setLiteral, "set-literal", nil, "Helm value key=value, taken literally (repeatable)")
	fl.StringVar(&f.releaseName, "release-name", "release", "Helm release name")
	fl.StringVarP(&f.namespace, "namespace", "n", "default", "Helm release namespace")
	fl.StringVar(&f.kubeVersion, "kube-version", "", "Kubernetes version for Helm's .Capabilities (e.g. v1.37.2)")
	fl.StringSliceVar(&f.apiVersions, "api-versions", nil, "extra API versions for Helm's .Capabilities.APIVersions")
	fl.BoolVar(&f.recurse, "recurse", false, "plain directory: read subdirectories too (Argo CD's directory.recurse; off: only the directory's own files)")
	fl.StringVar(&f.include, "include", "", "plain directory: read only files whose path (relative to the directory) matches this Argo CD glob, e.g. '{a.yaml,b/*.yaml}'")
	fl.StringVar(&f.exclude, "exclude", "", "plain directory: skip files whose path (relative to the directory) matches this Argo CD glob (wins over --include)")
	fl.StringArrayVar(&f.jsonnetTLA, "jsonnet-tla", nil, "Jsonnet top-level argument name=value, a string (repeatable)")
	fl.StringArrayVar(&f.jsonnetTLACode, "jsonnet-tla-code", nil, "Jsonnet top-level argument name=code (repeatable)")
	fl.StringArrayVar(&f.jsonnetExtVar, "jsonnet-ext-var", nil, "Jsonnet external variable name=value, a string (repeatable)")
	fl.StringArrayVar(&f.jsonnetExtVarCode, "jsonnet-ext-var-code", nil, "Jsonnet external variable name=code (repeatable)")
	fl.StringArrayVar(&f.jsonnetLibs, "jsonnet-libs", nil, "Jsonnet library directory, relative to the repository root (or to --base-dir/--head-dir), searched by imports (repeatable)")
}

// directoryOptions are the plain-directory settings of the flags,
// validated: an invalid glob or Jsonnet setting is a usage error.
func (f *sourceFlags) directoryOptions(o *render.Options) error {
	o.Recurse, o.Include, o.Exclude = f.recurse, f.include, f.exclude
	o.Jsonnet.Libs = f.jsonnetLibs
	for _, set := range []struct {
		flag string
		vals []string
		code bool
		dst  *[]render.JsonnetVar
	}{
		{"--jsonnet-tla", f.jsonnetTLA, false, &o.Jsonnet.TLAs},
		{"--jsonnet-tla-code", f.jsonnetTLACode, true, &o.Jsonnet.TLAs},
		{"--jsonnet-ext-var", f.jsonnetExtVar, false, &o.Jsonnet.ExtVars},
		{"--jsonnet-ext-var-code", f.jsonnetExtVarCode, true, &o.Jsonnet.ExtVars},
	} {
		for _, v := range set.vals {
			jv, err := render.ParseJsonnetVar(v, set.code)
			if err != nil {
				return &usageError{err: fmt.Errorf("%s: %w", set.flag, err)}
			}
			*set.dst = append(*set.dst, jv)
		}
	}
	if err := render.CheckDirectory(*o); err != nil {
		var ge *render.GlobError
		if errors.As(err, &ge) {
			return &usageError{err: fmt.Errorf("--%w", err)}
		}
		return &usageError{err: err}
	}
	return nil
}

func (f *sourceFlags) options() (verify.Options, error) {
	base := verify.Source{Revision: f.base, Dir: f.baseDir}
	head := verify.Source{Revision: f.head, Dir: f.headDir}
	if err := verify.CheckSource("base", base, "--base", "--base-dir"); err != nil {
		return verify.Options{}, &usageError{err: err}
	}
	if err := verify.CheckSource("head", head, "--head", "--head-dir"); err != nil {
		return verify.Options{}, &usageError{err: err}
	}
	ropts := render.Options{
		AllowRemoteBases: f.allowRemoteBases,
		ReleaseName:      f.releaseName,
		Namespace:        f.namespace,
		ValuesFiles:      f.valuesFiles,
		Set:              f.set,
		SetJSON:          f.setJSON,
		SetString:        f.setString,
		SetFile:          f.setFile,
		SetLiteral:       f.setLiteral,
		KubeVersion:      f.kubeVersion,
		APIVersions:      f.apiVersions,
	}
	if err := f.directoryOptions(&ropts); err != nil {
		return verify.Options{}, err
	}
	return verify.Options{Base: base, Head: head, Render: ropts}, nil
}

type verifyFlags struct {
	sourceFlags
	configPath    string
	shadow        string
	failOn        string
	sarifFile     string
	includeAbsent bool
	jsonFile      string
	markdownFile  string
	junitFile     string
	gitlabFile    string
	linkHead      string
	linkBase      string
	app           string
	apps          string
	repoURLs      []string
	output        string
	color         string
	quiet         bool
	verbose       bool
	kube          kubeFlags
	keepShadow    bool
	healthTimeout time.Duration
	shadowTTL     time.Duration
	enforce       string
	runID         string
}

func newVerifyCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &verifyFlags{}
	c := &cobra.Command{
		Use:   "verify (--base REV | --base-dir DIR) (--head REV | --head-dir DIR) [PATH]",
		Short: "Render, scan and gate a change: what does the head introduce, fix and keep?",
		Long: `verify renders PATH on the base and on the head, runs the scanners on both,
computes the delta (new, unchanged, fixed findings) and applies the policy.

--base and --head are git revisions of the repository that holds PATH (each
extracted into a temporary directory that is always removed); --base-dir and
--head-dir are directories (PATH is relative to each). A revision is never
looked up on disk: a directory that a change adds named like a revision
(HEAD/, origin/main/) cannot stand in for it.

The policy is the base's: .aegis.yaml read from the base revision (or the
base directory), so that a change cannot choose the policy, waivers or rules
it is judged by. -c names a file on disk instead.`,
		Example: `  aegis verify --base origin/main --head HEAD --sarif aegis.sarif --markdown comment.md examples/kustomize-overlay/after/overlays/prod
  aegis verify --base-dir examples/kustomize-overlay/before --head-dir examples/kustomize-overlay/after -c .aegis.yaml overlays/prod`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			return runVerify(c, f, args, stdout, stderr)
		},
	}
	f.register(c)
	fl := c.Flags()
	fl.StringVarP(&f.configPath, "config", "c", "", "policy file on disk (default: .aegis.yaml of the base revision, or of the base directory, if present)")
	fl.StringVar(&f.shadow, "shadow", verify.ShadowOff, "deploy into shadow namespaces on a cluster: off|head|both")
	f.kube.register(c)
	fl.StringVar(&f.runID, "run-id", "", "id of this run in shadow namespace names and labels (default: random; e.g. a CI run id)")
	fl.BoolVar(&f.keepShadow, "keep-shadow", false, "keep the shadow namespaces after the run, for debugging ('aegis gc --run ID' removes them)")
	fl.DurationVar(&f.healthTimeout, "shadow-timeout", 5*time.Minute, "how long to wait for the shadow deployments to become healthy")
	fl.DurationVar(&f.shadowTTL, "shadow-ttl", 30*time.Minute, "expiry written on shadow namespaces, after which 'aegis gc' removes them")
	fl.StringVar(&f.enforce, "shadow-enforce", "", "Pod Security level enforced in shadow namespaces: privileged|baseline|restricted (default: warn and audit restricted only)")
	fl.StringVar(&f.failOn, "fail-on", "", "fail on new findings at or above this severity (overrides failOn.severity)")
	fl.StringVar(&f.sarifFile, "sarif", "", "write SARIF 2.1.0 for code scanning to this file")
	fl.BoolVar(&f.includeAbsent, "sarif-include-absent", false, "also put fixed (absent) results in the SARIF file, for baseline-aware viewers")
	fl.StringVar(&f.jsonFile, "json", "", "write the JSON report to this file")
	fl.StringVar(&f.markdownFile, "markdown", "", "write the Markdown report (a PR comment) to this file")
	fl.StringVar(&f.junitFile, "junit", "", "write JUnit XML (one test case per problem) to this file")
	fl.StringVar(&f.gitlabFile, "gitlab", "", "write a GitLab Code Quality report to this file")
	fl.StringVar(&f.app, "app", "", "verify the Argo CD app of this name (aegis apps lists them): its path and Helm/directory settings come from its Application on each side")
	fl.StringVar(&f.apps, "apps", "", "verify several Argo CD apps with one report: auto (the apps the change can affect, as aegis apps --changed selects them), all, or NAME,NAME")
	fl.StringSliceVar(&f.repoURLs, "repo-url", nil, "with --app: a URL that names this repository in the manifests (repeatable; default: the git remote origin)")
	fl.StringVar(&f.linkHead, "link-base", "", "link the Markdown's head locations to their lines: the URL a location's path is appended to, e.g. https://github.com/OWNER/REPO/blob/HEAD_COMMIT/")
	fl.StringVar(&f.linkBase, "base-link-base", "", "the same for the base's locations (fixed problems, removed objects), e.g. https://github.com/OWNER/REPO/blob/BASE_COMMIT/")
	fl.StringVarP(&f.output, "output", "o", "text", "stdout format: text|json|sarif|markdown|junit|gitlab")
	fl.StringVar(&f.color, "color", "auto", "colour the terminal summary: auto|always|never")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress on stderr")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "also list the unchanged problems in the terminal summary")
	return c
}

func runVerify(c *cobra.Command, f *verifyFlags, args []string, stdout, stderr io.Writer) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	if _, err := output.ParseFormat(f.output); err != nil {
		return &usageError{err: fmt.Errorf("--output: %w", err)}
	}
	for _, l := range []struct{ flag, url string }{{"--link-base", f.linkHead}, {"--base-link-base", f.linkBase}} {
		if u, err := url.Parse(l.url); l.url != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
			return &usageError{err: fmt.Errorf("%s %q: give an absolute http(s) URL, such as https://github.com/OWNER/REPO/blob/COMMIT/", l.flag, l.url)}
		}
	}
	if len(args) == 1 {
		opts.Path = args[0]
	}
	progress := newProgress(stderr, f.quiet)
	if f.apps != "" {
		if f.app != "" {
			return &usageError{err: fmt.Errorf("--app and --apps: give one app, or several")}
		}
		if err := checkAppFlags(c, args, "--apps"); err != nil {
			return err
		}
	}
	if f.app != "" {
		cleanup, err := appOptions(c, f, args, &opts, progress)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	policy, err := verify.LoadPolicy(c.Context(), verify.PolicySource{
		File: f.configPath, OnDisk: f.configPath != "", Base: opts.Base, Path: opts.Path, From: "--config", BaseFrom: "--base",
	}, progress)
	if err != nil {
		return err
	}
	defer policy.Close()
	cfg := policy.Config
	if f.failOn != "" {
		sev, err := report.ParseSeverity(f.failOn)
		if err != nil {
			return &usageError{err: fmt.Errorf("--fail-on: %w", err)}
		}
		cfg.FailOn.Severity = string(sev)
	}
	opts.Config = cfg
	opts.Shadow = f.shadow
	opts.ToolVersion = version
	opts.Progress = progress
	if f.shadow != verify.ShadowOff {
		if opts.Kube, err = f.kube.restConfig(); err != nil {
			return err
		}
		opts.ShadowOptions = shadow.Options{RunID: f.runID, HealthTimeout: f.healthTimeout, TTL: f.shadowTTL, Enforce: f.enforce}
		opts.KeepShadow = f.keepShadow
	}
	set, err := buildScanners(cfg, f.shadow, opts.Kube, progress)
	if err != nil {
		return err
	}
	defer set.close()
	opts.Scanners = set.scanners

	start := time.Now()
	var res *verify.Result
	if f.apps != "" {
		ao := verify.AppsOptions{RepoURLs: f.repoURLs}
		if len(ao.RepoURLs) == 0 {
			ao.RepoURLs = defaultRepoURLs(c.Context())
		}
		switch f.apps {
		case "auto":
		case "all":
			ao.All = true
		default:
			ao.Names = strings.Split(f.apps, ",")
		}
		res, err = verify.RunApps(c.Context(), opts, ao)
	} else {
		res, err = verify.Run(c.Context(), opts)
	}
	if err != nil {
		return err
	}
	progress("verified in %d ms", time.Since(start).Milliseconds())
	outOpts := output.Options{
		SARIF:    sarif.Options{IncludeAbsent: f.includeAbsent, ToolVersion: version},
		Text:     output.TextOptions{Color: useColor(f.color, stdout), Width: termWidth(stdout), Verbose: f.verbose},
		Markdown: output.MarkdownOptions{Links: output.Links{Head: f.linkHead, Base: f.linkBase}},
		Warn:     func(m string) { fmt.Fprintln(stderr, "aegis: warning:", m) },
	}
	files := []output.File{
		{Format: output.FormatSARIF, Path: f.sarifFile},
		{Format: output.FormatJSON, Path: f.jsonFile},
		{Format: output.FormatMarkdown, Path: f.markdownFile},
		{Format: output.FormatJUnit, Path: f.junitFile},
		{Format: output.FormatGitLab, Path: f.gitlabFile},
	}
	if err := output.WriteFiles(res.Report, files, outOpts, secret.Default); err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	format, _ := output.ParseFormat(f.output) // checked with the flags
	data, err := output.Render(res.Report, format, outOpts, secret.Default)
	if err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	if _, err := stdout.Write(data); err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	return verdictError(res.Report, cfg)
}

// verdictError maps the verdict to the exit code. An expired waiver is a
// configuration the owner must renew or remove: exit 2 after the reports
// are written, so the reader sees what it no longer waives.
func verdictError(r *report.Report, cfg *config.Config) error {
	if len(r.ExpiredWaivers) > 0 {
		w := r.ExpiredWaivers[0]
		return &exitError{code: exitBadInput, err: fmt.Errorf("%s: waiver (owner %s) expired on %s: it no longer waives anything; renew its expiry or remove it (%d expired in all)",
			w.Location, w.Owner, w.Expires, len(r.ExpiredWaivers))}
	}
	switch r.Verdict {
	case report.Pass:
		return nil
	case report.Fail:
		return &exitError{code: exitFail}
	default:
		return &exitError{code: exitInfra}
	}
}

// usageArgs makes cobra's argument errors usage errors (exit 2).
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := v(c, args); err != nil {
			return &usageError{err: fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
		}
		return nil
	}
}

// renderFlags are the flags whose settings an Argo CD app's Application
// gives instead (--app).
var renderFlags = []string{"values", "set", "set-json", "set-string", "set-file", "set-literal", "release-name", "namespace",
	"kube-version", "recurse", "include", "exclude", "jsonnet-tla", "jsonnet-tla-code", "jsonnet-ext-var", "jsonnet-ext-var-code", "jsonnet-libs"}

// appOptions sets the path and render options of the app named by --app
// (verify.AppOptions), after refusing what --app replaces.
func appOptions(c *cobra.Command, f *verifyFlags, args []string, opts *verify.Options, progress func(string, ...any)) (func(), error) {
	if err := checkAppFlags(c, args, "--app"); err != nil {
		return nil, err
	}
	urls := f.repoURLs
	if len(urls) == 0 {
		urls = defaultRepoURLs(c.Context())
	}
	return verify.AppOptions(c.Context(), opts, f.app, urls, progress)
}

// checkAppFlags refuses PATH and the render flags with --app or --apps:
// the apps' Applications give them.
func checkAppFlags(c *cobra.Command, args []string, flag string) error {
	if len(args) > 0 {
		return &usageError{err: fmt.Errorf("%s and PATH: the app's Application gives its path", flag)}
	}
	for _, name := range renderFlags {
		if fl := c.Flags().Lookup(name); fl != nil && fl.Changed {
			return &usageError{err: fmt.Errorf("%s and --%s: the app's Application gives its render settings", flag, name)}
		}
	}
	return nil
}
