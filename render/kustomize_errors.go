package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/kube-sentient/aegis/manifest"
)

// Lines for kustomize's errors. kustomize names the file, at best, never
// the line: aegis finds the key or entry an error is about in its own
// reading of the tree (kustTree) and reports it as file:line.

// kustomizationDecodeError locates an error of decoding a kustomization
// (types.Kustomization.Unmarshal: YAML to JSON, then encoding/json with
// unknown fields refused) at the key it is about in doc.
func kustomizationDecodeError(path string, doc *yaml.Node, err error) error {
	msg := strings.TrimPrefix(err.Error(), "invalid Kustomization: ")
	line := 0
	var ute *json.UnmarshalTypeError
	if !errors.As(err, &ute) {
		// kustomize's wrapping may hide the type: read the message.
		if m := typeErrorRe.FindStringSubmatch(msg); m != nil {
			st, field, _ := strings.Cut(m[2], ".")
			ute = &json.UnmarshalTypeError{Value: m[1], Struct: st, Field: field, Type: goType(m[3])}
		}
	}
	switch {
	case ute != nil:
		if l := typeErrorLine(doc, ute); l > 0 {
			line = l
			msg = fmt.Sprintf("%s is %s, not %s", fieldName(ute.Field), jsonKindName(ute.Value), typeName(ute.Type))
		}
	case strings.HasPrefix(msg, `json: unknown field "`):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, `json: unknown field "`), `"`)
		if k := unknownKey(doc, reflect.TypeOf(types.Kustomization{}), name); k != nil {
			line = k.Line
			msg = fmt.Sprintf("unknown field %q", name)
		}
	}
	return manifest.Errorf(path, line, "invalid kustomization: %s; fix the kustomization (kustomize build reports the same)", msg)
}

var typeErrorRe = regexp.MustCompile(`cannot unmarshal (\w+) into (?:Go struct field )?([\w.]+) of type (\S+)`)

// goType maps a type as encoding/json prints it to a stand-in of the same
// kind, for typeName.
func goType(s string) reflect.Type {
	switch {
	case strings.HasPrefix(s, "[]"):
		return reflect.TypeOf([]string(nil))
	case strings.HasPrefix(s, "map["):
		return reflect.TypeOf(map[string]string(nil))
	case s == "string":
		return reflect.TypeOf("")
	case s == "bool":
		return reflect.TypeOf(false)
	case strings.HasPrefix(s, "int"), strings.HasPrefix(s, "uint"), strings.HasPrefix(s, "float"):
		return reflect.TypeOf(0)
	}
	return reflect.TypeOf(struct{}{})
}

// unknownKey finds the first key of doc (in document order, as
// encoding/json reads) that no field of rt takes and that is spelt name.
func unknownKey(doc *yaml.Node, rt reflect.Type, name string) *yaml.Node {
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, rt reflect.Type) *yaml.Node
	walk = func(n *yaml.Node, rt reflect.Type) *yaml.Node {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil || seen[n] {
			return nil
		}
		seen[n] = true
		for rt.Kind() == reflect.Pointer {
			rt = rt.Elem()
		}
		if implementsUnmarshaler(rt) {
			return nil // it reads itself: no field list to check
		}
		switch rt.Kind() {
		case reflect.Struct:
			if n.Kind != yaml.MappingNode {
				return nil
			}
			fields := jsonFields(rt)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				fi := matchField(fields, k.Value)
				if fi < 0 {
					if k.Value == name {
						return k
					}
					continue
				}
				if found := walk(n.Content[i+1], fields[fi].typ); found != nil {
					return found
				}
			}
		case reflect.Slice, reflect.Array:
			if n.Kind != yaml.SequenceNode {
				return nil
			}
			for _, c := range n.Content {
				if found := walk(c, rt.Elem()); found != nil {
					return found
				}
			}
		case reflect.Map:
			if n.Kind != yaml.MappingNode {
				return nil
			}
			for i := 1; i < len(n.Content); i += 2 {
				if found := walk(n.Content[i], rt.Elem()); found != nil {
					return found
				}
			}
		}
		return nil
	}
	if found := walk(doc, rt); found != nil {
		return found
	}
	// The walk and encoding/json disagree (a type reads itself): the
	// first key so spelt is the best guess.
	return firstKey(doc, name)
}

var jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

func implementsUnmarshaler(rt reflect.Type) bool {
	return rt.Implements(jsonUnmarshaler) || reflect.PointerTo(rt).Implements(jsonUnmarshaler)
}

func firstKey(n *yaml.Node, name string) *yaml.Node {
	seen := map[*yaml.Node]bool{}
	var find func(*yaml.Node) *yaml.Node
	find = func(n *yaml.Node) *yaml.Node {
		if n == nil || seen[n] {
			return nil
		}
		seen[n] = true
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == name {
					return n.Content[i]
				}
			}
		}
		for _, c := range n.Content {
			if f := find(c); f != nil {
				return f
			}
		}
		return nil
	}
	return find(n)
}

// typeErrorLine finds the value a JSON type error is about: the first node
// reached along the error's field path (every item of a list on the way;
// keys matched as encoding/json matches them) whose JSON kind is the one
// the error names.
func typeErrorLine(doc *yaml.Node, ute *json.UnmarshalTypeError) int {
	if ute.Field == "" {
		return 0
	}
	var path []string
	for _, p := range strings.Split(ute.Field, ".") {
		if p != "" {
			path = append(path, p)
		}
	}
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, rest []string) int
	walk = func(n *yaml.Node, rest []string) int {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil || seen[n] {
			return 0
		}
		seen[n] = true
		if len(rest) == 0 {
			if jsonKind(n) == ute.Value {
				return n.Line
			}
			if n.Kind == yaml.SequenceNode { // the item of a list field
				for _, c := range n.Content {
					if l := walk(c, nil); l > 0 {
						return l
					}
				}
			}
			return 0
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if strings.EqualFold(n.Content[i].Value, rest[0]) {
					if l := walk(n.Content[i+1], rest[1:]); l > 0 {
						return l
					}
				}
			}
		case yaml.SequenceNode:
			// Newer encoding/json names the item ("images.1.name").
			if i, err := strconv.Atoi(rest[0]); err == nil {
				if i >= 0 && i < len(n.Content) {
					return walk(n.Content[i], rest[1:])
				}
				return 0
			}
			for _, c := range n.Content {
				if l := walk(c, rest); l > 0 {
					return l
				}
			}
		}
		return 0
	}
	return walk(doc, path)
}

// jsonKind is the JSON kind encoding/json would name for a YAML node.
func jsonKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "object"
	case yaml.SequenceNode:
		return "array"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "number"
	case "!!bool":
		return "bool"
	case "!!null":
		return "null"
	}
	return "string"
}

func jsonKindName(k string) string {
	switch k {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "number":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return "a " + k
}

func typeName(rt reflect.Type) string {
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	switch rt.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return rt.String()
}

// fieldName writes the field of a type error as a path: "images[1].name"
// for encoding/json's "images.1.name".
func fieldName(f string) string {
	var b strings.Builder
	for i, p := range strings.Split(f, ".") {
		if _, err := strconv.Atoi(p); err == nil {
			b.WriteString("[" + p + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// Errors of the build itself (krusty.Run).

var (
	registeredIDRe = regexp.MustCompile(`already registered id: ([^\s':]+)`)
	generatorIDRe  = regexp.MustCompile(`Kind:"([^"]*)".*?Name:"([^"]*)", Namespace:"([^"]*)"\} exists`)
	pointerDumpRe  = regexp.MustCompile(` ?&\{(?:(?:0x[0-9a-f]+|<nil>) ?)+\}`)
	unexpectedOpRe = regexp.MustCompile(`Unexpected kind: (\S+)`)
)

// locateBuildError finds the line a krusty error is about when the error
// says enough to tell: a resource defined twice (the second definition),
// a generator defined twice (the second entry), a JSON 6902 operation that
// does not apply (the operation in its patch file). ok is false when it
// cannot tell; kustomizeError then falls back on its hints.
func (t *kustTree) locateBuildError(msg string) (loc manifest.Location, note string, ok bool) {
	if m := registeredIDRe.FindStringSubmatch(msg); m != nil {
		if kind, name, ns, idOK := parseResID(m[1]); idOK {
			var defs []manifest.Object
			for _, sf := range t.fileOrder {
				for _, o := range sf.objs {
					if o.GetKind() == kind && o.GetName() == name && (ns == "" || o.GetNamespace() == "" || o.GetNamespace() == ns) {
						defs = append(defs, o)
					}
				}
			}
			if len(defs) >= 2 {
				return defs[1].Origin.Location, fmt.Sprintf("%s/%s is defined here and at %s", kind, name, defs[0].Origin.Location), true
			}
		}
	}
	if m := generatorIDRe.FindStringSubmatch(msg); m != nil {
		kind, name := m[1], m[2]
		var gens []generatorEntry
		for _, n := range t.nodeOrder {
			for _, g := range n.gens {
				if g.kind == kind && g.name == name {
					gens = append(gens, g)
				}
			}
		}
		if len(gens) >= 2 {
			first := manifest.Location{Path: gens[0].kust.rel, Line: gens[0].node.Line}
			return manifest.Location{Path: gens[1].kust.rel, Line: gens[1].node.Line}, fmt.Sprintf("%s %q is generated here and at %s; give one of them another name, or behavior: merge", kind, name, first), true
		}
	}
	var best *jsonOp
	var bestFile string
	bestLen := 0
	opKind := ""
	if m := unexpectedOpRe.FindStringSubmatch(msg); m != nil {
		opKind = m[1]
	}
	for _, n := range t.nodeOrder {
		for _, s := range n.setters {
			js, isJSON := s.(*jsonPatchSetter)
			if !isJSON {
				continue
			}
			for i := range js.ops {
				op := &js.ops[i]
				switch {
				case opKind != "" && op.op == opKind:
					return manifest.Location{Path: js.path, Line: op.line}, "", true
				case op.path != "" && len(op.path) > bestLen && mentionsPointer(msg, op.path):
					best, bestFile, bestLen = op, js.path, len(op.path)
				}
			}
		}
	}
	if best != nil {
		return manifest.Location{Path: bestFile, Line: best.line}, "", true
	}
	return manifest.Location{}, "", false
}

// mentionsPointer reports whether msg quotes the JSON pointer p as a whole
// (not as a prefix of a longer pointer).
func mentionsPointer(msg, p string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], p)
		if j < 0 {
			return false
		}
		end := i + j + len(p)
		if end == len(msg) || strings.ContainsRune("\"': ,)", rune(msg[end])) {
			return true
		}
		i = i + j + 1
	}
}

// parseResID reads kustomize's ResId string, "Kind.version.group/name.namespace"
// ("[noGrp]", "[noNs]" and the like for the empty ones).
func parseResID(s string) (kind, name, ns string, ok bool) {
	gvk, nn, found := strings.Cut(s, "/")
	if !found {
		return "", "", "", false
	}
	kind, _, _ = strings.Cut(gvk, ".")
	i := strings.LastIndex(nn, ".")
	if i < 0 {
		return "", "", "", false
	}
	name, ns = nn[:i], nn[i+1:]
	if strings.HasPrefix(ns, "[") {
		ns = ""
	}
	return kind, name, ns, kind != "" && name != ""
}
