package manifest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const stream = `# leading comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: sidecar
          image: envoy:1.30
        - name: app
          image: web:1.0
          securityContext:
            privileged: true
---
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: a
    data:
      when: 2026-01-01
      count: 3
      ratio: 0.5
      on: true
  - apiVersion: v1
    kind: Service
    metadata:
      name: web
`

func decode(t *testing.T, data string) []Object {
	t.Helper()
	objs, err := NewDecoder(DefaultLimits).Decode("dir/app.yaml", []byte(data))
	require.NoError(t, err)
	return objs
}

func TestDecodeStream(t *testing.T) {
	objs := decode(t, stream)
	require.Len(t, objs, 3, "empty documents skipped, List flattened")

	assert.Equal(t, Identity{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"}, objs[0].ID())
	assert.Equal(t, Location{Path: "dir/app.yaml", Line: 2}, objs[0].Origin.Location)
	assert.Equal(t, 22, objs[1].Origin.Line, "a List item starts at its own line")
	assert.Equal(t, 31, objs[2].Origin.Line)

	data := objs[1].Object["data"].(map[string]any)
	assert.Equal(t, "2026-01-01", data["when"], "timestamps stay strings, as kubectl keeps them")
	assert.Equal(t, int64(3), data["count"])
	assert.Equal(t, 0.5, data["ratio"])
	assert.Equal(t, true, data["on"])
}

func TestLocateField(t *testing.T) {
	dep := decode(t, stream)[0]
	tests := []struct {
		path string
		want int
	}{
		{"spec.template.spec.containers[name=app].securityContext.privileged", 16},
		{"spec.template.spec.containers[name=app]", 13},
		{"spec.template.spec.containers[1].image", 14},
		{"spec.template.spec.containers[name=app].resources.limits", 13}, // deepest part the file sets
		{"spec.template.spec.containers[name=nope].image", 10},
		{"", 2},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			assert.Equal(t, Location{Path: "dir/app.yaml", Line: tc.want}, dep.Locate(ParsePath(tc.path)))
		})
	}
}

func TestParsePathRoundTrip(t *testing.T) {
	for _, s := range []string{"spec.template.spec.containers[name=app].image", "a", "items[3].b", "metadata.annotations"} {
		assert.Equal(t, s, ParsePath(s).String())
	}
	p := ParsePath("spec.containers[name=a.b].image")
	assert.Equal(t, FieldPath{"spec", "containers", "[name=a.b]", "image"}, p, "dots inside a selector are part of it")
	assert.True(t, p.HasPrefix(ParsePath("spec.containers")))
	assert.False(t, ParsePath("spec").HasPrefix(p))
}

func TestDigestIsCanonical(t *testing.T) {
	a := decode(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1', y: '2'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
	b := decode(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n---\nkind: ConfigMap\napiVersion: v1\ndata:\n  y: '2'\n  x: '1'\nmetadata:\n  name: a\n")
	sa, err := NewSet(a)
	require.NoError(t, err)
	sb, err := NewSet(b)
	require.NoError(t, err)
	assert.Equal(t, sa.Digest(), sb.Digest(), "order of documents and keys does not matter")
	assert.True(t, strings.HasPrefix(sa.Digest(), "sha256:"))

	c := decode(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1', y: '3'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
	sc, err := NewSet(c)
	require.NoError(t, err)
	assert.NotEqual(t, sa.Digest(), sc.Digest())

	obj, ok := sa.Find(Identity{Kind: "ConfigMap", Name: "b"})
	assert.True(t, ok)
	assert.Equal(t, "b", obj.GetName())
}

func TestBadInput(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	tests := []struct {
		name, data, want string
	}{
		{"syntax", "a: [b\n", "dir/app.yaml:1: invalid YAML"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "dir/app.yaml:1: object has no apiVersion or kind"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\n", "dir/app.yaml:1: ConfigMap has no metadata.name"},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nkind: Secret\n", `dir/app.yaml:3: duplicate key "kind"`},
		{"scalar document", "hello\n", "dir/app.yaml:1: document is not a Kubernetes object"},
		{"invalid utf-8", "a: b\nc: \xff\n", "dir/app.yaml:2: file is not valid UTF-8"},
		{"alias bomb", bomb, "YAML nodes (alias bomb?)"},
		{"deep", "a: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n", "nests deeper than 100"},
		{"non-string key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n? [a]\n: b\n", "dir/app.yaml:4: mapping key is not a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDecoder(DefaultLimits).Decode("dir/app.yaml", []byte(tc.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var se *SourceError
			assert.ErrorAs(t, err, &se)
		})
	}
}

func TestLimits(t *testing.T) {
	d := NewDecoder(Limits{MaxFileBytes: 200, MaxTotalBytes: 1000, MaxDocuments: 2, MaxNodes: 1000, MaxDepth: 10})
	_, err := d.Decode("big.yaml", []byte(strings.Repeat("#", 201)))
	assert.ErrorContains(t, err, "big.yaml: file is 201 bytes, above the limit of 200")

	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	_, err = d.Decode("a.yaml", []byte(doc))
	require.NoError(t, err)
	_, err = d.Decode("b.yaml", []byte(doc+"---\n"+strings.Replace(doc, "name: a", "name: b", 1)))
	assert.ErrorContains(t, err, "too many YAML documents")

	d = NewDecoder(Limits{MaxFileBytes: 100, MaxTotalBytes: 100, MaxDocuments: 100, MaxNodes: 1000, MaxDepth: 10})
	_, err = d.Decode("a.yaml", []byte(doc))
	require.NoError(t, err)
	_, err = d.Decode("c.yaml", []byte(doc))
	assert.ErrorContains(t, err, "sources exceed 100 bytes in total")
}

func TestDuplicateIdentity(t *testing.T) {
	objs := append(decode(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), decode(t, "\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")...)
	_, err := NewSet(objs)
	var de *DuplicateError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "dir/app.yaml:2: duplicate object ConfigMap/a (also defined at dir/app.yaml:1)", err.Error())
}

func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 1000; i++ {
		sb.WriteString(strings.Replace(stream, "name: web\n  namespace", "name: web"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+"\n  namespace", 1))
		sb.WriteString("---\n")
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := NewDecoder(DefaultLimits).Decode("bench.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
