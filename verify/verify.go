// Package verify owns the pipeline: it drives base and head through render,
// diff, scanners, delta and gate, and is the one place that knows their
// order. It knows neither GitHub nor Argo CD: adapters call Run and write
// the outputs they need from the Report it returns.
package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/diff"
	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/judge"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/render/isolate"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/podspec"
	"github.com/kube-sentient/aegis/shadow"
)

// Shadow modes: off renders and scans statically; head also deploys the
// head into a shadow namespace; both deploys base and head side by side.
const (
	ShadowOff  = "off"
	ShadowHead = "head"
	ShadowBoth = "both"
)

// Options of one verification.
type Options struct {
	Base, Head Source // a git revision or a directory each
	Path       string // the source directory, relative to each side's root
	Render     render.Options
	Config     *config.Config
	Scanners   []scanners.Scanner
	Shadow     string
	// Kube is the cluster for shadow namespaces (required unless Shadow is off).
	Kube *rest.Config
	// ShadowOptions tune the shadow namespaces (run id, TTL, timeouts, quota).
	ShadowOptions shadow.Options
	// KeepShadow leaves the shadow namespaces in place for debugging.
	KeepShadow bool
	// ToolVersion is written into the report.
	ToolVersion string
	// Progress hears human-readable progress lines (stderr in the CLI).
	Progress func(format string, args ...any)
	// Now is the clock waivers are judged by (default time.Now).
	Now func() time.Time
	// BaseRender and BasePath, when set, are the base's own render options
	// and path: an Argo CD app renders on each side as that side's
	// Application says (a pull request that changes the Application's Helm
	// parameters is judged by them on the head only, never by rendering
	// the base with them too). Unset, the base renders like the head.
	BaseRender *render.Options
	BasePath   string
	// LocationRoot, when set, is the repository's top on disk (the
	// Action's workspace): findings of a directory side inside it are
	// reported relative to it, as code scanning and annotations need.
	LocationRoot string
}

// InputError is bad input that is not tied to a file line (a missing flag,
// an unknown revision). Errors of this type, *manifest.SourceError,
// *config.Error and *isolate.LimitError (a side that needs more time or
// memory to render than the policy grants) mean exit code 2.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// IsBadInput reports whether err is the user's input being wrong, as
// opposed to the infrastructure failing.
func IsBadInput(err error) bool {
	var ie *InputError
	var se *manifest.SourceError
	var ce *config.Error
	var de *manifest.DuplicateError
	var ae *shadow.ApplyError
	var le *isolate.LimitError
	if errors.As(err, &ae) && ae.DryRun {
		return true // the API server refused an object of the change: nothing was applied
	}
	return errors.As(err, &ie) || errors.As(err, &se) || errors.As(err, &ce) || errors.As(err, &de) || errors.As(err, &le)
}

// Result is a finished verification.
type Result struct {
	Report  *report.Report
	Changes []diff.Change
	Base    *render.Result
	Head    *render.Result
}

// Run verifies head against base. An error means there is no verdict: bad
// input (IsBadInput) or an infrastructure failure.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts = withDefaults(opts)
	if err := checkShadow(opts); err != nil {
		return nil, err
	}
	base, head, err := renderSides(ctx, opts)
	if err != nil {
		return nil, err
	}
	// Scanners such as semgrep read source files: checkouts live until the end.
	defer base.src.cleanup()
	defer head.src.cleanup()
	return verifyRendered(ctx, opts, base, head)
}

// verifyRendered is the pipeline from two rendered sides to the gated
// report: resource diff, shadow deployment, scanners, delta and gate. Run
// reaches it after rendering, RunSets with sets rendered elsewhere.
func verifyRendered(ctx context.Context, opts Options, base, head *renderedSide) (*Result, error) {
	registerRendered(base.rendered.Set, head.rendered.Set)
	changes, err := diff.Compute(base.rendered.Set, head.rendered.Set)
	if err != nil {
		return nil, err
	}
	opts.Progress("diff: %s", diff.Summary(changes))

	targets := []scanners.Target{
		{Side: scanners.Base, Root: base.src.root, Set: base.rendered.Set, KubeVersion: opts.Render.KubeVersion},
		{Side: scanners.Head, Root: head.src.root, Set: head.rendered.Set, KubeVersion: opts.Render.KubeVersion},
	}
	deployed, teardown, err := deployShadows(ctx, opts, targets)
	defer func() { _ = teardown() }() // every error path; a no-op once done below
	if err != nil {
		return nil, err
	}
	runner := scanners.Runner{Scanners: opts.Scanners, Config: opts.Config, Progress: opts.Progress}
	scanned := runner.Run(ctx, targets...)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verification interrupted: %w", err)
	}

	r := &report.Report{
		APIVersion: report.APIVersion,
		Kind:       report.Kind,
		Tool:       report.Tool{Name: "aegis", Version: opts.ToolVersion},
		Base:       sideReport(base),
		Head:       sideReport(head),
		Changes:    resourceChanges(changes),
		Scanners:   scanned.Runs,
		Findings:   report.Delta(scanned.Findings[scanners.Base], scanned.Findings[scanners.Head]),
		Rules:      rules(opts.Scanners),
		Shadow:     shadowReport(deployed, opts.KeepShadow),
		Unscanned:  podspec.Unscanned(head.rendered.Set),
	}
	Decide(r, opts)
	r.Reasons = append(r.Reasons, absenceReasons(base, head)...)
	// Nothing may be left in the cluster: a teardown that failed (the API
	// server went away after the scans) turns any verdict into an error, so
	// the run fails closed and says how to clean up.
	if err := teardown(); err != nil {
		r.Verdict = report.Error
		r.Reasons = append(r.Reasons, err.Error())
	}
	return &Result{Report: r, Changes: changes, Base: base.rendered, Head: head.rendered}, nil
}

// Decide gives a report its final locations and its verdict, once:
// directory sides' locations become relative to LocationRoot (the gate's
// reasons name them), then the policy judges. Nothing after it may soften
// the verdict; a later failure (a teardown) can only turn it into error.
func Decide(r *report.Report, opts Options) {
	opts = withDefaults(opts)
	relocate(r, opts.LocationRoot, opts.Base, opts.Head)
	judge.Gate(r, opts.Config, opts.Now())
}

func withDefaults(o Options) Options {
	if o.Shadow == "" {
		o.Shadow = ShadowOff
	}
	if o.Config == nil {
		o.Config = config.Default()
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Path == "" {
		o.Path = "."
	}
	return o
}

type renderedSide struct {
	src      *side
	rendered *render.Result
	// absent says why the app is not on this side (its PATH, or a values
	// file named relative to it, does not exist there): the change adds
	// or removes the app, and the side renders to nothing. "" when present.
	absent string
}

// renderSides resolves and renders both sides concurrently. On error every
// temporary checkout is already removed; on success the caller removes them.
func renderSides(ctx context.Context, opts Options) (*renderedSide, *renderedSide, error) {
	specs := [2]struct {
		name string
		spec Source
	}{{scanners.Base, opts.Base}, {scanners.Head, opts.Head}}
	var out [2]*renderedSide
	var errs [2]error
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = renderSide(ctx, s.name, s.spec, opts)
		}()
	}
	wg.Wait()
	if errs[0] == nil && errs[1] == nil && out[0].absent != "" && out[1].absent != "" {
		errs[0] = &InputError{Msg: fmt.Sprintf("the app is on neither side: on the base %s, and on the head %s", out[0].absent, out[1].absent)}
	}
	if err := errors.Join(errs[0], errs[1]); err != nil {
		for _, s := range out {
			if s != nil {
				s.src.cleanup()
			}
		}
		return nil, nil, err
	}
	return out[0], out[1], nil
}

func renderSide(ctx context.Context, name string, spec Source, opts Options) (*renderedSide, error) {
	if name == scanners.Base {
		if opts.BaseRender != nil {
			opts.Render = *opts.BaseRender
		}
		if opts.BasePath != "" {
			opts.Path = opts.BasePath
		}
	}
	limits := opts.Render.Limits
	if limits == (manifest.Limits{}) {
		limits = manifest.DefaultLimits
	}
	src, err := resolveSide(ctx, name, spec, opts.Path, limits.MaxTotalBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	registerSecrets(src.root)
	if why := appAbsence(src.root, src.path, opts.Render.ValuesFiles); why != "" {
		// A side without the app renders to nothing: everything of a new
		// app is new, everything of a removed one is fixed.
		opts.Progress("%s (%s): %s: the app is absent from this side", name, spec.Describe(), why)
		set, err := manifest.NewSet(nil)
		if err != nil {
			src.cleanup()
			return nil, err
		}
		return &renderedSide{src: src, rendered: &render.Result{Type: render.Absent, Set: set}, absent: why}, nil
	}
	start := time.Now()
	// In a child process bounded by the policy's render limits: a source
	// that makes the renderer recurse or spin costs the child, not aegis.
	// Deterministic: a chart's generated passwords, keys and random names
	// are the same on every run and on both sides (render.Options).
	ropts := opts.Render
	ropts.Deterministic = true
	if opts.Config != nil {
		// The trusted policy's (the base's), never the head's.
		hd := opts.Config.Helm.Dependencies
		ropts.HelmDependencies = render.HelmDependencies{AllowHosts: hd.AllowHosts, Pin: hd.Pin, Mirrors: hd.Mirrors, CacheDir: hd.CacheDir}
	}
	res, err := isolate.Render(ctx, src.root, src.path, ropts, isolate.FromConfig(opts.Config))
	if err != nil {
		src.cleanup()
		return nil, fmt.Errorf("%s (%s): %w", name, spec.Describe(), src.openable(err))
	}
	opts.Progress("rendered %s (%s, %s): %d objects in %d ms", name, spec.Describe(), res.Type, res.Set.Len(), time.Since(start).Milliseconds())
	return &renderedSide{src: src, rendered: res}, nil
}

func sideReport(s *renderedSide) report.Side {
	return report.Side{
		Source:  s.src.spec,
		Type:    string(s.rendered.Type),
		Digest:  s.rendered.Set.Digest(),
		Objects: s.rendered.Set.Len(),
		Absent:  s.absent,
		// The Helm dependencies downloaded, with their archives' sha256.
		Dependencies: chartDependencies(s.rendered.Dependencies),
	}
}

func chartDependencies(deps []render.Dependency) []report.ChartDependency {
	var out []report.ChartDependency
	for _, d := range deps {
		out = append(out, report.ChartDependency{Name: d.Name, Version: d.Version, Repository: d.Repository, URL: d.URL, SHA256: d.SHA256})
	}
	return out
}

// appAbsence says why the app at root/path is not there: PATH, or a
// values file relative to it, does not exist. "" when both exist (or when
// what is wrong is not absence: rendering reports that).
func appAbsence(root, path string, valuesFiles []string) string {
	dir := filepath.Join(root, path)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("PATH %s does not exist", filepath.ToSlash(filepath.Clean(path)))
	}
	for _, vf := range valuesFiles {
		if filepath.IsAbs(vf) {
			continue // the operator's own file, the same on both sides
		}
		if _, err := os.Lstat(filepath.Join(dir, vf)); errors.Is(err, os.ErrNotExist) {
			return fmt.Sprintf("values file %s does not exist", filepath.ToSlash(filepath.Join(path, vf)))
		}
	}
	return ""
}

// absenceReasons explain a report whose app one side lacks.
func absenceReasons(base, head *renderedSide) []string {
	switch {
	case base.absent != "":
		return []string{fmt.Sprintf("The change adds this app (on the base, %s): every object and finding of the head is new.", base.absent)}
	case head.absent != "":
		return []string{fmt.Sprintf("The change removes this app (on the head, %s): every finding of the base is fixed.", head.absent)}
	}
	return nil
}

func resourceChanges(changes []diff.Change) []report.ResourceChange {
	out := make([]report.ResourceChange, 0, len(changes))
	for _, c := range changes {
		out = append(out, report.ResourceChange{
			Change: string(c.Type), Kind: c.ID.Kind, Namespace: c.ID.Namespace, Name: c.ID.Name, Path: c.Path(),
			Diff: capDiff(c.Unified),
		})
	}
	return out
}

// capDiff cuts a diff at report.MaxChangeDiffRunes, at a line end, saying
// how many lines it left out.
func capDiff(d string) string {
	if utf8.RuneCountInString(d) <= report.MaxChangeDiffRunes {
		return d
	}
	cut := text.TruncateBytes(d, report.MaxChangeDiffRunes-100) // bytes >= runes: within the rune bound
	if i := strings.LastIndexByte(cut, '\n'); i >= 0 {
		cut = cut[:i+1]
	}
	left := strings.Count(d[len(cut):], "\n")
	return cut + fmt.Sprintf("… %d more lines (aegis diff prints them all)\n", left)
}

func rules(ss []scanners.Scanner) []report.Rule {
	var out []report.Rule
	for _, s := range ss {
		for _, r := range s.Rules() {
			if r.Scanner == "" {
				r.Scanner = s.Name()
			}
			out = append(out, r)
		}
	}
	return out
}

// Diff renders both sides and returns the resource-level changes only.
func Diff(ctx context.Context, opts Options) ([]diff.Change, error) {
	opts = withDefaults(opts)
	base, head, err := renderSides(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer base.src.cleanup()
	defer head.src.cleanup()
	registerRendered(base.rendered.Set, head.rendered.Set)
	return diff.Compute(base.rendered.Set, head.rendered.Set)
}
