package apps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/manifest"
)

// DefaultMaxApps bounds the apps of one repository (generated ones
// included) unless the policy raises it.
const DefaultMaxApps = 1000

// Options configure Discover.
type Options struct {
	// RepoURLs are the URLs that name this repository (the git remote, the
	// Action's repository). A source or git generator with another URL is
	// another repository's.
	RepoURLs []string
	// MaxApps bounds the apps found (0: DefaultMaxApps).
	MaxApps int
	// Limits bound the YAML decoded (zero: manifest's defaults).
	Limits manifest.Limits
}

// Result is what Discover found.
type Result struct {
	// Apps are the Applications, declared and generated, sorted by name.
	Apps []App `json:"apps"`
	// Unverifiable are the ApplicationSets (and their generators) aegis
	// cannot evaluate from the repository alone.
	Unverifiable []Unverifiable `json:"unverifiable,omitempty"`
}

// Unverifiable is an ApplicationSet whose apps aegis cannot list.
type Unverifiable struct {
	Kind   string            `json:"kind"`
	Name   string            `json:"name"`
	Origin manifest.Location `json:"origin"`
	Why    string            `json:"why"`
}

// Discover lists the apps declared in the repository's files (repo is the
// revision's tree): every Application and the Applications each
// ApplicationSet generates. Files that are not YAML, or YAML that does not
// decode, are skipped: they are not Argo CD's manifests; an Application or
// ApplicationSet that is malformed, a generator that fails, two apps with
// one name, or more apps than MaxApps are errors with file and line.
func Discover(repo fs.FS, opts Options) (*Result, error) {
	if opts.MaxApps <= 0 {
		opts.MaxApps = DefaultMaxApps
	}
	if opts.Limits == (manifest.Limits{}) {
		opts.Limits = manifest.DefaultLimits
	}
	d := &discoverer{repo: repo, opts: opts, res: &Result{}, seen: map[string]manifest.Location{}}
	err := fs.WalkDir(repo, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if e.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		return d.file(p)
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(d.res.Apps, func(a, b App) int { return strings.Compare(a.Name, b.Name) })
	return d.res, nil
}

type discoverer struct {
	repo fs.FS
	opts Options
	res  *Result
	seen map[string]manifest.Location
}

func (d *discoverer) file(p string) error {
	data, err := fs.ReadFile(d.repo, p)
	if err != nil {
		// A symlink that leaves the tree, a dangling one: the change's.
		return manifest.Errorf(p, 0, "cannot read it: %v", err)
	}
	// Most files of a repository are not Argo CD's: skip them unread.
	if !bytes.Contains(data, []byte("argoproj.io")) {
		return nil
	}
	if int64(len(data)) > d.opts.Limits.MaxFileBytes {
		return manifest.Errorf(p, 0, "larger than %d bytes", d.opts.Limits.MaxFileBytes)
	}
	for _, doc := range splitDocuments(data) {
		obj, line, err := d.decodeDocument(p, doc)
		var bomb *errBomb
		if errors.As(err, &bomb) {
			return bomb.err
		}
		if err != nil {
			// A file that names argoproj.io but is not YAML (a Helm
			// template of Applications, an app-of-apps chart) is said,
			// never skipped in silence: its apps exist once rendered.
			d.res.Unverifiable = append(d.res.Unverifiable, Unverifiable{Kind: "file", Name: p, Origin: manifest.Location{Path: p, Line: doc.line},
				Why: fmt.Sprintf("it mentions argoproj.io but does not parse as YAML (a template?): %v", err)})
			return nil
		}
		gv, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		if !strings.HasPrefix(gv, "argoproj.io/") {
			continue
		}
		at := manifest.Location{Path: p, Line: line}
		switch kind {
		case "Application":
			app, err := decodeApp(obj, at)
			if err != nil {
				return err
			}
			if err := d.add(app); err != nil {
				return err
			}
		case "ApplicationSet":
			if err := d.appSet(obj, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// document is one YAML document of a file and the line it starts on.
type document struct {
	data []byte
	line int
}

// splitDocuments splits a file at its "---" lines.
func splitDocuments(data []byte) []document {
	var docs []document
	var cur bytes.Buffer
	curLine := 1
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		if t := bytes.TrimRight(l, " \t\r\n"); bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) {
			docs = append(docs, document{data: bytes.Clone(cur.Bytes()), line: curLine})
			cur.Reset()
			curLine = i + 2
			continue
		}
		cur.Write(l)
	}
	return append(docs, document{data: cur.Bytes(), line: curLine})
}

// errBomb marks a document past the YAML limits: an error, not a file to
// list as unreadable.
type errBomb struct{ err error }

func (e *errBomb) Error() string { return e.err.Error() }
func (e *errBomb) Unwrap() error { return e.err }

// decodeDocument decodes one document as Argo CD reads manifests
// (sigs.k8s.io/yaml: YAML 1.1, where y, yes and on are true), after
// checking it within aegis's YAML limits. It returns the object (nil for
// an empty document) and the line its first key is on.
func (d *discoverer) decodeDocument(p string, doc document) (map[string]any, int, error) {
	var node yaml3.Node
	if err := yaml3.Unmarshal(doc.data, &node); err != nil {
		return nil, 0, err
	}
	if node.Kind == 0 || len(node.Content) == 0 {
		return nil, doc.line, nil
	}
	if err := manifest.CheckExpansion(p, &node, d.opts.Limits); err != nil {
		return nil, 0, &errBomb{err}
	}
	var obj map[string]any
	if err := yaml.Unmarshal(doc.data, &obj); err != nil {
		return nil, 0, err
	}
	return obj, doc.line + node.Content[0].Line - 1, nil
}

// add records an app, refusing a second app of one name and more than
// MaxApps.
func (d *discoverer) add(app App) error {
	app.Unverifiable = d.unverifiable(app)
	if first, ok := d.seen[app.Name]; ok {
		return manifest.Errorf(app.Origin.Path, app.Origin.Line, "two apps are named %q: %s (%s) and this one; Argo CD would keep one", app.Name, first, app.Generator)
	}
	d.seen[app.Name] = app.Origin
	d.res.Apps = append(d.res.Apps, app)
	if len(d.res.Apps) > d.opts.MaxApps {
		return manifest.Errorf(app.Origin.Path, app.Origin.Line, "more than %d apps (apps.maxApps in the policy): a generator may be yielding far more than intended", d.opts.MaxApps)
	}
	return nil
}

// unverifiable says why an app cannot be verified from this repository.
func (d *discoverer) unverifiable(app App) string {
	for _, s := range app.Sources {
		switch {
		case s.Chart != "":
			return fmt.Sprintf("its chart %s comes from the Helm repository %s", s.Chart, s.RepoURL)
		case !sameRepo(d.opts.RepoURLs, s.RepoURL):
			return fmt.Sprintf("its source %s is another repository", s.RepoURL)
		}
	}
	if len(app.Sources) == 0 {
		return "it has no source"
	}
	return ""
}

// appSpec is the part of an Application aegis reads.
type appSpec struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Project     string      `json:"project"`
		Source      *Source     `json:"source"`
		Sources     []Source    `json:"sources"`
		Destination Destination `json:"destination"`
	} `json:"spec"`
}

func decodeApp(obj map[string]any, at manifest.Location) (App, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return App{}, err
	}
	var s appSpec
	if err := json.Unmarshal(data, &s); err != nil {
		return App{}, manifest.Errorf(at.Path, at.Line, "Application: %v", err)
	}
	if s.Metadata.Name == "" {
		return App{}, manifest.Errorf(at.Path, at.Line, "Application without metadata.name")
	}
	app := App{Name: s.Metadata.Name, Namespace: s.Metadata.Namespace, Project: s.Spec.Project, Sources: s.Spec.Sources,
		Destination: s.Spec.Destination, Origin: at}
	if s.Spec.Source != nil {
		app.Sources = append([]Source{*s.Spec.Source}, app.Sources...)
	}
	return app, nil
}

// appSetSpec is the part of an ApplicationSet aegis reads.
type appSetSpec struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		GoTemplate        bool           `json:"goTemplate"`
		GoTemplateOptions []string       `json:"goTemplateOptions"`
		Generators        []generator    `json:"generators"`
		Template          map[string]any `json:"template"`
		TemplatePatch     string         `json:"templatePatch"`
	} `json:"spec"`
}

func (d *discoverer) appSet(obj map[string]any, at manifest.Location) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	var s appSetSpec
	if err := json.Unmarshal(data, &s); err != nil {
		return manifest.Errorf(at.Path, at.Line, "ApplicationSet: %v", err)
	}
	name := s.Metadata.Name
	unverifiable := func(why string) {
		d.res.Unverifiable = append(d.res.Unverifiable, Unverifiable{Kind: "ApplicationSet", Name: name, Origin: at, Why: why})
	}
	if s.Spec.TemplatePatch != "" {
		unverifiable("spec.templatePatch is not evaluated by aegis")
		return nil
	}
	ev := &evaluator{repo: d.repo, sameRepo: func(u string) bool { return sameRepo(d.opts.RepoURLs, u) }, goTmpl: s.Spec.GoTemplate}
	if s.Spec.GoTemplate {
		ev.r = &goRenderer{options: s.Spec.GoTemplateOptions}
	} else {
		ev.r = fastRenderer{}
	}
	for i, g := range s.Spec.Generators {
		params, err := ev.params(g)
		var ue *errUnverifiable
		if errors.As(err, &ue) {
			unverifiable(fmt.Sprintf("generator %d: %s", i, ue.why))
			continue
		}
		if err != nil {
			return manifest.Errorf(at.Path, at.Line, "ApplicationSet %s, generator %d: %v", name, i, err)
		}
		for _, p := range params {
			rendered, err := renderValue(ev.r, s.Spec.Template, p)
			if err != nil {
				return manifest.Errorf(at.Path, at.Line, "ApplicationSet %s, generator %d: %v", name, i, err)
			}
			app, err := decodeApp(rendered.(map[string]any), at)
			if err != nil {
				return err
			}
			app.Generator = fmt.Sprintf("ApplicationSet %s, generator %d (%s)", name, i, describe(g))
			if files, _ := p[genFileKey].(string); files != "" {
				app.GeneratorFiles = strings.Split(files, "\n")
			}
			if err := d.add(app); err != nil {
				return err
			}
		}
	}
	return nil
}

func describe(g generator) string {
	switch {
	case g.List != nil:
		return "list"
	case g.Git != nil && len(g.Git.Files) > 0:
		return "git files"
	case g.Git != nil:
		return "git directories"
	case g.Matrix != nil:
		return "matrix"
	case g.Merge != nil:
		return "merge"
	}
	return "?"
}

// sameRepo reports whether url names one of the repository's URLs, as git
// hosts spell them: with or without a scheme, user, ".git" or a trailing
// slash, over HTTPS or SSH ("git@host:owner/repo").
func sameRepo(repoURLs []string, url string) bool {
	n := normalizeRepoURL(url)
	for _, r := range repoURLs {
		if normalizeRepoURL(r) == n {
			return true
		}
	}
	return false
}

func normalizeRepoURL(u string) string {
	u = strings.TrimSpace(u)
	for _, scheme := range []string{"https://", "http://", "ssh://", "git://", "git+ssh://"} {
		if strings.HasPrefix(strings.ToLower(u), scheme) {
			u = u[len(scheme):]
			break
		}
	}
	if at := strings.Index(u, "@"); at >= 0 && at < strings.IndexAny(u+"/", "/:") {
		u = u[at+1:]
	}
	// scp-like "host:owner/repo"; a port ("host:22/owner") is dropped too.
	if host, rest, ok := strings.Cut(u, ":"); ok && !strings.Contains(host, "/") {
		if i := strings.Index(rest, "/"); i >= 0 && isDigits(rest[:i]) {
			rest = rest[i+1:]
		}
		u = host + "/" + rest
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
	host, rest, _ := strings.Cut(u, "/")
	return strings.ToLower(host) + "/" + rest
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
