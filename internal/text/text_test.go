package text

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

var samples = []string{
	"",
	"plain ascii text",
	"héllo wörld ✓✓✓",
	"日本語のテキストを切る",
	"emoji 🙂🙃🚀 and flags 🇫🇷🇩🇪",
	"ﬁ ligature, combining é, Ωmega",
	strings.Repeat("✓", 50),
}

func TestTruncateCutsOnRunesAndMarksTheCut(t *testing.T) {
	assert.Equal(t, "héllo…", Truncate("héllo wörld ✓✓✓", 6))
	assert.Equal(t, "日本語…", Truncate("日本語のテキスト", 4))
	assert.Equal(t, "🙂🙃…", Truncate("🙂🙃🚀🚀", 3))
	assert.Equal(t, "…", Truncate("ab", 1))
	assert.Equal(t, "ab", Truncate("ab", 2), "no marker when nothing is cut")
	assert.Equal(t, "héllo", Truncate("héllo", 5), "the limit counts runes, not bytes")
	assert.Equal(t, "anything", Truncate("anything", 0), "0 is no limit")
	assert.Equal(t, "anything", Truncate("anything", -1))

	for _, s := range samples {
		for max := 1; max <= utf8.RuneCountInString(s)+2; max++ {
			got := Truncate(s, max)
			assert.True(t, utf8.ValidString(got), "%q cut at %d: %q", s, max, got)
			assert.LessOrEqual(t, utf8.RuneCountInString(got), max, "%q cut at %d: %q", s, max, got)
			if utf8.RuneCountInString(s) <= max {
				assert.Equal(t, s, got)
			} else {
				assert.True(t, strings.HasSuffix(got, Marker), "%q cut at %d: %q", s, max, got)
				assert.True(t, strings.HasPrefix(s, strings.TrimSuffix(got, Marker)), "a cut keeps the start: %q", got)
			}
		}
	}
}

func TestTruncateBytesNeverSplitsACharacter(t *testing.T) {
	// "é" is 2 bytes, "✓" 3, "🙂" 4: a cut at any byte must back off to
	// the start of the character it would split.
	assert.Equal(t, "h…", TruncateBytes("héllo", 5), "4 bytes would split é")
	assert.Equal(t, "hé…", TruncateBytes("héllo wörld", 6))
	assert.Equal(t, "…", TruncateBytes("🙂🙂", 6))
	assert.Equal(t, "🙂…", TruncateBytes("🙂🙂", 7))
	assert.Equal(t, "🙂🙂", TruncateBytes("🙂🙂", 8), "no marker when nothing is cut")
	assert.Equal(t, "", TruncateBytes("abcdef", 2), "no room for the marker")
	assert.Equal(t, "anything", TruncateBytes("anything", 0), "0 is no limit")

	for _, s := range samples {
		for max := 1; max <= len(s)+2; max++ {
			got := TruncateBytes(s, max)
			assert.True(t, utf8.ValidString(got), "%q cut at %d: %q", s, max, got)
			assert.LessOrEqual(t, len(got), max, "%q cut at %d: %q", s, max, got)
			if len(s) <= max {
				assert.Equal(t, s, got)
			} else if got != "" {
				assert.True(t, strings.HasSuffix(got, Marker), "%q cut at %d: %q", s, max, got)
				kept := strings.TrimSuffix(got, Marker)
				assert.True(t, strings.HasPrefix(s, kept), "a cut keeps the start: %q", got)
				assert.Greater(t, len(kept)+utf8.UTFMax, max-len(Marker), "backs off by less than one character")
			}
		}
	}
}

// The Kubernetes Event message limit: 1024 bytes, counted by the API
// server in bytes whatever the characters.
func TestTruncateBytesAtTheEventLimit(t *testing.T) {
	msg := strings.Repeat("日本語", 200) // 1800 bytes
	got := TruncateBytes(msg, 1024)
	assert.True(t, utf8.ValidString(got))
	assert.LessOrEqual(t, len(got), 1024)
	assert.Greater(t, len(got), 1024-utf8.UTFMax)
	assert.True(t, strings.HasSuffix(got, Marker))
}

// Invalid input is never made worse: a cut drops or replaces the bad
// bytes instead of passing half of them on.
func TestCutsOfInvalidUTF8AreValid(t *testing.T) {
	bad := "ok \xff\xfe then é and \xe2\x9c then more text"
	for max := 1; max < len(bad); max++ {
		assert.True(t, utf8.ValidString(TruncateBytes(bad, max)), "TruncateBytes at %d", max)
	}
	for max := 1; max < utf8.RuneCountInString(bad); max++ {
		assert.True(t, utf8.ValidString(Truncate(bad, max)), "Truncate at %d", max)
	}
	assert.Equal(t, bad, Truncate(bad, 0), "no limit: unchanged")
	assert.Equal(t, bad, TruncateBytes(bad, len(bad)), "no cut: unchanged")
}

func TestOneLine(t *testing.T) {
	assert.Equal(t, "error: a b c", OneLine("  error:\n\ta   b\r\n c \n", 0))
	assert.Equal(t, "Traceback (most…", OneLine("Traceback (most recent call last):\n  File x", 16))
	assert.Equal(t, "héllo wörld ✓✓✓", OneLine("héllo\nwörld\n\n✓✓✓", 15))
	assert.Equal(t, "héllo wörld…", OneLine("héllo\nwörld\n\n✓✓✓", 12))
	assert.Equal(t, "", OneLine(" \n\t ", 10))
}
