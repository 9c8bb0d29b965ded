package main

// The real-world corpus (../shared/realworld, see its SOURCES.md) through
// the binary: third-party apps and charts, read in place, never copied into
// this repository. Expected values were read from the corpus files named
// beside them. Without the corpus these tests skip ("realworld corpus not
// run:"), unless AEGIS_REQUIRE_REALWORLD=1 (CI).

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/internal/realworld"
)

// rwPolicy writes a policy without the Trivy scanners: the no-op checks are
// about rendering and the delta, and must not depend on a Trivy binary or
// database being on this machine (posture, built in, still runs).
func rwPolicy(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`apiVersion: aegis.dev/v1alpha1
kind: Config
scanners:
  trivy:
    enabled: false
  trivy-image:
    enabled: false
`), 0o644))
	return p
}

// rwProxy is an HTTP(S) proxy that records every request made through it
// and answers none: pointed at by HTTP(S)_PROXY, it sees any fetch the
// binary (kustomize's HTTP loader, git) would make.
type rwProxy struct {
	mu   sync.Mutex
	seen []string
	url  string
}

func newRWProxy(t *testing.T) *rwProxy {
	p := &rwProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.Host+r.URL.Path)
		p.mu.Unlock()
		http.Error(w, "no network in this test", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *rwProxy) env() []string {
	return []string{"HTTP_PROXY=" + p.url, "HTTPS_PROXY=" + p.url, "http_proxy=" + p.url, "https_proxy=" + p.url, "NO_PROXY=", "no_proxy=", "ALL_PROXY=" + p.url}
}

func (p *rwProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = nil
}

func (p *rwProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// TestRealworldRemoteBasesRefused: kustomize/loadHttp/kustomization.yaml
// lists resources by https URL (raw.githubusercontent.com,
// github.com/knative/serving/releases/...) and a patch by URL. By default
// aegis refuses it, bad input (exit 2), and fetches nothing: a proxy that
// every fetch would go through sees no request.
func TestRealworldRemoteBasesRefused(t *testing.T) {
	rw := realworld.Dir(t)
	dir := filepath.Join(rw, "kustomize")
	policy := rwPolicy(t)
	proxy := newRWProxy(t)

	// The control: a fetch aegis is allowed to make does go through the
	// proxy (so an empty record below means nothing was fetched).
	ctl := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(ctl, "kustomization.yaml"), []byte("resources:\n- https://aegis-realworld-test.invalid/deployment.yaml\n"), 0o644))
	res := runCommand(t, ctl, proxy.env(), "verify", "-c", policy, "--shadow", "off", "--allow-remote-bases", "--base-dir", ".", "--head-dir", ".")
	assert.NotEqual(t, 0, res.code)
	require.NotEmpty(t, proxy.requests(), "the control fetch did not reach the proxy; stderr: %s", res.stderr)
	proxy.reset()

	res = runCommand(t, dir, proxy.env(), "verify", "-c", policy, "--shadow", "off", "--base-dir", ".", "--head-dir", ".", "loadHttp")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, `loadHttp/kustomization.yaml:4: remote reference "https://raw.githubusercontent.com/kubernetes-sigs/kustomize/master/examples/wordpress/wordpress/deployment.yaml" in resources refused`)
	assert.Contains(t, res.stderr, "--allow-remote-bases")
	assert.Empty(t, proxy.requests(), "nothing fetched")

	// Known difference, pinned: with --allow-remote-bases kustomize would
	// fetch the patch of loadHttp/kustomization.yaml:7 (`path:` an https
	// URL; kustomize's loader reads remote files), but aegis checks patch
	// paths on disk first and reports it missing, before any fetch. When
	// that is fixed this test fails (the proxy sees the fetch): update it.
	res = runCommand(t, dir, proxy.env(), "verify", "-c", policy, "--shadow", "off", "--allow-remote-bases", "--base-dir", ".", "--head-dir", ".", "loadHttp")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, `loadHttp/kustomization.yaml:7: "https://raw.githubusercontent.com/kubernetes-sigs/kustomize/master/examples/wordpress/patch.yaml" does not exist`)
	assert.Empty(t, proxy.requests())
}

type rwReport struct {
	Verdict string `json:"verdict"`
	Summary struct {
		New, Fixed, Unchanged int
	} `json:"summary"`
	Changes []struct {
		Change, Kind, Namespace, Name string
	} `json:"changes"`
	Base, Head struct {
		Type    string `json:"type"`
		Digest  string `json:"digest"`
		Objects int    `json:"objects"`
	}
}

func rwVerify(t *testing.T, dir, policy, path string, extra ...string) (rwReport, cliResult) {
	t.Helper()
	args := append([]string{"verify", "-c", policy, "--shadow", "off", "-o", "json", "--base-dir", ".", "--head-dir", "."}, extra...)
	res := runCommand(t, dir, nil, append(args, path)...)
	var r rwReport
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &r), "exit %d, stderr: %s", res.code, res.stderr)
	return r, res
}

// TestRealworldNoOpVerify: a change that changes nothing (base and head the
// same directory) has an empty delta: 0 new, 0 fixed, no resource changed,
// the same digest on both sides. For every corpus source that renders.
func TestRealworldNoOpVerify(t *testing.T) {
	rw := realworld.Dir(t)
	policy := rwPolicy(t)
	for _, tc := range []struct {
		dir, path, typ string
		objects        int
		extra          []string
	}{
		// Object counts as render/realworld_test.go asserts them, from
		// the same kustomizations and manifests.
		{"kustomize", "helloWorld", "kustomize", 3, nil},
		{"kustomize", "multibases", "kustomize", 3, nil},
		{"kustomize", "multibases/base", "kustomize", 1, nil},
		{"kustomize", "multibases/dev", "kustomize", 1, nil},
		{"kustomize", "multibases/staging", "kustomize", 1, nil},
		{"kustomize", "multibases/production", "kustomize", 1, nil},
		{"kustomize", "springboot/base", "kustomize", 3, nil},
		{"kustomize", "springboot/overlays/production", "kustomize", 3, nil},
		{"kustomize", "springboot/overlays/staging", "kustomize", 3, nil},
		{"kustomize", "wordpress", "kustomize", 5, nil},
		{"kustomize", "wordpress/mysql", "kustomize", 3, nil},
		{"kustomize", "wordpress/wordpress", "kustomize", 2, nil},
		{"kustomize", "transformerconfigs/crd", "kustomize", 3, nil},
		{"kustomize", "components-example/base", "kustomize", 2, nil},
		{"kustomize", "components-example/overlays/community", "kustomize", 4, nil},
		{"kustomize", "components-example/overlays/dev", "kustomize", 4, nil},
		{"kustomize", "components-example/overlays/enterprise", "kustomize", 4, nil},
		// kustomize/mySql: deployment.yaml, secret.yaml, service.yaml,
		// no kustomization: plain.
		{"kustomize", "mySql", "plain", 3, nil},
		{"plain", "AI/model-serving-tensorflow", "plain", 5, nil},
		{"plain", "web/guestbook-go", "plain", 6, nil},
		{"plain", "databases/mysql-cinder-pd", "plain", 2, nil},
		// vllm-deployment.yaml and vllm-service.yaml; hpa/'s alternative
		// layouts are not read (Argo CD's directory source default,
		// recurse: false): cmd/aegis/directory_test.go.
		{"plain", "AI/vllm-deployment", "plain", 2, nil},
		{"charts", "kube-state-metrics", "helm", 5, nil},
		{"charts", "prometheus-node-exporter", "helm", 3, nil},
		// opentelemetry-collector needs image.repository (templates/NOTES.txt
		// fails without it): its examples set it. Object counts: the
		// documents of examples/{deployment-only,daemonset-only}/rendered/.
		{"charts", "opentelemetry-collector", "helm", 4, []string{"-f", "examples/deployment-only/values.yaml"}},
		{"charts", "opentelemetry-collector", "helm", 3, []string{"-f", "examples/daemonset-only/values.yaml"}},
		// grafana generates its admin password, (randAlphaNum 40)
		// (templates/_helpers.tpl:136, the Secret's admin-password through
		// _config.tpl:178) and deployment.yaml:45 hashes the secret data
		// into checksum/secret: verify renders Helm's random functions
		// deterministically, so base == head is still an empty delta.
		// 7 objects: configmap.yaml (createConfigmap: true, values.yaml:175),
		// secret.yaml, service.yaml, serviceaccount.yaml (:38), deployment.yaml,
		// clusterrole.yaml and clusterrolebinding.yaml (rbac.create: true,
		// namespaced: false, :20,26); templates/tests/ is in .helmignore:26.
		// (nginx, whose tls-secret.yaml calls genCA, needs its dependency
		// vendored: cmd/aegis/determinism_test.go.)
		{"charts", "grafana", "helm", 7, nil},
	} {
		name := tc.dir + "/" + tc.path
		if len(tc.extra) > 0 {
			name += " " + strings.Join(tc.extra, " ")
		}
		t.Run(name, func(t *testing.T) {
			r, res := rwVerify(t, filepath.Join(rw, tc.dir), policy, tc.path, tc.extra...)
			require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
			assert.Equal(t, "pass", r.Verdict)
			assert.Equal(t, tc.typ, r.Head.Type)
			assert.Equal(t, tc.objects, r.Base.Objects)
			assert.Equal(t, tc.objects, r.Head.Objects)
			assert.Equal(t, r.Base.Digest, r.Head.Digest)
			assert.Empty(t, r.Changes)
			assert.Zero(t, r.Summary.New, "new findings")
			assert.Zero(t, r.Summary.Fixed, "fixed findings")
		})
	}
}
