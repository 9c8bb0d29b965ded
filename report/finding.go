package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/kube-sentient/aegis/manifest"
)

// Severity of a finding, from info to critical.
type Severity string

// Severities, most severe first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Severities lists every severity, most severe first.
var Severities = []Severity{Critical, High, Medium, Low, Info}

// Rank orders severities: critical is 4, info 0, unknown -1.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	case Info:
		return 0
	}
	return -1
}

// AtLeast reports whether s is as severe as t or more.
func (s Severity) AtLeast(t Severity) bool { return s.Rank() >= t.Rank() }

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	if v.Rank() < 0 {
		return "", fmt.Errorf("unknown severity %q (want critical, high, medium, low or info)", s)
	}
	return v, nil
}

// State is a finding's place in the delta between base and head.
type State string

// States of the delta; the names are SARIF's baselineState values.
const (
	New       State = "new"       // in head only: introduced by the change
	Unchanged State = "unchanged" // in both
	Absent    State = "absent"    // in base only: fixed by the change
	// Updated is in both, with its severity raised by the change (an image
	// tag moved to :latest): it blocks like a new finding.
	Updated State = "updated"
)

// IsNew reports whether the state is one the change introduces: new, or
// updated to a higher severity. The gate judges both.
func (s State) IsNew() bool { return s == New || s == Updated || s == "" }

// Resource is the Kubernetes object a finding concerns.
//
// Every field is always written to JSON, empty or not: the report's schema
// promises all five keys (docs/report-schema.md).
type Resource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Container  string `json:"container"`
}

func (r Resource) String() string {
	s := r.Kind + "/" + r.Name
	if r.Namespace != "" {
		s = r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	if r.Container != "" {
		s += " container " + r.Container
	}
	return s
}

// Location is the source file (relative to the repository or side root) and
// line: the same type the rendered objects carry their origin in.
type Location = manifest.Location

// Finding is one issue a scanner reports on one side.
type Finding struct {
	// App is the Argo CD app the finding is about, in a report of several
	// apps (aegis verify --apps); "" in a report of one.
	App      string   `json:"app,omitempty"`
	Scanner  string   `json:"scanner"`
	RuleID   string   `json:"ruleId"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Message  string   `json:"message"`
	Resource Resource `json:"resource"`
	Location Location `json:"location"`
	Image    string   `json:"image,omitempty"`
	CVE      string   `json:"cve,omitempty"`
	// Key tells apart findings of one rule on one container (a volume name,
	// an env var name). It is part of the fingerprint.
	Key string `json:"key,omitempty"`

	Fingerprint   string `json:"fingerprint"`
	BaselineState State  `json:"baselineState"`
	// BaselineSeverity is the base's severity of an updated finding.
	BaselineSeverity Severity `json:"baselineSeverity,omitempty"`
	Waived           bool     `json:"waived"`
	WaiverReason     string   `json:"waiverReason,omitempty"`
}

// ComputeFingerprint identifies a finding across both sides and across
// runs. It leaves out what a change moves without changing the finding:
// line numbers, the namespace (shadow namespaces rewrite it) and image tags
// (a tag bump keeps the image's repository).
func ComputeFingerprint(f Finding) string {
	parts := []string{f.Scanner, f.RuleID, f.Resource.Kind, f.Resource.Name, f.Resource.Container, f.Key}
	if f.CVE != "" {
		parts = append(parts, f.CVE)
	}
	if f.Image != "" {
		parts = append(parts, ImageRepository(f.Image))
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// ImageRepository strips the tag and digest from an image reference:
// "ghcr.io/a/b:1.2@sha256:..." -> "ghcr.io/a/b". A port in the registry
// host ("localhost:5000/app") is kept.
func ImageRepository(image string) string {
	if at := strings.IndexByte(image, '@'); at >= 0 {
		image = image[:at]
	}
	slash := strings.LastIndexByte(image, '/')
	if colon := strings.LastIndexByte(image, ':'); colon > slash {
		image = image[:colon]
	}
	return image
}

// Rule describes a rule a scanner can report; SARIF and the Markdown report
// take titles and help from it.
type Rule struct {
	Scanner     string   `json:"scanner"`
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Help        string   `json:"help"`
	HelpURI     string   `json:"helpUri,omitempty"`
	Severity    Severity `json:"severity"`
	Tags        []string `json:"tags,omitempty"`
}
