package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/kube-sentient/aegis/manifest"
)

// kustTree is aegis's own reading of a kustomization tree, done before
// krusty runs. kustomize's origin annotations name only the source file of a
// resource and the kustomization of a generator; everything else a finding
// needs (the start line of the object, the patch line that sets a field, the
// line of an entry that broke the build) comes from this index. Each file is
// read and parsed once; krusty then reads the same bytes from the cache.
type kustTree struct {
	root     string // the side's root as given
	realRoot string // root with symlinks resolved, the load boundary
	opts     Options
	dec      *manifest.Decoder // counts source files against the limits

	top   *kustNode
	nodes map[string]*kustNode   // by absolute directory
	files map[string]*sourceFile // resource files by absolute path
	data  map[string][]byte      // file contents by resolved path, for krusty
	seq   int
	// genSeq counts kustomizations as their generators would run.
	genSeq int
	hints  []errHint
	// fileOrder and nodeOrder are files and kustomizations in the order
	// they were read, which is the order kustomize accumulates them.
	fileOrder []*sourceFile
	nodeOrder []*kustNode
	// kustFiles are the kustomization files aegis has checked (by resolved
	// path): guardFS serves krusty no other.
	kustFiles map[string]bool
	// customOpenAPI is set when a kustomization brings its own schema.
	customOpenAPI bool
}

// kustNode is one kustomization (or component) directory.
type kustNode struct {
	dir     string     // absolute directory
	file    string     // absolute path of the kustomization file
	rel     string     // file relative to root, with slashes
	doc     *yaml.Node // the top mapping of the kustomization
	parents []*kustNode
	comps   []*kustNode
	// setters are the patches, images and replicas entries, in the order
	// kustomize applies them inside this kustomization.
	setters []fieldSetter
	gens    []generatorEntry
	// genSeq orders kustomizations by when their generators run:
	// resources (depth first), then the kustomization's own generators,
	// then its components, as krusty accumulates a target.
	genSeq int
	// seq orders kustomizations by when their transformers run (post-order):
	// a higher seq runs later and so wins over a lower one.
	seq int
}

// sourceFile is one resource file with its decoded documents.
type sourceFile struct {
	rel    string
	objs   []manifest.Object
	owners []*kustNode
	chain  []fieldSetter // cached setterChain(owners)
}

// generatorEntry is a configMapGenerator or secretGenerator item.
type generatorEntry struct {
	kind string // ConfigMap or Secret
	name string
	node *yaml.Node
	kust *kustNode
}

// errHint ties text kustomize may quote in an error to a kustomization line.
type errHint struct {
	needles []string
	path    string
	line    int
}

var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func newKustTree(root, dir string, opts Options) (*kustTree, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		return nil, err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	t := &kustTree{
		root:      absRoot,
		realRoot:  realRoot,
		opts:      opts,
		dec:       manifest.NewDecoder(opts.limits()),
		nodes:     map[string]*kustNode{},
		files:     map[string]*sourceFile{},
		data:      map[string][]byte{},
		kustFiles: map[string]bool{},
	}
	top, err := t.load(absDir, nil, "", 0, map[string]bool{})
	if err != nil {
		return nil, err
	}
	t.top = top
	return t, nil
}

func (t *kustTree) rel(p string) string { return rel(t.root, p) }

// load reads the kustomization in dir. from/line name the entry that
// referenced it, for error messages.
func (t *kustTree) load(dir string, parent *kustNode, from string, line int, stack map[string]bool) (*kustNode, error) {
	key := nodeKey(dir)
	if n, ok := t.nodes[key]; ok {
		if stack[key] {
			return nil, manifest.Errorf(from, line, "kustomization cycle: %s includes itself; remove this entry", t.rel(dir))
		}
		if parent != nil {
			n.parents = append(n.parents, parent)
		}
		return n, nil
	}
	file, err := findKustomization(dir)
	if err != nil {
		if from == "" {
			return nil, manifest.Errorf(t.rel(dir), 0, "%v", err)
		}
		return nil, manifest.Errorf(from, line, "%s: %v", t.rel(dir), err)
	}
	n := &kustNode{dir: dir, file: file, rel: t.rel(file)}
	if parent != nil {
		n.parents = append(n.parents, parent)
	}
	t.nodes[key] = n
	t.nodeOrder = append(t.nodeOrder, n)
	stack[key] = true
	defer delete(stack, key)

	docs, err := t.readYAML(file, n.rel)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 || len(docs[0].Content) == 0 || docs[0].Content[0].Kind != yaml.MappingNode {
		return nil, manifest.Errorf(n.rel, 1, "kustomization is empty or not a mapping; list at least one resource")
	}
	n.doc = docs[0].Content[0]
	// Spell every key as kustomize reads it before anything looks one up.
	if err := normalizeKustomization(n.rel, n.doc); err != nil {
		return nil, err
	}
	if err := checkKustomizationKeys(n); err != nil {
		return nil, err
	}
	data, err := t.read(file, n.rel) // cached by readYAML
	if err != nil {
		return nil, err
	}
	if err := t.checkDecoded(n, data); err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(file); err == nil {
		t.kustFiles[real] = true
	}
	if manifest.MapValue(n.doc, "openapi") != nil {
		t.customOpenAPI = true
	}
	for _, key := range []string{"resources", "bases"} {
		for _, item := range listItems(n.doc, key) {
			if err := t.loadResource(n, item, stack); err != nil {
				return nil, err
			}
		}
	}
	t.loadGenerators(n)
	for _, item := range listItems(n.doc, "components") {
		if t.opts.AllowRemoteBases && isKustomizeRemote(item.Value) {
			continue
		}
		abs, err := t.localPath(n, item)
		if err != nil {
			return nil, err
		}
		c, err := t.load(abs, n, n.rel, item.Line, stack)
		if err != nil {
			return nil, err
		}
		n.comps = append(n.comps, c)
	}
	if err := t.loadPluginEntries(n, stack); err != nil {
		return nil, err
	}
	if err := t.loadSetters(n); err != nil {
		return nil, err
	}
	t.seq++
	n.seq = t.seq
	return n, nil
}

// nodeKey is the key of a kustomization directory in kustTree.nodes: the
// directory with its symlinks resolved, so that a directory reached through
// a symlink is the same kustomization (and a cycle through one is seen).
func nodeKey(dir string) string {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		return real
	}
	return dir
}

func findKustomization(dir string) (string, error) {
	var found []string
	for _, name := range kustomizationNames {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return "", errors.New("directory has no kustomization.yaml, kustomization.yml or Kustomization")
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("directory has more than one kustomization file (%s); keep one", strings.Join(baseNames(found), ", "))
}

func baseNames(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = filepath.Base(p)
	}
	return out
}

// loadResource follows one resources/bases entry: a file is indexed, a
// directory is loaded as a kustomization.
func (t *kustTree) loadResource(n *kustNode, item *yaml.Node, stack map[string]bool) error {
	if isKustomizeRemote(item.Value) {
		// Allowed, else checkDecoded refused it already.
		t.hints = append(t.hints, errHint{needles: []string{item.Value}, path: n.rel, line: item.Line})
		return nil
	}
	abs, err := t.localPath(n, item)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return err // localPath checked existence
	}
	if fi.IsDir() {
		_, err := t.load(abs, n, n.rel, item.Line, stack)
		return err
	}
	t.hints = append(t.hints, errHint{needles: []string{"'" + item.Value + "'"}, path: n.rel, line: item.Line})
	if sf, ok := t.files[abs]; ok {
		sf.owners = append(sf.owners, n)
		return nil
	}
	r := t.rel(abs)
	data, err := t.read(abs, r)
	if err != nil {
		return err
	}
	objs, err := t.dec.Decode(r, data)
	if err != nil {
		return err
	}
	sf := &sourceFile{rel: r, objs: objs, owners: []*kustNode{n}}
	t.files[abs] = sf
	t.fileOrder = append(t.fileOrder, sf)
	return nil
}

// localPath resolves a path entry of kustomization n, refusing paths that
// leave the side's root (after symlinks) and paths that do not exist, with
// the entry's line.
func (t *kustTree) localPath(n *kustNode, item *yaml.Node) (string, error) {
	v := item.Value
	if item.Kind != yaml.ScalarNode || v == "" {
		return "", manifest.Errorf(n.rel, item.Line, "expected a path")
	}
	if filepath.IsAbs(v) {
		return "", manifest.Errorf(n.rel, item.Line, "%q is an absolute path; use a path relative to the kustomization", v)
	}
	abs := filepath.Join(n.dir, filepath.FromSlash(v))
	if !within(t.root, abs) {
		return "", manifest.Errorf(n.rel, item.Line, "%q leaves the source root %s; kustomizations may only use files inside it", v, t.root)
	}
	// A directory symlink that points back up would make kustomize (and
	// this walk) go round until the system gives up.
	if link, target, ok := symlinkLoop(t.root, abs); ok {
		return "", manifest.Errorf(n.rel, item.Line, "%q goes through a %s", v, symlinkLoopMsg(link, target))
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if looksLikeHost(v) {
				return "", manifest.Errorf(n.rel, item.Line, "%q does not exist locally and looks like a remote base; remote bases are off by default: vendor it or pass --allow-remote-bases", v)
			}
			return "", manifest.Errorf(n.rel, item.Line, "%q does not exist (looked for %s); fix the path or add the file", v, t.rel(abs))
		}
		return "", manifest.Errorf(n.rel, item.Line, "%q: %v", v, err)
	}
	if !within(t.realRoot, real) {
		return "", manifest.Errorf(n.rel, item.Line, "%q resolves (through a symlink) outside the source root; kustomizations may only use files inside it", v)
	}
	return abs, nil
}

// read reads a source file once, within the size limit, and keeps the bytes
// for krusty so that nothing is read twice.
func (t *kustTree) read(abs, r string) ([]byte, error) {
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, manifest.Errorf(r, 0, "%v", err)
	}
	if data, ok := t.data[real]; ok {
		return data, nil
	}
	data, err := readLimited(real, t.opts.limits().MaxFileBytes)
	if err != nil {
		return nil, manifest.Errorf(r, 0, "%v", err)
	}
	t.data[real] = data
	return data, nil
}

// readYAML parses every document of a file into nodes, refusing alias bombs
// before kustomize gets to expand them.
func (t *kustTree) readYAML(abs, r string) ([]*yaml.Node, error) {
	data, err := t.read(abs, r)
	if err != nil {
		return nil, err
	}
	return parseYAMLDocs(r, data, t.opts.limits())
}

func parseYAMLDocs(r string, data []byte, lim manifest.Limits) ([]*yaml.Node, error) {
	if line := manifest.FirstInvalidUTF8Line(data); line > 0 {
		return nil, manifest.Errorf(r, line, "file is not valid UTF-8")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, manifest.YAMLErrorIn(r, data, lim.MaxDepth, err)
		}
		if err := manifest.CheckExpansion(r, &doc, lim); err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
}

// kustomizationKeys are the top-level keys kustomize accepts, read from its
// own type so they follow the library version. kustomize matches them
// case-insensitively (encoding/json), so they are stored lower-cased.
var kustomizationKeys = func() map[string]bool {
	keys := map[string]bool{}
	var add func(rt reflect.Type)
	add = func(rt reflect.Type) {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				add(f.Type)
				continue
			}
			if name != "" && name != "-" {
				keys[strings.ToLower(name)] = true
			}
		}
	}
	add(reflect.TypeOf(types.Kustomization{}))
	return keys
}()

// checkKustomizationKeys reports an unknown key with its line (kustomize
// would refuse it too, but without a line) and kustomize features aegis
// cannot run.
func checkKustomizationKeys(n *kustNode) error {
	for i := 0; i+1 < len(n.doc.Content); i += 2 {
		k := n.doc.Content[i]
		if !kustomizationKeys[strings.ToLower(k.Value)] {
			return manifest.Errorf(n.rel, k.Line, "unknown kustomization field %q; check its spelling (see https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/)", k.Value)
		}
		switch k.Value {
		case "helmCharts", "helmChartInflationGenerator", "helmGlobals":
			return manifest.Errorf(n.rel, k.Line, "%s needs the helm binary, which aegis does not run inside kustomize; render the chart as a Helm source instead, or commit its rendered output", k.Value)
		}
	}
	return nil
}

// isRemoteRef recognises the remote forms kustomize accepts: URLs, scp-like
// git addresses, host/org/repo shorthands and query parameters of git refs.
func isRemoteRef(v string) bool {
	if strings.ContainsAny(v, "\n") {
		return false // an inline patch or config
	}
	lv := strings.ToLower(strings.TrimSpace(v))
	for _, p := range []string{"http://", "https://", "ssh://", "git://", "git::", "git@", "file://", "github.com/", "gitlab.com/", "bitbucket.org/", "gh:"} {
		if strings.HasPrefix(lv, p) {
			return true
		}
	}
	return strings.Contains(lv, "://") || strings.Contains(lv, "?ref=") || strings.Contains(lv, "?version=") || strings.Contains(lv, "?timeout=") || strings.Contains(lv, "?submodules=")
}

// looksLikeHost reports a missing path whose first segment looks like a
// host name ("example.com/org/repo"), which kustomize would try to clone.
func looksLikeHost(v string) bool {
	first, rest, ok := strings.Cut(v, "/")
	return ok && rest != "" && strings.Contains(first, ".") && !strings.HasPrefix(first, ".")
}

func (t *kustTree) loadGenerators(n *kustNode) {
	t.genSeq++
	n.genSeq = t.genSeq
	for key, kind := range map[string]string{"configMapGenerator": "ConfigMap", "secretGenerator": "Secret"} {
		for _, it := range seqItems(manifest.MapValue(n.doc, key)) {
			name := scalar(manifest.MapValue(it, "name"))
			n.gens = append(n.gens, generatorEntry{kind: kind, name: name, node: it, kust: n})
			if name != "" {
				t.hints = append(t.hints, errHint{needles: []string{name}, path: n.rel, line: it.Line})
			}
			for _, src := range []string{"files", "envs"} {
				for _, f := range seqItems(manifest.MapValue(it, src)) {
					_, p, ok := strings.Cut(f.Value, "=")
					if !ok {
						p = f.Value
					}
					t.hints = append(t.hints, errHint{needles: []string{p}, path: n.rel, line: f.Line})
				}
			}
			if e := manifest.MapValue(it, "env"); e != nil {
				t.hints = append(t.hints, errHint{needles: []string{e.Value}, path: n.rel, line: e.Line})
			}
		}
	}
}

// loadSetters reads every patch, images and replicas entry of n in the
// order kustomize applies them: patchesStrategicMerge, patches,
// patchesJson6902, replicas, images.
func (t *kustTree) loadSetters(n *kustNode) error {
	for _, it := range seqItems(manifest.MapValue(n.doc, "patchesStrategicMerge")) {
		if err := t.loadSMPEntry(n, it); err != nil {
			return err
		}
	}
	for _, key := range []string{"patches", "patchesJson6902"} {
		for _, it := range seqItems(manifest.MapValue(n.doc, key)) {
			if err := t.loadPatchEntry(n, it, key == "patchesJson6902"); err != nil {
				return err
			}
		}
	}
	for _, it := range seqItems(manifest.MapValue(n.doc, "replicas")) {
		name := scalar(manifest.MapValue(it, "name"))
		n.setters = append(n.setters, &replicasSetter{name: name, node: it, path: n.rel})
		if name != "" {
			t.hints = append(t.hints, errHint{needles: []string{"resource with name " + name + " "}, path: n.rel, line: it.Line})
		}
	}
	for _, key := range []string{"imageTags", "images"} {
		for _, it := range seqItems(manifest.MapValue(n.doc, key)) {
			n.setters = append(n.setters, &imageSetter{
				name: scalar(manifest.MapValue(it, "name")), newName: scalar(manifest.MapValue(it, "newName")),
				node: it, path: n.rel,
			})
		}
	}
	return nil
}

// loadSMPEntry reads a patchesStrategicMerge item: a file path, or an
// inline patch (kustomize tries the file first).
func (t *kustTree) loadSMPEntry(n *kustNode, it *yaml.Node) error {
	if it.Kind == yaml.ScalarNode && !strings.Contains(it.Value, "\n") && !strings.Contains(it.Value, ": ") {
		abs, err := t.localPath(n, it)
		if err != nil {
			return err
		}
		return t.addPatchFile(n, abs, it, nil, false)
	}
	return t.addInlinePatch(n, it, nil, false)
}

// loadPatchEntry reads a patches or patchesJson6902 item.
func (t *kustTree) loadPatchEntry(n *kustNode, it *yaml.Node, json6902 bool) error {
	var sel *selector
	if tn := manifest.MapValue(it, "target"); tn != nil {
		s, err := parseSelector(n.rel, tn)
		if err != nil {
			return err
		}
		sel = s
	} else if json6902 {
		return manifest.Errorf(n.rel, it.Line, "patchesJson6902 entry has no target; add target with kind and name")
	}
	if p := manifest.MapValue(it, "path"); p != nil {
		abs, err := t.localPath(n, p)
		if err != nil {
			return err
		}
		return t.addPatchFile(n, abs, p, sel, json6902)
	}
	if p := manifest.MapValue(it, "patch"); p != nil {
		return t.addInlinePatch(n, p, sel, json6902)
	}
	return manifest.Errorf(n.rel, it.Line, "patch entry has neither path nor patch; add one")
}

func (t *kustTree) addPatchFile(n *kustNode, abs string, entry *yaml.Node, sel *selector, json6902 bool) error {
	r := t.rel(abs)
	t.hints = append(t.hints, errHint{needles: []string{entry.Value}, path: n.rel, line: entry.Line})
	docs, err := t.readYAML(abs, r)
	if err != nil {
		return err
	}
	return t.addPatchDocs(n, r, docs, entry, sel, json6902)
}

func (t *kustTree) addInlinePatch(n *kustNode, p *yaml.Node, sel *selector, json6902 bool) error {
	docs, err := parseYAMLDocs(n.rel, []byte(p.Value), t.opts.limits())
	if err != nil {
		// Lines of the inline text are relative to the scalar; report the
		// entry instead of a wrong absolute line.
		var se *manifest.SourceError
		if errors.As(err, &se) {
			return manifest.Errorf(n.rel, p.Line, "inline patch: %s", se.Msg)
		}
		return err
	}
	// Shift the inline text's lines to lines of the kustomization: a block
	// scalar ("patch: |") starts on the line after its key.
	offset := p.Line - 1
	if p.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		offset = p.Line
	}
	for _, d := range docs {
		shiftLines(d, offset)
	}
	return t.addPatchDocs(n, n.rel, docs, p, sel, json6902)
}

func shiftLines(n *yaml.Node, by int) {
	seen := map[*yaml.Node]bool{}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		n.Line += by
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
}

// addPatchDocs turns parsed patch documents into setters: a document that is
// a sequence is a JSON 6902 patch, a mapping a strategic merge patch.
func (t *kustTree) addPatchDocs(n *kustNode, path string, docs []*yaml.Node, entry *yaml.Node, sel *selector, json6902 bool) error {
	for _, d := range docs {
		if len(d.Content) == 0 {
			continue
		}
		root := d.Content[0]
		switch {
		case root.Kind == yaml.SequenceNode:
			if sel == nil {
				return manifest.Errorf(n.rel, entry.Line, "a JSON 6902 patch needs a target; add target with kind and name")
			}
			js := &jsonPatchSetter{sel: sel, path: path}
			for _, op := range root.Content {
				js.ops = append(js.ops, jsonOp{
					op:    scalar(manifest.MapValue(op, "op")),
					path:  scalar(manifest.MapValue(op, "path")),
					value: manifest.MapValue(op, "value"),
					line:  op.Line,
				})
			}
			n.setters = append(n.setters, js)
		case root.Kind == yaml.MappingNode && !json6902:
			s := &smpSetter{sel: sel, node: root, path: path}
			s.kind = scalar(manifest.MapValue(root, "kind"))
			md := manifest.MapValue(root, "metadata")
			s.name = scalar(manifest.MapValue(md, "name"))
			s.namespace = scalar(manifest.MapValue(md, "namespace"))
			if sel == nil && s.name != "" {
				t.hints = append(t.hints, errHint{needles: []string{s.kind + ".", "/" + s.name + "."}, path: n.rel, line: entry.Line})
			}
			n.setters = append(n.setters, s)
		default:
			return manifest.Errorf(path, root.Line, "patch is neither a strategic merge patch (a mapping) nor a JSON 6902 patch (a list of operations)")
		}
	}
	if sel != nil && sel.literalName != "" {
		t.hints = append(t.hints, errHint{needles: []string{"/" + sel.literalName + "."}, path: n.rel, line: entry.Line})
	}
	return nil
}

// selector is a patch target. kustomize treats every field as an anchored
// regular expression.
type selector struct {
	group, version, kind, name, namespace *regexp.Regexp
	literalName                           string // name when it has no regexp syntax
	labels, annotations                   labels.Selector
}

func parseSelector(path string, n *yaml.Node) (*selector, error) {
	s := &selector{}
	var err error
	compile := func(key string) *regexp.Regexp {
		v := manifest.MapValue(n, key)
		if v == nil || v.Value == "" || err != nil {
			return nil
		}
		re, cerr := regexp.Compile("^(?:" + v.Value + ")$")
		if cerr != nil {
			err = manifest.Errorf(path, v.Line, "target %s %q is not a valid regular expression: %v", key, v.Value, cerr)
		}
		return re
	}
	s.group, s.version, s.kind = compile("group"), compile("version"), compile("kind")
	s.name, s.namespace = compile("name"), compile("namespace")
	if err != nil {
		return nil, err
	}
	if v := scalar(manifest.MapValue(n, "name")); v != "" && regexp.QuoteMeta(v) == v {
		s.literalName = v
	}
	for key, dst := range map[string]*labels.Selector{"labelSelector": &s.labels, "annotationSelector": &s.annotations} {
		v := manifest.MapValue(n, key)
		if v == nil || v.Value == "" {
			continue
		}
		ls, perr := labels.Parse(v.Value)
		if perr != nil {
			return nil, manifest.Errorf(path, v.Line, "target %s %q: %v", key, v.Value, perr)
		}
		*dst = ls
	}
	return s, nil
}

// YAML node helpers.

func mapKeyNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

func seqItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
