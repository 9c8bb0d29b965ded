package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kube-sentient/aegis/secret"
)

func TestTermWidth(t *testing.T) {
	t.Setenv("COLUMNS", "")
	var buf bytes.Buffer
	assert.Equal(t, 0, termWidth(&buf), "not a terminal, no $COLUMNS: nothing is cut")
	t.Setenv("COLUMNS", "132")
	assert.Equal(t, 132, termWidth(&buf))
	t.Setenv("COLUMNS", "wide")
	assert.Equal(t, 0, termWidth(&buf))
}

// Every command prints through the secret-masking writer: colour and width
// must still see the file underneath.
func TestUnderlyingFileThroughTheMaskingWriter(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	assert.NoError(t, err)
	defer f.Close()
	got, ok := underlyingFile(secret.Default.Writer(f))
	assert.True(t, ok)
	assert.Same(t, f, got)
	_, ok = underlyingFile(secret.Default.Writer(&bytes.Buffer{}))
	assert.False(t, ok)
}
