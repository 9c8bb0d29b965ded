package manifest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Limits bound what one side may feed the decoder, so that a hostile PR
// cannot exhaust the runner's memory.
type Limits struct {
	MaxFileBytes  int64 // one source file
	MaxTotalBytes int64 // all files of one side
	MaxDocuments  int   // YAML documents of one side
	MaxNodes      int   // YAML nodes of one document after alias expansion
	MaxDepth      int   // nesting depth of one document
}

// DefaultLimits are generous for real repositories and small enough to stop
// bombs early.
var DefaultLimits = Limits{
	MaxFileBytes:  8 << 20,
	MaxTotalBytes: 256 << 20,
	MaxDocuments:  20000,
	MaxNodes:      1_000_000,
	MaxDepth:      100,
}

// SourceError is bad input at a place in a source file.
type SourceError struct {
	Location
	Msg string
}

func (e *SourceError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Location.String() + ": " + e.Msg
}

// Errorf builds a SourceError.
func Errorf(path string, line int, format string, args ...any) *SourceError {
	return &SourceError{Location: Location{Path: path, Line: line}, Msg: fmt.Sprintf(format, args...)}
}

// Decoder turns YAML or JSON streams into Objects, counting against Limits.
type Decoder struct {
	Limits    Limits
	documents int
	bytes     int64
}

// NewDecoder returns a decoder for one side.
func NewDecoder(l Limits) *Decoder { return &Decoder{Limits: l} }

// Decode parses a multi-document YAML (or JSON) stream read from path
// (already relative to the side's root). Empty documents are skipped; List
// kinds are flattened; each object records its start line and a locator for
// its fields.
func (d *Decoder) Decode(path string, data []byte) ([]Object, error) {
	if err := d.account(path, int64(len(data))); err != nil {
		return nil, err
	}
	if !utf8.Valid(data) {
		return nil, Errorf(path, firstInvalidUTF8Line(data), "file is not valid UTF-8")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Object
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, YAMLErrorIn(path, data, d.Limits.MaxDepth, err)
		}
		d.documents++
		if d.documents > d.Limits.MaxDocuments {
			return nil, Errorf(path, doc.Line, "too many YAML documents (limit %d per side)", d.Limits.MaxDocuments)
		}
		objs, err := d.decodeDocument(path, &doc)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
}

// DecodeNode decodes one document that is already a YAML node (a
// renderer's in-memory output), under the same limits as Decode. Its size
// is counted as the bytes of its keys and scalar values, a lower bound of
// its YAML text that needs no encoding.
func (d *Decoder) DecodeNode(path string, root *yaml.Node) ([]Object, error) {
	if err := d.account(path, nodeBytes(root, 0)); err != nil {
		return nil, err
	}
	d.documents++
	if d.documents > d.Limits.MaxDocuments {
		return nil, Errorf(path, root.Line, "too many YAML documents (limit %d per side)", d.Limits.MaxDocuments)
	}
	if root.Kind == yaml.DocumentNode {
		return d.decodeDocument(path, root)
	}
	return d.decodeDocument(path, &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}})
}

// nodeBytes is the size of n's keys and scalars; aliases are not followed
// (CheckExpansion bounds them).
func nodeBytes(n *yaml.Node, depth int) int64 {
	if n == nil || depth > 1000 {
		return 0
	}
	total := int64(len(n.Value))
	for _, c := range n.Content {
		total += nodeBytes(c, depth+1)
	}
	return total
}

func (d *Decoder) account(path string, n int64) error {
	if n > d.Limits.MaxFileBytes {
		return Errorf(path, 0, "file is %d bytes, above the limit of %d", n, d.Limits.MaxFileBytes)
	}
	d.bytes += n
	if d.bytes > d.Limits.MaxTotalBytes {
		return Errorf(path, 0, "sources exceed %d bytes in total", d.Limits.MaxTotalBytes)
	}
	return nil
}

func (d *Decoder) decodeDocument(path string, doc *yaml.Node) ([]Object, error) {
	if len(doc.Content) == 0 {
		return nil, nil // empty document
	}
	root := doc.Content[0]
	if err := CheckExpansion(path, root, d.Limits); err != nil {
		return nil, err
	}
	v, err := toJSONValue(path, root, 0, d.Limits.MaxDepth)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil // a document holding only null or comments
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Errorf(path, root.Line, "document is not a Kubernetes object (a mapping with apiVersion and kind)")
	}
	if isList(m) {
		return d.flattenList(path, root, m)
	}
	obj, err := newObject(path, root, m)
	if err != nil {
		return nil, err
	}
	return []Object{obj}, nil
}

func isList(m map[string]any) bool {
	kind, _ := m["kind"].(string)
	_, hasItems := m["items"]
	return strings.HasSuffix(kind, "List") && hasItems
}

func (d *Decoder) flattenList(path string, root *yaml.Node, m map[string]any) ([]Object, error) {
	items, ok := m["items"].([]any)
	if !ok {
		return nil, Errorf(path, root.Line, "%s items is not a list", m["kind"])
	}
	itemsNode := MapValue(root, "items")
	for itemsNode != nil && itemsNode.Kind == yaml.AliasNode {
		itemsNode = itemsNode.Alias
	}
	// itemNode is the i-th item's node, or the list's own when the decoded
	// items do not line up with the nodes (an alias or merge made them).
	itemNode := func(i int) *yaml.Node {
		if itemsNode != nil && itemsNode.Kind == yaml.SequenceNode && i < len(itemsNode.Content) {
			return itemsNode.Content[i]
		}
		return root
	}
	var out []Object
	for i, it := range items {
		im, ok := it.(map[string]any)
		if !ok {
			return nil, Errorf(path, itemNode(i).Line, "list item is not an object")
		}
		obj, err := newObject(path, itemNode(i), im)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

func newObject(path string, node *yaml.Node, m map[string]any) (Object, error) {
	if err := checkMetadata(path, node, m); err != nil {
		return Object{}, err
	}
	if err := checkSecretValues(path, node, m); err != nil {
		return Object{}, err
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		return Object{}, Errorf(path, node.Line, "object has no apiVersion or kind")
	}
	if u.GetName() == "" && u.GetGenerateName() == "" {
		return Object{}, Errorf(path, node.Line, "%s has no metadata.name", u.GetKind())
	}
	return Object{
		Unstructured: u,
		Origin:       Origin{Location: Location{Path: path, Line: node.Line}},
		Locator:      NodeLocator{Path: path, Node: node},
	}, nil
}

// checkMetadata refuses an object whose metadata, or whose name,
// generateName or namespace, has the wrong type. unstructured reads a value
// of the wrong type as empty: a namespace written as a mapping, a list or a
// number would silently become "no namespace" (the default namespace to
// kubectl), and aegis would judge an object the API server refuses.
func checkMetadata(path string, node *yaml.Node, m map[string]any) error {
	md, ok := m["metadata"]
	if !ok || md == nil {
		return nil // "has no metadata.name" says it
	}
	mdm, ok := md.(map[string]any)
	if !ok {
		return Errorf(path, fieldLine(node, "metadata"), "metadata is %s; it must be a mapping (name, namespace, labels ...)", describeValue(md))
	}
	for _, key := range []string{"name", "generateName", "namespace"} {
		v, ok := mdm[key]
		if !ok || v == nil {
			continue
		}
		if _, ok := v.(string); !ok {
			hint := ""
			switch v.(type) {
			case int64, float64, bool:
				hint = " (quote it if it is meant as a name)"
			}
			return Errorf(path, fieldLine(node, "metadata."+key), "metadata.%s is %s; it must be a string%s", key, describeValue(v), hint)
		}
	}
	return nil
}

// checkSecretValues refuses a core Secret whose data or stringData the
// API server would refuse: data a mapping of base64 strings, stringData a
// mapping of strings. The message names the key and never the value.
func checkSecretValues(path string, node *yaml.Node, m map[string]any) error {
	if m["kind"] != "Secret" || m["apiVersion"] != "v1" {
		return nil
	}
	for _, field := range []string{"data", "stringData"} {
		v, ok := m[field]
		if !ok || v == nil {
			continue
		}
		vals, ok := v.(map[string]any)
		if !ok {
			return Errorf(path, fieldLine(node, field), "Secret %s is %s; it must be a mapping of keys to values (the value is not shown)", field, describeKind(v))
		}
		for k, val := range vals {
			str, ok := val.(string)
			if !ok && val != nil {
				return Errorf(path, fieldLine(node, field+"."+k), "Secret %s.%s is %s; it must be a string (the value is not shown)", field, k, describeKind(val))
			}
			if field == "data" && ok {
				if _, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\n", "", "\r", "").Replace(str)); err != nil {
					return Errorf(path, fieldLine(node, field+"."+k), "Secret data.%s is not base64, which the API server refuses (put plain text under stringData; the value is not shown)", k)
				}
			}
		}
	}
	return nil
}

// describeKind names the type of a decoded value without its content.
func describeKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	}
	return "not a string"
}

// fieldLine is the line of the key of a field of the document at node, or
// of the deepest part of it found (the document's own line at worst).
func fieldLine(node *yaml.Node, field string) int {
	if line, matched := LocateNode(node, ParsePath(field)); matched > 0 && line > 0 {
		return line
	}
	return node.Line
}

func describeValue(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("a %T", v)
}

// CheckExpansion rejects alias bombs and deep nesting in a parsed YAML
// document: it counts nodes as if every alias were expanded, memoising per
// anchor so the count itself stays cheap. Every reader of untrusted YAML
// (manifests, kustomizations, patches, values) runs it before decoding.
func CheckExpansion(path string, root *yaml.Node, l Limits) error {
	// memo holds each node's expanded size and height: an anchor reached
	// again through an alias costs its size once more and must still fit
	// in the depth left at the alias.
	type extent struct {
		size, height int
		bytes        int64 // scalar bytes, keys included, an alias's again at each use
	}
	// An alias copies its anchor's scalars wherever it is used once the
	// document is converted (to JSON, to a map): a long string behind
	// nested aliases passes a count of nodes and still allocates
	// gigabytes. The expanded bytes may be at most twice the file limit.
	maxBytes := 2 * l.MaxFileBytes
	memo := map[*yaml.Node]extent{}
	var measure func(n *yaml.Node, depth int) (extent, error)
	measure = func(n *yaml.Node, depth int) (extent, error) {
		if depth > l.MaxDepth {
			return extent{}, Errorf(path, n.Line, "document nests deeper than %d levels", l.MaxDepth)
		}
		if n.Kind == yaml.AliasNode {
			n = n.Alias
			if n == nil {
				return extent{size: 1}, nil
			}
		}
		if e, ok := memo[n]; ok {
			if depth+e.height > l.MaxDepth {
				return extent{}, Errorf(path, n.Line, "document nests deeper than %d levels", l.MaxDepth)
			}
			return e, nil
		}
		e := extent{size: 1, bytes: int64(len(n.Value))}
		for _, c := range n.Content {
			ce, err := measure(c, depth+1)
			if err != nil {
				return extent{}, err
			}
			e.size += ce.size
			e.bytes += ce.bytes
			e.height = max(e.height, ce.height+1)
			if e.size > l.MaxNodes {
				return extent{}, Errorf(path, n.Line, "document expands to more than %d YAML nodes (alias bomb?)", l.MaxNodes)
			}
			if maxBytes > 0 && e.bytes > maxBytes {
				return extent{}, Errorf(path, n.Line, "document expands to more than %d bytes through its aliases (alias bomb?)", maxBytes)
			}
		}
		memo[n] = e
		return e, nil
	}
	_, err := measure(root, 0)
	return err
}

// toJSONValue converts a YAML node into the values encoding/json produces
// (map[string]any, []any, string, int64, float64, bool, nil), the form
// unstructured objects need. Timestamps stay strings, as kubectl keeps them.
func toJSONValue(path string, n *yaml.Node, depth, maxDepth int) (any, error) {
	if depth > maxDepth {
		return nil, Errorf(path, n.Line, "document nests deeper than %d levels", maxDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return toJSONValue(path, n.Alias, depth+1, maxDepth)
	case yaml.MappingNode:
		return mappingValue(path, n, depth, maxDepth)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := toJSONValue(path, c, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		return scalarValue(path, n)
	}
	return nil, Errorf(path, n.Line, "unsupported YAML node")
}

func mappingValue(path string, n *yaml.Node, depth, maxDepth int) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			if err := mergeInto(path, out, vn, depth, maxDepth); err != nil {
				return nil, err
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, Errorf(path, k.Line, "mapping key is not a string")
		}
		if _, dup := out[k.Value]; dup {
			return nil, Errorf(path, k.Line, "duplicate key %q", k.Value)
		}
		v, err := toJSONValue(path, vn, depth+1, maxDepth)
		if err != nil {
			return nil, err
		}
		out[k.Value] = v
	}
	return out, nil
}

// mergeInto applies a YAML merge key ("<<: *anchor"); explicit keys win.
func mergeInto(path string, out map[string]any, vn *yaml.Node, depth, maxDepth int) error {
	srcs := []*yaml.Node{vn}
	if vn.Kind == yaml.SequenceNode {
		srcs = vn.Content
	}
	for _, s := range srcs {
		v, err := toJSONValue(path, s, depth+1, maxDepth)
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return Errorf(path, s.Line, "merge key value is not a mapping")
		}
		for k, x := range m {
			if _, set := out[k]; !set {
				out[k] = x
			}
		}
	}
	return nil
}

func scalarValue(path string, n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, Errorf(path, n.Line, "invalid boolean %q", n.Value)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, Errorf(path, n.Line, "invalid integer %q", n.Value)
		}
		return f, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, Errorf(path, n.Line, "invalid number %q", n.Value)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			// Kubernetes objects are JSON, which has no infinity or NaN.
			return nil, Errorf(path, n.Line, "%s is not a number a Kubernetes object can hold (JSON has no infinity or NaN); quote it if it is a string", n.Value)
		}
		return f, nil
	}
	return n.Value, nil
}

var yamlLineRe = "line "

// YAMLError turns a yaml.v3 error ("yaml: line 3: ...") into a SourceError.
func YAMLError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, yamlLineRe); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if line, convErr := strconv.Atoi(num); convErr == nil {
				return Errorf(path, line, "invalid YAML:%s", tail)
			}
		}
	}
	return Errorf(path, 0, "invalid YAML: %s", msg)
}

// YAMLErrorIn is YAMLError for an error parsing data: yaml.v3 gives no
// line when a document nests past its own limit (10,000 levels, a JSON or
// flow-style bomb), so the line where the nesting passes maxDepth is found
// here, and the message says what the limit is.
func YAMLErrorIn(path string, data []byte, maxDepth int, err error) error {
	if strings.Contains(err.Error(), "exceeded max depth") {
		return Errorf(path, NestingLine(data, maxDepth), "document nests deeper than %d levels", maxDepth)
	}
	if line, r := FirstControlLine(data); line > 0 && strings.Contains(err.Error(), "control characters") {
		// yaml.v3 refuses a control character anywhere in the stream,
		// without a line.
		return Errorf(path, line, "%s is not allowed in YAML; remove it (is this a binary file?)", controlName(r))
	}
	return YAMLError(path, err)
}

// FirstControlLine is the line of the first character of data that YAML
// does not allow in a stream (a NUL byte, another C0 or C1 control
// character other than tab, line feed, carriage return and NEL, a
// surrogate, U+FFFE or U+FFFF) and that character, or 0 when there is none.
// data must be valid UTF-8.
func FirstControlLine(data []byte) (int, rune) {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == '\n' {
			line++
		} else if !yamlPrintable(r) {
			return line, r
		}
		data = data[size:]
	}
	return 0, 0
}

// yamlPrintable is the character set of a YAML stream as yaml.v3's reader
// checks it.
func yamlPrintable(r rune) bool {
	switch {
	case r == 0x09, r == 0x0A, r == 0x0D, r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7E:
		return true
	case r >= 0xA0 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

func controlName(r rune) string {
	if r == 0 {
		return "a NUL byte"
	}
	return fmt.Sprintf("control character %U", r)
}

// NestingLine is the line where the flow-style nesting ('[' and '{'
// outside quoted strings and comments) of data first passes limit, or 0
// when it never does (block-style nesting is not counted).
func NestingLine(data []byte, limit int) int {
	line, depth := 1, 0
	var quote byte // the open quote, 0 outside a quoted string
	comment := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '\n' {
			line++
			comment = false
			continue
		}
		switch {
		case comment:
		case quote == '"':
			if c == '\\' {
				i++
			} else if c == '"' {
				quote = 0
			}
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			comment = true
		case c == '[' || c == '{':
			depth++
			if depth > limit {
				return line
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return 0
}

// FirstInvalidUTF8Line is the line of the first byte of data that is not
// valid UTF-8, or 0 when data is valid.
func FirstInvalidUTF8Line(data []byte) int {
	if utf8.Valid(data) {
		return 0
	}
	return firstInvalidUTF8Line(data)
}

func firstInvalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return line
}

// MarshalYAML renders a JSON-compatible value as YAML with sorted keys.
func MarshalYAML(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
