package report

import (
	"strings"

	"github.com/kube-sentient/aegis/internal/text"
)

// Summarize counts findings by delta state and severity. Waived counts the
// head's waived findings; Blocking is left to Gate, which knows the policy.
func Summarize(findings []Finding) Summary {
	s := Summary{NewBySeverity: zeroCounts(), FixedBySeverity: zeroCounts(), UnchangedBySeverity: zeroCounts()}
	for _, f := range findings {
		switch f.BaselineState {
		case Unchanged:
			s.Unchanged++
			s.UnchangedBySeverity[f.Severity]++
		case Absent:
			s.Fixed++
			s.FixedBySeverity[f.Severity]++
			continue
		default:
			// Updated findings count as new: the change brings them to
			// this severity.
			s.New++
			s.NewBySeverity[f.Severity]++
			if f.BaselineState == Updated {
				s.Updated++
			}
			if f.Waived {
				s.NewWaived++
			}
		}
		if f.Waived {
			s.Waived++
		}
	}
	return s
}

func zeroCounts() map[Severity]int {
	m := make(map[Severity]int, len(Severities))
	for _, s := range Severities {
		m[s] = 0
	}
	return m
}

// Blocks reports whether a finding counts against the change at threshold:
// new (or updated), not waived, and at or above it. A finding of unknown
// severity blocks: a malformed scanner result must not pass the gate by
// sorting below every threshold.
func Blocks(f Finding, threshold Severity) bool {
	return f.BaselineState.IsNew() && !f.Waived && (f.Severity.Rank() < 0 || f.Severity.AtLeast(threshold))
}

// Selectors describes what the waiver selects, e.g.
// "rule pss.privileged, resource Deployment/web".
func (w ExpiredWaiver) Selectors() string {
	var s []string
	if w.RuleID != "" {
		s = append(s, "rule "+text.OneLine(w.RuleID, 100))
	}
	if w.Fingerprint != "" {
		s = append(s, "fingerprint "+text.OneLine(w.Fingerprint, 80))
	}
	if w.Resource != "" {
		s = append(s, "resource "+text.OneLine(w.Resource, 200))
	}
	return strings.Join(s, ", ")
}
