package trivy

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// io.Copy (which os/exec uses for a non-file Stdout) prefers ReadFrom to
// Write when the destination has it: the cap must hold through io.Copy,
// not only through Write. An embedded bytes.Buffer once let a 300 MiB
// report through (and 3 GB of memory with it).
func TestCapWriterHoldsThroughIOCopy(t *testing.T) {
	w := &capWriter{max: 1 << 10}
	_, err := io.Copy(w, strings.NewReader(strings.Repeat("x", 1<<20)))
	assert.Error(t, err)
	assert.True(t, w.exceeded)
	assert.LessOrEqual(t, len(w.Bytes()), 1<<10)

	w = &capWriter{max: 1 << 10}
	_, err = io.Copy(w, strings.NewReader("small"))
	assert.NoError(t, err)
	assert.False(t, w.exceeded)
	assert.Equal(t, "small", string(w.Bytes()))
}
