package report

import (
	"cmp"
	"slices"
)

// Delta classifies the findings of both sides: a finding only in head is
// New, one in both is Unchanged (the head's copy is kept, because its
// location is the one a reviewer of the change sees), one only in base is
// Absent (fixed by the change).
//
// Findings are matched by Fingerprint, computed with ComputeFingerprint
// where it is empty, as a multiset: two identical fingerprints in head
// against one in base give one Unchanged and one New, so that duplicating a
// bad container is still reported as introducing something.
//
// The inputs are not modified. The result is in the order of SortFindings.
// It runs in O(n log n): maps of fingerprints, then one sort.
func Delta(base, head []Finding) []Finding {
	b := withFingerprints(base)
	h := withFingerprints(head)
	baseByFP := make(map[string][]int, len(b))
	for i := range b {
		b[i].BaselineState = Absent
		baseByFP[b[i].Fingerprint] = append(baseByFP[b[i].Fingerprint], i)
	}
	headByFP := make(map[string][]int, len(h))
	for i := range h {
		h[i].BaselineState = New
		headByFP[h[i].Fingerprint] = append(headByFP[h[i].Fingerprint], i)
	}

	// Each fingerprint pairs on its own, so the map's order does not matter.
	matched := make([]bool, len(b))
	for fp, hs := range headByFP {
		bs := baseByFP[fp]
		if len(bs) == 0 {
			continue
		}
		if len(hs) == 1 && len(bs) == 1 { // nearly always
			pair(&h[hs[0]], &b[bs[0]])
			matched[bs[0]] = true
			continue
		}
		pairDuplicates(h, b, hs, bs, matched)
	}
	// Sort pointers and copy each finding once into the result.
	ptrs := make([]*Finding, 0, len(h)+len(b))
	for i := range h {
		ptrs = append(ptrs, &h[i])
	}
	for i := range b {
		if !matched[i] {
			ptrs = append(ptrs, &b[i])
		}
	}
	slices.SortFunc(ptrs, compareFindings)
	out := make([]Finding, len(ptrs))
	for i, p := range ptrs {
		out[i] = *p
	}
	return out
}

// pairDuplicates pairs the copies of one repeated fingerprint: first those
// at the same location on both sides (the copy that did not move is the
// one that stayed), then the rest in the order of CompareFindings, so the
// outcome does not depend on the order in which scanners reported.
func pairDuplicates(h, b []Finding, hs, bs []int, matched []bool) {
	sortIndices(h, hs)
	sortIndices(b, bs)
	at := make(map[Location][]int, len(bs)) // a map keeps this linear when thousands share a fingerprint
	for _, bi := range bs {
		at[b[bi].Location] = append(at[b[bi].Location], bi)
	}
	paired := make([]bool, len(hs))
	for i, hi := range hs {
		if q := at[h[hi].Location]; len(q) > 0 {
			pair(&h[hi], &b[q[0]])
			matched[q[0]], paired[i] = true, true
			at[h[hi].Location] = q[1:]
		}
	}
	next := 0
	for i, hi := range hs {
		if paired[i] {
			continue
		}
		for next < len(bs) && matched[bs[next]] {
			next++
		}
		if next == len(bs) {
			return
		}
		pair(&h[hi], &b[bs[next]])
		matched[bs[next]] = true
	}
}

// pair marks a head finding that the base has too: unchanged, or updated
// when the change raised its severity.
func pair(head, base *Finding) {
	head.BaselineState = Unchanged
	if head.Severity.Rank() > base.Severity.Rank() {
		head.BaselineState, head.BaselineSeverity = Updated, base.Severity
	}
}

func sortIndices(fs []Finding, idx []int) {
	slices.SortFunc(idx, func(i, j int) int { return compareFindings(&fs[i], &fs[j]) })
}

// withFingerprints copies in and fills in missing fingerprints.
func withFingerprints(in []Finding) []Finding {
	out := slices.Clone(in)
	for i := range out {
		if out[i].Fingerprint == "" {
			out[i].Fingerprint = ComputeFingerprint(out[i])
		}
	}
	return out
}

// stateRank puts new (and updated) findings first, then unchanged, then
// absent; a finding without a state sorts with the new ones, which is how
// the gate treats it.
func stateRank(s State) int {
	switch s {
	case Unchanged:
		return 1
	case Absent:
		return 2
	}
	return 0
}

// CompareFindings is the one order of findings in every output: state (new,
// unchanged, absent), severity (most severe first), location (path, line),
// rule id, then every other field, so that the order is total: two findings
// compare equal only when they are identical, which lets SortFindings use an
// unstable (faster) sort and still print equal inputs identically.
func CompareFindings(a, b Finding) int { return compareFindings(&a, &b) }

// compareRow is the order every row of a report follows, findings and
// problems alike: state (new, unchanged, absent), severity (most severe
// first), then location (path, line).
func compareRow(as, bs State, asev, bsev Severity, al, bl Location) int {
	if c := cmp.Compare(stateRank(as), stateRank(bs)); c != 0 {
		return c
	}
	if c := cmp.Compare(bsev.Rank(), asev.Rank()); c != 0 {
		return c
	}
	if c := cmp.Compare(al.Path, bl.Path); c != 0 {
		return c
	}
	return cmp.Compare(al.Line, bl.Line)
}

// compareFindings takes pointers: a Finding is some 300 bytes, and sorting
// 20,000 of them by value spends its time copying.
func compareFindings(a, b *Finding) int {
	if c := compareRow(a.BaselineState, b.BaselineState, a.Severity, b.Severity, a.Location, b.Location); c != 0 {
		return c
	}
	if c := cmp.Compare(a.RuleID, b.RuleID); c != 0 {
		return c
	}
	for _, p := range [][2]string{
		{a.Scanner, b.Scanner},
		{a.Resource.Kind, b.Resource.Kind},
		{a.Resource.Namespace, b.Resource.Namespace},
		{a.Resource.Name, b.Resource.Name},
		{a.Resource.Container, b.Resource.Container},
		{a.Key, b.Key},
		{a.Fingerprint, b.Fingerprint},
		{a.Message, b.Message},
		{a.Title, b.Title},
		{a.Image, b.Image},
		{a.CVE, b.CVE},
		{a.Resource.APIVersion, b.Resource.APIVersion},
		{string(a.Severity), string(b.Severity)},
		{string(a.BaselineState), string(b.BaselineState)},
		{a.WaiverReason, b.WaiverReason},
	} {
		if c := cmp.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	switch {
	case a.Waived == b.Waived:
		return 0
	case !a.Waived:
		return -1
	}
	return 1
}

// SortFindings sorts findings in place in the order of CompareFindings. It
// sorts pointers and moves each finding once, rather than swapping the
// large structs at every step of the sort.
func SortFindings(fs []Finding) {
	ptrs := make([]*Finding, len(fs))
	for i := range fs {
		ptrs[i] = &fs[i]
	}
	slices.SortFunc(ptrs, compareFindings)
	sorted := make([]Finding, len(fs))
	for i, p := range ptrs {
		sorted[i] = *p
	}
	copy(fs, sorted)
}
