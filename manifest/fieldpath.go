package manifest

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// FieldPath addresses a field inside an object: map keys, and list items
// written "[name=app]" (selected by their name) or "[2]" (by index).
// Paths select list items by name so that they survive reordering and point
// at the same item in a base file, a patch and the rendered object.
type FieldPath []string

// ParsePath parses "spec.template.spec.containers[name=app].image".
func ParsePath(s string) FieldPath {
	var p FieldPath
	for s != "" {
		switch {
		case s[0] == '.':
			s = s[1:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return append(p, s)
			}
			p = append(p, s[:end+1])
			s = s[end+1:]
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				return append(p, s)
			}
			p = append(p, s[:end])
			s = s[end:]
		}
	}
	return p
}

func (p FieldPath) String() string {
	var b strings.Builder
	for i, seg := range p {
		if i > 0 && !strings.HasPrefix(seg, "[") {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// Child returns a new path with segs appended; p is not modified.
func (p FieldPath) Child(segs ...string) FieldPath {
	out := make(FieldPath, 0, len(p)+len(segs))
	return append(append(out, p...), segs...)
}

// HasPrefix reports whether q is a prefix of p.
func (p FieldPath) HasPrefix(q FieldPath) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// ItemByName returns the list selector segment for a named item.
func ItemByName(name string) string { return "[name=" + name + "]" }

// LocateNode walks a YAML node along path and returns the line of the
// deepest node reached and how many segments matched. For a mapping entry
// the line is the key's line, which is what a reader looks for.
func LocateNode(root *yaml.Node, path FieldPath) (line, matched int) {
	n := root
	if n == nil {
		return 0, 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line = n.Line
	for _, seg := range path {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		next, at := childNode(n, seg)
		if next == nil {
			return line, matched
		}
		n, line = next, at
		matched++
	}
	return line, matched
}

// childNode returns the node for one path segment and the line to report.
func childNode(n *yaml.Node, seg string) (*yaml.Node, int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml.SequenceNode:
		if !strings.HasPrefix(seg, "[") || !strings.HasSuffix(seg, "]") {
			return nil, 0
		}
		sel := seg[1 : len(seg)-1]
		if key, want, ok := strings.Cut(sel, "="); ok {
			for _, item := range n.Content {
				if v := MapValue(item, key); v != nil && v.Value == want {
					return item, item.Line
				}
			}
			return nil, 0
		}
		if i, err := strconv.Atoi(sel); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}

// MapValue returns the value node of key in a mapping node (or in the
// mapping a document node holds), or nil.
func MapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// NodeLocator locates fields in the YAML document an object was decoded from.
type NodeLocator struct {
	Path string
	Node *yaml.Node
}

// Locate returns the line of the deepest part of path the document sets.
func (l NodeLocator) Locate(path FieldPath) (Location, bool) {
	line, matched := LocateNode(l.Node, path)
	if matched == 0 || line == 0 {
		return Location{}, false
	}
	return Location{Path: l.Path, Line: line}, true
}
