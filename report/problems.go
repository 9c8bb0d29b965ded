package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Problem is what a person reads as one row: the findings of several
// scanners about the same thing (the same field of the same object, or the
// same CVE in the same image), grouped. Grouping is presentation only: the
// gate, waivers, the JSON counts and the Action's outputs judge individual
// findings.
type Problem struct {
	// Key identifies the problem within a report (stable across runs).
	Key string `json:"key"`
	// Title is the best title among the findings.
	Title string `json:"title"`
	// Severity is the highest severity among the findings.
	Severity Severity `json:"severity"`
	// State is the problem's delta state: new if any finding is new or
	// updated, else unchanged if any is unchanged, else absent (fixed).
	State    State    `json:"state"`
	Resource Resource `json:"resource"`
	Location Location `json:"location"`
	// Findings are the problem's sources, in SortFindings order. A Pod
	// Security admission warning that names several checks is a source of
	// each of their problems.
	Findings []Finding `json:"findings"`
	// Check is the row of the matching table (Correlations) the problem is
	// about: "privileged", "capabilities", ...; "health" for a workload's
	// health, "cve" for a vulnerability of an image, "" for a finding no
	// row covers.
	Check string `json:"check,omitempty"`
}

// Scanners lists the scanners of the problem's findings, each once, in the
// order of Findings.
func (p Problem) Scanners() []string {
	var out []string
	for _, f := range p.Findings {
		if !slices.Contains(out, f.Scanner) {
			out = append(out, f.Scanner)
		}
	}
	return out
}

// Blocking reports whether the problem holds a finding the gate counts
// against the change (Blocks: new or updated, not waived, at or above
// threshold or of unknown severity).
func (p Problem) Blocking(threshold Severity) bool {
	for _, f := range p.Findings {
		if Blocks(f, threshold) {
			return true
		}
	}
	return false
}

// Waived reports whether every finding of the problem is waived.
func (p Problem) Waived() bool {
	for _, f := range p.Findings {
		if !f.Waived {
			return false
		}
	}
	return len(p.Findings) > 0
}

// Problems groups findings into problems: the findings of the matching
// table's rules (Correlations) about the same object (kind and name, not
// the namespace, which shadow runs rewrite) and, for a per-container check,
// the same container; the health findings of one workload; the same CVE in
// the same image repository, whatever uses it. A Pod Security admission
// warning joins every problem whose check it names; one that names none of
// the problems is a problem of its own, as is any finding no row covers
// (its key is its fingerprint, shared only by its identical copies).
//
// The input is not modified. Problems come in the order of SortFindings
// applied to them: state, severity, location, then key.
func Problems(findings []Finding) []Problem {
	fs := withFingerprints(findings)
	SortFindings(fs) // the input's order must not matter
	groups := map[string]*group{}
	get := func(id, check string) *group {
		g := groups[id]
		if g == nil {
			g = &group{id: id, check: check}
			groups[id] = g
		}
		return g
	}
	var warnings []int
	for i := range fs {
		f := &fs[i]
		if f.Scanner == scannerAdmission && f.RuleID == ruleAdmissionWarning {
			warnings = append(warnings, i)
			continue
		}
		id, check := groupOf(f)
		get(id, check).add(i, false)
	}
	for _, i := range warnings {
		f := &fs[i]
		attached := false
		for _, v := range podSecurityViolations(cmp.Or(f.Key, f.Message)) {
			if g := groups[appScope(f)+checkGroupID(v.row, f.Resource.Kind, f.Resource.Name, v.container)]; g != nil && g.primaries > 0 {
				g.add(i, true)
				attached = true
			}
		}
		if !attached {
			get(appScope(f)+"fp\x00"+f.Fingerprint, "").add(i, false)
		}
	}
	out := make([]Problem, 0, len(groups))
	for _, g := range groups {
		out = append(out, g.problem(fs))
	}
	slices.SortFunc(out, compareProblems)
	return out
}

// group is a problem being built: indices into the sorted findings.
type group struct {
	id, check string
	members   []int
	// corroborating marks the members that are admission warnings joined
	// to a problem of other findings.
	corroborating []bool
	primaries     int
}

func (g *group) add(i int, corroborating bool) {
	if slices.Contains(g.members, i) {
		return // a warning naming two reasons of one row
	}
	g.members = append(g.members, i)
	g.corroborating = append(g.corroborating, corroborating)
	if !corroborating {
		g.primaries++
	}
}

// problem builds the Problem. Its state is that of its own findings, not
// of a warning joined to it: a warning's text lists every violation of the
// object, so fixing one check turns the warning of the others new, which
// must not make their unchanged problems look new.
func (g *group) problem(fs []Finding) Problem {
	// members were added in SortFindings order, warnings after; sort the
	// indices again so Findings are in SortFindings order.
	idx := slices.Clone(g.members)
	slices.Sort(idx)
	p := Problem{Check: g.check, Findings: make([]Finding, len(idx))}
	state, lead := -1, -1
	sev := -2
	for k, i := range g.members {
		f := &fs[i]
		if f.Severity.Rank() > sev {
			sev, p.Severity = f.Severity.Rank(), f.Severity
		}
		if g.corroborating[k] {
			continue
		}
		if r := stateRank(f.BaselineState); state < 0 || r < state {
			state = r
		}
	}
	for k, i := range g.members {
		if !g.corroborating[k] && (lead < 0 || g.leads(&fs[i], &fs[lead])) {
			lead = i
		}
	}
	for k, i := range idx {
		p.Findings[k] = fs[i]
	}
	l := &fs[lead]
	// New when any finding is new or updated (the gate judges both).
	p.State = []State{New, Unchanged, Absent}[state]
	p.Title, p.Resource, p.Location = l.Title, l.Resource, l.Location
	if g.check == "" {
		p.Key = l.Fingerprint
	} else {
		sum := sha256.Sum256([]byte(g.id))
		p.Key = hex.EncodeToString(sum[:16])
	}
	return p
}

// leads reports whether a is a better source of the problem's title and
// location than b: one of head (a new, updated or unchanged finding, whose
// location is head's) before a fixed one (which points at the base's
// lines), then the most authoritative scanner (aegis's own
// posture rule points at the source line; then Trivy; then the rest; an
// admission warning last), then the most specific health reason, then
// SortFindings order.
func (g *group) leads(a, b *Finding) bool {
	if aa, ba := a.BaselineState == Absent, b.BaselineState == Absent; aa != ba {
		return ba
	}
	if c := cmp.Compare(authority(a.Scanner), authority(b.Scanner)); c != 0 {
		return c < 0
	}
	if c := cmp.Compare(healthRank(a.RuleID), healthRank(b.RuleID)); c != 0 {
		return c < 0
	}
	return compareFindings(a, b) < 0
}

func authority(scanner string) int {
	switch scanner {
	case scannerPosture:
		return 0
	case scannerTrivy:
		return 1
	case scannerAdmission:
		return 3
	}
	return 2
}

func healthRank(rule string) int {
	if i := slices.Index(healthSpecificity, rule); i >= 0 {
		return i
	}
	return len(healthSpecificity) // an unknown health rule before none
}

// groupOf returns the id of the group of a finding other than an admission
// warning, and its check.
func groupOf(f *Finding) (string, string) {
	id, check := groupIn(f)
	return appScope(f) + id, check
}

// appScope keeps the problems of two apps apart in a report of several:
// two overlays of one base have the same objects, each its own problem.
func appScope(f *Finding) string {
	if f.App == "" {
		return ""
	}
	return "app\x00" + f.App + "\x00"
}

func groupIn(f *Finding) (string, string) {
	if row := rowFor(f); row != nil {
		return checkGroupID(row, f.Resource.Kind, f.Resource.Name, f.Resource.Container), row.Check
	}
	if f.Scanner == scannerHealth && strings.HasPrefix(f.RuleID, "health.") {
		return "health\x00" + f.Resource.Kind + "\x00" + f.Resource.Name, "health"
	}
	if f.CVE != "" && f.Image != "" {
		return "cve\x00" + f.CVE + "\x00" + ImageRepository(f.Image), "cve"
	}
	return "fp\x00" + f.Fingerprint, ""
}

// checkGroupID identifies the problem of a row on an object: kind and name
// (not the namespace), and the container for a per-container check.
func checkGroupID(row *Correlation, kind, name, container string) string {
	if row.Scope != PerContainer {
		container = ""
	}
	return "check\x00" + row.Check + "\x00" + kind + "\x00" + name + "\x00" + container
}

// compareProblems orders problems as SortFindings orders findings: state,
// severity (most severe first), location, then the key, which is unique.
func compareProblems(a, b Problem) int {
	if c := compareRow(a.State, b.State, a.Severity, b.Severity, a.Location, b.Location); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}
