package output

import (
	"cmp"
	"slices"
	"strings"

	"github.com/kube-sentient/aegis/report"
)

// issueKind is why a scanner's runs are worth a line, in the order the
// outputs list them.
type issueKind int

const (
	issueFailed          issueKind = iota // an error that makes the verdict an error
	issueAcceptedError                    // an error the policy accepts (allowError)
	issueAcceptedMissing                  // a missing tool the policy accepts (allowMissing)
	issueNotRun                           // skipped: not enabled, not applicable
)

// scannerIssue is one scanner's runs of one kind and detail, on the sides
// listed.
type scannerIssue struct {
	kind   issueKind
	name   string
	sides  []string
	detail string // the error or why it was skipped
	optIn  bool   // name lists the scanners the policy does not enable
}

// scannerIssues groups the runs that did not simply succeed, in a stable
// order whatever order the runs finished in. decided is whether the gate
// reached a verdict (then every failure in the report is accepted).
func scannerIssues(runs []report.ScannerRun, decided bool) []scannerIssue {
	var out []scannerIssue
	for _, run := range runs {
		var kind issueKind
		switch {
		case run.Status == report.StatusOK:
			continue
		case run.Status == report.StatusSkipped:
			kind = issueNotRun
		case run.Status == report.StatusError && decided && run.Missing:
			kind = issueAcceptedMissing
		case run.Status == report.StatusError && decided:
			kind = issueAcceptedError
		default:
			kind = issueFailed
		}
		i := slices.IndexFunc(out, func(is scannerIssue) bool {
			return is.kind == kind && is.name == run.Name && is.detail == run.Error
		})
		if i < 0 {
			out = append(out, scannerIssue{kind: kind, name: run.Name, detail: run.Error})
			i = len(out) - 1
		}
		if !slices.Contains(out[i].sides, run.Side) {
			out[i].sides = append(out[i].sides, run.Side)
		}
	}
	out = mergeOptIn(out)
	for i := range out {
		slices.Sort(out[i].sides)
	}
	slices.SortStableFunc(out, func(a, b scannerIssue) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(b2i(a.optIn), b2i(b.optIn)), strings.Compare(a.name, b.name), strings.Compare(a.detail, b.detail))
	})
	return out
}

var issueIcons = map[issueKind]string{
	issueFailed:          "❌",
	issueAcceptedError:   "⚠️",
	issueAcceptedMissing: "➖",
	issueNotRun:          "⏭️",
}

func (is scannerIssue) markdown() string {
	where := mdText(strings.Join(is.sides, ", "), 40)
	name := "**" + mdText(is.name, 60) + "**"
	detail := ""
	if is.detail != "" {
		detail = ": " + mdText(is.detail, 300)
	}
	switch is.kind {
	case issueFailed:
		return issueIcons[is.kind] + " " + name + " failed on " + where + detail
	case issueAcceptedError:
		return issueIcons[is.kind] + " " + name + " failed on " + where + "; the policy accepts that (allowError)" + detail
	case issueAcceptedMissing:
		return issueIcons[is.kind] + " " + name + " is not installed (" + where + "); the policy accepts that (allowMissing)"
	}
	if is.optIn {
		return issueIcons[is.kind] + " Not enabled (opt-in, `scanners.NAME.enabled` in the policy): " + mdText(is.name, 300)
	}
	return issueIcons[is.kind] + " " + name + " did not run on " + where + detail
}

// mergeOptIn makes one line of the scanners skipped because the policy
// does not enable them (opt-in: each run's reason names its own setting),
// so that four such scanners do not push out what matters.
func mergeOptIn(issues []scannerIssue) []scannerIssue {
	var out []scannerIssue
	var names []string
	for _, is := range issues {
		if is.kind == issueNotRun && strings.HasPrefix(is.detail, "opt-in") {
			if !slices.Contains(names, is.name) {
				names = append(names, is.name)
			}
			continue
		}
		out = append(out, is)
	}
	if len(names) > 0 {
		slices.Sort(names)
		out = append(out, scannerIssue{kind: issueNotRun, name: strings.Join(names, ", "), optIn: true})
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
