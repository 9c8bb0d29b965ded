package output

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/secret"
)

// A secret that spans JSON syntax is masked without breaking the JSON.
func TestMaskJSON(t *testing.T) {
	red := &secret.Redactor{}
	data := []byte(`{"a": "x", "b": "plain", "c": ["token-123456"]}` + "\n")
	got, err := MaskJSON(red, data)
	require.NoError(t, err)
	assert.Equal(t, data, got, "nothing registered: unchanged")

	red.Add("token-123456")
	got, err = MaskJSON(red, data)
	require.NoError(t, err)
	assert.Equal(t, `{"a": "x", "b": "plain", "c": ["***"]}`+"\n", string(got), "layout kept")

	red.Add(`x", "b`)
	got, err = MaskJSON(red, data)
	require.NoError(t, err)
	require.True(t, json.Valid(got), "%s", got)
	var v map[string]any
	require.NoError(t, json.Unmarshal(got, &v))
	assert.Equal(t, map[string]any{"a": "x", "b": "plain", "c": []any{"***"}}, v)
}
