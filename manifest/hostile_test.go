package manifest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A flow-style (JSON) document nested past yaml.v3's own limit comes back
// from yaml.v3 without a line: the decoder finds it and says which limit.
func TestDecodeNestingBeyondYAMLLimitHasALine(t *testing.T) {
	n := 20000
	data := "# a comment with [ brackets [[[\n" +
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},` + "\n" +
		`"data":{"a":"[[[[ in a string","b":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}}\n"
	_, err := NewDecoder(DefaultLimits).Decode("bomb.json", []byte(data))
	require.Error(t, err)
	var se *SourceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "bomb.json", se.Path)
	assert.Equal(t, 3, se.Line)
	assert.Contains(t, se.Msg, "nests deeper than 100 levels")
}

func TestNestingLine(t *testing.T) {
	assert.Equal(t, 0, NestingLine([]byte("a: [[1]]\n"), 2))
	assert.Equal(t, 2, NestingLine([]byte("a: 1\nb: [[[1]]]\n"), 2))
	assert.Equal(t, 0, NestingLine([]byte("a: '[[[[' # [[[[\n"), 2), "quoted and commented brackets do not count")
	assert.Equal(t, 0, NestingLine([]byte(`a: "\"[[[["`+"\n"), 2), "escaped quotes stay inside the string")
}

func TestFirstInvalidUTF8Line(t *testing.T) {
	assert.Equal(t, 0, FirstInvalidUTF8Line([]byte("a: é\n")))
	assert.Equal(t, 3, FirstInvalidUTF8Line([]byte("a\nb\nc: \xff\n")))
}
