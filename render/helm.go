package render

// Helm rendering, client-only, through the Helm v4 SDK.
//
// We do what `helm template --include-crds` does, but drive the SDK pieces
// ourselves (loader, dependency processing, value coalescing, engine) rather
// than action.Install, for three reasons:
//
//   - the engine returns one output per template, so each object knows the
//     template it came from without re-parsing "# Source:" comments, and hooks
//     need no special case: they are ordinary templates whose output keeps its
//     helm.sh/hook annotations (action.Install moves them to rel.Hooks);
//   - we read the chart's files ourselves, so size limits and the symlink
//     policy are enforced before Helm sees a byte, and we know on which file
//     on disk every template lives (a subchart directory's name need not be its
//     chart name, and aliases rename charts);
//   - the chart's values.schema.json is validated with a compiler that cannot
//     fetch anything: Helm's own validator follows http(s) and file $refs, which
//     would let a pull request make the runner read its files or the network.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	yaml "go.yaml.in/yaml/v3"
	"helm.sh/helm/v4/pkg/chart/common"
	commonutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/ignore"
	"helm.sh/helm/v4/pkg/strvals"

	"github.com/kube-sentient/aegis/manifest"
)

// Defaults as `helm template` would need them; Helm itself has no default
// release name, "release" keeps both sides of a comparison identical.
const (
	defaultReleaseName = "release"
	defaultNamespace   = "default"
)

// renderHelm renders the chart in dir like `helm template --include-crds`:
// the chart's values.yaml, then opts.ValuesFiles in order, then opts.Set.
// Every object's Origin names the template (Origin.Template, e.g.
// "mychart/templates/deployment.yaml") and the template's file relative to
// root with the line where the object starts; its Locator points a field at
// the values file line that sets it when that can be told (see helmLocator).
func renderHelm(ctx context.Context, root, dir string, opts Options) (objs []manifest.Object, err error) {
	// Helm's code is not written for hostile input; whatever slips through
	// its own guards must end as an error, never as a crash of the run.
	defer func() {
		if r := recover(); r != nil {
			objs, err = nil, &manifest.SourceError{Location: manifest.Location{Path: rel(root, dir)}, Msg: fmt.Sprintf("helm: rendering failed: %v", r)}
		}
	}()
	h := &helmRun{
		root:    root,
		dir:     dir,
		relDir:  rel(root, dir),
		opts:    opts,
		lim:     opts.limits(),
		sources: map[*common.File]chartSource{},
		byName:  map[string]chartTemplate{},
		values:  map[string][]*yaml.Node{},
	}
	return h.run(ctx)
}

// helmRun holds the state of one chart rendering.
type helmRun struct {
	root, dir, relDir string
	opts              Options
	lim               manifest.Limits

	// sources maps every file Helm loaded (templates, CRDs, values.yaml) to
	// where it lives. Keyed by pointer because alias processing copies charts
	// but shares their file objects.
	sources map[*common.File]chartSource
	// byName maps engine template names ("parent/charts/sub/templates/x.yaml")
	// to their file and chart, after dependency processing.
	byName map[string]chartTemplate
	// values holds the parsed documents of every values file inside root, by
	// root-relative path, for field location. Read-only once rendering is done
	// so that locators may be used concurrently.
	values map[string][]*yaml.Node
	// userValues are the root-relative paths of the user values files that
	// lie inside root, in the order they were given.
	userValues []string
	// setVals holds what opts.Set sets, to tell a value from the command line
	// (which has no file to point at) from one in a values file.
	setVals map[string]any
}

// chartSource says where a loaded chart file lives.
type chartSource struct {
	path    string // relative to root, or the .tgz archive that holds the file
	archive bool   // inside a packaged subchart: no line can be given
}

type chartTemplate struct {
	file  *common.File
	chart *chart.Chart
}

// chartFile is a file read from the chart directory.
type chartFile struct {
	name string // relative to the chart being loaded, slash-separated
	src  string // relative to root, slash-separated
	data []byte
}

func (h *helmRun) run(ctx context.Context) ([]manifest.Object, error) {
	files, err := h.collect()
	if err != nil {
		return nil, err
	}
	chrt, err := h.load(files, h.relDir)
	if err != nil {
		return nil, err
	}
	chartYAML := path.Join(h.relDir, "Chart.yaml")
	if chrt.Metadata.Type == "library" {
		return nil, manifest.Errorf(chartYAML, 0, "a library chart cannot be rendered on its own")
	}
	if err := h.checkDependencies(chrt, h.relDir); err != nil {
		return nil, err
	}
	vals, err := h.userValuesMap()
	if err != nil {
		return nil, err
	}
	caps, err := h.capabilities()
	if err != nil {
		return nil, err
	}
	if kv := chrt.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, manifest.Errorf(chartYAML, h.keyLine(chrt, "kubeVersion"), "chart requires kubeVersion %s, which is incompatible with Kubernetes %s", kv, caps.KubeVersion.Version)
	}
	name := h.opts.ReleaseName
	if name == "" {
		name = defaultReleaseName
	}
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return nil, &manifest.SourceError{Msg: fmt.Sprintf("invalid --release-name %q: %v", name, err)}
	}
	ns := h.opts.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	if err := chartutil.ProcessDependencies(chrt, vals); err != nil {
		return nil, manifest.Errorf(chartYAML, 0, "helm: processing dependencies: %v", err)
	}
	relOpts := common.ReleaseOptions{Name: name, Namespace: ns, Revision: 1, IsInstall: true}
	// Schema validation is ours (validateSchemas): see the package comment.
	renderVals, err := commonutil.ToRenderValuesWithSchemaValidation(chrt, vals, relOpts, caps, true)
	if err != nil {
		return nil, manifest.Errorf(chartYAML, 0, "helm: merging values: %v", err)
	}
	if v, ok := renderVals["Values"].(common.Values); ok {
		if err := h.validateSchemas(chrt, v); err != nil {
			return nil, err
		}
	}
	h.index(chrt)
	rendered, err := h.renderTemplates(ctx, chrt, renderVals)
	if err != nil {
		return nil, err
	}
	return h.decode(chrt, rendered)
}

// collect lists and reads the chart directory the way Helm's directory
// loader does (.helmignore at the top, symlinks followed), refusing symlinks
// that leave root, irregular files, files above MaxFileBytes and charts above
// MaxTotalBytes before anything is read.
func (h *helmRun) collect() ([]chartFile, error) {
	rules := ignore.Empty()
	if ifile := filepath.Join(h.dir, ignore.HelmIgnore); exists(ifile) {
		if fi, err := os.Lstat(ifile); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if err := checkSymlink(h.root, ifile); err != nil {
				return nil, err
			}
		}
		data, err := readLimited(ifile, h.lim.MaxFileBytes)
		if err != nil {
			return nil, manifest.Errorf(rel(h.root, ifile), 0, "%v", err)
		}
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, manifest.Errorf(rel(h.root, ifile), 0, "invalid .helmignore: %v", err)
		}
	}
	rules.AddDefaults()

	type entry struct {
		abs, name string
	}
	var entries []entry
	var total int64
	visited := map[string]bool{}
	realRoot, err := filepath.EvalSymlinks(h.root)
	if err != nil {
		return nil, err
	}
	// chain holds the resolved directories the walk went through by
	// following symlinks (the chart's own first): a directory symlink
	// whose target holds one of them, or the link itself, is a loop, which
	// Helm's own loader would follow until the system gives up.
	var walk func(absDir, prefix string, chain []string) error
	walk = func(absDir, prefix string, chain []string) error {
		real, err := filepath.EvalSymlinks(absDir)
		if err != nil {
			return err
		}
		if visited[real] {
			return nil // read already through another symlink
		}
		visited[real] = true
		chain = append(chain[:len(chain):len(chain)], real)
		return filepath.WalkDir(absDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == absDir {
				return nil
			}
			r, err := filepath.Rel(absDir, p)
			if err != nil {
				return err
			}
			name := path.Join(prefix, filepath.ToSlash(r))
			display := path.Join(h.relDir, name)
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if err := checkSymlink(h.root, p); err != nil {
					return err
				}
				if fi, err = os.Stat(p); err != nil {
					return err
				}
				if fi.IsDir() {
					if rules.Ignore(name, fi) {
						return nil
					}
					target, err := filepath.EvalSymlinks(p)
					if err != nil {
						return err
					}
					realParent, err := filepath.EvalSymlinks(filepath.Dir(p))
					if err != nil {
						return err
					}
					for _, c := range append(chain, realParent) {
						if within(target, c) {
							link := rel(realRoot, filepath.Join(realParent, filepath.Base(p)))
							return manifest.Errorf(link, 0, "%s", symlinkLoopMsg("", dirName(realRoot, target)))
						}
					}
					return walk(target, name, chain)
				}
			}
			if fi.IsDir() {
				if rules.Ignore(name, fi) {
					return filepath.SkipDir
				}
				return nil
			}
			if rules.Ignore(name, fi) {
				return nil
			}
			if !fi.Mode().IsRegular() {
				return manifest.Errorf(display, 0, "not a regular file")
			}
			if fi.Size() > h.lim.MaxFileBytes {
				return manifest.Errorf(display, 0, "file is %d bytes, above the limit of %d", fi.Size(), h.lim.MaxFileBytes)
			}
			total += fi.Size()
			if total > h.lim.MaxTotalBytes {
				return manifest.Errorf(h.relDir, 0, "chart files exceed %d bytes in total", h.lim.MaxTotalBytes)
			}
			entries = append(entries, entry{abs: p, name: name})
			return nil
		})
	}
	if err := walk(h.dir, "", nil); err != nil {
		return nil, err
	}
	files := make([]chartFile, 0, len(entries))
	for _, e := range entries {
		// Read with the limit again: a file may have grown since the walk.
		data, err := readLimited(e.abs, h.lim.MaxFileBytes)
		if err != nil {
			return nil, manifest.Errorf(path.Join(h.relDir, e.name), 0, "%v", err)
		}
		data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
		if isChartYAML(e.name) {
			// Helm's YAML library would refuse a bomb too, but without
			// the line: check values and Chart.yaml as manifests are.
			if err := checkValuesLimits(path.Join(h.relDir, e.name), data, h.lim); err != nil {
				return nil, err
			}
		}
		files = append(files, chartFile{name: e.name, src: path.Join(h.relDir, e.name), data: data})
	}
	return files, nil
}

// checkValuesLimits holds a values file (or Chart.yaml) to the limits of
// manifests before Helm reads it: invalid UTF-8, alias bombs and deep
// nesting are refused at their line. A syntax error is left to Helm's
// loader, whose message users know.
func checkValuesLimits(display string, data []byte, lim manifest.Limits) error {
	if line := manifest.FirstInvalidUTF8Line(data); line > 0 {
		return manifest.Errorf(display, line, "file is not valid UTF-8")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if strings.Contains(err.Error(), "exceeded max depth") || strings.Contains(err.Error(), "control characters") {
				// Neither Helm's nor yaml.v3's message has a line.
				return manifest.YAMLErrorIn(display, data, lim.MaxDepth, err)
			}
			return nil
		}
		if err := manifest.CheckExpansion(display, &doc, lim); err != nil {
			return err
		}
	}
}

// isChartYAML reports whether name (relative to the top chart) is the
// values.yaml or Chart.yaml of the chart or of a subchart in charts/.
func isChartYAML(name string) bool {
	base := path.Base(name)
	if base != "values.yaml" && base != "Chart.yaml" {
		return false
	}
	dir := path.Dir(name)
	return dir == "." || path.Base(path.Dir(dir)) == "charts"
}

// load builds the chart of one directory level with Helm's loader and adds
// its subcharts from charts/ (directories recursively, .tgz archives with
// Helm's archive loader), recording where every file lives. It mirrors
// Helm's LoadFiles, which we cannot call on the whole tree because it
// forgets which directory each subchart came from.
func (h *helmRun) load(files []chartFile, srcDir string) (*chart.Chart, error) {
	var own []*archive.BufferedFile
	subs := map[string][]chartFile{}
	for _, f := range files {
		if rest, ok := strings.CutPrefix(f.name, "charts/"); ok && path.Ext(f.name) != ".prov" {
			sub, inner, _ := strings.Cut(rest, "/")
			subs[sub] = append(subs[sub], chartFile{name: inner, src: f.src, data: f.data})
			continue
		}
		own = append(own, &archive.BufferedFile{Name: f.name, Data: f.data})
	}
	c, err := c2load.LoadFiles(own)
	if err != nil {
		return nil, loadError(srcDir, err)
	}
	h.register(c, srcDir)

	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.IndexAny(n, "_.") == 0 {
			continue // Helm skips these too
		}
		group := subs[n]
		var sc *chart.Chart
		if path.Ext(n) == ".tgz" {
			src := path.Join(srcDir, "charts", n)
			if len(group) != 1 || group[0].name != "" {
				return nil, manifest.Errorf(src, 0, "a directory named like a chart archive")
			}
			if sc, err = c2load.LoadArchive(bytes.NewReader(group[0].data)); err != nil {
				return nil, manifest.Errorf(src, 0, "cannot load subchart archive: %v", err)
			}
			h.registerArchive(sc, src)
		} else {
			inner := make([]chartFile, 0, len(group))
			for _, f := range group {
				if f.name != "" {
					inner = append(inner, f)
				}
			}
			if sc, err = h.load(inner, path.Join(srcDir, "charts", n)); err != nil {
				return nil, err
			}
		}
		c.AddDependency(sc)
	}
	return c, nil
}

var errLineRe = regexp.MustCompile(`line (\d+)`)

// loadError names the chart file Helm's loader choked on and, when its YAML
// error says so, the line.
func loadError(srcDir string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Chart.yaml file is missing") {
		return manifest.Errorf(srcDir, 0, "not a chart: Chart.yaml is missing")
	}
	file := "Chart.yaml"
	for _, f := range []string{"values.yaml", "Chart.lock", "requirements.yaml", "requirements.lock"} {
		if strings.Contains(msg, "load "+f) {
			file = f
		}
	}
	line := 0
	if m := errLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	return manifest.Errorf(path.Join(srcDir, file), line, "invalid chart: %s", msg)
}

func (h *helmRun) register(c *chart.Chart, srcDir string) {
	for _, list := range [][]*common.File{c.Templates, c.Files, c.Raw} {
		for _, f := range list {
			h.sources[f] = chartSource{path: path.Join(srcDir, f.Name)}
		}
	}
}

func (h *helmRun) registerArchive(c *chart.Chart, archivePath string) {
	for _, list := range [][]*common.File{c.Templates, c.Files, c.Raw} {
		for _, f := range list {
			h.sources[f] = chartSource{path: archivePath, archive: true}
		}
	}
	for _, d := range c.Dependencies() {
		h.registerArchive(d, archivePath)
	}
}

// checkDependencies refuses, as `helm template` does, a chart whose
// Chart.yaml lists dependencies that charts/ does not hold: we never
// download them.
func (h *helmRun) checkDependencies(c *chart.Chart, srcDir string) error {
	var missing []string
	for _, req := range c.Metadata.Dependencies {
		if req == nil {
			continue
		}
		found := false
		for _, d := range c.Dependencies() {
			if d.Name() == req.Name {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, req.Name)
		}
	}
	if len(missing) > 0 {
		return manifest.Errorf(path.Join(srcDir, "Chart.yaml"), h.keyLine(c, "dependencies"),
			"dependencies missing from charts/ (aegis does not download them; run `helm dependency build` and commit charts/): %s", strings.Join(missing, ", "))
	}
	return nil
}

// keyLine returns the line of a top-level key in a chart's Chart.yaml, 0
// when unknown.
func (h *helmRun) keyLine(c *chart.Chart, key string) int {
	for _, f := range c.Raw {
		if f.Name != "Chart.yaml" {
			continue
		}
		var doc yaml.Node
		if yaml.Unmarshal(f.Data, &doc) != nil {
			return 0
		}
		line, matched := manifest.LocateNode(&doc, manifest.FieldPath{key})
		if matched == 1 {
			return line
		}
	}
	return 0
}

// userValuesMap merges opts.ValuesFiles and opts.Set the way `helm template
// -f ... --set ...` does.
func (h *helmRun) userValuesMap() (map[string]any, error) {
	base := map[string]any{}
	for _, vf := range h.opts.ValuesFiles {
		p := vf
		abs := filepath.IsAbs(p)
		if !abs {
			p = filepath.Join(h.dir, vf)
		}
		inRoot := within(h.root, p)
		if !abs && !inRoot {
			// A relative name is part of the change's tree: it may not
			// climb out of it (an absolute path is the operator's own file).
			return nil, manifest.Errorf(h.relDir, 0, "values file %q leaves the source root; give a values file inside the source (relative to the chart)", vf)
		}
		display := p
		if inRoot {
			display = rel(h.root, p)
			if err := checkResolvesInside(h.root, p); err != nil {
				return nil, manifest.Errorf(display, 0, "values file %s", err)
			}
		}
		data, err := readLimited(p, h.lim.MaxFileBytes)
		if err != nil {
			return nil, manifest.Errorf(display, 0, "values file: %v", err)
		}
		if err := checkValuesLimits(display, data, h.lim); err != nil {
			return nil, err
		}
		m, err := c2load.LoadValues(bytes.NewReader(data))
		if err != nil {
			return nil, valuesError(display, data, err)
		}
		base = c2load.MergeMaps(base, m)
		if inRoot {
			h.userValues = append(h.userValues, display)
			h.values[display] = parseValuesDocs(data)
		}
	}
	h.setVals = map[string]any{}
	for _, s := range h.opts.Set {
		if err := strvals.ParseInto(s, base); err != nil {
			return nil, &manifest.SourceError{Msg: fmt.Sprintf("invalid --set %q: %v", s, err)}
		}
		_ = strvals.ParseInto(s, h.setVals)
	}
	return base, nil
}

// valuesError turns a values file parse error into a SourceError with the
// line: Helm's YAML errors carry it, else yaml.v3 is asked.
func valuesError(display string, data []byte, err error) error {
	msg := err.Error()
	if m := errLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return manifest.Errorf(display, line, "invalid values file: %s", msg)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		derr := dec.Decode(&n)
		if derr == nil {
			continue
		}
		if m := errLineRe.FindStringSubmatch(derr.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return manifest.Errorf(display, line, "invalid values file: %s", msg)
		}
		break
	}
	return manifest.Errorf(display, 0, "invalid values file: %s", msg)
}

// parseValuesDocs parses a values file into yaml.v3 documents for locating
// keys; Helm has already accepted the file, so errors only end the list.
func parseValuesDocs(data []byte) []*yaml.Node {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		n := new(yaml.Node)
		if dec.Decode(n) != nil {
			return docs
		}
		docs = append(docs, n)
	}
}

// capabilities are Helm's client-only defaults (as in `helm template`),
// with opts.KubeVersion and opts.APIVersions applied.
func (h *helmRun) capabilities() (*common.Capabilities, error) {
	caps := common.DefaultCapabilities.Copy()
	// Copy shares the version slice with the package default: clone before
	// appending so that one render never leaks API versions into another.
	caps.APIVersions = append(slices.Clone(caps.APIVersions), h.opts.APIVersions...)
	if h.opts.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(h.opts.KubeVersion)
		if err != nil {
			return nil, &manifest.SourceError{Msg: fmt.Sprintf("invalid --kube-version %q: %v", h.opts.KubeVersion, err)}
		}
		caps.KubeVersion = *kv
	}
	return caps, nil
}

// refuseLoader is the schema compiler's only URL loader: a chart's schema may
// not make us read files or the network.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema reference %s refused (aegis reads nothing outside the chart)", url)
}

// validateSchemas checks values against values.schema.json of the chart and,
// with their own values, of its subcharts, as Helm does.
func (h *helmRun) validateSchemas(c *chart.Chart, vals map[string]any) error {
	if len(c.Schema) > 0 {
		where := path.Join(h.relDir, "values.schema.json")
		for _, f := range c.Raw {
			if f.Name == "values.schema.json" {
				where = h.sources[f].path
			}
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.Schema))
		if err != nil {
			return manifest.Errorf(where, 0, "invalid JSON schema: %v", err)
		}
		comp := jsonschema.NewCompiler()
		comp.UseLoader(refuseLoader{})
		if err := comp.AddResource("file:///values.schema.json", doc); err != nil {
			return manifest.Errorf(where, 0, "invalid JSON schema: %v", err)
		}
		sch, err := comp.Compile("file:///values.schema.json")
		if err != nil {
			return manifest.Errorf(where, 0, "invalid JSON schema: %v", err)
		}
		if err := sch.Validate(vals); err != nil {
			return manifest.Errorf(where, 0, "values do not meet the chart's schema: %v", err)
		}
	}
	for _, d := range c.Dependencies() {
		raw, ok := vals[d.Name()]
		if !ok || raw == nil {
			continue
		}
		sub, ok := raw.(map[string]any)
		if !ok {
			return manifest.Errorf(path.Join(h.relDir, "values.yaml"), 0, "values for subchart %s are not a map", d.Name())
		}
		if err := h.validateSchemas(d, sub); err != nil {
			return err
		}
	}
	return nil
}

// index records the engine name of every template of the processed tree.
func (h *helmRun) index(c *chart.Chart) {
	full := c.ChartFullPath()
	for _, t := range c.Templates {
		if t != nil {
			h.byName[path.Join(full, t.Name)] = chartTemplate{file: t, chart: c}
		}
	}
	for _, d := range c.Dependencies() {
		h.index(d)
	}
	// Values files of loaded charts, for the locator.
	for _, f := range c.Raw {
		if f.Name == "values.yaml" {
			if src := h.sources[f]; !src.archive {
				h.values[src.path] = parseValuesDocs(f.Data)
			}
		}
	}
}

// renderTemplates runs Helm's engine. Templates can loop for as long as they
// like, so the engine runs on its own goroutine and a cancelled ctx ends the
// wait (the goroutine is abandoned; the process is about to exit anyway).
func (h *helmRun) renderTemplates(ctx context.Context, c *chart.Chart, vals common.Values) (map[string]string, error) {
	type result struct {
		out map[string]string
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("rendering template failed: %v", r)}
			}
		}()
		var e engine.Engine // no cluster: lookup returns nothing, DNS is off
		out, err := e.RenderWithContext(ctx, c, vals)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, h.templateError(r.err)
		}
		return r.out, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var (
	// tplLocRe finds "name:line" or "name:line:col" in Helm's errors.
	tplLocRe = regexp.MustCompile(`([^\s()<>"':]+):(\d+)(?::\d+)?`)
	// helmErrPrefixRe is Helm's "execution error at (loc): " wrapper.
	helmErrPrefixRe = regexp.MustCompile(`^(?:execution|parse) error at \([^)]*\): `)
)

// templateError turns an engine error into a SourceError at the first
// template file and line the message names.
func (h *helmRun) templateError(err error) error {
	msg := err.Error()
	clean := strings.Join(strings.Fields(helmErrPrefixRe.ReplaceAllString(msg, "")), " ")
	// "unclosed action started at x.yaml:6" is about line 6, not the end of
	// the file where the parser noticed.
	locs := tplLocRe.FindAllStringSubmatch(msg, -1)
	if _, after, ok := strings.Cut(msg, "started at "); ok {
		locs = append(tplLocRe.FindAllStringSubmatch(after, 1), locs...)
	}
	for _, m := range locs {
		t, ok := h.byName[m[1]]
		if !ok {
			continue
		}
		src := h.sources[t.file]
		line, _ := strconv.Atoi(m[2])
		if src.archive {
			line = 0
		}
		return manifest.Errorf(src.path, line, "template %s failed: %s", m[1], clean)
	}
	return manifest.Errorf(path.Join(h.relDir, "Chart.yaml"), 0, "helm template: %s", clean)
}

// decode turns the rendered templates and the charts' CRDs into Objects with
// Helm-aware origins and locators.
func (h *helmRun) decode(c *chart.Chart, rendered map[string]string) ([]manifest.Object, error) {
	dec := manifest.NewDecoder(h.lim)
	var out []manifest.Object

	// CRDs are not templates: decode their files as they are, so lines and
	// field locations are the decoder's own.
	for _, crd := range c.CRDObjects() {
		src := h.sources[crd.File]
		objs, err := dec.Decode(src.path, crd.File.Data)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			o.Origin.Template = filepath.ToSlash(crd.Filename)
			if src.archive {
				o.Origin.Line, o.Locator = 0, nil
			}
			out = append(out, o)
		}
	}

	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		content := rendered[name]
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(content) == "" {
			continue
		}
		t, ok := h.byName[name]
		if !ok {
			return nil, fmt.Errorf("helm: rendered template %s is not part of the chart", name)
		}
		src := h.sources[t.file]
		tl := newTemplateLines(t.file.Data)
		objs, err := dec.Decode(src.path, []byte(content))
		if err != nil {
			return nil, h.renderedError(err, name, src, tl, content)
		}
		sepBefore := separatorIndex(content)
		kinds := map[string]int{}
		chain, userPrefix := h.valuesChain(t.chart)
		for _, o := range objs {
			kind := o.GetKind()
			seg := tl.segmentFor(sepBefore(o.Origin.Line), kind, kinds[kind])
			kinds[kind]++
			line := tl.objectLine(seg)
			if src.archive {
				line = 0
			}
			o.Origin = manifest.Origin{Location: manifest.Location{Path: src.path, Line: line}, Template: name}
			o.Locator = &helmLocator{
				path:    src.path,
				archive: src.archive,
				lines:   tl.lines,
				seg:     seg,
				chain:   chain,
				prefix:  userPrefix,
				values:  h.values,
				setVals: h.setVals,
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// renderedError re-anchors a decoding error in a template's output (lines
// of the output mean nothing to the user) at the template document.
func (h *helmRun) renderedError(err error, name string, src chartSource, tl *templateLines, content string) error {
	var se *manifest.SourceError
	if !errors.As(err, &se) {
		return err
	}
	line := 0
	if se.Line > 0 && !src.archive {
		line = tl.objectLine(tl.segmentFor(separatorIndex(content)(se.Line), "", 0))
	}
	msg := se.Msg
	if se.Line > 0 {
		msg = fmt.Sprintf("%s (line %d of its output)", msg, se.Line)
	}
	return manifest.Errorf(src.path, line, "output of template %s: %s", name, msg)
}

var docSepRe = regexp.MustCompile(`^---\s*(?:#.*)?$`)

// separatorIndex returns a function telling how many document separators
// precede a 1-based line of text.
func separatorIndex(text string) func(line int) int {
	var seps []int // 1-based lines of separators
	for i, l := range strings.Split(text, "\n") {
		if docSepRe.MatchString(strings.TrimRight(l, "\r")) {
			seps = append(seps, i+1)
		}
	}
	return func(line int) int {
		return sort.SearchInts(seps, line)
	}
}

// templateLines is a template's source split into lines and into the
// documents its "---" lines delimit.
type templateLines struct {
	lines []string
	segs  []segment
}

// segment is a document of a template: lines [start, end), 0-based.
type segment struct{ start, end int }

func newTemplateLines(data []byte) *templateLines {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	tl := &templateLines{lines: lines}
	start := 0
	for i, l := range lines {
		if docSepRe.MatchString(l) {
			tl.segs = append(tl.segs, segment{start, i})
			start = i + 1
		}
	}
	tl.segs = append(tl.segs, segment{start, len(lines)})
	return tl
}

// segmentFor picks the template document an object came from: the n-th
// rendered document maps to the n-th template document when that one names
// the object's kind; otherwise to the nth template document naming the kind
// (conditionals and loops shift the count); otherwise the n-th, clamped.
func (tl *templateLines) segmentFor(docIdx int, kind string, nthOfKind int) segment {
	if docIdx >= len(tl.segs) {
		docIdx = len(tl.segs) - 1
	}
	if kind == "" {
		return tl.segs[docIdx]
	}
	kindRe := regexp.MustCompile(`^kind:\s*["']?` + regexp.QuoteMeta(kind) + `["']?\s*(?:#.*)?$`)
	has := func(s segment) bool {
		for _, l := range tl.lines[s.start:s.end] {
			if kindRe.MatchString(strings.TrimSpace(l)) {
				return true
			}
		}
		return false
	}
	if has(tl.segs[docIdx]) {
		return tl.segs[docIdx]
	}
	var withKind []segment
	for _, s := range tl.segs {
		if has(s) {
			withKind = append(withKind, s)
		}
	}
	if len(withKind) > 0 {
		return withKind[min(nthOfKind, len(withKind)-1)]
	}
	return tl.segs[docIdx]
}

var objStartRe = regexp.MustCompile(`^(?:apiVersion|kind)\s*:`)

// objectLine is the 1-based line where a template document's object starts:
// its first top-level apiVersion or kind line, else the document's first
// line.
func (tl *templateLines) objectLine(s segment) int {
	for i := s.start; i < s.end; i++ {
		if objStartRe.MatchString(tl.lines[i]) {
			return i + 1
		}
	}
	if s.start < len(tl.lines) {
		return s.start + 1
	}
	return 1
}

// valuesScope is one values file that feeds a chart's .Values, with the key
// prefix under which it does (a parent's values.yaml sets a subchart's values
// under the subchart's name).
type valuesScope struct {
	path   string
	prefix []string
}

// valuesChain lists the values files feeding chart c, lowest precedence
// first: c's values.yaml, each ancestor's values.yaml, then the user values
// files, as Helm coalesces them. It also returns the key prefix of c's
// values as seen from the top (the user's view).
func (h *helmRun) valuesChain(c *chart.Chart) ([]valuesScope, []string) {
	var chain []valuesScope
	var names []string // chart names from c upwards, excluding the one at hand
	for x := c; x != nil; x = x.Parent() {
		prefix := make([]string, len(names))
		for i, n := range names {
			prefix[len(names)-1-i] = n
		}
		for _, f := range x.Raw {
			if f.Name == "values.yaml" {
				if src := h.sources[f]; !src.archive {
					chain = append(chain, valuesScope{path: src.path, prefix: prefix})
				}
			}
		}
		if x.IsRoot() {
			for _, u := range h.userValues {
				chain = append(chain, valuesScope{path: u, prefix: prefix})
			}
			return chain, prefix
		}
		names = append(names, x.Name())
	}
	return chain, nil
}

// helmLocator finds where a field of a rendered object is set. It is a
// heuristic over the template text, documented here because it can be wrong:
//
//  1. In the object's template document, find the line of each key of the
//     path in order (list selectors "[name=x]" advance past a literal
//     "- name: x" line when there is one); the deepest key found wins.
//  2. If that line (or, when it has no value of its own, the template-only
//     lines right after it) reads .Values.a.b, directly or through an
//     enclosing `{{- with .Values.a.b }}` and `toYaml .`, look up a.b plus the
//     rest of the path below the key in the values files that feed the chart;
//     the file that sets it deepest wins, ties to the later file (a user
//     values file over values.yaml, a parent over a subchart). A value set by
//     --set has no file: step 3 then.
//  3. Otherwise the template line itself; if no key is found, nothing (the
//     caller falls back to the object's start line).
type helmLocator struct {
	path    string // the template file, relative to root
	archive bool   // template inside a .tgz: no template line to give
	lines   []string
	seg     segment
	chain   []valuesScope
	prefix  []string // c's values key prefix from the top, for --set
	values  map[string][]*yaml.Node
	setVals map[string]any
}

var (
	valuesRefRe  = regexp.MustCompile(`\$?\.Values((?:\.[A-Za-z0-9_]+)+)`)
	withValuesRe = regexp.MustCompile(`\{\{-?\s*with\s+\$?\.Values((?:\.[A-Za-z0-9_]+)+)`)
	dotRefRe     = regexp.MustCompile(`\{\{-?\s*(?:(?:toYaml|toJson|toPrettyJson|quote)\s+)?\.([A-Za-z0-9_][A-Za-z0-9_.]*)?\s*(?:\||-?\}\})`)
	blockOpenRe  = regexp.MustCompile(`\{\{-?\s*(?:if|with|range|define|block)\b`)
	blockEndRe   = regexp.MustCompile(`\{\{-?\s*end\b`)
)

// Locate implements manifest.Locator.
func (l *helmLocator) Locate(p manifest.FieldPath) (manifest.Location, bool) {
	idx, line := l.findKey(p)
	if idx < 0 {
		return manifest.Location{}, false
	}
	if ref := l.valuesRef(line); ref != nil {
		// The rest of the path below the key is kept, list selectors
		// included: LocateNode understands them in values files too.
		if loc, ok := l.lookupValues(ref, p[idx+1:]); ok {
			return loc, true
		}
	}
	if l.archive {
		return manifest.Location{}, false
	}
	return manifest.Location{Path: l.path, Line: line + 1}, true
}

// findKey returns the index in p of the deepest key found in the template
// document and its 0-based line, or -1.
func (l *helmLocator) findKey(p manifest.FieldPath) (int, int) {
	cursor := l.seg.start
	best, bestLine := -1, -1
	for i, seg := range p {
		if strings.HasPrefix(seg, "[") {
			sel := strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
			if k, v, ok := strings.Cut(sel, "="); ok {
				re := regexp.MustCompile(`^\s*(?:-\s+)?["']?` + regexp.QuoteMeta(k) + `["']?\s*:\s*["']?` + regexp.QuoteMeta(v) + `["']?\s*$`)
				if j := l.find(re, cursor); j >= 0 {
					cursor = j + 1
				}
			}
			continue
		}
		re := regexp.MustCompile(`^\s*(?:-\s+)?["']?` + regexp.QuoteMeta(seg) + `["']?\s*:(?:\s|$)`)
		if j := l.find(re, cursor); j >= 0 {
			best, bestLine, cursor = i, j, j+1
		}
	}
	return best, bestLine
}

func (l *helmLocator) find(re *regexp.Regexp, from int) int {
	for j := from; j < l.seg.end && j < len(l.lines); j++ {
		if re.MatchString(l.lines[j]) {
			return j
		}
	}
	return -1
}

// valuesRef returns the values path a template key line takes its value
// from, or nil.
func (l *helmLocator) valuesRef(line int) []string {
	text := l.lines[line]
	_, value, _ := strings.Cut(text, ":")
	value = strings.TrimSpace(value)
	if value != "" && !strings.Contains(value, "{{") {
		return nil // a literal in the template
	}
	candidates := []int{line}
	if value == "" || isActionOnly(value) {
		// "key:" followed by `{{- toYaml ... | nindent N }}` lines.
		for j := line + 1; j < l.seg.end && j < len(l.lines) && len(candidates) < 4; j++ {
			if !isActionOnly(strings.TrimSpace(l.lines[j])) {
				break
			}
			candidates = append(candidates, j)
		}
	}
	for _, j := range candidates {
		t := l.lines[j]
		if j == line {
			t = value
		}
		if m := valuesRefRe.FindStringSubmatch(t); m != nil {
			return strings.Split(strings.TrimPrefix(m[1], "."), ".")
		}
		if m := dotRefRe.FindStringSubmatch(t); m != nil {
			if first, _, _ := strings.Cut(m[1], "."); isBuiltinObject(first) {
				continue
			}
			if with := l.enclosingWith(j); with != nil {
				if m[1] != "" {
					with = append(with, strings.Split(m[1], ".")...)
				}
				return with
			}
		}
	}
	return nil
}

func isActionOnly(s string) bool {
	return strings.HasPrefix(s, "{{") && strings.HasSuffix(s, "}}")
}

func isBuiltinObject(s string) bool {
	switch s {
	case "Values", "Release", "Chart", "Capabilities", "Template", "Files", "Subcharts":
		return true
	}
	return false
}

// enclosingWith finds the innermost open `{{ with .Values.x }}` above line.
func (l *helmLocator) enclosingWith(line int) []string {
	depth := 0
	for j := line - 1; j >= 0; j-- {
		t := l.lines[j]
		depth += len(blockEndRe.FindAllString(t, -1))
		opens := len(blockOpenRe.FindAllString(t, -1))
		if m := withValuesRe.FindStringSubmatch(t); m != nil && depth == 0 {
			return strings.Split(strings.TrimPrefix(m[1], "."), ".")
		}
		depth = max(depth-opens, 0)
	}
	return nil
}

// lookupValues finds ref+rest in the values files of the chain.
func (l *helmLocator) lookupValues(ref []string, rest manifest.FieldPath) (manifest.Location, bool) {
	global := len(ref) > 0 && ref[0] == "global"
	var best manifest.Location
	bestDepth := -1
	for _, s := range l.chain {
		prefix := s.prefix
		if global {
			prefix = nil
		}
		full := make(manifest.FieldPath, 0, len(prefix)+len(ref)+len(rest))
		full = append(append(append(full, prefix...), ref...), rest...)
		for _, doc := range l.values[s.path] {
			line, matched := manifest.LocateNode(doc, full)
			depth := matched - len(prefix)
			if line > 0 && depth >= len(ref) && depth >= bestDepth {
				best, bestDepth = manifest.Location{Path: s.path, Line: line}, depth
			}
		}
	}
	if bestDepth < 0 {
		return manifest.Location{}, false
	}
	// --set beats every file: then no file sets the value.
	setPrefix := l.prefix
	if global {
		setPrefix = nil
	}
	if setsPath(l.setVals, append(slices.Clone(setPrefix), ref...)) {
		return manifest.Location{}, false
	}
	return best, true
}

// setsPath reports whether the --set map holds the key path.
func setsPath(m map[string]any, keys []string) bool {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = mm[k]; !ok {
			return false
		}
	}
	return len(keys) > 0
}
