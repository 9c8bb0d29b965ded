package report

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func finding(rule string, sev Severity, name string, line int) Finding {
	return Finding{Scanner: "posture", RuleID: rule, Severity: sev, Title: rule, Message: rule + " on " + name,
		Resource: deploy("default", name, "app"), Location: Location{Path: "deploy.yaml", Line: line}}
}

// states returns "rule@line:state" per finding, in result order.
func states(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = fmt.Sprintf("%s@%d:%s", f.RuleID, f.Location.Line, f.BaselineState)
	}
	return out
}

func TestDelta(t *testing.T) {
	a := finding("pss.privileged", High, "web", 10)
	b := finding("pss.runAsNonRoot", Medium, "web", 12)
	c := finding("aegis.missingProbes", Low, "web", 14)
	moved := func(f Finding, line int) Finding { f.Location.Line = line; return f }
	renamespaced := func(f Finding, ns string) Finding { f.Resource.Namespace = ns; return f }
	retagged := func(f Finding, image string) Finding { f.Image = image; return f }

	tests := []struct {
		name       string
		base, head []Finding
		want       []string
	}{
		{name: "empty", want: []string{}},
		{name: "only head is new", head: []Finding{a, b}, want: []string{"pss.privileged@10:new", "pss.runAsNonRoot@12:new"}},
		{name: "only base is absent", base: []Finding{a, b}, want: []string{"pss.privileged@10:absent", "pss.runAsNonRoot@12:absent"}},
		{name: "both sides unchanged", base: []Finding{a}, head: []Finding{a}, want: []string{"pss.privileged@10:unchanged"}},
		{
			name: "fix PR: one fixed, one new, one unchanged",
			base: []Finding{a, b}, head: []Finding{b, c},
			want: []string{"aegis.missingProbes@14:new", "pss.runAsNonRoot@12:unchanged", "pss.privileged@10:absent"},
		},
		{
			name: "line move keeps unchanged and takes head's line",
			base: []Finding{a}, head: []Finding{moved(a, 40)},
			want: []string{"pss.privileged@40:unchanged"},
		},
		{
			name: "namespace rewrite keeps unchanged",
			base: []Finding{a}, head: []Finding{renamespaced(a, "aegis-shadow-1234")},
			want: []string{"pss.privileged@10:unchanged"},
		},
		{
			name: "image tag bump keeps unchanged",
			base: []Finding{retagged(a, "nginx:1.25")}, head: []Finding{retagged(a, "nginx:1.26@sha256:abcd")},
			want: []string{"pss.privileged@10:unchanged"},
		},
		{
			name: "multiset: two in head, one in base",
			base: []Finding{a}, head: []Finding{a, moved(a, 30)},
			want: []string{"pss.privileged@30:new", "pss.privileged@10:unchanged"},
		},
		{
			name: "multiset: one in head, two in base",
			base: []Finding{a, moved(a, 30)}, head: []Finding{a},
			want: []string{"pss.privileged@10:unchanged", "pss.privileged@30:absent"},
		},
		{
			name: "different resource is a different finding",
			base: []Finding{a}, head: []Finding{finding("pss.privileged", High, "api", 10)},
			want: []string{"pss.privileged@10:new", "pss.privileged@10:absent"},
		},
		{
			name: "order: state, then severity, then location, then rule",
			head: []Finding{c, moved(b, 1), moved(a, 99), finding("pss.hostPorts", High, "web", 99)},
			want: []string{"pss.hostPorts@99:new", "pss.privileged@99:new", "pss.runAsNonRoot@1:new", "aegis.missingProbes@14:new"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Delta(tt.base, tt.head)
			assert.Equal(t, tt.want, states(got))
			for _, f := range got {
				assert.NotEmpty(t, f.Fingerprint, "fingerprint computed")
			}
		})
	}
}

func TestDeltaKeepsGivenFingerprintAndDoesNotModifyInputs(t *testing.T) {
	a := finding("pss.privileged", High, "web", 10)
	a.Fingerprint = "given"
	other := finding("pss.hostPorts", High, "api", 3) // different finding, same given fingerprint
	other.Fingerprint = "given"
	base, head := []Finding{a}, []Finding{other}
	got := Delta(base, head)
	require.Len(t, got, 1)
	assert.Equal(t, Unchanged, got[0].BaselineState, "a given fingerprint decides the match")
	assert.Equal(t, "pss.hostPorts", got[0].RuleID, "the head's copy is kept")
	assert.Empty(t, base[0].BaselineState)
	assert.Empty(t, head[0].BaselineState)
	b := finding("pss.runAsNonRoot", Medium, "web", 12)
	Delta([]Finding{b}, nil)
	assert.Empty(t, b.Fingerprint, "inputs are not modified")
}

func TestDeltaIsDeterministic(t *testing.T) {
	base, head := manyFindings(500, 0), manyFindings(500, 250)
	want := Delta(base, head)
	// Reversing the input order must not change the output.
	rb, rh := reversed(base), reversed(head)
	assert.Equal(t, want, Delta(rb, rh))
	var n [3]int
	for _, f := range want {
		n[stateRank(f.BaselineState)]++
	}
	assert.Equal(t, [3]int{250, 250, 250}, n, "new, unchanged, absent")

	// Duplicated fingerprints pair the same way whatever the input order.
	a := finding("pss.privileged", High, "web", 10)
	a2, a3 := a, a
	a2.Location.Line, a3.Location.Line = 20, 30
	want = Delta([]Finding{a3, a}, []Finding{a2, a3, a})
	assert.Equal(t, want, Delta([]Finding{a, a3}, []Finding{a, a2, a3}))
	assert.Equal(t, []string{"pss.privileged@20:new", "pss.privileged@10:unchanged", "pss.privileged@30:unchanged"}, states(want),
		"copies that did not move pair first")
}

func reversed(in []Finding) []Finding {
	out := make([]Finding, len(in))
	for i, f := range in {
		out[len(in)-1-i] = f
	}
	return out
}

// manyFindings makes n distinct findings numbered from start, so that two
// ranges overlap in what they share.
func manyFindings(n, start int) []Finding {
	sev := []Severity{Critical, High, Medium, Low, Info}
	out := make([]Finding, n)
	for i := range out {
		k := start + i
		out[i] = Finding{
			Scanner: []string{"posture", "trivy", "semgrep"}[k%3], RuleID: fmt.Sprintf("rule.%d", k%37), Severity: sev[k%5],
			Title: "Finding title", Message: fmt.Sprintf("message number %d about something that matters", k),
			Resource: deploy("default", fmt.Sprintf("app-%d", k), "main"),
			Location: Location{Path: fmt.Sprintf("manifests/app-%d.yaml", k%100), Line: k % 400},
		}
	}
	return out
}

func BenchmarkDelta(b *testing.B) {
	base, head := manyFindings(10_000, 0), manyFindings(10_000, 5_000)
	b.ReportAllocs()
	for b.Loop() {
		Delta(base, head)
	}
}

// TestDeltaManyDuplicatesStaysFast covers the degenerate case of 10,000
// copies of one fingerprint per side, which a pairing that scanned the
// group for each copy would make 10^8 comparisons (no timed assertion: the
// run time of the test shows it).
func TestDeltaManyDuplicatesStaysFast(t *testing.T) {
	var base, head []Finding
	for i := range 10_000 {
		base = append(base, finding("pss.privileged", High, "web", i))
		head = append(head, finding("pss.privileged", High, "web", i+5_000))
	}
	got := Delta(base, head)
	var n [3]int
	for _, f := range got {
		n[stateRank(f.BaselineState)]++
	}
	assert.Equal(t, [3]int{0, 10_000, 0}, n, "same fingerprint: all unchanged")
}
