package posture

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kube-sentient/aegis/report"
)

// practice is one best-practice finding before it becomes a report.Finding.
type practice struct {
	rule     string
	severity report.Severity
	ref      containerRef
	field    string // under the container, for Locate ("" = the container)
	key      string
	image    string
	message  string
}

// practices checks the rules the Pod Security Standards leave out.
func (w *workload) practices() []practice {
	var out []practice
	long := w.longRunning()
	for _, r := range w.refs {
		c := r.c
		who := fmt.Sprintf("container %q", c.Name)

		// Ephemeral containers may not set resources or probes, so only the
		// image and env rules apply to them.
		if r.list != listEphemeral {
			var missing []string
			if _, ok := c.Resources.Limits["cpu"]; !ok {
				missing = append(missing, "cpu")
			}
			if _, ok := c.Resources.Limits["memory"]; !ok {
				missing = append(missing, "memory")
			}
			if len(missing) > 0 {
				out = append(out, practice{rule: RuleResourceLimits, severity: report.Medium, ref: r, field: "resources.limits",
					message: fmt.Sprintf("%s has no %s limit; set resources.limits.%s.", who, strings.Join(missing, " or "), strings.Join(missing, " and resources.limits."))})
			}
		}

		if c.Image != "" {
			if sev, why, mutable := imageMutability(c.Image); mutable {
				out = append(out, practice{rule: RuleMutableImageTag, severity: sev, ref: r, field: "image", image: c.Image,
					message: fmt.Sprintf("%s uses image %q %s; pin it by digest (image: %s@sha256:<digest>).", who, c.Image, why, c.Image)})
			}
		}

		if long && (r.list == listMain || isSidecar(r)) {
			if c.ReadinessProbe == nil {
				out = append(out, practice{rule: RuleReadinessProbe, severity: report.Low, ref: r,
					message: fmt.Sprintf("%s of a long-running workload has no readinessProbe; add one so traffic and rollouts wait until it can serve.", who)})
			}
			if c.LivenessProbe == nil {
				out = append(out, practice{rule: RuleLivenessProbe, severity: report.Low, ref: r,
					message: fmt.Sprintf("%s of a long-running workload has no livenessProbe; add one so a hung process is restarted.", who)})
			}
		}

		for _, e := range c.Env {
			if e.ValueFrom != nil || e.Value == "" {
				continue
			}
			if why, ok := secretLooking(e.Name, e.Value); ok {
				// The message names the variable and why it looks secret,
				// never the value: findings end up in PR comments and SARIF.
				out = append(out, practice{rule: RuleSecretInEnv, severity: report.High, ref: r,
					field: "env[name=" + e.Name + "]", key: e.Name,
					message: fmt.Sprintf("%s sets env var %q to a literal value (%s); move it to a Secret and reference it with valueFrom.secretKeyRef, then rotate it.", who, e.Name, why)})
			}
		}
	}
	return out
}

// imageMutability reports whether an image reference can change under the
// same name: any reference without a digest. ":latest" and a missing tag
// (which means latest) move with every push: medium; a versioned tag moves
// only when someone re-pushes it: low.
func imageMutability(image string) (report.Severity, string, bool) {
	if strings.Contains(image, "@") {
		return "", "", false
	}
	name := image
	slash := strings.LastIndexByte(name, '/')
	tag := ""
	if colon := strings.LastIndexByte(name, ':'); colon > slash {
		tag = name[colon+1:]
	}
	switch tag {
	case "":
		return report.Medium, "without a tag (which means :latest) and without a digest", true
	case "latest":
		return report.Medium, "by the :latest tag without a digest", true
	}
	return report.Low, "by a mutable tag without a digest", true
}

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

// secretLooking says whether an env var's literal value looks like a secret
// and why, in words that do not reveal the value.
func secretLooking(name, value string) (string, bool) {
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
