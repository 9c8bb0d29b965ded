package trivy

import (
	"context"
	"fmt"
	"sync"
)

// group runs one function per key at a time and keeps its result for the
// group's lifetime, so that callers asking for the same key — the base and
// the head, scanned concurrently by the runner — share one call.
//
// A call runs on a context of its own, detached from any one caller's
// cancellation: the base giving up (its timeout) must not fail the head's
// wait for an image both use. The call is cancelled only when every caller
// waiting for it has given up; a later caller then starts it afresh rather
// than inherit the cancellation.
type group[T any] struct {
	mu sync.Mutex
	m  map[string]*call[T]
}

type call[T any] struct {
	done      chan struct{}
	val       T
	err       error
	waiters   int
	abandoned bool
	cancel    context.CancelFunc
}

// do returns fn's result for key, calling fn only if no call for key has
// finished or is under way. ctx bounds the caller's wait; fn gets a context
// that carries ctx's values but ends only when the call is abandoned.
func (g *group[T]) do(ctx context.Context, key string, fn func(context.Context) (T, error)) (T, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*call[T]{}
	}
	c := g.m[key]
	if c == nil || c.abandoned {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[T]{done: make(chan struct{}), cancel: cancel}
		g.m[key] = c
		go func() {
			var v T
			var err error
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
				g.mu.Lock()
				c.val, c.err = v, err
				close(c.done)
				g.mu.Unlock()
				cancel()
			}()
			v, err = fn(cctx)
		}()
	}
	c.waiters++
	g.mu.Unlock()

	select {
	case <-c.done:
		g.mu.Lock()
		c.waiters--
		g.mu.Unlock()
		return c.val, c.err
	case <-ctx.Done():
		g.mu.Lock()
		c.waiters--
		select {
		case <-c.done:
		default:
			if c.waiters == 0 {
				c.abandoned = true
				c.cancel()
			}
		}
		g.mu.Unlock()
		var zero T
		return zero, ctx.Err()
	}
}
