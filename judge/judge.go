// Package judge owns the verdict: it is the only package that reads the
// policy to decide (fail-on thresholds, scanner settings, waivers). It
// applies the waivers, records the expired ones, fills the summary and
// decides pass, fail or error, once per run; outputs render what it
// decided and never decide again.
package judge

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
)

// topFindings is how many blocking findings the reasons name one by one;
// the rest are counted, so that the reasons stay readable on a terminal.
const topFindings = 5

// Gate applies the policy to a report whose Findings carry their delta
// state (see Delta): it applies the waivers, records the expired ones,
// fills Summary and Policy, and sets Verdict and Reasons. It returns the
// verdict for convenience. A nil cfg means config.Default().
//
// The verdict is, in this order of precedence:
//   - error when no scanner ran, when none completed, or when a scanner run
//     failed and failOn.scannerError holds and the scanner's settings allow
//     neither the error (allowError) nor, for a scanner that is not
//     installed (ScannerRun.Missing), its absence (allowMissing); a run of
//     an enabled scanner that was skipped on the head (a live scanner with
//     the head not deployed, DAST with nothing to scan) counts as failed
//     unless the scanner's allowSkip accepts it (see judgeScanners);
//   - fail when a new, unwaived finding is at or above failOn.severity;
//   - pass otherwise.
//
// Error wins over fail because an incomplete scan may hide more; the fail
// reasons are still listed. The first reason is always a one-line summary of
// the verdict, the others explain it.
func Gate(r *report.Report, cfg *config.Config, now time.Time) report.Verdict {
	if cfg == nil {
		cfg = config.Default()
	}
	threshold, err := report.ParseSeverity(cfg.FailOn.Severity)
	if err != nil {
		threshold = report.High // config validation rejects this earlier; keep the default
	}
	failOnScannerErr := cfg.FailOn.ScannerError == nil || *cfg.FailOn.ScannerError
	r.APIVersion, r.Kind = report.APIVersion, report.Kind
	r.Policy = report.PolicyRef{Path: cfg.Path, FailOnSeverity: threshold, FailOnScannerErr: failOnScannerErr}

	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Fingerprint == "" {
			f.Fingerprint = report.ComputeFingerprint(*f)
		}
		if f.BaselineState == "" {
			f.BaselineState = report.New // a finding that skipped the delta must not escape the gate
		}
	}
	notes := applyWaivers(r, cfg, now)

	// A finding of unknown severity blocks: a malformed scanner result must
	// not be able to pass the gate by sorting below every threshold.
	var blocking []report.Finding
	for _, f := range r.Findings {
		if report.Blocks(f, threshold) {
			blocking = append(blocking, f)
		}
	}
	report.SortFindings(blocking)
	r.Summary = report.Summarize(r.Findings)
	r.Summary.Blocking = len(blocking)

	scannerErrs, allowedErrs, ok, skipped := judgeScanners(r.Scanners, cfg, failOnScannerErr)
	unhealthy := unhealthyHead(r, cfg)
	var why []string
	switch {
	case len(r.Scanners) == 0:
		r.Verdict = report.Error
		why = append(why, "Error: no scanner ran, so aegis cannot tell whether the change is safe.")
	case ok == 0:
		r.Verdict = report.Error
		why = append(why, "Error: no scanner completed, so aegis cannot tell whether the change is safe.")
	case len(scannerErrs) > 0:
		r.Verdict = report.Error
		verb := "failed"
		if skipped > 0 {
			verb = "failed or did not run"
		}
		why = append(why, fmt.Sprintf("Error: %s %s and the policy does not allow it, so aegis cannot tell whether the change is safe.",
			text.Plural(len(scannerErrs), "scanner run", "scanner runs"), verb))
	case len(blocking) > 0 || unhealthy != "":
		r.Verdict = report.Fail
		if len(blocking) == 0 {
			why = append(why, unhealthy)
		}
	default:
		r.Verdict = report.Pass
		why = append(why, passReason(r.Summary, threshold))
	}
	why = append(why, scannerErrs...)
	if len(blocking) > 0 {
		fr := failReasons(blocking, threshold)
		if r.Verdict != report.Fail {
			fr[0] = "Also: " + strings.TrimPrefix(fr[0], "Failed: ")
		}
		why = append(why, fr...)
	}
	if unhealthy != "" && (r.Verdict != report.Fail || len(blocking) > 0) {
		why = append(why, unhealthy)
	}
	why = append(why, allowedErrs...)
	r.Reasons = append(why, notes...)
	return r.Verdict
}

// unhealthyHead returns the reason a head that is not Healthy in its shadow
// namespace fails the gate (failOn.unhealthy, default true), or "".
func unhealthyHead(r *report.Report, cfg *config.Config) string {
	if r.Shadow == nil || r.Shadow.Head == nil || r.Shadow.Head.Health == "Healthy" {
		return ""
	}
	if cfg.FailOn.Unhealthy != nil && !*cfg.FailOn.Unhealthy {
		return ""
	}
	return fmt.Sprintf("Failed: the head is %s in its shadow namespace %s, not Healthy (failOn.unhealthy).",
		orUnknown(r.Shadow.Head.Health), r.Shadow.Head.Namespace)
}

// sideHead is the side a change brings (the report's ScannerRun.Side).
const sideHead = "head"

// judgeScanners sorts failed runs into those that decide an error verdict
// and those the policy accepts, each as a sentence, and counts the runs
// that completed and the skipped runs among the blocking ones.
//
// A skipped run is one rule: it counts as failed when the scanner is
// enabled and the side is the head, because an enabled scanner that did
// not look at the change cannot vouch for it (a head that drops its
// Services, or is not deployed, must not pass as clean); the scanner's
// allowSkip (or failOn.scannerError: false) accepts it. A skip on the base
// (the base is not deployed with --shadow head, or has nothing to scan)
// is not: with no baseline every finding of that scanner on the head
// counts as new, so such a skip can only make the gate stricter. A
// disabled scanner's runs are skipped by the policy itself.
func judgeScanners(runs []report.ScannerRun, cfg *config.Config, failOnScannerErr bool) (blocking, allowed []string, ok, skipped int) {
	for _, run := range runs {
		switch run.Status {
		case report.StatusOK:
			ok++
			continue
		case report.StatusSkipped:
			if run.Side != sideHead || !cfg.Enabled(run.Name) {
				continue
			}
			s := cfg.Scanner(run.Name)
			what := fmt.Sprintf("Scanner %s is enabled but did not run on the head", run.Name)
			if run.Error != "" {
				what += ": " + text.OneLine(run.Error, 300)
			}
			what = strings.TrimRight(what, ". ")
			switch {
			case s.AllowSkip:
				allowed = append(allowed, what+"; accepted because scanners."+run.Name+".allowSkip is set.")
			case !failOnScannerErr:
				allowed = append(allowed, what+"; accepted because failOn.scannerError is false.")
			default:
				skipped++
				blocking = append(blocking, fmt.Sprintf("%s. An enabled scanner that did not look at the change cannot vouch for it: give it something to scan (deploy the head with --shadow head or both, select a Service), disable it, or set scanners.%s.allowSkip in the policy.", what, run.Name))
			}
			continue
		}
		// Any status other than ok and skipped counts as an error: an
		// unknown status must not read as success.
		s := cfg.Scanner(run.Name)
		what := fmt.Sprintf("Scanner %s failed on %s", run.Name, orUnknown(run.Side))
		if run.Missing {
			what = fmt.Sprintf("Scanner %s is not installed (%s side)", run.Name, orUnknown(run.Side))
		}
		if run.Error != "" {
			what += ": " + text.OneLine(run.Error, 300)
		}
		what = strings.TrimRight(what, ". ")
		switch {
		case s.AllowError:
			allowed = append(allowed, what+"; accepted because scanners."+run.Name+".allowError is set.")
		case run.Missing && s.AllowMissing:
			// The why is in the scanner's run; the reason says what was accepted,
			// once for both sides.
			missing := fmt.Sprintf("Scanner %s is not installed; accepted because scanners.%s.allowMissing is set.", run.Name, run.Name)
			if !slices.Contains(allowed, missing) {
				allowed = append(allowed, missing)
			}
		case !failOnScannerErr:
			allowed = append(allowed, what+"; accepted because failOn.scannerError is false.")
		default:
			hint := "allowError"
			if run.Missing {
				hint = "allowMissing"
			}
			blocking = append(blocking, fmt.Sprintf("%s. To accept this, set scanners.%s.%s in the policy.", what, run.Name, hint))
		}
	}
	return blocking, allowed, ok, skipped
}

func failReasons(blocking []report.Finding, threshold report.Severity) []string {
	counts := map[report.Severity]int{}
	var unknown int
	for _, f := range blocking {
		if f.Severity.Rank() < 0 {
			unknown++
		} else {
			counts[f.Severity]++
		}
	}
	var parts []string
	for _, s := range report.Severities {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d of unknown severity", unknown))
	}
	out := []string{fmt.Sprintf("Failed: the change introduces %s at or above %s (%s) that no waiver accepts.",
		text.Plural(len(blocking), "new finding", "new findings"), threshold, strings.Join(parts, ", "))}
	for i, f := range blocking {
		if i == topFindings {
			out = append(out, fmt.Sprintf("And %s.", text.Plural(len(blocking)-topFindings, "more blocking finding", "more blocking findings")))
			break
		}
		out = append(out, describeFinding(f))
	}
	return out
}

// describeFinding is one sentence naming a finding, where it is and why.
func describeFinding(f report.Finding) string {
	sev := string(f.Severity)
	if f.Severity.Rank() < 0 {
		sev = fmt.Sprintf("unknown-severity (%q)", text.OneLine(string(f.Severity), 20))
	}
	s := fmt.Sprintf("New %s finding %s on %s", sev, text.OneLine(f.RuleID, 100), text.OneLine(f.Resource.String(), 200))
	if f.Location.Path != "" {
		s += " at " + text.OneLine(f.Location.String(), 200)
	}
	if what := text.FirstNonEmpty(f.Title, f.Message); what != "" {
		s += ": " + text.OneLine(what, 200)
	}
	return strings.TrimRight(s, ". ") + "."
}

func passReason(s report.Summary, threshold report.Severity) string {
	parts := []string{fmt.Sprintf("Passed: no new finding at or above %s", threshold)}
	var extra []string
	if below := s.New - s.NewWaived; below > 0 {
		extra = append(extra, text.Plural(below, "new finding", "new findings")+" below it")
	}
	if w := s.NewWaived; w > 0 {
		extra = append(extra, text.Plural(w, "new finding", "new findings")+" waived")
	}
	if s.Fixed > 0 {
		extra = append(extra, text.Plural(s.Fixed, "finding", "findings")+" fixed")
	}
	if len(extra) > 0 {
		parts = append(parts, "; "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, "") + "."
}

// applyWaivers marks the head's findings (new and unchanged) that a valid
// waiver accepts and records every expired waiver. Fixed findings are left
// alone: there is nothing to accept. It returns one reason per expired
// waiver.
func applyWaivers(r *report.Report, cfg *config.Config, now time.Time) []string {
	r.ExpiredWaivers = nil
	var notes []string
	for i := range r.Findings {
		r.Findings[i].Waived, r.Findings[i].WaiverReason = false, ""
	}
	for _, w := range cfg.Waivers {
		expired := waiverExpired(w, now)
		matches := 0
		for i := range r.Findings {
			f := &r.Findings[i]
			if f.BaselineState == report.Absent || !WaiverMatches(w, *f) {
				continue
			}
			matches++
			if !expired && !f.Waived { // the first valid waiver in the file wins
				f.Waived = true
				f.WaiverReason = fmt.Sprintf("%s (%s, until %s)", strings.TrimSpace(w.Reason), strings.TrimSpace(w.Owner), w.Expires)
			}
		}
		if !expired {
			continue
		}
		ew := report.ExpiredWaiver{
			RuleID: w.RuleID, Fingerprint: w.Fingerprint, Resource: w.Resource,
			Reason: w.Reason, Owner: w.Owner, Expires: w.Expires,
			Location: report.Location{Path: cfg.Path, Line: w.Line}, Matches: matches,
		}
		r.ExpiredWaivers = append(r.ExpiredWaivers, ew)
		where := ""
		if cfg.Path != "" {
			where = " at " + ew.Location.String()
		}
		notes = append(notes, fmt.Sprintf("The waiver%s (%s, owner %s) expired on %s and no longer waives anything (it matches %s); renew or remove it.",
			where, WaiverSelectors(w), text.OneLine(w.Owner, 100), text.OneLine(w.Expires, 20), text.Plural(matches, "finding", "findings")))
	}
	return notes
}

// waiverExpired reads ExpiresAt, which config.Parse sets, and falls back to
// the Expires date for a waiver built in code. A waiver with no readable
// date is expired: it must not waive forever by mistake.
func waiverExpired(w config.Waiver, now time.Time) bool {
	if w.ExpiresAt.IsZero() {
		day, err := time.Parse("2006-01-02", w.Expires)
		if err != nil {
			return true
		}
		w.ExpiresAt = day.AddDate(0, 0, 1)
	}
	return w.Expired(now)
}

// WaiverMatches reports whether every selector the waiver gives (rule id,
// fingerprint, resource) matches the finding. A waiver with no selector
// matches nothing. The resource is "Kind/name", which matches in any
// namespace (shadow namespaces rewrite it), or "Kind/namespace/name"; the
// kind is compared without regard to case.
func WaiverMatches(w config.Waiver, f report.Finding) bool {
	if w.RuleID == "" && w.Fingerprint == "" && w.Resource == "" {
		return false
	}
	if w.RuleID != "" && w.RuleID != f.RuleID {
		return false
	}
	if w.Fingerprint != "" {
		fp := f.Fingerprint
		if fp == "" {
			fp = report.ComputeFingerprint(f)
		}
		if w.Fingerprint != fp {
			return false
		}
	}
	if w.Resource != "" {
		parts := strings.Split(w.Resource, "/")
		switch len(parts) {
		case 2:
			return strings.EqualFold(parts[0], f.Resource.Kind) && parts[1] == f.Resource.Name
		case 3:
			return strings.EqualFold(parts[0], f.Resource.Kind) && parts[1] == f.Resource.Namespace && parts[2] == f.Resource.Name
		default:
			return false
		}
	}
	return true
}

// WaiverSelectors describes what a waiver selects, e.g.
// "rule pss.privileged, resource Deployment/web".
func WaiverSelectors(w config.Waiver) string {
	return report.ExpiredWaiver{RuleID: w.RuleID, Fingerprint: w.Fingerprint, Resource: w.Resource}.Selectors()
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown side"
	}
	return text.OneLine(s, 40)
}
