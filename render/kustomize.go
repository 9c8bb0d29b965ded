package render

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kube-sentient/aegis/manifest"
)

// Annotations kustomize adds for build metadata.
const (
	originAnnotation         = "config.kubernetes.io/origin"
	transformationAnnotation = "alpha.config.kubernetes.io/transformations"
	internalAnnotationPrefix = "internal.config.kubernetes.io/"
)

// renderKustomize builds the kustomization in dir with krusty, the library
// behind `kustomize build`, and gives every object its origin and a locator
// for its fields.
//
// aegis first reads the kustomization tree itself (kustTree): that refuses
// remote bases and files outside root with the line of the entry, indexes
// the source documents and patches, and reads every file once. krusty then
// runs on the disk through guardFS, which serves those bytes and refuses
// any read outside root. Origins come from aegis's own markers in the
// bytes served (kustomize_markers.go), else from krusty's origin
// annotations, asked for in the top kustomization in memory only.
func renderKustomize(ctx context.Context, root, dir string, opts Options) ([]manifest.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := newKustTree(root, dir, opts)
	if err != nil {
		return nil, err
	}
	fs, err := t.guardFS()
	if err != nil {
		return nil, err
	}
	// krusty installs the OpenAPI schema of each build in a package global;
	// a build with its own schema (the openapi field) must not overlap
	// another build, which would reset it. Others may run side by side.
	if t.customOpenAPI {
		openapiMu.Lock()
		defer openapiMu.Unlock()
	} else {
		openapiMu.RLock()
		defer openapiMu.RUnlock()
	}
	if !forceKrustyOrigins && manifest.MapValue(t.top.doc, "buildMetadata") == nil {
		objs, ok, err := t.buildMarked(fs)
		if err != nil {
			return nil, err
		}
		if ok {
			return objs, ctx.Err()
		}
	}
	userOrigin, err := t.injectOriginAnnotations()
	if err != nil {
		return nil, err
	}
	// The default options are those of `kustomize build`: files of a
	// kustomization must sit below its own directory (bases may be
	// anywhere inside root, guardFS enforces that), plugins and helm are off.
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(fs, t.top.dir)
	if err != nil {
		return nil, t.kustomizeError(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return t.objects(rm, userOrigin)
}

// openapiMu serialises krusty builds that set their own OpenAPI schema.
var openapiMu sync.RWMutex

// injectOriginAnnotations adds originAnnotations to the top kustomization's
// buildMetadata, in memory only: kustomize hands the top kustomization's
// buildMetadata down to every base and component. It reports whether the
// user had asked for them already, in which case they stay in the output.
func (t *kustTree) injectOriginAnnotations() (userOrigin bool, err error) {
	doc := t.top.doc
	bm := manifest.MapValue(doc, "buildMetadata")
	if bm == nil {
		doc.Content = append(doc.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "buildMetadata"},
			&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"})
		bm = doc.Content[len(doc.Content)-1]
	}
	if bm.Kind != yaml.SequenceNode {
		return false, manifest.Errorf(t.top.rel, bm.Line, "buildMetadata must be a list (of originAnnotations, transformerAnnotations, managedByLabel)")
	}
	for _, it := range bm.Content {
		if it.Value == types.OriginAnnotations {
			return true, nil
		}
	}
	bm.Content = append(bm.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: types.OriginAnnotations})
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(doc); err != nil {
		return false, manifest.Errorf(t.top.rel, 0, "cannot prepare kustomization: %v", err)
	}
	if err := enc.Close(); err != nil {
		return false, err
	}
	// What krusty will read is checked, not only what the file said.
	if err := t.checkDecoded(t.top, b.Bytes()); err != nil {
		return false, err
	}
	real, err := filepath.EvalSymlinks(t.top.file)
	if err != nil {
		return false, err
	}
	t.data[real] = b.Bytes()
	return false, nil
}

func (t *kustTree) guardFS() (*guardFS, error) {
	g := &guardFS{
		FileSystem: filesys.MakeFsOnDisk(),
		realRoot:   t.realRoot,
		cache:      t.data,
		kustFiles:  t.kustFiles,
		maxFile:    t.opts.limits().MaxFileBytes,
	}
	if t.opts.AllowRemoteBases {
		// kustomize clones remote bases into os.TempDir()/kustomize-*.
		tmp, err := filepath.EvalSymlinks(os.TempDir())
		if err != nil {
			return nil, err
		}
		g.clonePrefix = filepath.Join(tmp, "kustomize-")
	}
	return g, nil
}

// guardFS is the disk as krusty sees it: reads outside the side's root
// (after resolving symlinks) fail, files above the size limit fail, files
// aegis has already read are served from memory, and a kustomization file
// aegis has not checked (see kustomize_remote.go) is never served: krusty
// would follow its entries to the network.
type guardFS struct {
	filesys.FileSystem
	realRoot    string
	clonePrefix string // kustomize's clone directories, when remote bases are allowed
	cache       map[string][]byte
	kustFiles   map[string]bool
	maxFile     int64
}

func (g *guardFS) check(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	if within(g.realRoot, real) || (g.clonePrefix != "" && strings.HasPrefix(real, g.clonePrefix)) {
		return real, nil
	}
	return "", fmt.Errorf("security; '%s' is outside the source root", path)
}

func (g *guardFS) ReadFile(path string) ([]byte, error) {
	real, err := g.check(path)
	if err != nil {
		return nil, err
	}
	if isKustomizationName(filepath.Base(real)) && !g.kustFiles[real] && (g.clonePrefix == "" || !strings.HasPrefix(real, g.clonePrefix)) {
		return nil, fmt.Errorf("security; kustomization '%s' was not checked by aegis before the build", path)
	}
	if data, ok := g.cache[real]; ok {
		return data, nil
	}
	return readLimited(real, g.maxFile)
}

func (g *guardFS) Open(path string) (filesys.File, error) {
	if _, err := g.check(path); err != nil {
		return nil, err
	}
	return g.FileSystem.Open(path)
}

func (g *guardFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	d, f, err := g.FileSystem.CleanedAbs(path)
	if err != nil {
		return d, f, err
	}
	if _, err := g.check(d.Join(f)); err != nil {
		return "", "", err
	}
	return d, f, nil
}

func isKustomizationName(name string) bool {
	for _, n := range kustomizationNames {
		if name == n {
			return true
		}
	}
	return false
}

// objects converts krusty's resources into manifest Objects with origins
// and locators, removing the build annotations aegis asked for.
func (t *kustTree) objects(rm resmap.ResMap, userOrigin bool) ([]manifest.Object, error) {
	dec := manifest.NewDecoder(t.opts.limits())
	byConfig := map[string]*kustNode{}
	for _, n := range t.nodes {
		byConfig[n.file] = n
	}
	out := make([]manifest.Object, 0, rm.Size())
	for _, r := range rm.Resources() {
		org, err := r.GetOrigin()
		if err != nil {
			return nil, manifest.Errorf(t.top.rel, 0, "kustomize origin annotation: %v", err)
		}
		if !userOrigin {
			if err := r.SetOrigin(nil); err != nil {
				return nil, err
			}
		}
		// Encoding the node directly is cheaper than AsYAML, which goes
		// through JSON.
		y, err := r.RNode.String()
		if err != nil {
			return nil, manifest.Errorf(t.top.rel, 0, "kustomize output: %v", err)
		}
		name := t.top.rel
		if org != nil && org.Path != "" && org.Repo == "" {
			name = t.rel(filepath.Join(t.top.dir, filepath.FromSlash(org.Path)))
		}
		objs, err := dec.Decode(name, []byte(y))
		if err != nil {
			return nil, err
		}
		for i := range objs {
			stripInternalAnnotations(objs[i].Object)
			t.attach(&objs[i], org, byConfig)
		}
		out = append(out, objs...)
	}
	return out, nil
}

func stripInternalAnnotations(obj map[string]any) {
	md, _ := obj["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	if ann == nil {
		return
	}
	for k := range ann {
		if strings.HasPrefix(k, internalAnnotationPrefix) {
			delete(ann, k)
		}
	}
	if len(ann) == 0 {
		delete(md, "annotations")
	}
}

// attach sets the origin and locator of one object from its origin
// annotation.
func (t *kustTree) attach(o *manifest.Object, org *resource.Origin, byConfig map[string]*kustNode) {
	info := objInfo{u: o.Unstructured, origName: o.GetName(), origNS: o.GetNamespace()}
	loc := &kustLocator{}
	var owners []*kustNode
	var chain []fieldSetter
	switch {
	case org == nil:
		o.Origin = manifest.Origin{Location: manifest.Location{Path: t.top.rel}}
		owners = []*kustNode{t.top}
	case org.Repo != "":
		// A remote base: there is no local file to point at.
		p := strings.TrimSuffix(org.Repo, "/") + "//" + org.Path
		if org.Ref != "" {
			p += "?ref=" + org.Ref
		}
		o.Origin = manifest.Origin{Location: manifest.Location{Path: p}}
		owners = []*kustNode{t.top}
	case org.Path != "":
		abs := filepath.Join(t.top.dir, filepath.FromSlash(org.Path))
		sf := t.files[abs]
		if sf == nil {
			o.Origin = manifest.Origin{Location: manifest.Location{Path: t.rel(abs), Line: 1}}
			owners = []*kustNode{t.top}
			break
		}
		src := findSourceDoc(sf, o)
		if src != nil {
			info.origName, info.origNS = src.GetName(), src.GetNamespace()
			o.Origin = src.Origin
			if nl, ok := src.Locator.(manifest.NodeLocator); ok {
				loc.source = nodeSource{path: nl.Path, node: nl.Node}
			}
		} else {
			o.Origin = manifest.Origin{Location: manifest.Location{Path: sf.rel, Line: 1}}
		}
		if sf.chain == nil {
			sf.chain = setterChain(sf.owners)
		}
		chain = sf.chain
	default:
		// A generated object: the origin names the kustomization.
		n := byConfig[filepath.Join(t.top.dir, filepath.FromSlash(org.ConfiguredIn))]
		if n == nil {
			o.Origin = manifest.Origin{Location: manifest.Location{Path: t.rel(filepath.Join(t.top.dir, filepath.FromSlash(org.ConfiguredIn)))}}
			owners = []*kustNode{t.top}
			break
		}
		owners = []*kustNode{n}
		o.Origin = manifest.Origin{Location: manifest.Location{Path: n.rel, Line: 1}}
		if g := findGenerator(n, o); g != nil {
			info.origName = g.name
			o.Origin.Line = g.node.Line
			loc.source = generatorSource{path: n.rel, node: g.node}
		}
	}
	if chain == nil {
		chain = setterChain(owners)
	}
	loc.obj = info
	for _, s := range chain {
		if s.matches(&info) {
			loc.setters = append(loc.setters, s)
		}
	}
	if loc.source != nil || len(loc.setters) > 0 {
		o.Locator = loc
	}
}

// findSourceDoc finds the document an object came from: same kind and
// name; else the longest source name the rendered name contains (a prefix
// or suffix was added); else the only document of that kind.
func findSourceDoc(sf *sourceFile, o *manifest.Object) *manifest.Object {
	kind, name := o.GetKind(), o.GetName()
	var contained, only *manifest.Object
	count := 0
	for i := range sf.objs {
		d := &sf.objs[i]
		if d.GetKind() != kind {
			continue
		}
		count++
		only = d
		dn := d.GetName()
		if dn == name {
			return d
		}
		if dn != "" && strings.Contains(name, dn) && (contained == nil || len(dn) > len(contained.GetName())) {
			contained = d
		}
	}
	if contained != nil {
		return contained
	}
	if count == 1 {
		return only
	}
	return nil
}

// findGenerator finds the generator entry of a generated object: the
// longest generator name of its kind that the rendered name (with prefix,
// suffix and hash) contains.
func findGenerator(n *kustNode, o *manifest.Object) *generatorEntry {
	var best *generatorEntry
	for i := range n.gens {
		g := &n.gens[i]
		if g.kind != o.GetKind() || !strings.Contains(o.GetName(), g.name) {
			continue
		}
		if best == nil || len(g.name) > len(best.name) {
			best = g
		}
	}
	return best
}

// redactNodeDump drops the YAML that some kustomize errors append ("node
// contents:\n..."): it is a piece of a resource, possibly a Secret's
// values, which must not reach a CI log. The error's file and line say
// where to look.
func redactNodeDump(msg string) string {
	const marker = "node contents:"
	i := strings.Index(msg, marker)
	if i < 0 {
		return msg
	}
	return strings.TrimRight(msg[:i], " :") + " (the node's contents are not shown: they may hold Secret values)"
}

// kustomizeError turns a krusty error into a SourceError at the entry of a
// kustomization it most likely concerns, with paths made relative to root.
func (t *kustTree) kustomizeError(err error) error {
	msg := redactNodeDump(err.Error())
	for _, r := range []string{t.realRoot, t.root} {
		msg = strings.ReplaceAll(msg, r+string(filepath.Separator), "")
	}
	// Some messages print Go pointers, different on every run.
	msg = pointerDumpRe.ReplaceAllString(msg, "")
	const advice = "; fix the kustomization (kustomize build reports the same)"
	if loc, note, ok := t.locateBuildError(msg); ok {
		if note != "" {
			msg += "; " + note
		}
		return manifest.Errorf(loc.Path, loc.Line, "kustomize: %s%s", msg, advice)
	}
	var best *errHint
	bestLen := 0
	for i := range t.hints {
		h := &t.hints[i]
		total := 0
		for _, n := range h.needles {
			if !strings.Contains(msg, n) {
				total = -1
				break
			}
			total += len(n)
		}
		if total > bestLen {
			best, bestLen = h, total
		}
	}
	if best != nil {
		return manifest.Errorf(best.path, best.line, "kustomize: %s%s", msg, advice)
	}
	return manifest.Errorf(t.top.rel, 0, "kustomize: %s%s", msg, advice)
}
