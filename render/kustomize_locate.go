package render

import (
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kube-sentient/aegis/manifest"
)

// objInfo is what patch matching knows of a rendered object: its final
// form and the name and namespace it had in its source file (kustomize may
// have changed them with namePrefix, nameSuffix, namespace or a hash).
type objInfo struct {
	u                *unstructured.Unstructured
	origName, origNS string
}

// fieldSetter is a kustomization entry that can set fields of objects: a
// strategic merge patch, a JSON 6902 patch, an images or replicas entry.
type fieldSetter interface {
	matches(o *objInfo) bool
	// locate returns where the entry sets path, how many leading segments
	// of path it reaches, and how it sets it.
	locate(o *objInfo, path manifest.FieldPath) (loc manifest.Location, depth int, how setKind)
}

// setKind says how a patch touches a path.
type setKind int8

const (
	// setPartial: the patch reaches only the first depth segments.
	setPartial setKind = iota
	// setBelow: the patch merges into the node at path (a strategic merge
	// patch's mapping or list item, a JSON 6902 operation on a field
	// below it): it owns the node only when the source does not have it.
	setBelow
	// setExact: the patch sets the value at path.
	setExact
)

// kustLocator finds the line that sets a field of a kustomize-rendered
// object: the last patch (or images/replicas entry) that sets its value,
// else the object's own source document when it has the field (a patch
// that only merges into a container does not own the container: a finding
// about a field missing from it stays on the resource), else the last
// patch that adds the node, else the closest ancestor any of them sets.
type kustLocator struct {
	obj     objInfo
	setters []fieldSetter // matching setters, the one applied last first
	source  depthLocator  // nil when the source is unknown (remote)
}

// depthLocator locates a path in an object's own source.
type depthLocator interface {
	locateDepth(path manifest.FieldPath) (manifest.Location, int)
}

// Locate implements manifest.Locator.
func (l *kustLocator) Locate(path manifest.FieldPath) (manifest.Location, bool) {
	if len(path) == 0 {
		return manifest.Location{}, false
	}
	var best manifest.Location
	bestDepth := 0
	var partial []struct {
		loc   manifest.Location
		depth int
	}
	var below *manifest.Location
	for _, s := range l.setters {
		loc, depth, how := s.locate(&l.obj, path)
		switch {
		case how == setExact:
			return loc, true
		case how == setBelow:
			if below == nil {
				below = &loc
			}
			continue
		}
		if depth > 0 {
			partial = append(partial, struct {
				loc   manifest.Location
				depth int
			}{loc, depth})
		}
	}
	if l.source != nil {
		loc, depth := l.source.locateDepth(path)
		if depth == len(path) {
			return loc, true
		}
		// The source wins ties: a patch repeats the structure above what
		// it changes, which the source defines.
		best, bestDepth = loc, depth
	}
	if below != nil {
		return *below, true
	}
	for _, p := range partial {
		if p.depth > bestDepth {
			best, bestDepth = p.loc, p.depth
		}
	}
	if bestDepth == 0 || best.Line == 0 {
		return manifest.Location{}, false
	}
	return best, true
}

// nodeSource locates paths in the YAML document an object came from.
type nodeSource struct {
	path string
	node *yaml.Node
}

func (s nodeSource) locateDepth(path manifest.FieldPath) (manifest.Location, int) {
	line, m := manifest.LocateNode(s.node, path)
	return manifest.Location{Path: s.path, Line: line}, m
}

// generatorSource locates fields of a generated ConfigMap or Secret in its
// generator entry: a data key at its literal or file line.
type generatorSource struct {
	path string
	node *yaml.Node
}

func (s generatorSource) locateDepth(path manifest.FieldPath) (manifest.Location, int) {
	loc := manifest.Location{Path: s.path, Line: s.node.Line}
	if len(path) >= 2 && (path[0] == "data" || path[0] == "binaryData" || path[0] == "stringData") {
		key := path[1]
		for _, src := range []string{"literals", "files"} {
			for _, it := range seqItems(manifest.MapValue(s.node, src)) {
				// "key=value" or "key=file"; a bare file is keyed by its name.
				k, _, ok := strings.Cut(it.Value, "=")
				if !ok {
					k = it.Value[strings.LastIndexByte(it.Value, '/')+1:]
				}
				if k == key {
					return manifest.Location{Path: s.path, Line: it.Line}, len(path)
				}
			}
		}
		if e := mapKeyNode(s.node, "envs"); e != nil {
			return manifest.Location{Path: s.path, Line: e.Line}, 1
		}
	}
	return loc, 1
}

// setterChain returns the setters of every kustomization that can touch an
// object owned by the given kustomizations: their ancestors and the
// components of each, the entry applied last first.
func setterChain(owners []*kustNode) []fieldSetter {
	seen := map[*kustNode]bool{}
	var nodes []*kustNode
	var visit func(n *kustNode)
	visit = func(n *kustNode) {
		if seen[n] {
			return
		}
		seen[n] = true
		nodes = append(nodes, n)
		for _, c := range n.comps {
			visit(c)
		}
		for _, p := range n.parents {
			visit(p)
		}
	}
	for _, o := range owners {
		visit(o)
	}
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].seq > nodes[j].seq })
	var out []fieldSetter
	for _, n := range nodes {
		for i := len(n.setters) - 1; i >= 0; i-- {
			out = append(out, n.setters[i])
		}
	}
	return out
}

// nameMatches tells whether a patch written for name applies to an object
// whose source name is orig and whose rendered name is final. A patch in an
// overlay sees the name after the bases' prefixes and suffixes, so any name
// between the two (containing orig, contained in final) matches.
func nameMatches(name string, o *objInfo) bool {
	final := o.u.GetName()
	if name == final || name == o.origName {
		return true
	}
	return o.origName != "" && strings.Contains(final, name) && strings.Contains(name, o.origName)
}

func (s *selector) matches(o *objInfo) bool {
	gvk := o.u.GroupVersionKind()
	if s.group != nil && !s.group.MatchString(gvk.Group) {
		return false
	}
	if s.version != nil && !s.version.MatchString(gvk.Version) {
		return false
	}
	if s.kind != nil && !s.kind.MatchString(gvk.Kind) {
		return false
	}
	if s.name != nil {
		ok := s.name.MatchString(o.u.GetName()) || s.name.MatchString(o.origName)
		if !ok && s.literalName != "" {
			ok = nameMatches(s.literalName, o)
		}
		if !ok {
			return false
		}
	}
	if s.namespace != nil && !s.namespace.MatchString(o.u.GetNamespace()) && !s.namespace.MatchString(o.origNS) {
		return false
	}
	if s.labels != nil && !s.labels.Matches(labels.Set(o.u.GetLabels())) {
		return false
	}
	if s.annotations != nil && !s.annotations.Matches(labels.Set(o.u.GetAnnotations())) {
		return false
	}
	return true
}

// smpSetter is one strategic merge patch document. Strategic merge patches
// select list items by name, as FieldPath does, so LocateNode walks them
// like a source document.
type smpSetter struct {
	sel                   *selector // from target:, else the document's identity
	kind, name, namespace string
	node                  *yaml.Node
	path                  string
}

func (s *smpSetter) matches(o *objInfo) bool {
	if s.sel != nil {
		return s.sel.matches(o)
	}
	if s.kind != o.u.GetKind() || !nameMatches(s.name, o) {
		return false
	}
	return s.namespace == "" || s.namespace == o.u.GetNamespace() || s.namespace == o.origNS
}

func (s *smpSetter) locate(_ *objInfo, path manifest.FieldPath) (manifest.Location, int, setKind) {
	// apiVersion, kind, metadata.name and metadata.namespace identify the
	// target; the patch does not set them.
	switch path[0] {
	case "apiVersion", "kind":
		return manifest.Location{}, 0, setPartial
	case "metadata":
		if len(path) >= 2 && (path[1] == "name" || path[1] == "namespace") {
			return manifest.Location{}, 0, setPartial
		}
		if !setsMetadata(s.node) {
			return manifest.Location{}, 0, setPartial
		}
	}
	line, m := manifest.LocateNode(s.node, path)
	if m == 0 {
		return manifest.Location{}, 0, setPartial
	}
	loc := manifest.Location{Path: s.path, Line: line}
	if m < len(path) {
		return loc, m, setPartial
	}
	if n := yamlNodeAt(s.node, path); n != nil && merges(n) {
		return loc, m, setBelow
	}
	return loc, m, setExact
}

// merges reports whether a strategic merge patch node merges into what it
// patches (a mapping, or a list of mappings merged by key) rather than
// replacing it ($patch: replace).
func merges(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode:
		return scalar(manifest.MapValue(n, "$patch")) != "replace"
	case yaml.SequenceNode:
		for _, it := range n.Content {
			if it.Kind != yaml.MappingNode {
				return false
			}
		}
		return len(n.Content) > 0
	}
	return false
}

// setsMetadata reports whether a patch's metadata holds more than the
// target's identity.
func setsMetadata(root *yaml.Node) bool {
	md := manifest.MapValue(root, "metadata")
	if md == nil || md.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(md.Content); i += 2 {
		if k := md.Content[i].Value; k != "name" && k != "namespace" {
			return true
		}
	}
	return false
}

// jsonPatchSetter is one JSON 6902 patch: a list of operations.
type jsonPatchSetter struct {
	sel  *selector
	ops  []jsonOp
	path string
}

type jsonOp struct {
	op, path string
	value    *yaml.Node
	line     int
}

func (s *jsonPatchSetter) matches(o *objInfo) bool { return s.sel.matches(o) }

func (s *jsonPatchSetter) locate(o *objInfo, path manifest.FieldPath) (manifest.Location, int, setKind) {
	var best manifest.Location
	bestDepth := 0
	// The last operation that reaches the path wins, as it applied last.
	for i := len(s.ops) - 1; i >= 0; i-- {
		op := s.ops[i]
		opPath, ok := pointerToFieldPath(o.u.Object, op)
		if !ok {
			continue
		}
		// An operation with a value is located at its value (the first
		// line of a block value), not at its "- op:" line.
		at := manifest.Location{Path: s.path, Line: op.line}
		if op.value != nil && op.value.Line > 0 {
			at.Line = op.value.Line
		}
		switch {
		case path.HasPrefix(opPath):
			rest := path[len(opPath):]
			if len(rest) == 0 {
				return at, len(path), setExact
			}
			if op.value != nil && (op.op == "add" || op.op == "replace") {
				line, m := manifest.LocateNode(op.value, rest)
				if m == len(rest) {
					return manifest.Location{Path: s.path, Line: line}, len(path), setExact
				}
				if d := len(opPath) + m; d > bestDepth {
					best, bestDepth = manifest.Location{Path: s.path, Line: line}, d
				}
			} else if len(opPath) > bestDepth {
				best, bestDepth = at, len(opPath)
			}
		case opPath.HasPrefix(path):
			return at, len(path), setBelow // the op sets a field below path
		default:
			if c := commonPrefix(path, opPath); c > bestDepth {
				best, bestDepth = at, c
			}
		}
	}
	return best, bestDepth, setPartial
}

func commonPrefix(a, b manifest.FieldPath) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// pointerToFieldPath turns an operation's JSON pointer into a FieldPath,
// naming list items as "[name=x]" where the rendered object (or, for an
// append, the added value) gives them a name, so that it compares with
// FieldPaths from scanners. It gives up on a removed list item, whose index
// no longer designates it in the rendered object.
func pointerToFieldPath(obj map[string]any, op jsonOp) (manifest.FieldPath, bool) {
	if !strings.HasPrefix(op.path, "/") {
		return nil, false
	}
	segs := strings.Split(op.path[1:], "/")
	var out manifest.FieldPath
	var cur any = obj
	for i, raw := range segs {
		seg := strings.ReplaceAll(strings.ReplaceAll(raw, "~1", "/"), "~0", "~")
		last := i == len(segs)-1
		switch c := cur.(type) {
		case []any:
			idx, err := strconv.Atoi(seg)
			switch {
			case seg == "-":
				if name := scalar(manifest.MapValue(op.value, "name")); name != "" && last {
					out = append(out, manifest.ItemByName(name))
					return out, true
				}
				return out, len(out) > 0
			case err != nil || idx < 0:
				return nil, false
			case last && op.op == "remove":
				return nil, false
			case idx < len(c):
				item := c[idx]
				if m, ok := item.(map[string]any); ok {
					if name, ok := m["name"].(string); ok && name != "" {
						out = append(out, manifest.ItemByName(name))
						cur = item
						continue
					}
				}
				out = append(out, "["+seg+"]")
				cur = item
			default:
				out = append(out, "["+seg+"]")
				cur = nil
			}
		case map[string]any:
			out = append(out, seg)
			cur = c[seg]
		default:
			out = append(out, seg)
			cur = nil
		}
	}
	return out, true
}

// imageSetter is an images entry: it sets the image of every container
// whose image it rewrote.
type imageSetter struct {
	name, newName string
	node          *yaml.Node
	path          string
}

func (s *imageSetter) matches(o *objInfo) bool { return true }

func (s *imageSetter) locate(o *objInfo, path manifest.FieldPath) (manifest.Location, int, setKind) {
	if len(path) < 2 || path[len(path)-1] != "image" {
		return manifest.Location{}, 0, setPartial
	}
	img, ok := valueAt(o.u.Object, path).(string)
	if !ok {
		return manifest.Location{}, 0, setPartial
	}
	want := s.newName
	if want == "" {
		want = s.name
	}
	if imageRepository(img) != want {
		return manifest.Location{}, 0, setPartial
	}
	line := s.node.Line
	for _, k := range []string{"digest", "newTag", "newName"} {
		if kn := mapKeyNode(s.node, k); kn != nil {
			line = kn.Line
			break
		}
	}
	return manifest.Location{Path: s.path, Line: line}, len(path), setExact
}

// imageRepository strips the tag and digest from an image reference.
func imageRepository(img string) string {
	if i := strings.IndexByte(img, '@'); i >= 0 {
		img = img[:i]
	}
	if i := strings.LastIndexByte(img, ':'); i >= 0 && !strings.Contains(img[i:], "/") {
		img = img[:i]
	}
	return img
}

// replicasSetter is a replicas entry.
type replicasSetter struct {
	name string
	node *yaml.Node
	path string
}

func (s *replicasSetter) matches(o *objInfo) bool { return nameMatches(s.name, o) }

func (s *replicasSetter) locate(_ *objInfo, path manifest.FieldPath) (manifest.Location, int, setKind) {
	if len(path) != 2 || path[0] != "spec" || path[1] != "replicas" {
		return manifest.Location{}, 0, setPartial
	}
	line := s.node.Line
	if kn := mapKeyNode(s.node, "count"); kn != nil {
		line = kn.Line
	}
	return manifest.Location{Path: s.path, Line: line}, 2, setExact
}

// valueAt walks a JSON-compatible object along a FieldPath.
func valueAt(obj map[string]any, path manifest.FieldPath) any {
	var cur any = obj
	for _, seg := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[seg]
		case []any:
			if !strings.HasPrefix(seg, "[") || !strings.HasSuffix(seg, "]") {
				return nil
			}
			sel := seg[1 : len(seg)-1]
			cur = nil
			if key, want, ok := strings.Cut(sel, "="); ok {
				for _, it := range c {
					if m, ok := it.(map[string]any); ok && m[key] == want {
						cur = it
						break
					}
				}
			} else if i, err := strconv.Atoi(sel); err == nil && i >= 0 && i < len(c) {
				cur = c[i]
			}
		default:
			return nil
		}
	}
	return cur
}
