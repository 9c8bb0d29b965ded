package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const payload = "<script>alert(1)</script>"

// serve answers one request with the handler of the given build mode.
func serve(t *testing.T, mode, target string) *httptest.ResponseRecorder {
	t.Helper()
	old := hardened
	hardened = mode
	t.Cleanup(func() { hardened = old })
	rec := httptest.NewRecorder()
	handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

func search(q string) string { return "/?q=" + url.QueryEscape(q) }

func TestVulnerableBuildReflectsTheQuery(t *testing.T) {
	rec := serve(t, "false", search(payload))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "You searched for: "+payload, "the query is written into the page as HTML")
	for h := range securityHeaders {
		assert.Empty(t, rec.Header().Get(h), h)
	}
}

func TestHardenedBuildEscapesAndSendsHeaders(t *testing.T) {
	rec := serve(t, "true", search(payload))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	assert.NotContains(t, body, payload)
	assert.Contains(t, body, "You searched for: &lt;script&gt;alert(1)&lt;/script&gt;")
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
	assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
}

func TestAttributeContextIsEscapedToo(t *testing.T) {
	rec := serve(t, "true", search(`"><img src=x onerror=alert(1)>`))
	assert.NotContains(t, rec.Body.String(), "<img src=x")
	assert.Contains(t, rec.Body.String(), "&#34;&gt;&lt;img")
}

func TestHealthz(t *testing.T) {
	for _, mode := range []string{"false", "true"} {
		t.Run("hardened="+mode, func(t *testing.T) {
			rec := serve(t, mode, "/healthz")
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "ok\n", rec.Body.String())
			assert.Equal(t, mode == "true", rec.Header().Get("X-Frame-Options") == "DENY")
		})
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	for _, mode := range []string{"false", "true"} {
		assert.Equal(t, http.StatusNotFound, serve(t, mode, "/admin").Code, mode)
		old := hardened
		hardened = mode
		rec := httptest.NewRecorder()
		handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		hardened = old
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, mode)
	}
}

func TestOnlyTheExactValueTrueHardens(t *testing.T) {
	for _, v := range []string{"", "false", "1", "TRUE"} {
		rec := serve(t, v, search(payload))
		assert.Contains(t, rec.Body.String(), payload, "hardened=%q", v)
	}
}

func TestReplicasShareThePort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_REUSEPORT is set on Linux only")
	}
	lc := net.ListenConfig{Control: reusePort}
	a, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer a.Close()
	b, err := lc.Listen(context.Background(), "tcp", a.Addr().String())
	require.NoError(t, err, "a second replica in the same network namespace listens too")
	b.Close()
}
