package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/kube-sentient/aegis/apps"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
)

// AppsOptions choose the apps of a run over several Argo CD apps.
type AppsOptions struct {
	// Names are the apps to verify. Empty: with All every app of either
	// side, else the apps the change can affect (apps.Affected).
	Names []string
	All   bool
	// RepoURLs name this repository in the manifests.
	RepoURLs []string
	// Concurrency bounds the apps verified at once; 0 means the machine's
	// CPUs, at most 4 (each app renders and scans both sides in parallel
	// already).
	Concurrency int
}

// RunApps verifies several Argo CD apps of one change and returns one
// report: every app's findings, changes and scanner runs (each with its
// app), each app's verdict in Report.Apps, and the worst verdict of all.
// Each side is checked out once and shared by the apps; the scanners of
// opts are shared too (an image is scanned once for all apps). An app that
// cannot be verified is an error: a run never passes an app it did not
// verify.
func RunApps(ctx context.Context, opts Options, ao AppsOptions) (*Result, error) {
	opts = withDefaults(opts)
	var trees [2]string
	var fsys [2]fs.FS
	var found [2]*apps.Result
	for i, side := range []struct {
		name string
		src  Source
	}{{"base", opts.Base}, {"head", opts.Head}} {
		root, done, err := Checkout(ctx, side.name, side.src, manifest.DefaultLimits.MaxTotalBytes)
		if err != nil {
			return nil, err
		}
		defer done()
		trees[i] = root
		maxApps := 0
		if opts.Config != nil {
			maxApps = opts.Config.Apps.MaxApps
		}
		if fsys[i], err = TreeFS(root); err != nil {
			return nil, err
		}
		if found[i], err = apps.Discover(fsys[i], apps.Options{RepoURLs: ao.RepoURLs, MaxApps: maxApps}); err != nil {
			return nil, fmt.Errorf("%s: %w", side.name, err)
		}
	}
	if len(found[0].Apps) == 0 && len(found[1].Apps) == 0 {
		return nil, &InputError{Msg: "no Argo CD Application or ApplicationSet app on the base or the head: give PATH to verify one directory"}
	}
	names, why, err := selectApps(ctx, opts, ao, trees, fsys, found)
	if err != nil {
		return nil, err
	}
	names, skipped, err := dropUnverifiable(opts, names, found)
	if err != nil {
		return nil, err
	}
	opts.Progress("%d apps to verify: %s", len(names), strings.Join(names, ", "))
	reports, paths, err := runEach(ctx, opts, ao, trees, found, names)
	if err != nil {
		return nil, err
	}
	m := mergeApps(opts, names, paths, why, reports)
	if len(skipped) > 0 {
		m.Reasons = append(m.Reasons[:1], append(skipped, m.Reasons[1:]...)...)
	}
	return &Result{Report: m}, nil
}

// dropUnverifiable takes out of names the apps aegis cannot verify from
// the repository (their source elsewhere): an error, unless the trusted
// policy allows them (apps.allowUnverifiable), when each becomes a reason.
func dropUnverifiable(opts Options, names []string, found [2]*apps.Result) ([]string, []string, error) {
	var keep, skipped, refused []string
	for _, n := range names {
		a, ok := found[1].Find(n)
		if !ok {
			a, _ = found[0].Find(n)
		}
		if a.Unverifiable == "" {
			keep = append(keep, n)
			continue
		}
		skipped = append(skipped, fmt.Sprintf("app %s was not verified: %s (apps.allowUnverifiable).", n, a.Unverifiable))
		refused = append(refused, fmt.Sprintf("%s (%s: %s)", n, a.Origin, a.Unverifiable))
	}
	if len(refused) > 0 && (opts.Config == nil || !opts.Config.Apps.AllowUnverifiable) {
		return nil, nil, &InputError{Msg: fmt.Sprintf("the change affects apps aegis cannot verify from this repository: %s; "+
			"a run never passes an app it did not verify: set apps.allowUnverifiable: true in the policy to go on without them", strings.Join(refused, "; "))}
	}
	return keep, skipped, nil
}

// selectApps are the names to verify, with why each was selected.
func selectApps(ctx context.Context, opts Options, ao AppsOptions, trees [2]string, fsys [2]fs.FS, found [2]*apps.Result) ([]string, map[string][]string, error) {
	why := map[string][]string{}
	var names []string
	switch {
	case len(ao.Names) > 0:
		names = slices.Clone(ao.Names)
		for _, n := range names {
			why[n] = []string{"named"}
		}
	case ao.All:
		for _, r := range found {
			for _, a := range r.Apps {
				if !slices.Contains(names, a.Name) {
					names = append(names, a.Name)
					why[a.Name] = []string{"all apps"}
				}
			}
		}
	default:
		changed, err := ChangedFiles(ctx, opts.Base, opts.Head, trees)
		if err != nil {
			return nil, nil, err
		}
		sel := apps.Affected(fsys[0], fsys[1], found[0], found[1], changed)
		for _, a := range sel.Apps {
			names = append(names, a.Name)
			why[a.Name] = a.Why
		}
	}
	slices.Sort(names)
	return names, why, nil
}

// runEach verifies each app with bounded concurrency, in the shared trees.
func runEach(ctx context.Context, opts Options, ao AppsOptions, trees [2]string, found [2]*apps.Result, names []string) ([]*report.Report, []string, error) {
	n := ao.Concurrency
	if n <= 0 {
		n = min(runtime.NumCPU(), 4)
	}
	tmp, err := os.MkdirTemp("", "aegis-apps-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	reports := make([]*report.Report, len(names))
	paths := make([]string, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			o, err := appRunOptions(opts, trees, found, name, i, tmp)
			paths[i] = o.Path
			if err == nil {
				var res *Result
				if res, err = Run(ctx, o); err == nil {
					reports[i] = res.Report
				}
			}
			if err != nil {
				errs[i] = fmt.Errorf("app %s: %w", name, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return reports, paths, nil
}

// appRunOptions are one app's options: the shared trees as directories,
// the app's path and render settings from each side's own Application.
func appRunOptions(opts Options, trees [2]string, found [2]*apps.Result, name string, i int, tmp string) (Options, error) {
	var sides [2]*apps.App
	for k, r := range found {
		if a, ok := r.Find(name); ok {
			sides[k] = &a
		}
	}
	dir, err := os.MkdirTemp(tmp, "app-")
	if err != nil {
		return opts, err
	}
	o := opts
	if _, _, err := applyApp(&o, name, sides[0], sides[1], dir); err != nil {
		return opts, err
	}
	o.Base, o.Head = Source{Dir: trees[0]}, Source{Dir: trees[1]}
	if o.ShadowOptions.RunID != "" {
		o.ShadowOptions.RunID = fmt.Sprintf("%s-%d", o.ShadowOptions.RunID, i)
	}
	progress := opts.Progress
	o.Progress = func(format string, args ...any) { progress("%s: "+format, append([]any{name}, args...)...) }
	return o, nil
}

// mergeApps makes one report of the apps' reports.
func mergeApps(opts Options, names, paths []string, why map[string][]string, reports []*report.Report) *report.Report {
	m := &report.Report{Verdict: report.Pass, Changes: []report.ResourceChange{}, Scanners: []report.ScannerRun{}, Findings: []report.Finding{}}
	if len(reports) > 0 {
		first := reports[0]
		m.APIVersion, m.Kind, m.Tool, m.Policy = first.APIVersion, first.Kind, first.Tool, first.Policy
		m.ExpiredWaivers = first.ExpiredWaivers // the same policy judged every app
	} else {
		m.APIVersion, m.Kind = report.APIVersion, report.Kind
		m.Tool = report.Tool{Name: "aegis", Version: opts.ToolVersion}
	}
	m.Base = report.Side{Source: opts.Base.Describe(), Type: "apps"}
	m.Head = report.Side{Source: opts.Head.Describe(), Type: "apps"}
	baseSum, headSum := sha256.New(), sha256.New()
	counts := map[report.Verdict]int{}
	rules := map[string]bool{}
	blocking := 0
	for i, r := range reports {
		name := names[i]
		// The sides as the user gave them, not the shared trees' paths.
		base, head := r.Base, r.Head
		base.Source, head.Source = opts.Base.Describe(), opts.Head.Describe()
		m.Apps = append(m.Apps, report.AppReport{Name: name, Path: paths[i], Verdict: r.Verdict, Reasons: r.Reasons,
			Selected: why[name], Base: base, Head: head, Summary: r.Summary, Shadow: r.Shadow})
		counts[r.Verdict]++
		m.Verdict = worse(m.Verdict, r.Verdict)
		fmt.Fprintf(baseSum, "%s\x00%s\x00", name, r.Base.Digest)
		fmt.Fprintf(headSum, "%s\x00%s\x00", name, r.Head.Digest)
		m.Base.Objects += r.Base.Objects
		m.Head.Objects += r.Head.Objects
		blocking += r.Summary.Blocking
		for _, f := range r.Findings {
			f.App = name
			f.Fingerprint = appFingerprint(name, f.Fingerprint)
			m.Findings = append(m.Findings, f)
		}
		for _, c := range r.Changes {
			c.App = name
			m.Changes = append(m.Changes, c)
		}
		for _, s := range r.Scanners {
			s.App = name
			m.Scanners = append(m.Scanners, s)
		}
		for _, rl := range r.Rules {
			if k := rl.Scanner + "\x00" + rl.ID; !rules[k] {
				rules[k] = true
				m.Rules = append(m.Rules, rl)
			}
		}
		m.Unscanned = append(m.Unscanned, r.Unscanned...)
	}
	m.Base.Digest = "sha256:" + hex.EncodeToString(baseSum.Sum(nil))
	m.Head.Digest = "sha256:" + hex.EncodeToString(headSum.Sum(nil))
	report.SortFindings(m.Findings)
	m.Summary = report.Summarize(m.Findings)
	m.Summary.Blocking = blocking
	m.Reasons = appReasons(m, counts)
	return m
}

// appReasons: the count of apps by verdict, then each app that did not
// pass with its first reason, worst first.
func appReasons(m *report.Report, counts map[report.Verdict]int) []string {
	if len(m.Apps) == 0 {
		return []string{"Passed: the change affects no Argo CD app."}
	}
	lead := fmt.Sprintf("%d apps verified: %d fail, %d error, %d pass.", len(m.Apps), counts[report.Fail], counts[report.Error], counts[report.Pass])
	switch m.Verdict {
	case report.Fail:
		lead = "Failed: " + lead
	case report.Error:
		lead = "Error: " + lead
	default:
		lead = "Passed: " + lead
	}
	out := []string{lead}
	for _, v := range []report.Verdict{report.Error, report.Fail} {
		for _, a := range m.Apps {
			if a.Verdict == v && len(a.Reasons) > 0 {
				out = append(out, "app "+a.Name+": "+a.Reasons[0])
			}
		}
	}
	return out
}

func worse(a, b report.Verdict) report.Verdict {
	rank := map[report.Verdict]int{report.Pass: 0, report.Fail: 1, report.Error: 2}
	ra, okA := rank[a]
	rb, okB := rank[b]
	if !okA || !okB {
		return report.Error
	}
	if rb > ra {
		return b
	}
	return a
}

// appFingerprint keeps one app's finding apart from the same finding of
// another app (two overlays of one base), across runs.
func appFingerprint(app, fp string) string {
	sum := sha256.Sum256([]byte(app + "\x00" + fp))
	return hex.EncodeToString(sum[:16])
}

// ChangedFiles lists the files a change touches: git's list between two
// revisions, else the files that differ between the two trees.
func ChangedFiles(ctx context.Context, base, head Source, trees [2]string) ([]string, error) {
	if base.Revision != "" && head.Revision != "" {
		out, err := exec.CommandContext(ctx, "git", "diff", "--name-only", "--no-renames", "-z", "--end-of-options", base.Revision, head.Revision, "--").Output()
		if err != nil {
			return nil, fmt.Errorf("git diff --name-only %s %s: %w", base.Revision, head.Revision, err)
		}
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		return files, nil
	}
	return diffTrees(trees[0], trees[1])
}

// diffTrees lists the files that one tree has and the other has not, or
// that differ in content (.git skipped).
func diffTrees(a, b string) ([]string, error) {
	list := func(root string) (map[string]string, error) {
		out := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = p
			return nil
		})
		return out, err
	}
	fa, err := list(a)
	if err != nil {
		return nil, err
	}
	fb, err := list(b)
	if err != nil {
		return nil, err
	}
	var changed []string
	for rel, pa := range fa {
		pb, ok := fb[rel]
		if !ok {
			changed = append(changed, rel)
			continue
		}
		da, err1 := os.ReadFile(pa)
		db, err2 := os.ReadFile(pb)
		if err1 != nil || err2 != nil || !bytes.Equal(da, db) {
			changed = append(changed, rel)
		}
	}
	for rel := range fb {
		if _, ok := fa[rel]; !ok {
			changed = append(changed, rel)
		}
	}
	slices.Sort(changed)
	return changed, nil
}
