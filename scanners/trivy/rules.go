package trivy

import (
	"cmp"
	"maps"
	"slices"

	"github.com/kube-sentient/aegis/report"
)

// Rules lists the Kubernetes checks of Trivy's embedded bundle that fire on
// common workloads (the table below), and any other check this scanner met
// while scanning. The runner asks for rules before scanning, so the table
// carries the usual ones; a check outside it still reaches the report,
// whose SARIF writer synthesises a rule for it.
func (s *Scanner) Rules() []report.Rule {
	all := map[string]report.Rule{}
	for _, r := range knownRules {
		r.Scanner = Name
		r.Tags = slices.Clone(r.Tags)
		all[r.ID] = r
	}
	s.mu.Lock()
	for id, r := range s.seen {
		if _, ok := all[id]; !ok {
			all[id] = r
		}
	}
	s.mu.Unlock()
	return slices.SortedFunc(maps.Values(all), func(a, b report.Rule) int { return cmp.Compare(a.ID, b.ID) })
}

// remember keeps the rules met while scanning for later Rules calls.
func (s *Scanner) remember(rules []report.Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rules {
		if _, ok := s.seen[r.ID]; !ok {
			s.seen[r.ID] = r
		}
	}
}

// ruleFrom builds a rule from what Trivy says about a check.
func ruleFrom(m Misconfiguration) report.Rule {
	sev, _ := mapSeverity(m.Severity) // ParseReport has checked it
	return report.Rule{
		Scanner:     Name,
		ID:          m.checkID(),
		Title:       m.Title,
		Description: m.Description,
		Help:        m.Resolution,
		HelpURI:     m.PrimaryURL,
		Severity:    sev,
		Tags:        slices.Clone(ruleTags),
	}
}

// ruleTags tag every rule of this scanner (SARIF's properties.tags).
var ruleTags = []string{"security", "kubernetes", "misconfiguration"}
