package trivy

import (
	"fmt"
	"strings"

	"github.com/kube-sentient/aegis/report"
)

// ArtifactContainerImage is the ArtifactType of a `trivy image` report,
// from a registry or from an image tarball alike.
const ArtifactContainerImage = "container_image"

// ImageReport is the part of the JSON report of `trivy image --format json`
// that aegis reads. Field names are Trivy's (pkg/types.Report in Trivy's
// source); the schema version is the one the config report has (2).
type ImageReport struct {
	SchemaVersion int
	ArtifactName  string
	ArtifactType  string
	Metadata      ImageMetadata
	Results       []ImageResult
}

// ImageMetadata describes the scanned image.
type ImageMetadata struct {
	OS          *ImageOS `json:",omitempty"`
	ImageID     string   `json:",omitempty"`
	RepoTags    []string `json:",omitempty"`
	RepoDigests []string `json:",omitempty"`
}

// ImageOS is the image's operating system as Trivy detected it.
type ImageOS struct {
	Family string
	Name   string
	// EOSL is true when the distribution no longer supports the release.
	EOSL bool `json:",omitempty"`
}

// ImageResult is one group of packages Trivy checked: the OS packages
// ("alpine", "debian", ...) or one language ecosystem's packages (a Go
// binary, a lock file).
type ImageResult struct {
	Target          string
	Class           string // "os-pkgs" or "lang-pkgs"
	Type            string // "alpine", "gobinary", ...
	Vulnerabilities []Vulnerability
}

// Vulnerability is one vulnerability of one installed package.
type Vulnerability struct {
	VulnerabilityID  string
	PkgID            string `json:",omitempty"`
	PkgName          string
	PkgPath          string `json:",omitempty"` // for language packages: the file that holds them
	InstalledVersion string
	FixedVersion     string `json:",omitempty"`
	Status           string `json:",omitempty"` // fixed, affected, will_not_fix, ...
	SeveritySource   string `json:",omitempty"`
	PrimaryURL       string `json:",omitempty"`
	Title            string `json:",omitempty"`
	Description      string `json:",omitempty"`
	Severity         string
	References       []string `json:",omitempty"`
}

// ParseImageReport decodes the JSON report of `trivy image`. Like
// ParseReport, it refuses anything but exactly one report of the expected
// schema version, and it refuses a report about anything but a container
// image or a vulnerability it cannot name: each means the image was not
// scanned as aegis asked.
func ParseImageReport(data []byte) (*ImageReport, error) {
	var r ImageReport
	if err := decodeJSON(data, &r); err != nil {
		return nil, err
	}
	if r.SchemaVersion != schemaVersion {
		return nil, fmt.Errorf("report schema version %d, expected %d", r.SchemaVersion, schemaVersion)
	}
	if r.ArtifactType != ArtifactContainerImage {
		return nil, fmt.Errorf("report about a %q artifact, expected %q", r.ArtifactType, ArtifactContainerImage)
	}
	for i, res := range r.Results {
		if res.Target == "" {
			return nil, fmt.Errorf("result %d has no target", i)
		}
		for j, v := range res.Vulnerabilities {
			if v.VulnerabilityID == "" || v.PkgName == "" {
				return nil, fmt.Errorf("%s: vulnerability %d has no id or no package", res.Target, j)
			}
			if _, err := vulnSeverity(v.Severity); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", res.Target, v.VulnerabilityID, err)
			}
		}
	}
	return &r, nil
}

// vulnSeverity maps Trivy's vulnerability severities to aegis's. Trivy's
// UNKNOWN (no vendor nor NVD score yet, common for fresh CVEs) becomes low,
// not info: it is a known vulnerability in an installed package, which
// deserves more than a note, yet without a score it should not trip a gate
// set at medium or above. Any other value is a format change and an error.
func vulnSeverity(s string) (report.Severity, error) {
	if strings.EqualFold(s, "UNKNOWN") || s == "" {
		return report.Low, nil
	}
	return mapSeverity(s)
}
