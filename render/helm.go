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
	"encoding/json"
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
	"text/template/parse"

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
func renderHelm(ctx context.Context, root, dir string, opts Options) ([]manifest.Object, error) {
	objs, _, err := renderHelmDeps(ctx, root, dir, opts)
	return objs, err
}

// renderHelmDeps is renderHelm that also returns the dependencies it
// downloaded (helm_deps.go).
func renderHelmDeps(ctx context.Context, root, dir string, opts Options) (objs []manifest.Object, deps []Dependency, err error) {
	// Helm's code is not written for hostile input; whatever slips through
	// its own guards must end as an error, never as a crash of the run.
	defer func() {
		if r := recover(); r != nil {
			objs, deps, err = nil, nil, &manifest.SourceError{Location: manifest.Location{Path: rel(root, dir)}, Msg: fmt.Sprintf("helm: rendering failed: %v", r)}
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
	objs, err = h.run(ctx)
	return objs, h.deps, err
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
	// For the locators: the merged .Values, every template parsed, and
	// the named templates they define.
	merged  common.Values
	docs    map[*common.File]*tmplDoc
	defines map[string]tmplDefine
	// deps are the dependencies downloaded for this chart (helm_deps.go).
	deps []Dependency
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
	if err := h.fetchDependencies(ctx, chrt, h.relDir); err != nil {
		return nil, err
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
		h.merged = v // for the locators
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
// Chart.yaml lists dependencies that charts/ does not hold and
// fetchDependencies (helm_deps.go) did not download.
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
			"dependencies missing from charts/ (run `helm dependency build` and commit charts/, or let aegis download them from the repository hosts listed in the trusted policy's helm.dependencies.allowHosts): %s", strings.Join(missing, ", "))
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
	return h.mergeSetFlags(base)
}

// mergeSetFlags merges Helm's --set family into base in Helm's order
// (helm's values.Options.MergeValues): --set-json, --set, --set-string,
// --set-file, --set-literal; each also into setVals, so that a field they
// set is located at the command line rather than at a values line. A
// --set-file path is read like a values file: relative to the chart and
// inside the source, or absolute (the operator's own), never a URL.
func (h *helmRun) mergeSetFlags(base map[string]any) (map[string]any, error) {
	invalid := func(flag, v string, err error) (map[string]any, error) {
		return nil, &manifest.SourceError{Msg: fmt.Sprintf("invalid %s %q: %v", flag, v, err)}
	}
	for _, v := range h.opts.SetJSON {
		if t := strings.TrimSpace(v); t != "" && t[0] == '{' {
			var m map[string]any
			if err := json.Unmarshal([]byte(t), &m); err != nil {
				return invalid("--set-json", v, err)
			}
			base = c2load.MergeMaps(base, m)
			h.setVals = c2load.MergeMaps(h.setVals, m)
			continue
		}
		if err := strvals.ParseJSON(v, base); err != nil {
			return invalid("--set-json", v, err)
		}
		_ = strvals.ParseJSON(v, h.setVals)
	}
	for _, v := range h.opts.Set {
		if err := strvals.ParseInto(v, base); err != nil {
			return invalid("--set", v, err)
		}
		_ = strvals.ParseInto(v, h.setVals)
	}
	for _, v := range h.opts.SetString {
		if err := strvals.ParseIntoString(v, base); err != nil {
			return invalid("--set-string", v, err)
		}
		_ = strvals.ParseIntoString(v, h.setVals)
	}
	for _, v := range h.opts.SetFile {
		read := func(rs []rune) (any, error) { return h.readSetFile(string(rs)) }
		if err := strvals.ParseIntoFile(v, base, read); err != nil {
			return invalid("--set-file", v, err)
		}
		_ = strvals.ParseIntoFile(v, h.setVals, read)
	}
	for _, v := range h.opts.SetLiteral {
		if err := strvals.ParseLiteralInto(v, base); err != nil {
			return invalid("--set-literal", v, err)
		}
		_ = strvals.ParseLiteralInto(v, h.setVals)
	}
	return base, nil
}

// readSetFile reads a --set-file value's file with the bounds and the
// confinement of a values file.
func (h *helmRun) readSetFile(name string) (string, error) {
	if strings.Contains(name, "://") {
		return "", fmt.Errorf("%s is a URL: give a file (aegis fetches nothing)", name)
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(h.dir, name)
		if !within(h.root, p) {
			return "", fmt.Errorf("%s leaves the source root; give a file inside the source (relative to the chart)", name)
		}
		if err := checkResolvesInside(h.root, p); err != nil {
			return "", err
		}
	}
	data, err := readLimited(p, h.lim.MaxFileBytes)
	if err != nil {
		return "", err
	}
	return string(data), nil
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
		if h.opts.Deterministic {
			defer deterministic(&e, c, vals)()
		}
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
	h.parseTemplates()

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
				doc:     h.docs[t.file],
				seg:     seg,
				obj:     o.Object,
				chain:   chain,
				prefix:  userPrefix,
				values:  h.values,
				setVals: h.setVals,
				merged:  chartValues(h.merged, userPrefix),
				defines: h.defines,
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

// helmLocator finds where a field of a rendered object is set. It reads the
// template text (parsed with text/template/parse, so that the branches of
// if, with and range are known) and checks what it finds against the
// rendered object and the merged values:
//
//  1. The path is cut to the deepest part the rendered object holds (a
//     finding about a missing field points where its closest present
//     ancestor comes from), and list items selected by index are selected
//     by name when they have one.
//  2. In the object's template document, each key of the path is looked for
//     as a literal line nested under the previous one (by indentation),
//     on a line whose branches are taken with the merged values (or cannot
//     be told): a key in an `if` branch that did not render is never used.
//     A list item the template does not write literally is looked for in a
//     `range` over a values list that holds an item with that name; a
//     key the document does not write is looked for in the body of a named
//     template it includes with its whole context (`include "x.pod" .`).
//  3. The deepest key found is traced to the values: the .Values references
//     of the actions that write its value (on its line, or on the action
//     lines below it: toYaml, tpl, include "common.tplvalues.render" ...)
//     are candidates; a candidate is kept when its merged value, below it
//     the rest of the path, equals what was rendered. Exactly one kept
//     candidate is proven: the location is the line of the values file,
//     highest precedence first (the user values files, a parent's
//     values.yaml, the chart's values.yaml), that sets it with that value.
//     A literal key whose innermost enclosing `if` opens inside the
//     previous key, with a condition on one values key that holds, is
//     proven at that key (`{{- if .Values.x.enabled }} - name: root ...`).
//  4. Otherwise the location is the template line of the deepest key
//     found, marked Approximate; if no key is found, the object's first
//     line, Approximate. A value given by --set has no file: the template
//     line, Approximate.
type helmLocator struct {
	doc     *tmplDoc
	seg     segment
	obj     map[string]any // the rendered object
	chain   []valuesScope
	prefix  []string // c's values key prefix from the top, for --set
	values  map[string][]*yaml.Node
	setVals map[string]any
	merged  map[string]any // the chart's coalesced .Values
	defines map[string]tmplDefine
}

// tmplDoc is a template file parsed for location.
type tmplDoc struct {
	path    string // relative to root
	archive bool   // inside a .tgz: no line can be given
	lines   []string
	off     []int     // byte offset where each line starts
	text    []*branch // per line, the branch its first literal character is in
	hasText []bool    // the line has literal text besides white space
	acts    map[int][]*tmplAction
	ranges  []*branch
}

// branch is one arm of an if, with or range block; nil is the top of a
// template or of a define.
type branch struct {
	parent *branch
	kind   string // "if", "with", "range"
	els    bool   // the else arm
	line   int    // 0-based line of the block's opening action
	cond   *tmplExpr
	over   []string // range: the path ranged over
	dot    []string // the path of dot inside, nil when unknown
}

// tmplAction is an action that writes output.
type tmplAction struct {
	br      *branch
	line    int
	refs    [][]string // the .Values paths it reads ("Values", ...)
	include string     // a template it includes with the whole context
}

// tmplDefine is the body of a named template.
type tmplDefine struct {
	doc        *tmplDoc
	start, end int // 0-based lines [start, end)
}

// tmplExpr is a condition resolved at parse time, evaluated against the
// merged values at query time.
type tmplExpr struct {
	op   string // ref, lit, not, and, or, eq, ne, empty, kindIs, unknown
	path []string
	lit  any
	args []*tmplExpr
}

// parseTemplateDoc parses a template for location. Defines found in it are
// added to defines (the first definition of a name wins).
func parseTemplateDoc(srcPath string, archive bool, data []byte, defines map[string]tmplDefine) *tmplDoc {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	d := &tmplDoc{path: srcPath, archive: archive, lines: strings.Split(text, "\n"), acts: map[int][]*tmplAction{}}
	d.text = make([]*branch, len(d.lines))
	d.hasText = make([]bool, len(d.lines))
	pos := 0
	for _, l := range d.lines {
		d.off = append(d.off, pos)
		pos += len(l) + 1
	}
	t := parse.New(srcPath)
	t.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := t.Parse(text, "", "", trees); err != nil {
		// Rendered, so parseable; if not, every non-action line is literal
		// and nothing is traced.
		for i, l := range d.lines {
			s := strings.TrimSpace(l)
			d.hasText[i] = s != "" && !strings.HasPrefix(s, "{{")
		}
		return d
	}
	root := &branch{kind: "top", line: -1, dot: []string{}}
	names := make([]string, 0, len(trees))
	for n := range trees {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tr := trees[n]
		if tr == nil || tr.Root == nil {
			continue
		}
		top := root
		if n != srcPath {
			top = &branch{kind: "top", line: -1, dot: []string{}}
		}
		d.walk(tr.Root, top, map[string][]string{})
		if n != srcPath && len(tr.Root.Nodes) > 0 {
			if _, seen := defines[n]; !seen {
				first := tr.Root.Nodes[0].Position()
				last := tr.Root.Nodes[len(tr.Root.Nodes)-1]
				end := int(last.Position())
				if tn, ok := last.(*parse.TextNode); ok {
					end += len(tn.Text)
				}
				defines[n] = tmplDefine{doc: d, start: d.lineOf(int(first)), end: d.lineOf(end) + 1}
			}
		}
	}
	return d
}

func (d *tmplDoc) lineOf(pos int) int {
	return max(sort.SearchInts(d.off, pos+1)-1, 0)
}

func (d *tmplDoc) walk(l *parse.ListNode, br *branch, vars map[string][]string) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch x := n.(type) {
		case *parse.TextNode:
			d.markText(int(x.Pos), string(x.Text), br)
		case *parse.ActionNode:
			if x.Pipe == nil {
				continue
			}
			if len(x.Pipe.Decl) > 0 {
				p := resolveArg(singleArg(x.Pipe), br, vars)
				for _, v := range x.Pipe.Decl {
					vars[v.Ident[0]] = p
				}
				continue
			}
			line := d.lineOf(int(x.Pos))
			d.acts[line] = append(d.acts[line], &tmplAction{br: br, line: line, refs: pipeRefs(x.Pipe, br, vars), include: includeOf(x.Pipe, br, vars)})
		case *parse.TemplateNode:
			line := d.lineOf(int(x.Pos))
			a := &tmplAction{br: br, line: line}
			if x.Pipe != nil {
				a.refs = pipeRefs(x.Pipe, br, vars)
				if p := resolveArg(singleArg(x.Pipe), br, vars); p != nil && len(p) == 0 {
					a.include = x.Name
				}
			}
			d.acts[line] = append(d.acts[line], a)
		case *parse.IfNode:
			d.block("if", &x.BranchNode, br, vars)
		case *parse.WithNode:
			d.block("with", &x.BranchNode, br, vars)
		case *parse.RangeNode:
			d.block("range", &x.BranchNode, br, vars)
		}
	}
}

func (d *tmplDoc) block(kind string, b *parse.BranchNode, parent *branch, vars map[string][]string) {
	line := d.lineOf(int(b.Pos))
	cond := compileExpr(b.Pipe, parent, vars)
	in := &branch{parent: parent, kind: kind, line: line, cond: cond, dot: parent.dot}
	arg := resolveArg(singleArg(b.Pipe), parent, vars)
	switch kind {
	case "with":
		in.dot = arg
	case "range":
		in.over = arg
		in.dot = nil
		if arg != nil {
			in.dot = append(slices.Clone(arg), "[*]")
		}
		d.ranges = append(d.ranges, in)
	}
	if b.Pipe != nil {
		for _, v := range b.Pipe.Decl {
			vars[v.Ident[0]] = in.dot
		}
	}
	d.walk(b.List, in, vars)
	if b.ElseList != nil {
		out := &branch{parent: parent, kind: kind, els: true, line: line, cond: cond, dot: parent.dot, over: in.over}
		d.walk(b.ElseList, out, vars)
	}
}

// markText records, for each line a text node writes a non-space
// character on, the branch of its first such character.
func (d *tmplDoc) markText(pos int, text string, br *branch) {
	line := d.lineOf(pos)
	for i, part := range strings.Split(text, "\n") {
		if strings.TrimSpace(part) != "" && line+i < len(d.lines) && !d.hasText[line+i] {
			d.hasText[line+i] = true
			d.text[line+i] = br
		}
	}
}

func singleArg(p *parse.PipeNode) parse.Node {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return nil
	}
	return p.Cmds[0].Args[0]
}

// resolveArg returns the path (from the top: "Values", ...) a node reads,
// [] for the top itself, nil when unknown. Inside a range, "[*]" stands
// for the item.
func resolveArg(n parse.Node, br *branch, vars map[string][]string) []string {
	switch x := n.(type) {
	case *parse.FieldNode:
		if br.dot == nil {
			return nil
		}
		return append(slices.Clone(br.dot), x.Ident...)
	case *parse.VariableNode:
		var base []string
		if x.Ident[0] == "$" {
			base = []string{}
		} else if base = vars[x.Ident[0]]; base == nil {
			return nil
		}
		return append(slices.Clone(base), x.Ident[1:]...)
	case *parse.DotNode:
		return br.dot
	case *parse.ChainNode:
		if base := resolveArg(x.Node, br, vars); base != nil {
			return append(slices.Clone(base), x.Field...)
		}
	case *parse.PipeNode:
		return resolveArg(singleArg(x), br, vars)
	}
	return nil
}

// pipeRefs lists the .Values paths a pipeline reads anywhere.
func pipeRefs(p *parse.PipeNode, br *branch, vars map[string][]string) [][]string {
	var out [][]string
	var visit func(n parse.Node)
	visit = func(n parse.Node) {
		switch x := n.(type) {
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for _, c := range x.Cmds {
				for _, a := range c.Args {
					visit(a)
				}
			}
			return
		case *parse.ChainNode:
			if _, ok := x.Node.(*parse.PipeNode); ok {
				if path := resolveArg(x, br, vars); isValuesPath(path) {
					out = append(out, path)
					return
				}
				visit(x.Node)
				return
			}
		}
		if path := resolveArg(n, br, vars); isValuesPath(path) {
			for _, o := range out {
				if slices.Equal(o, path) {
					return
				}
			}
			out = append(out, path)
		}
	}
	visit(p)
	return out
}

func isValuesPath(p []string) bool { return len(p) >= 2 && p[0] == "Values" }

// includeOf names the template an action includes with the whole context
// (`include "x" .`, `include "x" $`, or a pipeline built from the context
// and no single values key), "" otherwise.
func includeOf(p *parse.PipeNode, br *branch, vars map[string][]string) string {
	if p == nil || len(p.Cmds) == 0 {
		return ""
	}
	args := p.Cmds[0].Args
	if len(args) != 3 {
		return ""
	}
	if id, ok := args[0].(*parse.IdentifierNode); !ok || id.Ident != "include" {
		return ""
	}
	name, ok := args[1].(*parse.StringNode)
	if !ok {
		return ""
	}
	if path := resolveArg(args[2], br, vars); path != nil && len(path) == 0 {
		return name.Text
	}
	if sub, ok := args[2].(*parse.PipeNode); ok && len(pipeRefs(sub, br, vars)) == 0 && strings.Contains(sub.String(), ".") {
		whole := false
		var visit func(n parse.Node)
		visit = func(n parse.Node) {
			switch x := n.(type) {
			case *parse.PipeNode:
				for _, c := range x.Cmds {
					for _, a := range c.Args {
						visit(a)
					}
				}
			default:
				if path := resolveArg(n, br, vars); path != nil && len(path) == 0 {
					whole = true
				}
			}
		}
		visit(sub)
		if whole {
			return name.Text
		}
	}
	return ""
}

// compileExpr resolves a condition's references.
func compileExpr(p *parse.PipeNode, br *branch, vars map[string][]string) *tmplExpr {
	if p == nil || len(p.Cmds) != 1 {
		return &tmplExpr{op: "unknown"}
	}
	args := p.Cmds[0].Args
	if len(args) == 1 {
		return compileArg(args[0], br, vars)
	}
	id, ok := args[0].(*parse.IdentifierNode)
	if !ok {
		return &tmplExpr{op: "unknown"}
	}
	e := &tmplExpr{op: id.Ident}
	switch id.Ident {
	case "not", "and", "or", "eq", "ne", "empty", "kindIs":
	default:
		return &tmplExpr{op: "unknown"}
	}
	for _, a := range args[1:] {
		e.args = append(e.args, compileArg(a, br, vars))
	}
	return e
}

func compileArg(n parse.Node, br *branch, vars map[string][]string) *tmplExpr {
	switch x := n.(type) {
	case *parse.BoolNode:
		return &tmplExpr{op: "lit", lit: x.True}
	case *parse.StringNode:
		return &tmplExpr{op: "lit", lit: x.Text}
	case *parse.NumberNode:
		return &tmplExpr{op: "lit", lit: x.Text}
	case *parse.NilNode:
		return &tmplExpr{op: "lit"}
	case *parse.PipeNode:
		if len(x.Cmds) == 1 && len(x.Cmds[0].Args) > 1 {
			return compileExpr(x, br, vars)
		}
	}
	if path := resolveArg(n, br, vars); isValuesPath(path) {
		return &tmplExpr{op: "ref", path: path}
	}
	return &tmplExpr{op: "unknown"}
}

// tri is a three-valued truth: no, yes, maybe.
type tri int8

const (
	triNo tri = iota
	triYes
	triMaybe
)

// binding is a range entered for one item: the path ranged over and the
// path segment of the item.
type binding struct {
	over []string
	item string
}

// subst replaces the item placeholder of a bound range.
func (b *binding) subst(p []string) ([]string, bool) {
	i := slices.Index(p, "[*]")
	if i < 0 {
		return p, true
	}
	if b == nil || !slices.Equal(p[:i], b.over) {
		return nil, false
	}
	out := append(slices.Clone(p[:i]), b.item)
	out = append(out, p[i+1:]...)
	if slices.Contains(out, "[*]") {
		return nil, false
	}
	return out, true
}

// value looks a top path up in the merged values.
func (l *helmLocator) value(p []string, b *binding) (any, bool) {
	p, ok := b.subst(p)
	if !ok || !isValuesPath(p) {
		return nil, false
	}
	var cur any = l.merged
	for _, seg := range p[1:] {
		next, found := childValue(cur, seg)
		if !found {
			return nil, true // missing: nil, as the engine sees it
		}
		cur = next
	}
	return cur, true
}

func (l *helmLocator) eval(e *tmplExpr, b *binding) (any, bool) {
	switch e.op {
	case "lit":
		return e.lit, true
	case "ref":
		return l.value(e.path, b)
	case "not", "empty":
		if len(e.args) != 1 {
			return nil, false
		}
		v, ok := l.eval(e.args[0], b)
		return !truthy(v), ok
	case "and", "or":
		unknown := false
		for _, a := range e.args {
			v, ok := l.eval(a, b)
			switch {
			case !ok:
				unknown = true
			case e.op == "and" && !truthy(v):
				return false, true
			case e.op == "or" && truthy(v):
				return true, true
			}
		}
		return e.op == "and", !unknown
	case "eq", "ne":
		if len(e.args) != 2 {
			return nil, false
		}
		a, ok1 := l.eval(e.args[0], b)
		c, ok2 := l.eval(e.args[1], b)
		if !ok1 || !ok2 {
			return nil, false
		}
		eq := scalarString(a) == scalarString(c)
		return eq == (e.op == "eq"), true
	case "kindIs":
		if len(e.args) != 2 {
			return nil, false
		}
		k, ok1 := l.eval(e.args[0], b)
		v, ok2 := l.eval(e.args[1], b)
		if !ok1 || !ok2 {
			return nil, false
		}
		return kindOf(v) == k, true
	}
	return nil, false
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "invalid"
	case bool:
		return "bool"
	case string:
		return "string"
	case map[string]any, common.Values:
		return "map"
	case []any:
		return "slice"
	case int, int64:
		return "int64"
	case float64:
		return "float64"
	}
	return ""
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0
	case map[string]any:
		return len(x) > 0
	case common.Values:
		return len(x) > 0
	case []any:
		return len(x) > 0
	}
	return true
}

// live tells whether a branch rendered.
func (l *helmLocator) live(br *branch, b *binding) tri {
	out := triYes
	for ; br != nil && br.kind != "top"; br = br.parent {
		var t tri
		switch {
		case br.kind == "range" && !br.els && b != nil && slices.Equal(br.over, b.over):
			t = triYes
		default:
			v, ok := l.eval(br.cond, b)
			switch {
			case !ok:
				t = triMaybe
			case truthy(v) != br.els:
				t = triYes
				if br.kind == "range" && !br.els {
					t = triMaybe // some item, not necessarily the one at hand
				}
			default:
				t = triNo
			}
		}
		if t == triNo {
			return triNo
		}
		if t == triMaybe {
			out = triMaybe
		}
	}
	return out
}

// lineRe reads a literal YAML line: indentation, an optional "- ", a key.
var lineRe = regexp.MustCompile(`^( *)(- +)?(?:["']?([^\s"':{}\[\]#]+)["']?\s*:(?:\s+(.*)|$))?`)

type tline struct {
	indent int    // leading spaces
	dash   bool   // a list item starts here
	col    int    // column of the key (after "- ")
	key    string // "" when the line holds no key
	value  string // text after "key:", trimmed
}

func (d *tmplDoc) line(j int) tline {
	m := lineRe.FindStringSubmatch(d.lines[j])
	t := tline{indent: len(m[1]), dash: m[2] != "", key: m[3], value: strings.TrimSpace(m[4])}
	t.col = t.indent + len(m[2])
	return t
}

// node is a key or list item found in a template.
type node struct {
	doc        *tmplDoc
	line       int  // 0-based; -1 for the top of a frame
	item       bool // a list item (its dash line)
	start, end int  // the frame: a document or a define body
	viaRange   *branch
	bind       *binding
}

// extent returns the lines below n that belong to it, and the column of
// its children's keys (or list dashes).
func (n node) extent() (from, to, childCol int, items bool) {
	d := n.doc
	if n.line < 0 {
		from, to = n.start, n.end
		for j := from; j < to; j++ {
			if d.hasText[j] {
				t := d.line(j)
				return from, to, t.indent, t.dash
			}
		}
		return from, to, 0, false
	}
	t := d.line(n.line)
	base := t.col
	if n.item {
		base = t.indent
	}
	from, to = n.line+1, n.end
	for j := from; j < n.end; j++ {
		if !d.hasText[j] {
			continue
		}
		u := d.line(j)
		if u.indent < base || (u.indent == base && (n.item || !u.dash)) {
			to = j
			break
		}
	}
	if n.item {
		return n.line, to, t.col, false
	}
	for j := from; j < to; j++ {
		if d.hasText[j] {
			u := d.line(j)
			return from, to, u.indent, u.dash
		}
	}
	return from, to, base + 2, false
}

// Locate implements manifest.Locator.
func (l *helmLocator) Locate(p manifest.FieldPath) (manifest.Location, bool) {
	p = namedPath(l.obj, p)
	if len(p) == 0 {
		return manifest.Location{}, false
	}
	nodes := l.find(p)
	if len(nodes) == 0 {
		if l.doc.archive {
			return manifest.Location{}, false
		}
		return manifest.Location{Path: l.doc.path, Line: objectLineOf(l.doc.lines, l.seg), Approximate: true}, true
	}
	k := len(nodes) - 1
	n := nodes[k]
	rendered, _ := valueAtPath(l.obj, p[:k+1])
	if loc, ok := l.trace(n, p[k+1:], rendered); ok {
		return loc, true
	}
	if loc, ok := l.guard(nodes); ok {
		return loc, true
	}
	if n.doc.archive {
		return manifest.Location{}, false
	}
	return manifest.Location{Path: n.doc.path, Line: n.line + 1, Approximate: true}, true
}

func objectLineOf(lines []string, s segment) int {
	return (&templateLines{lines: lines}).objectLine(s)
}

// find returns the template node of each leading segment of p it can
// place.
func (l *helmLocator) find(p manifest.FieldPath) []node {
	parent := node{doc: l.doc, line: -1, start: l.seg.start, end: min(l.seg.end, len(l.doc.lines))}
	var out []node
	for _, seg := range p {
		next, ok := l.place(parent, seg, 0)
		if !ok {
			break
		}
		out = append(out, next)
		parent = next
	}
	return out
}

// place finds one segment below parent: written literally, by a range over
// values, by the one templated item, or in a template included there.
func (l *helmLocator) place(parent node, seg string, depth int) (node, bool) {
	if n, ok := l.child(parent, seg); ok {
		return n, true
	}
	if strings.HasPrefix(seg, "[") {
		if n, ok := l.rangeItem(parent, seg); ok {
			return n, true
		}
		if l.valuesHoldItem(parent, seg) {
			return node{}, false // trace finds it in the values
		}
		if n, ok := l.templatedItem(parent, seg); ok {
			return n, true
		}
	}
	if depth >= 4 {
		return node{}, false
	}
	for _, frame := range l.includes(parent) {
		if n, ok := l.place(frame, seg, depth+1); ok {
			return n, true
		}
	}
	return node{}, false
}

// child finds a key, or a list item written literally, below parent.
func (l *helmLocator) child(parent node, seg string) (node, bool) {
	d := parent.doc
	from, to, col, items := parent.extent()
	best, bestLive := -1, triNo
	consider := func(j int) {
		if lv := l.live(d.text[j], parent.bind); lv != triNo && (best < 0 || (lv == triYes && bestLive != triYes)) {
			best, bestLive = j, lv
		}
	}
	if sel, ok := strings.CutPrefix(seg, "["); ok {
		k, v, named := strings.Cut(strings.TrimSuffix(sel, "]"), "=")
		if !named || !items {
			return node{}, false
		}
		// One pass: the item a line is in is the last dash line at col.
		item := -1
		for j := from; j < to; j++ {
			if !d.hasText[j] {
				continue
			}
			t := d.line(j)
			switch {
			case t.dash && t.indent == col:
				item = j
			case t.indent <= col:
				item = -1
			}
			if item >= 0 && t.col == col+2 && t.key == k && unquote(t.value) == v && (j == item || !t.dash) {
				consider(item)
			}
		}
		if best < 0 {
			return node{}, false
		}
		return node{doc: d, line: best, item: true, start: parent.start, end: parent.end, bind: parent.bind}, true
	}
	for j := from; j < to; j++ {
		if !d.hasText[j] {
			continue
		}
		t := d.line(j)
		if t.key != seg || t.col != col || (t.dash && !(parent.item && j == parent.line)) {
			continue
		}
		if items && !parent.item {
			continue
		}
		consider(j)
	}
	if best < 0 {
		return node{}, false
	}
	return node{doc: d, line: best, start: parent.start, end: parent.end, bind: parent.bind}, true
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// rangeItem finds a list item written by a range over a values list (or
// map) that holds an item with the selected name: the item's dash line in
// the range body, with the range bound to that item.
func (l *helmLocator) rangeItem(parent node, seg string) (node, bool) {
	d := parent.doc
	from, to, col, _ := parent.extent()
	sel := strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
	k, v, named := strings.Cut(sel, "=")
	if !named {
		return node{}, false
	}
	var found []node
	for _, r := range d.ranges {
		if r.line < from || r.line >= to || !isValuesPath(r.over) {
			continue
		}
		over, ok := parent.bind.subst(r.over)
		if !ok || l.live(r.parent, parent.bind) == triNo {
			continue
		}
		list, _ := l.value(over, nil)
		item := ""
		switch x := list.(type) {
		case []any:
			for _, it := range x {
				if m := asMap(it); m != nil && scalarString(m[k]) == v {
					item = seg
					break
				}
			}
		default:
			if m := asMap(list); m != nil && k == "name" {
				if _, ok := m[v]; ok {
					item = v
				}
			}
		}
		if item == "" {
			continue
		}
		b := &binding{over: over, item: item}
		for j := r.line + 1; j < to; j++ {
			if !d.hasText[j] || !inBranch(d.text[j], r) {
				continue
			}
			t := d.line(j)
			if t.dash && t.indent == col {
				found = append(found, node{doc: d, line: j, item: true, start: parent.start, end: parent.end, viaRange: r, bind: b})
			}
			break
		}
	}
	if len(found) != 1 {
		return node{}, false
	}
	return found[0], true
}

func inBranch(br, r *branch) bool {
	for ; br != nil; br = br.parent {
		if br == r {
			return true
		}
	}
	return false
}

// includes lists the bodies of the templates included with the whole
// context on the action lines below parent (or on its own line).
func (l *helmLocator) includes(parent node) []node {
	d := parent.doc
	from, to, _, _ := parent.extent()
	if parent.line >= 0 && !parent.item {
		from = parent.line
	}
	var out []node
	for j := from; j < to; j++ {
		if j != parent.line && d.hasText[j] {
			continue
		}
		for _, a := range d.acts[j] {
			if a.include == "" || l.live(a.br, parent.bind) == triNo {
				continue
			}
			if def, ok := l.defines[a.include]; ok {
				out = append(out, node{doc: def.doc, line: -1, start: def.start, end: min(def.end, len(def.doc.lines))})
			}
		}
	}
	return out
}

// templatedItem is the list item whose selecting key the template writes
// from an action (`- name: {{ include "x.name" . }}`) when it is the only
// such item that rendered and none is written literally or by a range.
func (l *helmLocator) templatedItem(parent node, seg string) (node, bool) {
	d := parent.doc
	from, to, col, items := parent.extent()
	k, _, named := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]"), "=")
	if !named || !items {
		return node{}, false
	}
	found := -1
	for j := from; j < to; j++ {
		if !d.hasText[j] {
			continue
		}
		t := d.line(j)
		if !t.dash || t.indent != col || t.key != k || !strings.Contains(t.value, "{{") {
			continue
		}
		if l.live(d.text[j], parent.bind) != triYes || inAnyRange(d.text[j]) {
			continue
		}
		if found >= 0 {
			return node{}, false
		}
		found = j
	}
	if found < 0 {
		return node{}, false
	}
	return node{doc: d, line: found, item: true, start: parent.start, end: parent.end, bind: parent.bind}, true
}

func inAnyRange(br *branch) bool {
	for ; br != nil; br = br.parent {
		if br.kind == "range" {
			return true
		}
	}
	return false
}

// trace follows the values references of the actions that write n's value.
func (l *helmLocator) trace(n node, rest manifest.FieldPath, rendered any) (manifest.Location, bool) {
	if n.viaRange != nil && len(rest) == 0 {
		// A list item a range wrote from one item of a values list.
		return l.valuesLocation(n.bind.over, manifest.FieldPath{n.bind.item}, nil, false)
	}
	d := n.doc
	t := d.line(n.line)
	var acts []*tmplAction
	if n.line >= 0 {
		acts = append(acts, d.acts[n.line]...)
	}
	literalValue := t.value != "" && !strings.Contains(t.value, "{{")
	if !literalValue || n.item {
		acts = append(acts, levelActions(n)...)
	}
	restVal, _ := valueAtPath(rendered, rest)
	var hits []manifest.Location
	seen := map[string]bool{}
	for _, a := range acts {
		if l.live(a.br, n.bind) == triNo {
			continue
		}
		for _, ref := range a.refs {
			ref, ok := n.bind.subst(ref)
			if !ok || seen[strings.Join(ref, "\x00")] {
				continue
			}
			seen[strings.Join(ref, "\x00")] = true
			mv, _ := l.value(ref, nil)
			vpath, ok := valuesRest(mv, rest, restVal)
			if !ok {
				continue
			}
			mrest, _ := valueAtPath(mv, vpath)
			if !matchValue(mrest, restVal) {
				continue
			}
			loc, ok := l.valuesLocation(ref, vpath, restVal, true)
			if !ok {
				return manifest.Location{}, false // --set, or no file: the template line
			}
			hits = append(hits, loc)
		}
	}
	if len(hits) == 1 {
		return hits[0], true
	}
	return manifest.Location{}, false
}

func leadingSpaces(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// levelActions lists the actions on the action lines at the level of n's
// children, not inside a child written literally.
func levelActions(n node) []*tmplAction {
	d := n.doc
	from, to, col, _ := n.extent()
	var acts []*tmplAction
	inside := false
	for j := from; j < to; j++ {
		if j == n.line {
			continue
		}
		if d.hasText[j] {
			inside = true
			continue
		}
		if len(d.acts[j]) == 0 {
			continue
		}
		if leadingSpaces(d.lines[j]) <= col {
			inside = false
		}
		if !inside {
			acts = append(acts, d.acts[j]...)
		}
	}
	return acts
}

// valuesHoldItem reports whether an action below parent writes a values
// list holding the selected item.
func (l *helmLocator) valuesHoldItem(parent node, seg string) bool {
	for _, a := range levelActions(parent) {
		if l.live(a.br, parent.bind) == triNo {
			continue
		}
		for _, ref := range a.refs {
			if ref, ok := parent.bind.subst(ref); ok {
				if v, _ := l.value(ref, nil); v != nil {
					if _, ok := childValue(v, seg); ok {
						return true
					}
				}
			}
		}
	}
	return false
}

// guard attributes a literal to the values key of the `if` that decides
// it: the innermost branch of the deepest node, opened inside the node
// before it, with a condition on one values key that holds.
func (l *helmLocator) guard(nodes []node) (manifest.Location, bool) {
	n := nodes[len(nodes)-1]
	if n.line < 0 || !n.doc.hasText[n.line] {
		return manifest.Location{}, false
	}
	t := n.doc.line(n.line)
	if strings.Contains(t.value, "{{") || len(n.doc.acts[n.line]) > 0 {
		return manifest.Location{}, false
	}
	g := n.doc.text[n.line]
	if g == nil || g.kind != "if" || g.els {
		return manifest.Location{}, false
	}
	prev := -1
	for _, m := range nodes {
		if m.doc == n.doc && m.line >= 0 && m.line < g.line {
			prev = m.line
		}
	}
	if prev < 0 {
		return manifest.Location{}, false
	}
	key := singleKey(g.cond)
	if key == nil || l.live(g, n.bind) != triYes {
		return manifest.Location{}, false
	}
	// The field must be literal all through: a value below it read from
	// the values is not decided by the guard.
	if n.line >= 0 {
		from, to, _, _ := n.extent()
		for j := from; j < to; j++ {
			for _, a := range n.doc.acts[j] {
				if len(a.refs) > 0 && l.live(a.br, n.bind) != triNo {
					return manifest.Location{}, false
				}
			}
		}
	}
	key, ok := n.bind.subst(key)
	if !ok {
		return manifest.Location{}, false
	}
	return l.valuesLocation(key, nil, nil, false)
}

// singleKey is the one values key a condition reads, nil when it reads
// none or several.
func singleKey(e *tmplExpr) []string {
	switch e.op {
	case "ref":
		return e.path
	case "not":
		if len(e.args) == 1 {
			return singleKey(e.args[0])
		}
	case "eq", "ne":
		if len(e.args) == 2 {
			a, b := e.args[0], e.args[1]
			if a.op == "ref" && b.op == "lit" {
				return a.path
			}
			if b.op == "ref" && a.op == "lit" {
				return b.path
			}
		}
	}
	return nil
}

// valuesRest maps the rest of a field path into a values value: list items
// selected by index are found by content (a values list written with
// toYaml keeps its items, not their positions among literal ones).
func valuesRest(mv any, rest manifest.FieldPath, renderedRest any) (manifest.FieldPath, bool) {
	out := make(manifest.FieldPath, 0, len(rest))
	cur := mv
	for i, seg := range rest {
		if list, ok := cur.([]any); ok && strings.HasPrefix(seg, "[") && !strings.Contains(seg, "=") {
			if i != len(rest)-1 {
				return nil, false
			}
			at := -1
			for j, it := range list {
				if matchValue(it, renderedRest) && matchValue(renderedRest, it) {
					if at >= 0 {
						return nil, false
					}
					at = j
				}
			}
			if at < 0 {
				return nil, false
			}
			return append(out, "["+strconv.Itoa(at)+"]"), true
		}
		next, ok := childValue(cur, seg)
		if !ok {
			return nil, false
		}
		out = append(out, seg)
		cur = next
	}
	return out, true
}

// valuesLocation finds the values file line that sets ref+rest (ref from
// the top: "Values", ...), highest precedence first; with check, the file
// must hold the rendered value there.
func (l *helmLocator) valuesLocation(ref []string, rest manifest.FieldPath, rendered any, check bool) (manifest.Location, bool) {
	keys := ref[1:]
	global := len(keys) > 0 && keys[0] == "global"
	setPrefix := l.prefix
	if global {
		setPrefix = nil
	}
	if setsPath(l.setVals, append(slices.Clone(setPrefix), keys...)) {
		return manifest.Location{}, false
	}
	for i := len(l.chain) - 1; i >= 0; i-- {
		s := l.chain[i]
		prefix := s.prefix
		if global {
			prefix = nil
		}
		full := make(manifest.FieldPath, 0, len(prefix)+len(keys)+len(rest))
		full = append(append(append(full, prefix...), keys...), rest...)
		docs := l.values[s.path]
		for di := len(docs) - 1; di >= 0; di-- {
			line, matched := manifest.LocateNode(docs[di], full)
			if matched != len(full) || line == 0 {
				continue
			}
			if check {
				var v any
				if n := yamlNodeAt(docs[di], full); n == nil || n.Decode(&v) != nil || !matchValue(v, rendered) {
					return manifest.Location{}, false
				}
			}
			return manifest.Location{Path: s.path, Line: line}, true
		}
	}
	return manifest.Location{}, false
}

// yamlNodeAt walks a YAML document like manifest.LocateNode and returns
// the node reached, nil unless the whole path is.
func yamlNodeAt(n *yaml.Node, path manifest.FieldPath) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, seg := range path {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil {
			return nil
		}
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg {
					next = n.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			sel := strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
			if k, v, ok := strings.Cut(sel, "="); ok {
				for _, it := range n.Content {
					if mv := manifest.MapValue(it, k); mv != nil && mv.Value == v {
						next = it
						break
					}
				}
			} else if i, err := strconv.Atoi(sel); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		n = next
	}
	return n
}

// namedPath selects list items by name where the rendered item has one,
// and cuts the path to the deepest part the object holds.
func namedPath(obj map[string]any, p manifest.FieldPath) manifest.FieldPath {
	out := make(manifest.FieldPath, 0, len(p))
	var cur any = obj
	for _, seg := range p {
		next, ok := childValue(cur, seg)
		if !ok {
			break
		}
		if _, isList := cur.([]any); isList && !strings.Contains(seg, "=") {
			if m := asMap(next); m != nil {
				if name, ok := m["name"].(string); ok && name != "" {
					seg = manifest.ItemByName(name)
				}
			}
		}
		out = append(out, seg)
		cur = next
	}
	return out
}

func valueAtPath(v any, p manifest.FieldPath) (any, bool) {
	for _, seg := range p {
		next, ok := childValue(v, seg)
		if !ok {
			return nil, false
		}
		v = next
	}
	return v, true
}

func asMap(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case common.Values:
		return x
	}
	return nil
}

// childValue steps into a JSON-like value: a map key, or a list item by
// "[key=value]" or "[index]".
func childValue(v any, seg string) (any, bool) {
	if m := asMap(v); m != nil {
		c, ok := m[seg]
		return c, ok
	}
	list, ok := v.([]any)
	if !ok || !strings.HasPrefix(seg, "[") || !strings.HasSuffix(seg, "]") {
		return nil, false
	}
	sel := seg[1 : len(seg)-1]
	if k, want, ok := strings.Cut(sel, "="); ok {
		for _, it := range list {
			if m := asMap(it); m != nil {
				if mv, ok := m[k]; ok && scalarString(mv) == want {
					return it, true
				}
			}
		}
		return nil, false
	}
	if i, err := strconv.Atoi(sel); err == nil && i >= 0 && i < len(list) {
		return list[i], true
	}
	return nil, false
}

// matchValue tells whether a values value rendered as got: scalars by
// their text (a string holding "{{" is rendered by tpl: any text), maps
// key by key for the keys both hold (the values may hold an "enabled"
// switch the template omits; got may hold more keys from elsewhere),
// lists item by item.
func matchValue(want, got any) bool {
	if wm := asMap(want); wm != nil {
		gm := asMap(got)
		if gm == nil {
			return false
		}
		if len(wm) == 0 {
			return len(gm) == 0
		}
		shared := 0
		for k, wv := range wm {
			gv, ok := gm[k]
			if !ok {
				if wv == nil || k == "enabled" {
					continue
				}
				return false
			}
			if !matchValue(wv, gv) {
				return false
			}
			shared++
		}
		return shared > 0 || len(gm) == 0
	}
	if wl, ok := want.([]any); ok {
		gl, ok := got.([]any)
		if !ok || len(wl) != len(gl) {
			return false
		}
		for i := range wl {
			if !matchValue(wl[i], gl[i]) {
				return false
			}
		}
		return true
	}
	if want == nil {
		return got == nil
	}
	if asMap(got) != nil {
		return false
	}
	if _, ok := got.([]any); ok {
		return false
	}
	ws := scalarString(want)
	if strings.Contains(ws, "{{") {
		return true
	}
	return ws == scalarString(got)
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
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

// parseTemplates parses every template of the processed chart tree for the
// locators, once.
func (h *helmRun) parseTemplates() {
	if h.docs != nil {
		return
	}
	h.docs = map[*common.File]*tmplDoc{}
	h.defines = map[string]tmplDefine{}
	names := make([]string, 0, len(h.byName))
	for n := range h.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := h.byName[n]
		if _, done := h.docs[t.file]; done {
			continue
		}
		src := h.sources[t.file]
		h.docs[t.file] = parseTemplateDoc(src.path, src.archive, t.file.Data, h.defines)
	}
}

// chartValues is the part of the merged values a chart's templates see as
// .Values: below its prefix (a subchart's values are under its name).
func chartValues(top common.Values, prefix []string) map[string]any {
	var cur any = map[string]any(top)
	for _, k := range prefix {
		m := asMap(cur)
		if m == nil {
			return nil
		}
		cur = m[k]
	}
	return asMap(cur)
}
