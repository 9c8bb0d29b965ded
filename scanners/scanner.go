// Package scanners owns the Scanner interface and the runner that runs every
// enabled scanner on both sides (baseline and post-fix) with a timeout each,
// records status, duration and version per side, and fails closed: a missing
// scanner, a timeout, a crash or unparsable output is an error, never an
// empty pass. Each scanner lives in a subpackage.
//
// Scanners know nothing of outputs or GitHub.
package scanners

import (
	"context"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/shadow"
)

// Side names.
const (
	Base = "base"
	Head = "head"
)

// Target is what a scanner scans on one side.
type Target struct {
	Side string
	// Root is the side's source root on disk (a directory or a worktree).
	Root string
	Set  *manifest.Set
	// Shadow is the side deployed in its shadow namespace, nil when the side
	// was not deployed (--shadow=off, or the base with --shadow=head).
	Shadow *shadow.Deployment
	// KubeVersion is the Kubernetes version the side is rendered for
	// (--kube-version, e.g. "v1.30.2"); "" means the latest. The posture
	// scanner holds pods to that version's Pod Security Standards.
	KubeVersion string
}

// LiveScanner is a scanner that needs the side deployed: the runner skips
// it on a side without a shadow deployment (and the gate fails closed when
// that side is the head, unless the policy's allowSkip accepts it).
type LiveScanner interface {
	Scanner
	NeedsShadow()
}

// Preparer is a scanner that needs to see both sides before it scans
// either (semgrep scans the files that differ between them). The runner
// calls Prepare once, before any Scan; an error fails the scanner's runs
// on every side.
type Preparer interface {
	Scanner
	Prepare(ctx context.Context, base, head Target) error
}

// Scanner finds issues on one side.
type Scanner interface {
	// Name is the scanner's id, as in .aegis.yaml and SARIF categories.
	Name() string
	// Version of the scanner (a tool's own version for external ones).
	Version(ctx context.Context) (string, error)
	// Rules lists every rule the scanner may report.
	Rules() []report.Rule
	// Scan returns the findings of one side. An error means the side was
	// not scanned, not that it is clean; a *SkipError (Skip) says there was
	// nothing the scanner could scan, which the gate treats as it treats a
	// live scanner on an undeployed side.
	Scan(ctx context.Context, t Target) ([]report.Finding, error)
}
