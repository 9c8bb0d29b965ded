package manifest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// Fuzz targets of the decoder (run them with hack/fuzz.sh, or one with
// `go test -run '^$' -fuzz FuzzDecode ./manifest/`). Without -fuzz, `go test`
// runs their seeds and every crasher kept under testdata/fuzz/ as a
// regression test.

// fuzzLimits are small enough for the fuzzer to cross every limit with a
// short input, and DefaultLimits is fuzzed too.
var fuzzLimits = Limits{MaxFileBytes: 64 << 10, MaxTotalBytes: 96 << 10, MaxDocuments: 8, MaxNodes: 2000, MaxDepth: 16}

// hostileYAML are seeds no repository should hold: bombs, deep nesting,
// anchors in odd places, invalid UTF-8, numbers out of range, odd keys.
func hostileYAML() []string {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	obj := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	return []string{
		bomb,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n" + bomb,
		"a: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n",
		"a: " + strings.Repeat("{a: ", 120) + "x" + strings.Repeat("}", 120) + "\n",
		strings.Repeat("- ", 150) + "x\n",
		// An anchor defined shallow and used deep.
		"x: &d [[[[[[[[[[1]]]]]]]]]]\n" + obj + "data: {a: {b: {c: {d: {e: {f: {g: *d}}}}}}}\n",
		// Merge keys, lists and anchors that hold the items.
		obj + "<<: {metadata: {name: b}}\n",
		"apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(obj, "\n"), "\n", "\n  ") + "\n",
		"a: &i [{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}]\napiVersion: v1\nkind: ConfigMapList\nitems: *i\n",
		"apiVersion: v1\nkind: List\n<<: {items: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}]}\n",
		"apiVersion: v1\nkind: List\nitems: [1, 2]\n",
		"apiVersion: v1\nkind: FooList\nitems: {}\n",
		"a: &a [*a]\n",
		"a: *nope\n",
		"? [a]\n: b\n",
		"? {a: b}\n: c\n" + obj,
		obj + "kind: Secret\n",
		"a: b\nc: \xff\n",
		"\xef\xbb\xbf" + obj,
		obj + "data: {big: 99999999999999999999999999999999999999, neg: -9223372036854775809, f: 1e400, n: .nan, i: -.inf, h: 0x7fffffffffffffff, o: 0o777, b: 0b101}\n",
		obj + "spec: {replicas: .nan}\n",
		obj + "spec: {replicas: .inf}\n",
		obj + "data: {t: !!binary aGVsbG8=, s: !!str 1, u: !custom x, d: 2026-01-01T00:00:00Z, y: yes, n: ~}\n",
		obj + "data: {a: !!int x}\n",
		obj + "data: {a: !!float x}\n",
		obj + "data: {a: !!bool x}\n",
		"---\n---\n...\n" + obj + "...\n---\n# only a comment\n",
		"null\n---\n~\n---\n" + obj,
		"[1, 2]\n",
		"\"just a string\"\n",
		"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"json\"}}",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: g-}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [a]}\n",
		"apiVersion: [v1]\nkind: {a: b}\nmetadata: {name: a}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: a\n",
		"\t- a\n",
		"a: |\n  x\n b: c\n",
		"a: 'unterminated\n",
		strings.Repeat("---\n"+obj, 12),
		"\x00",
		"a: \"\\ud800\"\n",
	}
}

// repoYAML returns the YAML files of the repository's examples and render
// test data, the seeds closest to real input.
func repoYAML(t testing.TB) [][]byte {
	var out [][]byte
	for _, dir := range []string{"../examples", "../render/testdata"} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" || ext == ".json" {
				if data, err := os.ReadFile(p); err == nil && len(data) <= 64<<10 {
					out = append(out, data)
				}
			}
			return nil
		})
	}
	if len(out) == 0 {
		t.Fatal("no seed files under ../examples and ../render/testdata")
	}
	return out
}

// lineCount is the highest line a position in data can have as YAML counts
// lines: every line break (LF, CR, CRLF, NEL, LS and PS: a lone CR breaks a
// line too), a final line without one, and the line just past the end,
// where yaml.v3 places the empty node of a document that ends the input
// ("0\n---").
func lineCount(data []byte) int {
	breaks := 0
	for _, b := range [][]byte{[]byte("\n"), []byte("\r"), []byte("\u0085"), []byte("\u2028"), []byte("\u2029")} {
		breaks += bytes.Count(data, b)
	}
	return breaks + 2
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(stream), false)
	for _, s := range hostileYAML() {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	for _, data := range repoYAML(f) {
		f.Add(data, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, defaults bool) {
		lim := fuzzLimits
		if defaults {
			lim = DefaultLimits
		}
		const path = "dir/in.yaml"
		objs, err := NewDecoder(lim).Decode(path, data)
		if err != nil {
			checkSourceError(t, err, path, data)
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("invalid UTF-8 decoded without an error")
		}
		if int64(len(data)) > lim.MaxFileBytes {
			t.Fatalf("%d bytes decoded above the file limit %d", len(data), lim.MaxFileBytes)
		}
		for i, o := range objs {
			if o.GetAPIVersion() == "" || o.GetKind() == "" {
				t.Fatalf("object %d has no apiVersion or kind: %v", i, o.Object)
			}
			if o.GetName() == "" && o.GetGenerateName() == "" {
				t.Fatalf("object %d has neither name nor generateName: %v", i, o.Object)
			}
			if o.Origin.Path != path || o.Origin.Line < 1 || o.Origin.Line > lineCount(data) {
				t.Fatalf("object %d has origin %+v outside %s's %d lines", i, o.Origin, path, lineCount(data))
			}
			if loc := o.Locate(ParsePath("metadata.name")); loc.Path != path || loc.Line < 1 || loc.Line > lineCount(data) {
				t.Fatalf("object %d: metadata.name located at %+v", i, loc)
			}
		}
		set, err := NewSet(objs)
		if err != nil {
			var de *DuplicateError
			if !errors.As(err, &de) {
				t.Fatalf("NewSet: %T %v, want a *DuplicateError", err, err)
			}
			return
		}
		// Every decoded object is JSON: the digest panics otherwise.
		digest := set.Digest()
		// The canonical YAML stream decodes to the same set.
		out, err := set.YAML()
		if err != nil {
			t.Fatalf("YAML of a decoded set: %v", err)
		}
		again, err := NewDecoder(DefaultLimits).Decode("again.yaml", out)
		if err != nil {
			t.Fatalf("the set's own YAML does not decode: %v\n%s", err, out)
		}
		set2, err := NewSet(again)
		if err != nil {
			t.Fatalf("the set's own YAML: %v", err)
		}
		if d := set2.Digest(); d != digest {
			t.Fatalf("round trip changed the digest (%d objects, then %d)\n%s", set.Len(), set2.Len(), out)
		}
	})
}

// checkSourceError asserts what every decoding error promises: a
// *SourceError naming the file, a line within it (0 when unknown) and a
// message.
func checkSourceError(t *testing.T, err error, path string, data []byte) {
	t.Helper()
	var se *SourceError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %q is not a *SourceError", err, err)
	}
	if se.Path != path {
		t.Fatalf("error names %q, want %q: %v", se.Path, path, err)
	}
	if se.Line < 0 || se.Line > lineCount(data) {
		t.Fatalf("error line %d is outside the input's %d lines: %v", se.Line, lineCount(data), err)
	}
	if strings.TrimSpace(se.Msg) == "" {
		t.Fatalf("error without a message: %+v", se)
	}
	if !strings.HasPrefix(err.Error(), path) {
		t.Fatalf("error %q does not start with the file name", err)
	}
}

// FuzzCheckExpansion checks the alias-bomb and depth guard that every
// reader of untrusted YAML runs (manifests here, kustomizations and patches
// in render) against a plain expansion count, capped so that it stays
// cheap: the guard accepts a document exactly when its expansion stays
// within MaxNodes and MaxDepth.
func FuzzCheckExpansion(f *testing.F) {
	for _, s := range hostileYAML() {
		f.Add([]byte(s), uint16(2000), uint8(16))
	}
	f.Add([]byte(stream), uint16(20), uint8(3))
	f.Add([]byte("a: &a [b, c]\nb: [*a, *a, *a]\n"), uint16(12), uint8(3))
	f.Add([]byte("a: &a [[[b]]]\nb: [[[[*a]]]]\n"), uint16(1000), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, maxNodes uint16, maxDepth uint8) {
		if len(data) > 16<<10 {
			return
		}
		lim := Limits{MaxNodes: max(1, int(maxNodes)), MaxDepth: int(maxDepth)}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for range 4 {
			var doc yaml.Node
			if err := dec.Decode(&doc); err != nil {
				return // not YAML: the guard never sees it
			}
			err := CheckExpansion("x.yaml", &doc, lim)
			nodes, depth, over := expand(&doc, lim)
			if err != nil {
				checkSourceError(t, err, "x.yaml", data)
				if !over {
					t.Fatalf("guard refused a document of %d nodes and depth %d within %+v: %v", nodes, depth, lim, err)
				}
				continue
			}
			if over {
				t.Fatalf("guard accepted a document that expands beyond %d nodes or %d levels (%d nodes, depth %d counted so far)", lim.MaxNodes, lim.MaxDepth, nodes, depth)
			}
		}
	})
}

// expand counts the nodes and the depth of doc with every alias expanded,
// the way CheckExpansion defines them (an alias stands for its anchor's
// node at the alias's depth), stopping as soon as a limit is passed.
func expand(doc *yaml.Node, lim Limits) (nodes, depth int, over bool) {
	var walk func(n *yaml.Node, d int) bool
	walk = func(n *yaml.Node, d int) bool {
		if d > lim.MaxDepth {
			depth = d
			return false
		}
		depth = max(depth, d)
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				nodes++
				return nodes <= lim.MaxNodes
			}
			n = n.Alias
		}
		nodes++
		for _, c := range n.Content {
			if !walk(c, d+1) {
				return false
			}
		}
		return nodes <= lim.MaxNodes
	}
	over = !walk(doc, 0)
	return nodes, depth, over
}
