package falco

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxBody bounds one POST body; a Falco alert is a few KiB.
const DefaultMaxBody = 1 << 20

// Receiver is the HTTP endpoint Falco's http_output (url:
// http://<addr>/) or falcosidekick's webhook output (webhook.address)
// posts alerts to. Every POST, on any path, carries one JSON event (a JSON
// array or several concatenated events are accepted too); the events are
// kept in memory, bounded.
//
// Replies: 200 for a stored body; 400 for a body that is not Falco JSON
// (counted as malformed: Falco without json_output: true sends plain
// text); 413 for a body over MaxBody; 503 when the store is full (the
// event is counted as dropped for its namespace, which then fails that
// side's scan); 405 for anything but POST, except GET /healthz.
//
// The receiver has no authentication: bind it to loopback, or to an
// address only the cluster's Falco can reach.
type Receiver struct {
	// MaxEvents bounds the events kept (DefaultMaxEvents when 0); set it
	// before Start.
	MaxEvents int
	// MaxBody bounds one request body (DefaultMaxBody when 0).
	MaxBody int64

	once  sync.Once
	store *store
	mu    sync.Mutex
	srv   *http.Server
	ln    net.Listener
	done  chan struct{}
}

// NewReceiver returns a receiver that is not listening yet; it is also an
// http.Handler, to mount elsewhere or to test with httptest.
func NewReceiver() *Receiver { return &Receiver{} }

func (r *Receiver) init() {
	r.once.Do(func() { r.store = newStore(r.MaxEvents) })
}

// Start listens on addr ("" means 127.0.0.1:0, an ephemeral loopback
// port) and serves in the background. It returns the address bound, for
// Falco's http_output url.
func (r *Receiver) Start(addr string) (string, error) {
	r.init()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		return "", errors.New("falco receiver already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("falco receiver: %w", err)
	}
	r.ln = ln
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(ln) // returns ErrServerClosed on Close
	}()
	return ln.Addr().String(), nil
}

// URL is the address to give Falco's http_output, once started.
func (r *Receiver) URL() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return ""
	}
	return "http://" + r.ln.Addr().String() + "/"
}

// Close stops the server, waiting up to a few seconds for requests in
// flight. The events stay readable.
func (r *Receiver) Close() error {
	r.mu.Lock()
	srv, done := r.srv, r.done
	r.mu.Unlock()
	if srv == nil {
		return nil
	}
	// Graceful first, so that a post in flight is stored. A connection a
	// client opened and never used stays "new" to net/http, which Shutdown
	// waits out for 5 s; after the grace period the rest is closed: the scan
	// has already read what it needs.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	<-done
	return err
}

// ServeHTTP takes one POSTed alert.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.init()
	if req.Method == http.MethodGet && req.URL.Path == "/healthz" {
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST Falco JSON events here", http.StatusMethodNotAllowed)
		return
	}
	max := r.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			r.store.bad(fmt.Errorf("request body over %d bytes", max))
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	events, err := ParseBody(body)
	if err != nil {
		r.store.bad(err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	full := false
	for _, e := range events {
		if !r.store.add(e) {
			full = true
		}
	}
	if full {
		http.Error(w, "falco receiver full: event dropped", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Name of the source.
func (r *Receiver) Name() string {
	if u := r.URL(); u != "" {
		return "receiver " + u
	}
	return "receiver"
}

// Collect returns the events received so far for the query.
func (r *Receiver) Collect(_ context.Context, q Query) (Batch, error) {
	r.init()
	return r.store.collect(q), nil
}

// Forget frees the events of a scanned namespace.
func (r *Receiver) Forget(namespace string) {
	r.init()
	r.store.Forget(namespace)
}

// Stats are the receiver's counters.
type Stats struct {
	Stored, Valid, Malformed, Dropped int
}

// Stats returns the receiver's counters.
func (r *Receiver) Stats() Stats {
	r.init()
	s := r.store
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Stored: len(s.events), Valid: s.valid, Malformed: s.malformed}
	for _, n := range s.dropped {
		st.Dropped += n
	}
	return st
}
