package verify

import (
	"context"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/scanners"
)

// SetSide is one side that is already rendered. RunSets verifies two of
// them without rendering anything: the Argo CD PreSync gate verifies the set
// Argo CD is about to apply (the head) against the objects that run in the
// destination namespace now (the base, read from the cluster).
type SetSide struct {
	// Set is the side's objects (required).
	Set *manifest.Set
	// Source says what the set is, for the report's side ("live objects of
	// namespace shop", "argocd app web at 1a2b3c"): Run puts --base/--head
	// there.
	Source string
	// Type is the source type when known (render.Kustomize, ...), "" else.
	Type render.Type
	// Root is a source tree on disk for the scanners that read files
	// (semgrep), "" when the side has none.
	Root string
}

// RunSets verifies head against base exactly as Run does after rendering:
// resource diff, shadow deployment (Options.Shadow), scanners on both sides,
// delta and gate. Options.Base, Head, Path and Render are not used; the rest
// means what it means for Run. An error means there is no verdict: bad
// input (IsBadInput) or an infrastructure failure.
func RunSets(ctx context.Context, base, head SetSide, opts Options) (*Result, error) {
	if base.Set == nil || head.Set == nil {
		return nil, &InputError{Msg: "verify: RunSets needs both a base and a head set"}
	}
	opts = withDefaults(opts)
	if err := checkShadow(opts); err != nil {
		return nil, err
	}
	b, h := setSide(scanners.Base, base), setSide(scanners.Head, head)
	opts.Progress("base (%s): %d objects; head (%s): %d objects", b.src.spec, base.Set.Len(), h.src.spec, head.Set.Len())
	return verifyRendered(ctx, opts, b, h)
}

// setSide wraps an already-rendered set as the pipeline's side: nothing to
// clean up, its Root (if any) is what file-reading scanners see.
func setSide(name string, s SetSide) *renderedSide {
	spec := s.Source
	if spec == "" {
		spec = name
	}
	return &renderedSide{
		src:      &side{name: name, spec: spec, root: s.Root, path: ".", isDir: s.Root != "", cleanup: func() {}},
		rendered: &render.Result{Type: s.Type, Set: s.Set},
	}
}
