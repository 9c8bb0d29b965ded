package posture

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"k8s.io/pod-security-admission/api"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

// Name is the scanner's id.
const Name = "posture"

// RulesVersion is the version of aegis's own rules (ids, severities, the
// best-practice heuristics). Bump it when a change could turn a finding new
// or absent without a manifest change, so reports say why.
const RulesVersion = "1.2.0"

const (
	psaModule = "k8s.io/pod-security-admission"
	// psaFallbackVersion is the go.mod version, for binaries built without
	// module information.
	psaFallbackVersion = "v0.37.2"
)

// Scanner is the built-in posture scanner. It is stateless and safe for
// concurrent use: base and head may be scanned at the same time.
type Scanner struct{}

var _ scanners.Scanner = (*Scanner)(nil)

// New returns the posture scanner.
func New() *Scanner { return &Scanner{} }

// Name returns "posture".
func (*Scanner) Name() string { return Name }

// Version returns the rules version and the pod-security-admission library
// version, since either changes what the scanner reports.
func (*Scanner) Version(context.Context) (string, error) {
	return fmt.Sprintf("%s (pod-security-admission %s)", RulesVersion, psaVersion()), nil
}

func psaVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == psaModule {
				if d.Replace != nil && d.Replace.Version != "" {
					return d.Replace.Version
				}
				if d.Version != "" && d.Version != "(devel)" {
					return d.Version
				}
			}
		}
	}
	return psaFallbackVersion
}

// Rules lists every rule: one per default check of the library, then the
// best-practice rules, ordered by id.
func (*Scanner) Rules() []report.Rule {
	e, _ := engine() // on error Scan reports it; the best-practice rules still stand
	return rules(e)
}

// Scan returns the findings of every pod-bearing object of the side, in a
// deterministic order (location, rule, resource). An object whose pod
// template cannot be read ends the scan with an error naming it: a side
// that was not fully scanned must not pass as clean.
func (*Scanner) Scan(ctx context.Context, t scanners.Target) ([]report.Finding, error) {
	e, err := engine()
	if err != nil {
		return nil, err
	}
	if t.Set == nil {
		return nil, errors.New("posture: no manifest set to scan")
	}
	// The Pod Security Standards of the Kubernetes version the side is
	// rendered for: a check that version does not have does not fire.
	version, err := PSSVersion(t.KubeVersion)
	if err != nil {
		return nil, err
	}
	var out []report.Finding
	for _, obj := range t.Set.Objects {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("posture: %w", err)
		}
		fs, err := scanObject(e, obj, version)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	out = append(out, scanCluster(t.Set)...)
	// One total order for every scanner, so that two scans of one side give
	// byte-identical reports.
	report.SortFindings(out)
	return out, nil
}

// scanObject returns the findings of every pod of one object.
func scanObject(e *pssEngine, obj manifest.Object, version api.Version) ([]report.Finding, error) {
	ws, err := loadWorkloads(obj, version)
	if err != nil {
		return nil, err
	}
	var out []report.Finding
	seen := map[string]bool{}
	for _, w := range ws {
		fs, err := scanWorkload(e, w)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			// Pods of one object are told apart by their qualifier; a
			// repeat would be a broken manifest (two equal names).
			if !seen[f.Fingerprint] {
				seen[f.Fingerprint] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// scanWorkload returns the findings of one pod.
func scanWorkload(e *pssEngine, w *workload) ([]report.Finding, error) {
	vs, err := e.evaluate(w)
	if err != nil {
		return nil, err
	}
	var out []report.Finding
	seen := map[string]bool{}
	add := func(f report.Finding) {
		// A broken manifest may repeat a container or env name; one
		// fingerprint is one finding to the delta, so keep the first.
		if !seen[f.Fingerprint] {
			seen[f.Fingerprint] = true
			out = append(out, f)
		}
	}
	for _, v := range vs {
		doc := docFor(v.check)
		var container, key string
		switch v.subject.kind {
		case subjContainer:
			container = v.subject.name
		case subjVolume:
			key = v.subject.name
		case subjAnnotations:
			key = "metadata.annotations"
		case subjPod:
			key = v.subject.name // hostNetwork, hostPID, hostIPC; else the pod as a whole
		}
		msg := fmt.Sprintf("%s violates the %s Pod Security Standard (%s): %s. %s", w.label(), v.check.level, v.reason, v.detail, doc.fix)
		add(w.finding(PSSRuleID(v.check.id), doc.severity, doc.title, container, key, "", w.violationPath(v), msg))
	}
	for _, p := range w.practices() {
		path := p.ref.path
		if p.field != "" {
			path = path.Child(manifest.ParsePath(p.field)...)
		}
		add(w.finding(p.rule, p.severity, practiceDocs[p.rule].title, p.ref.c.Name, p.key, p.image, path, w.label()+": "+p.message))
	}
	return out, nil
}

// label names the object in messages: kind and name, not the namespace,
// which shadow runs rewrite (the Resource field carries it); and the pod's
// path when the object holds several.
func (w *workload) label() string {
	l := w.obj.GetKind() + "/" + w.name()
	if q := w.src.Qualifier; q != "" {
		l += " (pod at " + q + ")"
	}
	return l
}

func (w *workload) name() string {
	if n := w.obj.GetName(); n != "" {
		return n
	}
	return w.obj.GetGenerateName()
}

// finding makes a finding at a field of the pod's view, located at the
// object's field that set it. A pod of an object that holds several
// (podspec.Pod.Qualifier) prefixes its key with its path, so that each
// pod's findings have fingerprints of their own.
func (w *workload) finding(rule string, sev report.Severity, title, container, key, image string, path manifest.FieldPath, msg string) report.Finding {
	loc := w.obj.Locate(w.src.Source(path))
	if q := w.src.Qualifier; q != "" {
		if key == "" {
			key = q
		} else {
			key = q + ":" + key
		}
	}
	f := report.Finding{
		Scanner:  Name,
		RuleID:   rule,
		Severity: sev,
		Title:    title,
		Message:  msg,
		Resource: report.Resource{
			APIVersion: w.obj.GetAPIVersion(),
			Kind:       w.obj.GetKind(),
			Namespace:  w.obj.GetNamespace(),
			Name:       w.name(),
			Container:  container,
		},
		Location: loc,
		Image:    image,
		Key:      key,
	}
	f.Fingerprint = report.ComputeFingerprint(f)
	return f
}
