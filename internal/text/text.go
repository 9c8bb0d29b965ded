// Package text owns how aegis shortens text it quotes (a tool's message,
// an advisory's description, a Kubernetes Event message): every cut falls
// on a character boundary, so what aegis prints, stores in a report or
// sends to an API is valid UTF-8 whatever it quoted, and a cut is always
// marked with one "…".
package text

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Marker ends text that was cut.
const Marker = "…"

// Truncate returns s cut to at most max runes, the Marker included, ending
// in the Marker when it was cut. max <= 0 means no limit. Invalid UTF-8 in
// s is kept as it is when s fits, and each bad byte becomes U+FFFD when s
// is cut (a rune count needs runes).
func Truncate(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	keep := max - utf8.RuneCountInString(Marker)
	var b strings.Builder
	b.Grow(keep*utf8.UTFMax + len(Marker))
	for _, r := range s {
		if keep == 0 {
			break
		}
		b.WriteRune(r) // utf8.RuneError for an invalid byte
		keep--
	}
	return b.String() + Marker
}

// TruncateBytes returns s cut to at most max bytes, the Marker included,
// ending in the Marker when it was cut, and never splitting a UTF-8
// sequence. It is for limits an API counts in bytes, such as the 1024
// bytes of a Kubernetes Event message. max <= 0 means no limit; a max
// below the Marker's 3 bytes leaves room for nothing: the empty string.
// Invalid UTF-8 in s is kept as it is when s fits, and dropped when s is
// cut.
func TruncateBytes(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	n := max - len(Marker)
	if n < 0 {
		return ""
	}
	// Back off to the start of the sequence that would be split: at most
	// utf8.UTFMax-1 continuation bytes.
	for i := 0; n > 0 && i < utf8.UTFMax && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	return strings.ToValidUTF8(s[:n], "") + Marker
}

// OneLine returns s with every run of white space (newlines and tabs
// included) made one space and its ends trimmed, then Truncate(…, max):
// for quoting a multi-line message inside a one-line one.
func OneLine(s string, max int) string {
	return Truncate(strings.Join(strings.Fields(s), " "), max)
}

// Plural is "1 one" or "n many".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// FirstNonEmpty is the first of s that is not blank, or "".
func FirstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
