// Command web is the example web app of aegis's examples: an HTTP server on
// :8080 with a readiness and liveness endpoint (/healthz) and a search page
// (GET /?q=...) that shows the query back.
//
// It is built two ways. The default build is the vulnerable one (image
// aegis.local/web:1.0): the query is written into the HTML unescaped (a
// reflected XSS) and no security header is sent. The hardened build (image
// aegis.local/web:1.1) escapes the query and sends Content-Security-Policy,
// X-Content-Type-Options, X-Frame-Options and Referrer-Policy:
//
//	go build -ldflags "-X main.hardened=true" ./apps/web
//
// The examples run it on a real node so that the shadow namespaces have a
// live app for health probes and DAST.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// hardened selects the fixed build: "true" escapes the query and sends the
// security headers. Set at build time with -ldflags "-X main.hardened=true";
// tests set it directly.
var hardened = "false"

// version is the app version shown on the page (-X main.version=1.1).
var version = "dev"

func isHardened() bool { return hardened == "true" }

// securityHeaders are the headers the hardened build sends on every answer.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
}

// handler returns the app's routes in the mode hardened selects when it is
// called.
func handler() http.Handler {
	safe := isHardened()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("q")
		if safe {
			q = html.EscapeString(q)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html>
<html><head><title>shop search</title></head>
<body>
<h1>Search the shop</h1>
<form method="get" action="/"><input name="q"><button>Search</button></form>
<p>You searched for: %s</p>
<footer>web %s</footer>
</body></html>
`, q, html.EscapeString(version))
	})
	if !safe {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		mux.ServeHTTP(w, r)
	})
}

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.LUTC)

	// SO_REUSEPORT: replicas that share the node's network namespace
	// (hostNetwork: true, as a vulnerable example does) can all listen on
	// the same port instead of crash-looping on "address already in use".
	lc := net.ListenConfig{Control: reusePort}
	ln, err := lc.Listen(context.Background(), "tcp", *addr)
	if err != nil {
		log.Fatalf("web: %v", err)
	}
	srv := &http.Server{Handler: handler(), ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	mode := "vulnerable"
	if isHardened() {
		mode = "hardened"
	}
	log.Printf("web %s (%s build) listening on %s", version, mode, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("web: %v", err)
	}
	log.Printf("web: stopped")
}
