package manifest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
)

func parseNode(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(s), &doc))
	return &doc
}

// A node decodes as its text does, under the same limits.
func TestDecodeNodeMatchesDecode(t *testing.T) {
	const text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {a: \"1\"}\ndata:\n  n: \"42\"\n  b: \"true\"\nspec:\n  replicas: 3\n  ratio: 0.5\n  on: true\n"
	fromText, err := NewDecoder(DefaultLimits).Decode("a.yaml", []byte(text))
	require.NoError(t, err)
	doc := parseNode(t, text)
	for _, n := range []*yaml.Node{doc, doc.Content[0]} {
		fromNode, err := NewDecoder(DefaultLimits).DecodeNode("a.yaml", n)
		require.NoError(t, err)
		require.Len(t, fromNode, 1)
		assert.Equal(t, fromText[0].Object, fromNode[0].Object)
		assert.Equal(t, fromText[0].Origin, fromNode[0].Origin)
	}
}

func TestDecodeNodeLimits(t *testing.T) {
	big := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: " + strings.Repeat("x", 2000) + "\n"
	lim := DefaultLimits
	lim.MaxTotalBytes = 3000
	d := NewDecoder(lim)
	_, err := d.DecodeNode("a.yaml", parseNode(t, big))
	require.NoError(t, err, "one object within the total")
	_, err = d.DecodeNode("b.yaml", parseNode(t, big))
	require.Error(t, err, "the second passes the total: its scalars count")
	assert.Contains(t, err.Error(), "exceed 3000 bytes")

	lim = DefaultLimits
	lim.MaxDocuments = 1
	d = NewDecoder(lim)
	_, err = d.DecodeNode("a.yaml", parseNode(t, big))
	require.NoError(t, err)
	_, err = d.DecodeNode("a.yaml", parseNode(t, big))
	require.ErrorContains(t, err, "too many YAML documents")

	lim = DefaultLimits
	lim.MaxDepth = 3
	_, err = NewDecoder(lim).DecodeNode("a.yaml", parseNode(t, "apiVersion: v1\nkind: X\nmetadata:\n  name: x\na:\n  b:\n    c:\n      d: 1\n"))
	require.ErrorContains(t, err, "deeper than 3")
}
