package falco

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// DefaultMaxEvents bounds the events a receiver or stream keeps in memory.
const DefaultMaxEvents = 10000

// Query selects the events of one side: its shadow namespace and its soak
// window (both ends included).
type Query struct {
	Namespace    string
	Since, Until time.Time
}

func (q Query) match(e Event) bool {
	return e.Namespace() == q.Namespace && !e.Time.Before(q.Since) && !e.Time.After(q.Until)
}

// Batch is what a source returns for a query.
type Batch struct {
	// Events are the valid events of the query's namespace and window.
	Events []Event
	// Valid counts every valid event the source read, of any namespace or
	// time: the evidence that the source carries Falco output at all.
	Valid int
	// Malformed counts records that were meant to be events and are not;
	// FirstError describes the first.
	Malformed  int
	FirstError string
	// Dropped counts events of the query's namespace lost to the memory
	// bound: the side's alerts are incomplete.
	Dropped int
}

// Source is where Falco alerts come from.
type Source interface {
	// Name says which source, for messages.
	Name() string
	// Collect returns the events for a query. An error means the source
	// could not be read: the side was not watched, not found clean.
	Collect(ctx context.Context, q Query) (Batch, error)
}

// forgetter is a source that holds events in memory and can free those of
// a namespace once its side is scanned.
type forgetter interface {
	Forget(namespace string)
}

// allNamespaces is the drop-counter key used once too many namespaces have
// dropped events to count them apart: it taints every query.
const allNamespaces = "*"

const maxDropKeys = 1000

// store is the bounded in-memory event buffer of the receiver and the
// stream. When full it refuses new events rather than evicting old ones,
// and counts the refusals per namespace, so a side whose alerts were lost
// fails instead of passing on a partial record.
type store struct {
	mu         sync.Mutex
	max        int
	events     []Event
	valid      int
	malformed  int
	firstError string
	dropped    map[string]int
}

func newStore(max int) *store {
	if max <= 0 {
		max = DefaultMaxEvents
	}
	return &store{max: max, dropped: map[string]int{}}
}

// add keeps an event; false when the store is full.
func (s *store) add(e Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.valid++
	if len(s.events) >= s.max {
		ns := e.Namespace()
		if _, ok := s.dropped[ns]; !ok && len(s.dropped) >= maxDropKeys {
			ns = allNamespaces
		}
		s.dropped[ns]++
		return false
	}
	s.events = append(s.events, e)
	return true
}

func (s *store) bad(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.malformed++
	if s.firstError == "" {
		s.firstError = err.Error()
	}
}

func (s *store) collect(q Query) Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := Batch{Valid: s.valid, Malformed: s.malformed, FirstError: s.firstError,
		Dropped: s.dropped[q.Namespace] + s.dropped[allNamespaces]}
	for _, e := range s.events {
		if q.match(e) {
			b.Events = append(b.Events, e)
		}
	}
	return b
}

// Forget frees the events of a namespace (its side is scanned; shadow
// namespaces are never reused), making room for the other side's.
func (s *store) Forget(namespace string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.events[:0]
	for _, e := range s.events {
		if e.Namespace() != namespace {
			kept = append(kept, e)
		}
	}
	clear(s.events[len(kept):])
	s.events = kept
}

// File reads a file of Falco JSON lines (Falco's file_output with
// json_output: true, or saved stdout) anew at every Collect, so alerts
// appended while a window runs are seen.
type File struct {
	Path string
}

// Name of the source.
func (f File) Name() string { return "file " + f.Path }

// Collect reads the file. A missing or unreadable file is an error.
func (f File) Collect(ctx context.Context, q Query) (Batch, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return Batch{}, fmt.Errorf("falco events file: %w", err)
	}
	defer fh.Close()
	var b Batch
	err = readLines(ctxReader{ctx, fh}, func(line []byte, tooLong bool) {
		e, kind, perr := classify(line, tooLong, true)
		tally(&b, q, e, kind, perr)
	})
	if err != nil {
		return Batch{}, fmt.Errorf("reading %s: %w", f.Path, err)
	}
	return b, nil
}

// tally adds one classified record to a batch.
func tally(b *Batch, q Query, e Event, kind lineKind, err error) {
	switch kind {
	case lineEvent:
		b.Valid++
		if q.match(e) {
			b.Events = append(b.Events, e)
		}
	case lineMalformed:
		b.Malformed++
		if b.FirstError == "" {
			b.FirstError = err.Error()
		}
	}
}

// ctxReader stops a long read when the scan is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Stream reads a live stream of Falco JSON lines (stdin, with `falco ... |
// aegis`) in the background from the moment it is made, into a bounded
// store: a stream can be read once only, and both sides need it.
type Stream struct {
	name  string
	store *store
	done  chan struct{}
	err   error // set before done is closed
}

// NewStream starts reading r; name is for messages ("stdin"). maxEvents
// bounds the events kept (DefaultMaxEvents when 0).
func NewStream(name string, r io.Reader, maxEvents int) *Stream {
	s := &Stream{name: name, store: newStore(maxEvents), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = readLines(r, func(line []byte, tooLong bool) {
			e, kind, err := classify(line, tooLong, true)
			switch kind {
			case lineEvent:
				s.store.add(e)
			case lineMalformed:
				s.store.bad(err)
			}
		})
	}()
	return s
}

// Name of the source.
func (s *Stream) Name() string { return "stream " + s.name }

// Collect returns what the stream has delivered so far. A stream that
// failed with a read error fails every collect; one that simply ended
// (EOF) keeps serving what it read.
func (s *Stream) Collect(_ context.Context, q Query) (Batch, error) {
	select {
	case <-s.done:
		if s.err != nil {
			return Batch{}, fmt.Errorf("reading %s: %w", s.name, s.err)
		}
	default:
	}
	return s.store.collect(q), nil
}

// Forget frees the events of a scanned namespace.
func (s *Stream) Forget(namespace string) { s.store.Forget(namespace) }

// Done is closed when the stream has ended.
func (s *Stream) Done() <-chan struct{} { return s.done }
