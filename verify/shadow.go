package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/shadow"
)

func checkShadow(opts Options) error {
	switch opts.Shadow {
	case ShadowOff:
		return nil
	case ShadowHead, ShadowBoth:
		if opts.Kube == nil {
			return &InputError{Msg: fmt.Sprintf("--shadow=%s needs a cluster: pass --kubeconfig (or set KUBECONFIG), or start the local one with `make cluster-up`", opts.Shadow)}
		}
		return nil
	}
	return &InputError{Msg: fmt.Sprintf("--shadow must be off, head or both, got %q", opts.Shadow)}
}

// deployShadows deploys the sides the shadow mode asks for, concurrently so
// that base and head run under the same conditions, and sets each target's
// Shadow. The returned teardown removes every namespace of the run (unless
// KeepShadow) and must be called on every path, error or not; it uses its
// own bounded context so that it still runs after an interrupt. It runs
// once and returns the same error to every caller.
func deployShadows(ctx context.Context, opts Options, targets []scanners.Target) (map[string]*shadow.Deployment, func() error, error) {
	nothing := func() error { return nil }
	if opts.Shadow == ShadowOff {
		return nil, nothing, nil
	}
	so := opts.ShadowOptions
	if so.Progress == nil {
		so.Progress = opts.Progress
	}
	m, err := shadow.NewManager(opts.Kube, so)
	if err != nil {
		return nil, nothing, err
	}
	// teardown runs once whoever calls it first: verifyRendered calls it
	// before the verdict (a namespace left behind makes the run an error) and
	// again, deferred, on every other path.
	var once sync.Once
	var teardownErr error
	teardown := func() error {
		once.Do(func() {
			if opts.KeepShadow {
				opts.Progress("keeping the shadow namespaces of run %s (--keep-shadow); `aegis gc --run %s` removes them", m.RunID(), m.RunID())
				return
			}
			if err := m.TeardownRun(context.Background()); err != nil {
				teardownErr = fmt.Errorf("teardown of the shadow namespaces of run %s failed: %w; once the cluster answers again, `aegis gc --run %s` removes what is left", m.RunID(), err, m.RunID())
				opts.Progress("%v", teardownErr)
			}
		})
		return teardownErr
	}
	deployed := map[string]*shadow.Deployment{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i := range targets {
		t := &targets[i]
		if opts.Shadow == ShadowHead && t.Side != scanners.Head {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts.Progress("deploying %s into shadow namespace %s", t.Side, shadow.NamespaceName(m.RunID(), t.Side))
			d, err := m.Deploy(ctx, t.Side, t.Set)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", t.Side, err)
				return
			}
			opts.Progress("%s is %s in %s after %d ms", t.Side, d.Health, d.Namespace, d.Duration.Milliseconds())
			t.Shadow = d
			mu.Lock()
			deployed[t.Side] = d
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if ctx.Err() != nil {
			return nil, teardown, fmt.Errorf("interrupted while deploying the shadow namespaces: %w", ctx.Err())
		}
		return nil, teardown, err
	}
	return deployed, teardown, nil
}

func shadowReport(deployed map[string]*shadow.Deployment, kept bool) *report.Shadow {
	if deployed == nil {
		return nil
	}
	out := &report.Shadow{}
	if d := deployed[scanners.Base]; d != nil {
		out.Base = shadowSide(d, kept)
	}
	if d := deployed[scanners.Head]; d != nil {
		out.Head = shadowSide(d, kept)
	}
	return out
}

func shadowSide(d *shadow.Deployment, kept bool) *report.ShadowSide {
	s := &report.ShadowSide{
		Namespace:  d.Namespace,
		Health:     string(d.Health),
		DurationMs: d.Duration.Milliseconds(),
		Objects:    []report.ShadowObject{},
		Events:     []report.ShadowEvent{},
		Kept:       kept,
	}
	for _, o := range d.Objects {
		s.Objects = append(s.Objects, report.ShadowObject{
			Kind: o.ID.Kind, Name: o.ID.Name, Health: string(o.Health), Message: o.Message,
			Location: report.Location{Path: o.Origin.Path, Line: o.Origin.Line},
		})
	}
	for _, e := range d.Events {
		s.Events = append(s.Events, report.ShadowEvent{Object: e.Object, Reason: e.Reason, Message: e.Message, Count: e.Count})
	}
	return s
}
