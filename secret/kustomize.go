package secret

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kube-sentient/aegis/manifest"
)

// addKustomization registers the sources of a kustomization's Secret
// generators (literals, files, env files) and the Secret values its inline
// patches carry. Keys match in any spelling kustomize accepts (Go's JSON
// case folding), so a hostile spelling cannot hide a source.
func (r *Redactor) addKustomization(root, dir string, data []byte, total *int64) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return
	}
	k := doc.Content[0]
	for _, gen := range fieldsFolded(k, "secretGenerator") {
		for _, g := range items(gen) {
			r.addGenerator(root, dir, g, total)
		}
	}
	r.addPatches(k)
}

// addGeneratorConfigs registers the sources of kustomize SecretGenerator
// plugin configurations (kind: SecretGenerator, named by a
// kustomization's generators field) in data, a file in dir.
func (r *Redactor) addGeneratorConfigs(root, dir string, data []byte, total *int64) {
	if !bytes.Contains(bytes.ToLower(data), []byte("secretgenerator")) {
		return
	}
	for _, doc := range docSplitRe.Split(string(data), -1) {
		var n yaml.Node
		if yaml.Unmarshal([]byte(doc), &n) != nil || len(n.Content) == 0 {
			continue
		}
		for _, kind := range fieldsFolded(n.Content[0], "kind") {
			if strings.EqualFold(kind.Value, "SecretGenerator") {
				r.addGenerator(root, dir, n.Content[0], total)
			}
		}
	}
}

// addGenerator registers one Secret generator's literals, files and env
// files.
func (r *Redactor) addGenerator(root, dir string, g *yaml.Node, total *int64) {
	for _, lit := range strings2(fieldsFolded(g, "literals")) {
		r.addLiteral(lit)
	}
	for _, f := range strings2(fieldsFolded(g, "files")) {
		if content, ok := r.readSource(root, dir, fileSource(f), total); ok {
			r.Add(string(content))
		}
	}
	for _, f := range strings2(append(fieldsFolded(g, "envs"), fieldsFolded(g, "env")...)) {
		if content, ok := r.readSource(root, dir, f, total); ok {
			r.addEnvFile(content)
		}
	}
}

// addPatches registers what a kustomization's inline patches carry for a
// Secret.
func (r *Redactor) addPatches(k *yaml.Node) {
	// Inline patches: a Secret patched in place carries its values there.
	for _, field := range []string{"patches", "patchesStrategicMerge", "patchesJson6902"} {
		for _, list := range fieldsFolded(k, field) {
			for _, p := range items(list) {
				var text string
				if p.Kind == yaml.ScalarNode {
					text = p.Value
				}
				for _, pn := range fieldsFolded(p, "patch") {
					text = pn.Value
				}
				if text != "" {
					r.addDocuments([]byte(text))
					if targetsSecret(p) {
						r.addPatchValues(text)
					}
				}
			}
		}
	}
}

// addLiteral registers a generator literal: the value after "key=", and
// the whole literal (a literal without "key=" is an error kustomize prints
// whole).
func (r *Redactor) addLiteral(lit string) {
	r.Add(lit)
	if _, v, ok := strings.Cut(lit, "="); ok {
		r.Add(strings.Trim(v, `"'`), v)
	}
}

// addEnvFile registers every line of an env file and the value of every
// KEY=VALUE line, whatever its encoding.
func (r *Redactor) addEnvFile(content []byte) {
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 64<<10), maxSourceFileBytes)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r.Add(line)
		if _, v, ok := strings.Cut(line, "="); ok {
			r.Add(strings.Trim(v, `"'`), v)
		}
	}
}

// addPatchValues registers the "value" of every JSON 6902 operation of a
// patch that targets a Secret.
func (r *Redactor) addPatchValues(text string) {
	var n yaml.Node
	if yaml.Unmarshal([]byte(text), &n) != nil {
		return
	}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for _, v := range fieldsFolded(n, "value") {
				r.addLeaves(v)
			}
		}
	}
	walk(&n)
}

// targetsSecret says whether a patch entry's target selects kind Secret.
func targetsSecret(p *yaml.Node) bool {
	for _, t := range fieldsFolded(p, "target") {
		for _, kind := range fieldsFolded(t, "kind") {
			if manifest.IsSecret(kind.Value) {
				return true
			}
		}
	}
	return false
}

// fileSource is the path of a generator "files" entry ("key=path" or
// "path").
func fileSource(f string) string {
	if _, p, ok := strings.Cut(f, "="); ok {
		return p
	}
	return f
}

// readSource reads a generator's file, relative to the kustomization's
// directory, only when it resolves inside root.
func (r *Redactor) readSource(root, dir, name string, total *int64) ([]byte, bool) {
	if name == "" || filepath.IsAbs(name) {
		return nil, false
	}
	p := filepath.Join(dir, name)
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, false
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, false
	}
	if rel, err := filepath.Rel(realRoot, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, false
	}
	return readBounded(real, total)
}

// fieldsFolded returns the values of a mapping's keys equal to name under
// Unicode case folding, as Go's JSON decoding (and so kustomize) matches
// them.
func fieldsFolded(m *yaml.Node, name string) []*yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var out []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if strings.EqualFold(m.Content[i].Value, name) {
			out = append(out, m.Content[i+1])
		}
	}
	return out
}

// items returns a sequence's items (a lone mapping counts as one).
func items(n *yaml.Node) []*yaml.Node {
	switch n.Kind {
	case yaml.SequenceNode:
		return n.Content
	case yaml.MappingNode, yaml.ScalarNode:
		return []*yaml.Node{n}
	}
	return nil
}

// strings2 returns the scalar values of sequences (or lone scalars).
func strings2(nodes []*yaml.Node) []string {
	var out []string
	for _, n := range nodes {
		for _, it := range items(n) {
			if it.Kind == yaml.ScalarNode {
				out = append(out, it.Value)
			}
		}
	}
	return out
}
