package trivy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kube-sentient/aegis/report"
)

// schemaVersion is the version of Trivy's JSON report this package reads.
// Trivy has printed 2 since v0.20; another value means the format changed
// under us, and guessing could turn real findings into silence.
const schemaVersion = 2

// Report is the part of Trivy's JSON report (`--format json`) that aegis
// reads. Field names are Trivy's (pkg/types.Report in Trivy's source).
type Report struct {
	SchemaVersion int
	ArtifactName  string
	ArtifactType  string
	Results       []Result
}

// Result is one scanned file.
type Result struct {
	// Target is the file, relative to the scanned directory.
	Target            string
	Class             string // "config" for misconfigurations
	Type              string // "kubernetes" for Kubernetes manifests
	MisconfSummary    *MisconfSummary
	Misconfigurations []Misconfiguration
}

// MisconfSummary counts passed and failed checks of one file.
type MisconfSummary struct {
	Successes int
	Failures  int
}

// Misconfiguration is one check's verdict on one file.
type Misconfiguration struct {
	Type string
	// ID is the check id, "KSV-0017" in Trivy v0.74.0 ("KSV017" in older
	// releases); AVDID is its deprecated "AVD-KSV-0017" alias.
	ID            string
	AVDID         string
	Title         string
	Description   string
	Message       string
	Namespace     string
	Query         string
	Resolution    string
	Severity      string
	PrimaryURL    string
	References    []string
	Status        string // FAIL, PASS or EXCEPTION
	CauseMetadata CauseMetadata
}

// CauseMetadata says where in the scanned file the check found the cause.
// Code, which holds the file's lines, is deliberately not decoded: aegis
// never copies manifest content into findings.
type CauseMetadata struct {
	Resource  string
	Provider  string
	Service   string
	StartLine int
	EndLine   int
}

// Trivy's statuses.
const (
	StatusFail = "FAIL"
	StatusPass = "PASS"
)

// ParseReport decodes Trivy's JSON report. It refuses anything that is not
// exactly one JSON object of the expected schema version: empty output,
// garbage, trailing data or a changed format all mean the side was not
// scanned.
func ParseReport(data []byte) (*Report, error) {
	var r Report
	if err := decodeJSON(data, &r); err != nil {
		return nil, err
	}
	if r.SchemaVersion != schemaVersion {
		return nil, fmt.Errorf("report schema version %d, expected %d", r.SchemaVersion, schemaVersion)
	}
	for i, res := range r.Results {
		if res.Target == "" {
			return nil, fmt.Errorf("result %d has no target", i)
		}
		for j, m := range res.Misconfigurations {
			if m.ID == "" && m.AVDID == "" {
				return nil, fmt.Errorf("%s: misconfiguration %d has no check id", res.Target, j)
			}
			if _, err := mapSeverity(m.Severity); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", res.Target, m.checkID(), err)
			}
		}
	}
	return &r, nil
}

// decodeJSON decodes data, which must be exactly one JSON value, into v.
func decodeJSON(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return errors.New("empty output, expected a JSON report")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("output is not a JSON report: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON report")
	}
	return nil
}

// checkID is the id as Trivy prints it, so that users find it in Trivy's
// documentation and in their .trivyignore files.
func (m Misconfiguration) checkID() string {
	if m.ID != "" {
		return m.ID
	}
	return strings.TrimPrefix(m.AVDID, "AVD-")
}

// mapSeverity maps Trivy's severities to aegis's. Trivy's UNKNOWN (a check
// without a severity) becomes info: it is reported, but no severity
// threshold above info gates on it. Any other value is a format change and
// an error.
func mapSeverity(s string) (report.Severity, error) {
	switch strings.ToUpper(s) {
	case "CRITICAL":
		return report.Critical, nil
	case "HIGH":
		return report.High, nil
	case "MEDIUM":
		return report.Medium, nil
	case "LOW":
		return report.Low, nil
	case "UNKNOWN", "":
		return report.Info, nil
	}
	return "", fmt.Errorf("unknown severity %q", s)
}
