package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteJSON writes the report as indented JSON (schema: docs/report-schema.md).
// The field order is the struct order; findings are written in the order of
// SortFindings, scanner runs by name and side, rules by scanner and id, so
// that two runs over the same input give identical bytes. List fields are
// written as [] rather than null when empty, so that consumers (jq, the
// action) need no null checks.
// The report itself is not modified.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("write JSON report: no report")
	}
	out := normalized(r)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// The report is read by people and tools, never embedded in HTML:
	// "<" in a message reads better than "\u003c".
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// ReadJSON reads a report that WriteJSON wrote, checking its apiVersion and
// kind so that a consumer never acts on some other document.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("read JSON report: %w", err)
	}
	if r.APIVersion != APIVersion || r.Kind != Kind {
		return nil, fmt.Errorf("read JSON report: apiVersion %q kind %q, want %q %q", r.APIVersion, r.Kind, APIVersion, Kind)
	}
	return &r, nil
}

// normalized is a shallow copy of r with the defaults a document needs:
// apiVersion and kind, non-nil lists and maps, sorted findings and runs.
func normalized(r *Report) *Report {
	c := *r
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = Kind
	}
	c.Reasons = nonNil(c.Reasons)
	c.Changes = nonNil(c.Changes)
	c.Rules = slices.Clone(nonNil(c.Rules))
	slices.SortStableFunc(c.Rules, func(a, b Rule) int {
		if n := strings.Compare(a.Scanner, b.Scanner); n != 0 {
			return n
		}
		return strings.Compare(a.ID, b.ID)
	})
	c.Findings = slices.Clone(nonNil(c.Findings))
	SortFindings(c.Findings)
	c.Scanners = slices.Clone(nonNil(c.Scanners))
	slices.SortStableFunc(c.Scanners, func(a, b ScannerRun) int {
		if n := strings.Compare(a.Name, b.Name); n != 0 {
			return n
		}
		return strings.Compare(a.Side, b.Side)
	})
	if c.Summary.NewBySeverity == nil || c.Summary.FixedBySeverity == nil || c.Summary.UnchangedBySeverity == nil {
		// A report that did not go through Gate still gets complete counts.
		s := Summarize(c.Findings)
		s.Blocking = c.Summary.Blocking
		c.Summary = s
	}
	return &c
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
