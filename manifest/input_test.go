package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNULByteHasItsLine(t *testing.T) {
	for name, src := range map[string]string{
		"in a value":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: a\x00b\n",
		"quoted":       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"a\x00b\"\n",
		"in a comment": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {}\n# \x00\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewDecoder(DefaultLimits).Decode("cm.yaml", []byte(src))
			require.Error(t, err)
			var se *SourceError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "cm.yaml", se.Path)
			assert.Equal(t, 6, se.Line, err.Error())
			assert.Contains(t, se.Msg, "NUL byte")
		})
	}
	_, err := NewDecoder(DefaultLimits).Decode("cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\n\x07metadata: {name: a}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cm.yaml:3: control character U+0007")

	line, r := FirstControlLine([]byte("a\tb\r\nc\u0085d\n\ufeffe\n\x1b"))
	assert.Equal(t, 4, line)
	assert.Equal(t, rune(0x1b), r)
	line, _ = FirstControlLine([]byte("plain: text\n"))
	assert.Zero(t, line)
}

func TestMetadataFieldTypes(t *testing.T) {
	for _, tc := range []struct{ name, meta, want string }{
		{"namespace mapping", "  name: a\n  namespace:\n    x: y\n", "cm.yaml:5: metadata.namespace is a mapping; it must be a string"},
		{"namespace list", "  name: a\n  namespace: [a, b]\n", "cm.yaml:5: metadata.namespace is a list"},
		{"namespace number", "  name: a\n  namespace: 5\n", "cm.yaml:5: metadata.namespace is a number; it must be a string (quote it"},
		{"namespace boolean", "  name: a\n  namespace: yes\n", ""},
		{"name mapping", "  name: {a: b}\n", "cm.yaml:4: metadata.name is a mapping"},
		{"name number", "  name: 5\n", "cm.yaml:4: metadata.name is a number"},
		{"name boolean", "  name: true\n", "cm.yaml:4: metadata.name is a boolean"},
		{"generateName list", "  generateName: [a]\n", "cm.yaml:4: metadata.generateName is a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n" + tc.meta
			objs, err := NewDecoder(DefaultLimits).Decode("cm.yaml", []byte(src))
			if tc.want == "" {
				// yaml 1.2: "yes" is a string.
				require.NoError(t, err)
				assert.Equal(t, "yes", objs[0].GetNamespace())
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := NewDecoder(DefaultLimits).Decode("cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n"))
	assert.ErrorContains(t, err, "cm.yaml:3: metadata is a list; it must be a mapping")
	// In a List, the item's own line.
	_, err = NewDecoder(DefaultLimits).Decode("l.yaml", []byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    namespace: {x: 1}\n"))
	assert.ErrorContains(t, err, "l.yaml:8: metadata.namespace is a mapping")
	objs, err := NewDecoder(DefaultLimits).Decode("cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: null\n"))
	require.NoError(t, err, "null is no namespace")
	assert.Empty(t, objs[0].GetNamespace())
}

func TestReadFileRegularOnly(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "ok.yaml")
	require.NoError(t, os.WriteFile(reg, []byte("a: 1\n"), 0o644))
	data, err := ReadFile(reg, 100)
	require.NoError(t, err)
	assert.Equal(t, "a: 1\n", string(data))

	_, err = ReadFile(reg, 3)
	assert.ErrorContains(t, err, "file is 5 bytes, above the limit of 3")

	link := filepath.Join(dir, "link.yaml")
	require.NoError(t, os.Symlink(reg, link))
	_, err = ReadFile(link, 100)
	assert.NoError(t, err, "a symlink to a regular file is read")

	zero := filepath.Join(dir, "zero.yaml")
	require.NoError(t, os.Symlink("/dev/zero", zero))
	_, err = ReadFile(zero, 100)
	assert.ErrorContains(t, err, "not a regular file (a character device, through a symlink)")

	fifo := filepath.Join(dir, "fifo.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	_, err = ReadFile(fifo, 100) // would block for ever on a plain open
	assert.ErrorContains(t, err, "not a regular file (a named pipe)")

	_, err = ReadFile(dir, 100)
	assert.ErrorContains(t, err, "not a regular file (a directory)")

	self := filepath.Join(dir, "self.yaml")
	require.NoError(t, os.Symlink("self.yaml", self))
	_, err = ReadFile(self, 100)
	assert.ErrorContains(t, err, "symlink loop")

	_, err = ReadFile(filepath.Join(dir, "missing.yaml"), 100)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.False(t, strings.Contains(err.Error(), dir), "the caller names the file")
}

// TestAliasBytesBounded: a long string behind nested aliases passes the
// node count (a few hundred nodes) but would copy the string a thousand
// times on conversion; it is refused at the line of the alias that tips
// it over, before any copy.
func TestAliasBytesBounded(t *testing.T) {
	long := strings.Repeat("x", 30_000)
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  s: &s \"" + long + "\"\n" +
		"  b0: &b0 [" + strings.Repeat("*s,", 9) + "*s]\n" +
		"  b1: &b1 [" + strings.Repeat("*b0,", 9) + "*b0]\n" +
		"  b2: [" + strings.Repeat("*b1,", 9) + "*b1]\n"
	lim := DefaultLimits
	lim.MaxFileBytes = 1 << 20 // expansion allowed: 2 MiB; the document expands to 30 MB
	_, err := NewDecoder(lim).Decode("bomb.yaml", []byte(doc))
	var se *SourceError
	require.ErrorAs(t, err, &se)
	assert.Contains(t, se.Error(), "expands to more than 2097152 bytes")
	assert.Equal(t, "bomb.yaml", se.Location.Path)
	assert.Positive(t, se.Location.Line)

	ok := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  s: &s \"" + long + "\"\n  t: *s\n"
	_, err = NewDecoder(lim).Decode("fine.yaml", []byte(ok))
	assert.NoError(t, err, "an alias or two of a long value is fine")
}
