// Package secret owns what aegis treats as a secret-looking literal value
// (by its name or by a recognisable credential format) and how such values
// are masked, so that every output applies one rule and none prints one.
package secret

import (
	"regexp"
	"strings"
)

// Masked is what a secret value is shown as.
const Masked = "***"

var (
	// Names that say the variable holds a secret.
	secretNameRe = regexp.MustCompile(`(?i)(passw(or)?d|passphrase|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|auth[_-]?key|credential|client[_-]?secret|conn(ection)?[_-]?string)`)
	// Names that point at a secret (a file, a Secret's name) or describe one
	// (its lifetime) rather than hold it.
	secretRefNameRe = regexp.MustCompile(`(?i)[_-](file|path|dir|name|ref|ttl|timeout|expiry|expires|length|size|enabled)$`)
	// Values that cannot be a credential.
	harmlessValueRe = regexp.MustCompile(`(?i)^(true|false|yes|no|on|off|none|null|-?[0-9]+(\.[0-9]+)?|\$\([A-Za-z_][A-Za-z0-9_]*\))$`)
)

// secretPatterns are credential formats recognisable by value alone.
var secretPatterns = []struct {
	what string
	re   *regexp.Regexp
}{
	{"an AWS access key id", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"a GitHub token", regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}`)},
	{"a GitLab token", regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`)},
	{"a Slack token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"a Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
	{"a Stripe live key", regexp.MustCompile(`\b[rs]k_live_[0-9A-Za-z]{16,}`)},
	{"a private key", regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----`)},
	{"a JSON Web Token", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)},
	{"a URL with a password", regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`)},
}

// Looking says whether a named literal value (an env var, a ConfigMap key)
// looks like a secret and why, in words that do not reveal the value.
func Looking(name, value string) (string, bool) {
	for _, p := range secretPatterns {
		if p.re.MatchString(value) {
			return "the value has the format of " + p.what, true
		}
	}
	if secretNameRe.MatchString(name) && !secretRefNameRe.MatchString(name) &&
		!harmlessValueRe.MatchString(strings.TrimSpace(value)) {
		return "the name suggests a secret", true
	}
	return "", false
}
