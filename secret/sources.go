package secret

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kube-sentient/aegis/manifest"
)

// Limits of a tree walk: secrets are looked for in files a renderer could
// read, and a tree larger than the renderers accept is refused by them.
const (
	maxSourceFileBytes = 8 << 20
	maxSourceTreeBytes = 256 << 20
)

// kustomizationNames are the file names kustomize reads a kustomization
// from.
var kustomizationNames = map[string]bool{"kustomization.yaml": true, "kustomization.yml": true, "Kustomization": true}

// RegisterTree registers with Default every secret value the tree at root
// holds, found by its source rather than by the shape of any message that
// might print it: every value under an object of kind Secret (any group or
// version, in any file a renderer reads, parsed or not), the literals,
// files and env files of kustomize's secretGenerator, and the Secret
// values of kustomize patches. It runs before rendering, so an error a
// renderer raises on such a value is already masked when printed. It
// never fails: what it cannot read, no renderer can either.
func RegisterTree(root string) { Default.AddTree(root) }

// AddTree is RegisterTree for r.
func (r *Redactor) AddTree(root string) {
	var total int64
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks: their targets inside the tree are walked as themselves
		}
		name := d.Name()
		isKustomization := kustomizationNames[name]
		if !isKustomization && !isYAMLName(name) {
			return nil
		}
		data, ok := readBounded(p, &total)
		if !ok {
			return nil
		}
		r.addDocuments(data)
		r.addGeneratorConfigs(root, filepath.Dir(p), data, &total)
		if isKustomization {
			r.addKustomization(root, filepath.Dir(p), data, &total)
		}
		return nil
	})
}

func isYAMLName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json", ".tpl":
		return true
	}
	return false
}

// readBounded reads a regular file within the walk's byte budget.
func readBounded(p string, total *int64) ([]byte, bool) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxSourceFileBytes || *total+fi.Size() > maxSourceTreeBytes {
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSourceFileBytes))
	if err != nil {
		return nil, false
	}
	*total += int64(len(data))
	return data, true
}

// docSplitRe splits a YAML stream into documents, as a fallback for a
// stream the parser refuses.
var docSplitRe = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// secretKindRe spots a Secret in text the YAML parser refuses (a Helm
// template, a broken file): its values are registered line by line.
var secretKindRe = regexp.MustCompile(`(?mi)^\s*"?kind"?\s*:\s*["']?secret["']?\s*,?\s*$`)

// addDocuments registers the Secret values of every document in data.
func (r *Redactor) addDocuments(data []byte) {
	if !bytes.Contains(bytes.ToLower(data), []byte("secret")) {
		return
	}
	for _, doc := range docSplitRe.Split(string(data), -1) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &n); err == nil {
			r.addNode(&n)
		} else if secretKindRe.MatchString(doc) {
			r.addSecretText(doc)
		}
	}
}

// addNode registers the values of every Secret object in a parsed
// document: the document itself, a List's items, any nested object.
func (r *Redactor) addNode(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			r.addNode(c)
		}
	case yaml.MappingNode:
		if isSecretMapping(n) {
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "apiVersion", "kind", "type", "immutable", "metadata":
				default:
					r.addLeaves(n.Content[i+1])
				}
			}
		}
		for i := 1; i < len(n.Content); i += 2 {
			r.addNode(n.Content[i])
		}
	}
}

// isSecretMapping says whether n is a Secret object: kind Secret and an
// apiVersion or metadata (a selector such as a replacement's source or a
// patch's target names kind Secret too, and holds no value).
func isSecretMapping(n *yaml.Node) bool {
	var secret, object bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "kind":
			secret = manifest.IsSecret(n.Content[i+1].Value)
		case "apiVersion", "metadata":
			object = true
		}
	}
	return secret && object
}

// addLeaves registers every scalar under n, and what a base64 scalar
// decodes to. Aliases are not followed (they point at nodes walked
// already, and following them is how a small file becomes a huge one).
func (r *Redactor) addLeaves(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		r.addValue(n.Value)
	case yaml.MappingNode: // values only: a key names a value
		for i := 1; i < len(n.Content); i += 2 {
			r.addLeaves(n.Content[i])
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			r.addLeaves(c)
		}
	}
}

// addValue registers v and, when v is base64, what it decodes to.
func (r *Redactor) addValue(v string) {
	r.Add(v)
	compact := strings.Join(strings.Fields(v), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(compact); err == nil && len(b) > 0 {
			r.Add(string(b))
			return
		}
	}
}

// addSecretText registers, from a Secret's text the parser refused, the
// value of every key line below its data or stringData, and every list
// item and block line there: without a parse, every candidate counts.
func (r *Redactor) addSecretText(doc string) {
	inValues := false
	valuesIndent := -1
	for _, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		key, value, hasColon := strings.Cut(trimmed, ":")
		key = strings.Trim(key, `"' `)
		if indent <= valuesIndent || valuesIndent < 0 {
			inValues = false
			valuesIndent = -1
			if hasColon && (strings.EqualFold(key, "data") || strings.EqualFold(key, "stringData")) {
				inValues = true
				valuesIndent = indent
				if v := strings.TrimSpace(value); v != "" && v != "|" && v != ">" {
					r.addValue(strings.Trim(v, `"'{}[] `))
				}
				continue
			}
		}
		if !inValues {
			continue
		}
		r.addValue(trimmed)
		item := strings.TrimSpace(strings.TrimPrefix(trimmed, "-"))
		if _, v, ok := strings.Cut(item, ":"); ok {
			r.addValue(strings.Trim(strings.TrimSpace(v), `"',`))
		}
		r.addValue(strings.Trim(item, `"',`))
	}
}

// RegisterObject registers with Default the values of a rendered object
// when it is a Secret (kind Secret in any group or version): every value
// but its apiVersion, kind, type, immutable and metadata.
func RegisterObject(obj map[string]any) { Default.AddObject(obj) }

// AddObject is RegisterObject for r.
func (r *Redactor) AddObject(obj map[string]any) {
	kind, _ := obj["kind"].(string)
	if !manifest.IsSecret(kind) {
		return
	}
	for k, v := range obj {
		switch k {
		case "apiVersion", "kind", "type", "immutable", "metadata":
		default:
			r.addAny(v)
		}
	}
}

func (r *Redactor) addAny(v any) {
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			r.addAny(c)
		}
	case []any:
		for _, c := range x {
			r.addAny(c)
		}
	case string:
		r.addValue(x)
	case nil:
	default:
		r.Add(fmt.Sprint(x))
	}
}
