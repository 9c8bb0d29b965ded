package posture

import (
	"fmt"
	"strings"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/secret"
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
		// A container an operator merges into one of its own (no image of
		// its own) gets its resources there.
		if r.list != listEphemeral && (c.Image != "" || !w.src.OperatorMerged) {
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
			if why, ok := secret.Looking(e.Name, e.Value); ok {
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
