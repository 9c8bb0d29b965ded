package render

// Origins without krusty's origin bookkeeping.
//
// aegis needs to know which file each rendered object came from. krusty
// can say (buildMetadata: [originAnnotations]), but once any buildMetadata
// is set it also records every transformer of the build on every resource,
// decoding and re-encoding a growing annotation each time: patches x
// resources x annotation length. A kustomization with 200 inline patches
// took 90 s with origins and 0.3 s without (docs/benchmarks.md).
//
// So aegis first builds without buildMetadata, with its own marker: every
// document of every resource file gets one field naming the file, in
// the bytes aegis serves krusty (guardFS), never on disk. krusty carries
// fields it does not know through every transformer, as it carries its own
// origin annotation. A generated object (no marker)
// is attributed to the one generator that can have made it. The marker is
// removed from the output.
//
// Whenever this could differ from krusty's own origins, aegis builds again
// the old way: a document it cannot mark (a List, no metadata mapping, the
// marker's field already there), a marker found anywhere but in one
// object's marker field (the file was also read as a patch or a
// generator's input), an object without a marker that no generator
// explains, a generator with behavior replace, a build error that the
// unmarked files do not give, remote bases, generator plugins, or the
// user's own buildMetadata. A build error is the one the unmarked files
// give, as kustomize build and Argo CD give it.
// TestKustomizeMarkersMatchOrigins renders the corpus and aegis's test
// trees both ways and compares objects, origins and locations.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"

	"github.com/kube-sentient/aegis/manifest"
)

// markerField carries aegis's origin marker through the build: a field of
// the object's top mapping, not an annotation, because krusty reads every
// resource's annotations (a copy of the map) each time it compares ids,
// which is for every patch and every resource: a marker among them made a
// 1,000-patch build half again as slow. kustomize keeps fields it does not
// know; the API server would refuse it, and it never leaves aegis.
const markerField = "aegis.kube-sentient.dev/source"

// forceKrustyOrigins makes every build use krusty's origin annotations
// (tests compare the two ways).
var forceKrustyOrigins = false

// markedBuilds counts builds whose origins came from markers (for tests).
var markedBuilds atomic.Int64

// markedFiles is the marked content of resource files and how to read the
// markers back.
type markedFiles struct {
	nonce string
	files []*sourceFile     // by marker index
	abs   []string          // absolute path of files[i]
	orig  map[string][]byte // resolved path -> unmarked bytes, to restore
}

// markResourceFiles puts a marker on every document of every resource
// file, in t.data. It reports false (and changes nothing) when a document
// cannot be marked.
func (t *kustTree) markResourceFiles() (*markedFiles, bool, error) {
	nb := make([]byte, 12)
	if _, err := rand.Read(nb); err != nil {
		return nil, false, err
	}
	m := &markedFiles{nonce: "aegis-" + hex.EncodeToString(nb), orig: map[string][]byte{}}
	marked := map[string][]byte{}
	for abs, sf := range t.files {
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, false, nil
		}
		if _, dup := marked[real]; dup {
			return nil, false, nil // one file under two names
		}
		data, ok := t.data[real]
		if !ok {
			return nil, false, nil
		}
		idx := len(m.files)
		out, ok, err := markDocs(sf.rel, data, m.nonce+"/"+strconv.Itoa(idx), t.opts.limits())
		if err != nil || !ok {
			return nil, false, err
		}
		m.files = append(m.files, sf)
		m.abs = append(m.abs, abs)
		m.orig[real] = data
		marked[real] = out
	}
	for real, out := range marked {
		t.data[real] = out
	}
	return m, true, nil
}

func (m *markedFiles) restore(t *kustTree) {
	for real, data := range m.orig {
		t.data[real] = data
	}
}

// markDocs adds the marker field to every document of a resource file.
func markDocs(rel string, data []byte, value string, lim manifest.Limits) ([]byte, bool, error) {
	docs, err := parseYAMLDocs(rel, data, lim)
	if err != nil {
		return nil, false, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	for _, doc := range docs {
		if len(doc.Content) == 0 {
			continue
		}
		top := doc.Content[0]
		if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
			continue // an empty document
		}
		if top.Kind != yaml.MappingNode {
			return nil, false, nil
		}
		if k := manifest.MapValue(top, "kind"); k == nil || strings.HasSuffix(k.Value, "List") {
			return nil, false, nil
		}
		if md := manifest.MapValue(top, "metadata"); md == nil || md.Kind != yaml.MappingNode {
			return nil, false, nil
		}
		if manifest.MapValue(top, markerField) != nil {
			return nil, false, nil // a document that carries the field itself keeps it
		}
		top.Content = append(top.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: markerField},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
		if err := enc.Encode(doc); err != nil {
			return nil, false, nil
		}
	}
	if err := enc.Close(); err != nil {
		return nil, false, nil
	}
	return b.Bytes(), true, nil
}

// buildMarked runs krusty on the marked files and reads the markers back
// as origins. ok is false when the result must come from krusty's own
// origins instead.
func (t *kustTree) buildMarked(fs *guardFS) (objs []manifest.Object, ok bool, err error) {
	// Remote bases' files and generator plugins' output carry no marker,
	// and a name could be mistaken for a local generator's.
	if t.opts.AllowRemoteBases {
		return nil, false, nil
	}
	for _, n := range t.nodeOrder {
		if manifest.MapValue(n.doc, "generators") != nil {
			return nil, false, nil
		}
	}
	m, ok, err := t.markResourceFiles()
	if err != nil || !ok {
		return nil, false, err
	}
	defer m.restore(t)
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, t.top.dir)
	if err != nil {
		// The error kustomize build gives on the unmarked files, as Argo
		// CD would see it; should those build, the marker was the cause
		// and krusty's origins build instead.
		m.restore(t)
		if _, perr := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, t.top.dir); perr != nil {
			return nil, false, t.kustomizeError(perr)
		}
		return nil, false, nil
	}
	return t.markedObjects(rm, m)
}

// markedObjects is objects for a marked build.
func (t *kustTree) markedObjects(rm resmap.ResMap, m *markedFiles) ([]manifest.Object, bool, error) {
	dec := manifest.NewDecoder(t.opts.limits())
	byConfig := map[string]*kustNode{}
	for _, n := range t.nodes {
		byConfig[n.file] = n
	}
	out := make([]manifest.Object, 0, rm.Size())
	for _, r := range rm.Resources() {
		node := r.RNode.YNode()
		var org *resource.Origin
		switch countIn(node, m.nonce, 0) {
		case 0:
			n := t.generatorOf(r.GetKind(), r.GetName())
			if n == nil {
				return nil, false, nil
			}
			org = &resource.Origin{ConfiguredIn: t.relToTop(n.file)}
		case 1:
			v := manifest.MapValue(node, markerField)
			if v == nil {
				return nil, false, nil // the marker moved into the object's content
			}
			rest, found := strings.CutPrefix(v.Value, m.nonce+"/")
			if !found {
				return nil, false, nil
			}
			i, err := strconv.Atoi(rest)
			if err != nil || i < 0 || i >= len(m.files) {
				return nil, false, nil
			}
			org = &resource.Origin{Path: t.relToTop(m.abs[i])}
		default:
			return nil, false, nil
		}
		name := t.top.rel
		if org.Path != "" {
			name = t.rel(filepath.Join(t.top.dir, filepath.FromSlash(org.Path)))
		}
		// The node itself, not its text: krusty's nodes are yaml.v3's.
		objs, err := dec.DecodeNode(name, node)
		if err != nil {
			return nil, false, err
		}
		for i := range objs {
			delete(objs[i].Object, markerField)
			stripInternalAnnotations(objs[i].Object)
			t.attach(&objs[i], org, byConfig)
		}
		out = append(out, objs...)
	}
	markedBuilds.Add(1)
	return out, true, nil
}

// countIn counts the occurrences of s in n's keys and scalar values.
func countIn(n *yaml.Node, s string, depth int) int {
	if n == nil || depth > 1000 {
		return 0
	}
	c := strings.Count(n.Value, s)
	for _, k := range n.Content {
		c += countIn(k, s, depth+1)
	}
	return c
}

// generatorOf is the kustomization whose generator made kind/name, as
// krusty's origin names it: of the generators with the longest name the
// object's name contains, the one that ran first (a later one with
// behavior merge changes the object, not its origin). nil when that is not
// clear: no generator, or one with behavior replace among them.
func (t *kustTree) generatorOf(kind, name string) *kustNode {
	var found *kustNode
	best := -1
	for _, n := range t.nodeOrder {
		for i := range n.gens {
			g := &n.gens[i]
			if g.kind != kind || !strings.Contains(name, g.name) || len(g.name) < best {
				continue
			}
			if scalar(manifest.MapValue(g.node, "behavior")) == "replace" {
				return nil
			}
			if len(g.name) > best || found == nil || n.genSeq < found.genSeq {
				found, best = n, len(g.name)
			}
		}
	}
	return found
}

func (t *kustTree) relToTop(abs string) string {
	r, err := filepath.Rel(t.top.dir, abs)
	if err != nil {
		return abs
	}
	return filepath.ToSlash(r)
}
