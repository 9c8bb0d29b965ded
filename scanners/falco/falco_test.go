package falco

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/shadow"
)

// The fixtures in testdata follow Falco's documented JSON alert format
// (json_output: true; the same record http_output posts): hostname,
// output, output_fields (with evt.time in nanoseconds, null for fields
// Falco could not extract), priority, rule, source, tags, time; the
// falcosidekick one adds a uuid. events.jsonl starts with Falco's own log
// lines, as its stdout and pod log do.
const (
	baseNS = "aegis-7f3c2-base"
	headNS = "aegis-7f3c2-head"
)

// windowStart is when both fixture sides became ready.
var windowStart = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const workloadsYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: web-agent, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
`

// side returns a target deployed in namespace ns, with the workloads of
// workloadsYAML as its objects.
func side(t *testing.T, name, ns string) scanners.Target {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("app/workloads.yaml", []byte(workloadsYAML))
	require.NoError(t, err)
	set, err := manifest.NewSet(objs)
	require.NoError(t, err)
	d := &shadow.Deployment{Side: name, Namespace: ns, Health: shadow.Healthy}
	for _, o := range set.Objects {
		d.Objects = append(d.Objects, shadow.ObjectStatus{ID: o.ID(), Origin: o.Origin, Health: shadow.Healthy})
	}
	return scanners.Target{Side: name, Set: set, Shadow: d}
}

func fixedStart(*shadow.Deployment) time.Time { return windowStart }

func scanner(srcs ...Source) *Scanner {
	return New(Options{Window: time.Minute, Settle: -1, ReadyAt: fixedStart, Sources: srcs})
}

func byRule(fs []report.Finding) map[string]report.Finding {
	out := map[string]report.Finding{}
	for _, f := range fs {
		out[f.RuleID] = f
	}
	return out
}

// assertHead checks the head's findings from testdata/events.jsonl,
// whatever the source.
func assertHead(t *testing.T, fs []report.Finding) {
	t.Helper()
	got := byRule(fs)
	require.Len(t, fs, 6, "rules: %v", keys(got))
	// Outside the window (09:59:50, 10:01:05), other namespaces and the
	// metrics snapshot are left out.
	for _, r := range []string{"Fileless execution via memfd_create", "Falco internal: metrics snapshot"} {
		assert.NotContains(t, got, r)
	}

	drop := got["Drop and execute new binary in container"]
	assert.Equal(t, report.Critical, drop.Severity)
	assert.Equal(t, "falco", drop.Scanner)
	assert.Equal(t, report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", Container: "web"}, drop.Resource)
	assert.Equal(t, report.Location{Path: "app/workloads.yaml", Line: 1}, drop.Location)
	assert.Equal(t, "/tmp/x#f#a# --connect #.#.#.#:#", drop.Key)
	assert.Contains(t, drop.Message, "web-6d4cf56db6-x2k4p")
	assert.Contains(t, drop.Message, "fired 1 time in", "an event read twice counts once")
	assert.Contains(t, drop.Message, "Executing binary not part of base image")

	shell := got["Terminal shell in container"]
	assert.Equal(t, report.Low, shell.Severity)
	assert.Equal(t, "DaemonSet", shell.Resource.Kind, "web-agent-b7x2q is the DaemonSet web-agent's, not the Deployment web's")
	assert.Equal(t, "web-agent", shell.Resource.Name)
	assert.Equal(t, 9, shell.Location.Line)
	assert.Contains(t, shell.Message, "fired 2 times", "one finding for the alert fired twice")

	db := got["Run shell untrusted"]
	assert.Equal(t, "StatefulSet", db.Resource.Kind)
	assert.Equal(t, "postgres", db.Resource.Container)
	assert.Equal(t, "sh -c kill -# #", db.Key)
	assert.Contains(t, db.Message, "fired 1 time in")

	custom := got["Unexpected outbound connection"]
	assert.Equal(t, report.High, custom.Severity, "Error maps to high")
	assert.Equal(t, report.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: "debug", Container: "debug"}, custom.Resource)
	assert.Equal(t, 13, custom.Location.Line)

	stray := got["Custom exec audit"]
	assert.Equal(t, report.Info, stray.Severity)
	assert.Equal(t, "Pod", stray.Resource.Kind)
	assert.Empty(t, stray.Resource.Name, "a pod of no workload of the set is not located")
	assert.Empty(t, stray.Location.Path)

	assert.Equal(t, report.Medium, got["Read sensitive file untrusted"].Severity)
	for _, f := range fs {
		assert.Equal(t, report.ComputeFingerprint(f), f.Fingerprint)
	}
}

func keys(m map[string]report.Finding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFileSource(t *testing.T) {
	s := scanner(File{Path: "testdata/events.jsonl"})
	fs, err := s.Scan(context.Background(), side(t, scanners.Head, headNS))
	require.NoError(t, err)
	assertHead(t, fs)

	base, err := s.Scan(context.Background(), side(t, scanners.Base, baseNS))
	require.NoError(t, err)
	require.Len(t, base, 2)
	assert.Equal(t, "Read sensitive file untrusted", base[0].RuleID, "medium before low")
	assert.Equal(t, "Run shell untrusted", base[1].RuleID)
}

// TestFingerprintsAcrossSides: the same alert on the base and the head
// (other pod hash, container id, PID, time and namespace) is one unchanged
// finding in the delta; the head-only alerts are new.
func TestFingerprintsAcrossSides(t *testing.T) {
	s := scanner(File{Path: "testdata/events.jsonl"})
	head, err := s.Scan(context.Background(), side(t, scanners.Head, headNS))
	require.NoError(t, err)
	base, err := s.Scan(context.Background(), side(t, scanners.Base, baseNS))
	require.NoError(t, err)
	h, b := byRule(head), byRule(base)
	for _, r := range []string{"Read sensitive file untrusted", "Run shell untrusted"} {
		assert.Equal(t, b[r].Fingerprint, h[r].Fingerprint, r)
	}
	d := report.Delta(base, head)
	states := map[string]report.State{}
	for _, f := range d {
		states[f.RuleID] = f.BaselineState
	}
	assert.Equal(t, report.Unchanged, states["Read sensitive file untrusted"])
	assert.Equal(t, report.Unchanged, states["Run shell untrusted"])
	assert.Equal(t, report.New, states["Drop and execute new binary in container"])
}

func postLines(t *testing.T, url, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxLine)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("{")) {
			continue // Falco's own log goes to its log, not to http_output
		}
		// As Falco's http_output posts: one event per request, JSON.
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(line))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "falcosecurity/falco")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}

// TestReceiver posts the fixture to a real Receiver on loopback, the way
// Falco's http_output and falcosidekick do.
func TestReceiver(t *testing.T) {
	r := NewReceiver()
	addr, err := r.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, r.Close()) })
	assert.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
	assert.Equal(t, "http://"+addr+"/", r.URL())

	postLines(t, r.URL(), "testdata/events.jsonl")
	postLines(t, r.URL()+"falcosidekick", "testdata/sidekick.json")

	// Not Falco JSON: Falco without json_output posts its text line.
	resp, err := http.Post(r.URL(), "text/plain", strings.NewReader("10:00:07.550129004: Warning Sensitive file opened for reading"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, err = http.Get(r.URL())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, err = http.Get(r.URL() + "healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	st := r.Stats()
	assert.Equal(t, Stats{Stored: 14, Valid: 14, Malformed: 1}, st)

	var warnings []string
	s := New(Options{Window: time.Minute, Settle: -1, ReadyAt: fixedStart, Sources: []Source{r},
		Logf: func(f string, a ...any) { warnings = append(warnings, f) }})
	fs, err := s.Scan(context.Background(), side(t, scanners.Head, headNS))
	require.NoError(t, err)
	require.Len(t, warnings, 1, "the malformed post is a warning, not a failure")
	escape := byRule(fs)["Detect release_agent File Container Escapes"]
	assert.Equal(t, report.Critical, escape.Severity, "Alert maps to critical")
	var rest []report.Finding
	for _, f := range fs {
		if f.RuleID != escape.RuleID {
			rest = append(rest, f)
		}
	}
	assertHead(t, rest)
	assert.Less(t, r.Stats().Stored, 14, "the head's events are freed once scanned")

	base, err := s.Scan(context.Background(), side(t, scanners.Base, baseNS))
	require.NoError(t, err)
	assert.Len(t, base, 2)
}

// TestReceiverHandler drives the handler through httptest, with the
// tolerated batch forms.
func TestReceiverHandler(t *testing.T) {
	r := NewReceiver()
	srv := httptest.NewServer(r)
	defer srv.Close()
	lines := eventLines(t)
	for _, body := range []string{
		"[" + lines[0] + "," + lines[1] + "]",
		lines[2] + "\n" + lines[3] + "\n",
	} {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, 4, r.Stats().Stored)

	r.MaxBody = 64
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(lines[0]))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Equal(t, 1, r.Stats().Malformed)
}

func eventLines(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/events.jsonl")
	require.NoError(t, err)
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "{") {
			out = append(out, l)
		}
	}
	return out
}

// TestReceiverBound: a full receiver refuses events and counts them per
// namespace; a side whose events were dropped fails, the other does not.
func TestReceiverBound(t *testing.T) {
	r := &Receiver{MaxEvents: 3}
	srv := httptest.NewServer(r)
	defer srv.Close()
	codes := map[int]int{}
	// The base's two events first: they fit; the head's do not all.
	var lines []string
	for _, l := range eventLines(t) {
		if strings.Contains(l, baseNS) {
			lines = append([]string{l}, lines...)
		} else {
			lines = append(lines, l)
		}
	}
	for _, l := range lines {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(l))
		require.NoError(t, err)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	assert.Equal(t, map[int]int{http.StatusOK: 3, http.StatusServiceUnavailable: 10}, codes)
	_, err := scanner(r).Scan(context.Background(), side(t, scanners.Head, headNS))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dropped")
	fs, err := scanner(r).Scan(context.Background(), side(t, scanners.Base, baseNS))
	require.NoError(t, err)
	assert.Len(t, fs, 2)
}

func TestStreamSource(t *testing.T) {
	pr, pw := io.Pipe()
	st := NewStream("stdin", pr, 0)
	go func() {
		data, _ := os.ReadFile("testdata/events.jsonl")
		_, _ = pw.Write(data)
		_ = pw.Close()
	}()
	<-st.Done()
	fs, err := scanner(st).Scan(context.Background(), side(t, scanners.Head, headNS))
	require.NoError(t, err)
	assertHead(t, fs)

	failing := NewStream("stdin", iotestErrReader{}, 0)
	<-failing.Done()
	_, err = scanner(failing).Scan(context.Background(), side(t, scanners.Head, headNS))
	require.Error(t, err, "a stream that broke fails the scan")
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestGarbage: a source with only malformed records fails closed; a few
// malformed records among valid events are skipped with a warning.
func TestGarbage(t *testing.T) {
	_, err := scanner(File{Path: "testdata/garbage.txt"}).Scan(context.Background(), side(t, scanners.Head, headNS))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "all 4 records are malformed")

	var warnings []string
	s := New(Options{Window: time.Minute, Settle: -1, ReadyAt: fixedStart, Sources: []Source{File{Path: "testdata/mixed.jsonl"}},
		Logf: func(f string, a ...any) { warnings = append(warnings, f) }})
	fs, err := s.Scan(context.Background(), side(t, scanners.Head, headNS))
	require.NoError(t, err)
	assert.Len(t, fs, 2)
	assert.Len(t, warnings, 1)

	// An empty file holds no alerts, and no garbage either: a clean side.
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	fs, err = scanner(File{Path: empty}).Scan(context.Background(), side(t, scanners.Head, headNS))
	require.NoError(t, err)
	assert.Empty(t, fs)

	_, err = scanner(File{Path: "testdata/missing.jsonl"}).Scan(context.Background(), side(t, scanners.Head, headNS))
	require.Error(t, err, "an unreadable file fails the scan")

	// A receiver that got nothing but garbage fails too.
	r := NewReceiver()
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("not json")))
	_, err = scanner(r).Scan(context.Background(), side(t, scanners.Head, headNS))
	require.Error(t, err)
}

func TestNoSource(t *testing.T) {
	_, err := New(Options{}).Scan(context.Background(), side(t, scanners.Head, headNS))
	require.Error(t, err)
	assert.True(t, errors.Is(err, scanners.ErrNotInstalled))
	assert.Contains(t, err.Error(), "no Falco source configured")

	on := true
	cfg := config.Default() // falco is opt-in
	cfg.Scanners[Name] = config.ScannerSettings{Enabled: &on}
	res := (&scanners.Runner{Scanners: []scanners.Scanner{New(Options{})}, Config: cfg}).Run(context.Background(), side(t, scanners.Head, headNS))
	require.Len(t, res.Runs, 1)
	assert.Equal(t, report.StatusError, res.Runs[0].Status)
	assert.True(t, res.Runs[0].Missing, "allowMissing applies")
	assert.Equal(t, Version, res.Runs[0].Version)
}

// TestWindowWait: Scan returns only once the window since the side became
// ready has elapsed, and a cancelled context ends the wait.
func TestWindowWait(t *testing.T) {
	r := NewReceiver()
	ready := time.Now()
	s := New(Options{Window: 300 * time.Millisecond, Settle: 50 * time.Millisecond, Sources: []Source{r},
		ReadyAt: func(*shadow.Deployment) time.Time { return ready }})
	// An alert raised during the window, posted while Scan waits.
	go func() {
		time.Sleep(100 * time.Millisecond)
		line := strings.Replace(eventLines(t)[5], "2026-03-02T10:00:21.987654321Z", time.Now().UTC().Format(time.RFC3339Nano), 1)
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(line)))
	}()
	fs, err := s.Scan(context.Background(), side(t, scanners.Head, headNS))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(ready), 350*time.Millisecond)
	require.Len(t, fs, 1)
	assert.Equal(t, "Drop and execute new binary in container", fs[0].RuleID)

	s = New(Options{Window: time.Hour, Sources: []Source{r}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Scan(ctx, side(t, scanners.Head, headNS))
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestSeverityMapping(t *testing.T) {
	for prio, want := range map[string]report.Severity{
		"Emergency": report.Critical, "Alert": report.Critical, "Critical": report.Critical,
		"Error": report.High, "Warning": report.Medium, "Notice": report.Low,
		"Informational": report.Info, "Debug": report.Info, "INFO": report.Info, "warning": report.Medium,
	} {
		got, ok := Severity(prio)
		assert.True(t, ok, prio)
		assert.Equal(t, want, got, prio)
	}
	_, ok := Severity("Loud")
	assert.False(t, ok)
}

func TestParseEvent(t *testing.T) {
	e, err := ParseEvent([]byte(eventLines(t)[0]))
	require.NoError(t, err)
	assert.Equal(t, "Read sensitive file untrusted", e.Rule)
	assert.Equal(t, headNS, e.Namespace())
	assert.Equal(t, "1772445590118374622", e.Field("evt.time"), "evt.time stays exact")
	assert.Equal(t, time.Date(2026, 3, 2, 9, 59, 50, 118374622, time.UTC), e.Time)
	assert.Equal(t, []string{"T1555", "container", "filesystem", "host", "maturity_stable", "mitre_credential_access"}, e.Tags)

	// Without "time", evt.time (nanoseconds) dates the event.
	e, err = ParseEvent([]byte(`{"rule":"r","priority":"Notice","output":"x","output_fields":{"evt.time":1772445607550129004,"k8s.ns.name":null,"container.name":"k8s_web_web-6d4cf56db6-x2k4p_shop_0b1c_0"}}`))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 3, 2, 10, 0, 7, 550129004, time.UTC), e.Time)
	assert.Empty(t, e.Namespace(), "null is empty")
	assert.Equal(t, "web", e.Container(), "dockershim container names are reduced to the container")

	for _, bad := range []string{
		`{"priority":"Notice","time":"2026-03-02T10:00:00Z","output_fields":{}}`,
		`{"rule":"r","priority":"Loud","time":"2026-03-02T10:00:00Z","output_fields":{}}`,
		`{"rule":"r","priority":"Notice","time":"yesterday","output_fields":{}}`,
		`{"rule":"r","priority":"Notice","time":"2026-03-02T10:00:00Z"}`,
		`{"rule":"r","priority":"Notice","output_fields":{}}`,
		`{"rule":"r"} {"rule":"s"}`,
		`[1,2]`,
	} {
		_, err := ParseEvent([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestAttribute(t *testing.T) {
	w := func(kind, name string) workload {
		return workload{id: manifest.Identity{Kind: kind, Name: name}}
	}
	long := strings.Repeat("a", 60) // a Deployment name the pod name cuts short
	ws := []workload{w("Deployment", "web"), w("DaemonSet", "web-agent"), w("StatefulSet", "db"), w("Job", "migrate"),
		w("CronJob", "report"), w("Pod", "debug"), w("Deployment", "web-api"), w("Deployment", long)}
	for pod, want := range map[string]string{
		"web-6d4cf56db6-x2k4p":        "Deployment/web",
		"web-agent-b7x2q":             "DaemonSet/web-agent",
		"web-api-7c9d8b5f4-p2x7z":     "Deployment/web-api",
		"db-0":                        "StatefulSet/db",
		"db-12":                       "StatefulSet/db",
		"migrate-q7w2z":               "Job/migrate",
		"report-29433120-k8s9t":       "CronJob/report",
		"debug":                       "Pod/debug",
		"web-canary-0":                "Deployment/web", // unknown shape: longest prefix
		long[:58] + "x7k2q":           "Deployment/" + long,
		"other-5d8f7c9b6-x2k4p":       "",
		"webserver-5d8f7c9b6-x2k4p":   "",
		"":                            "",
		"debug-1":                     "",
		"dbx-0":                       "",
		"migrate":                     "",
		"report-29433120-k8s9t-extra": "CronJob/report",
	} {
		got, ok := attribute(ws, pod)
		name := ""
		if ok {
			name = got.id.Kind + "/" + got.id.Name
		}
		assert.Equal(t, want, name, pod)
	}
}

func TestNormalizeCmdline(t *testing.T) {
	for in, want := range map[string]string{
		"sh -c kill -0 4242":                                "sh -c kill -# #",
		"cat /proc/31337/environ":                           "cat /proc/#/environ",
		"curl http://web.aegis-7f3c2-head.svc:8080/":        "curl http://web.<namespace>.svc:#/",
		"nc web-6d4cf56db6-x2k4p 4444":                      "nc <pod> #",
		"nc web-57c9b8d4f-qwz7t 4444":                       "nc web-#-# #",
		"runc exec 3f0a9c1e7b22d4e5 sh":                     "runc exec # sh",
		"rm -rf /tmp/0b7c4e1a-2f3d-4c5b-9a8e-7d6f5e4c3b2a ": "rm -rf /tmp/#",
		"bash":              "bash",
		"  sleep\t\t3600  ": "sleep #",
	} {
		assert.Equal(t, want, normalizeCmdline(in, headNS, "web-6d4cf56db6-x2k4p"), in)
	}
	assert.Len(t, normalizeCmdline(strings.Repeat("x", 500), "", ""), maxKey)
}

func TestRules(t *testing.T) {
	rules := New(Options{}).Rules()
	require.NotEmpty(t, rules)
	ids := map[string]bool{}
	for _, r := range rules {
		assert.False(t, ids[r.ID], "duplicate rule %s", r.ID)
		ids[r.ID] = true
		assert.Equal(t, "falco", r.Scanner)
		assert.NotEmpty(t, r.Help)
		assert.GreaterOrEqual(t, r.Severity.Rank(), 0, r.ID)
		assert.Contains(t, r.Tags, "security")
	}
	for _, r := range []string{"Read sensitive file untrusted", "Terminal shell in container", "Drop and execute new binary in container"} {
		assert.True(t, ids[r], r)
	}
}

// A client's spare connection that never sends a request must not make
// Close fail: net/http's Shutdown waits 5 s for such a "new" connection
// (seen in CI as "context deadline exceeded"); Close then closes it.
func TestReceiverCloseWithAnUnusedConnection(t *testing.T) {
	r := NewReceiver()
	addr, err := r.Start("")
	require.NoError(t, err)
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, r.Close())
	_, err = conn.Read(make([]byte, 1))
	assert.Error(t, err, "the unused connection is closed")
}
