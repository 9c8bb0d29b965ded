package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trustKustomizeCases are hostile-corpus cases of issue 13 ("the change under
// review cannot choose its own base, policy, rules or verdict"): a
// kustomization that makes the runner fetch a URL or run git by spelling a
// field as kustomize accepts it (Resources, RESOURCES, HelmCharts, a key
// twice in two cases, a plugin config). Each runs with a local HTTP server
// as the remote and stand-ins for git and helm first in PATH; the check is
// that none of them was reached.
func trustKustomizeCases() []hostileCase {
	// remoteHead writes head/ (a kustomization with files, in which URL,
	// HOST and IP stand for the trap's address) and verifies it against
	// base/ as directories: verify itself runs no git then.
	remoteHead := func(files map[string]string) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation {
			tr := setNetTrap(t, dir)
			files = tr.fill(files)
			files["app.yaml"] = goodDeployment
			writeFiles(t, filepath.Join(dir, "head"), files)
			inv := verifyHead()
			inv.env = append(inv.env, tr.pathEnv)
			return inv
		}
	}
	// remoteArgo does the same as an Argo CD app at repo/apps/kapp, for
	// `aegis argocd generate`.
	remoteArgo := func(files map[string]string) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation {
			tr := setNetTrap(t, dir)
			inv := argoUnderPolicy(t, dir, nil)
			files = tr.fill(files)
			files["app.yaml"] = goodDeployment
			files[".aegis.yaml"] = quickPolicy
			writeFiles(t, filepath.Join(dir, "repo", "apps", "kapp"), files)
			inv.dir = "repo/apps/kapp"
			inv.env = argoEnv("kapp", "shop", "apps/kapp", tr.pathEnv)
			return inv
		}
	}
	const refused = `refused: aegis does not fetch remote content by default`
	return []hostileCase{
		{entry: entryKustomize, name: "Resources (capitalised) with an http URL", code: exitBadInput, shadow: true,
			want:    `kustomization\.yaml:3: remote reference "http://127\.0\.0\.1:\d+/cm\.yaml" in resources ` + refused,
			prepare: remoteHead(map[string]string{"kustomization.yaml": "Resources:\n- app.yaml\n- URL/cm.yaml\n"}),
			check:   nothingFetched},
		{entry: entryKustomize, name: "RESOURCES (upper case) with a git address", code: exitBadInput,
			want:    `kustomization\.yaml:3: remote reference "deploy@127\.0\.0\.1:org/repo\.git" in resources ` + refused,
			prepare: remoteHead(map[string]string{"kustomization.yaml": "RESOURCES:\n- app.yaml\n- deploy@IP:org/repo.git\n"}),
			check:   nothingFetched},
		{entry: entryKustomize, name: "resources and RESOURCES: a harmless key and its remote twin", code: exitBadInput,
			want:    `kustomization\.yaml:3: key "RESOURCES" and key "resources" \(line 1\) are the same field "resources" to kustomize, which matches keys without regard to case`,
			prepare: remoteHead(map[string]string{"kustomization.yaml": "resources:\n- app.yaml\nRESOURCES:\n- URL/org/repo.git?ref=main\n"}),
			check:   nothingFetched},
		{entry: entryKustomize, name: "Bases to a directory whose kustomization clones a repository", code: exitBadInput,
			want: `sub/kustomization\.yaml:2: remote reference "ssh://git@127\.0\.0\.1:\d+/org/repo" in resources ` + refused,
			prepare: remoteHead(map[string]string{
				"kustomization.yaml":     "Bases:\n- sub\n",
				"sub/kustomization.yaml": "resources:\n- ssh://git@HOST/org/repo\n- ../app.yaml\n",
			}),
			check: nothingFetched},
		{entry: entryKustomize, name: "Patches with a PATH URL", code: exitBadInput,
			want:    `kustomization\.yaml:4: remote reference "http://127\.0\.0\.1:\d+/patch\.yaml" in patches path ` + refused,
			prepare: remoteHead(map[string]string{"kustomization.yaml": "resources:\n- app.yaml\nPatches:\n- PATH: URL/patch.yaml\n"}),
			check:   nothingFetched},
		{entry: entryKustomize, name: "ConfigMapGenerator with Files from a URL", code: exitBadInput,
			want:    `kustomization\.yaml:6: remote reference "k=http://127\.0\.0\.1:\d+/data" in configMapGenerator files ` + refused,
			prepare: remoteHead(map[string]string{"kustomization.yaml": "resources:\n- app.yaml\nConfigMapGenerator:\n- Name: x\n  Files:\n  - k=URL/data\n"}),
			check:   nothingFetched},
		{entry: entryKustomize, name: "transformer config whose Path is a URL", code: exitBadInput,
			want: `t\.yaml:7: remote reference "http://127\.0\.0\.1:\d+/p\.yaml" in PatchTransformer "p" ` + refused,
			prepare: remoteHead(map[string]string{
				"kustomization.yaml": "resources:\n- app.yaml\nTRANSFORMERS:\n- t.yaml\n",
				"t.yaml":             "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\ntarget:\n  kind: Deployment\nPath: URL/p.yaml\n",
			}),
			check: nothingFetched},
		{entry: entryKustomize, name: "HelmCharts (capitalised) from a chart repository", code: exitBadInput,
			want:    `kustomization\.yaml:3: helmCharts needs the helm binary, which aegis does not run inside kustomize`,
			prepare: remoteHead(map[string]string{"kustomization.yaml": "resources:\n- app.yaml\nHelmCharts:\n- name: x\n  repo: URL/charts\n  version: 1.0.0\n"}),
			check:   nothingFetched},
		{entry: entryKustomize, name: "argocd generate: Resources with an http URL", code: exitBadInput,
			want:    `kustomization\.yaml:3: remote reference "http://127\.0\.0\.1:\d+/cm\.yaml" in resources ` + refused,
			prepare: remoteArgo(map[string]string{"kustomization.yaml": "Resources:\n- app.yaml\n- URL/cm.yaml\n"}),
			check:   nothingFetched},
		{entry: entryKustomize, name: "argocd generate: RESOURCES with a github.com repository", code: exitBadInput,
			want:    `kustomization\.yaml:3: remote reference "github\.com:org/repo" in resources ` + refused,
			prepare: remoteArgo(map[string]string{"kustomization.yaml": "RESOURCES:\n- app.yaml\n- github.com:org/repo\n"}),
			check:   nothingFetched},
	}
}

// netTrap is a case's stand-in for the network: an HTTP server on
// loopback and git and helm stand-ins, each recording in the case's
// directory that it was reached.
type netTrap struct {
	url, host, ip string
	pathEnv       string // PATH with the stand-ins first
}

const (
	httpMark = "http-requests"
	gitMark  = "git-runs"
	helmMark = "helm-runs"
)

func setNetTrap(t *testing.T, dir string) *netTrap {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.OpenFile(filepath.Join(dir, httpMark), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, r.Method, r.URL)
			f.Close()
		}
		fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n")
	}))
	t.Cleanup(srv.Close)
	bin := filepath.Join(dir, "trap-bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	for name, mark := range map[string]string{"git": gitMark, "helm": helmMark} {
		// Single-quoted: test directories hold "(" and ":".
		quoted := "'" + strings.ReplaceAll(filepath.Join(dir, mark), "'", `'\''`) + "'"
		script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %s\nexit 1\n", quoted)
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755))
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	return &netTrap{url: srv.URL, host: host, ip: strings.Split(host, ":")[0],
		pathEnv: "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
}

// fill puts the trap's address into files: URL, HOST, IP.
func (tr *netTrap) fill(files map[string]string) map[string]string {
	r := strings.NewReplacer("URL", tr.url, "HOST", tr.host, "IP", tr.ip)
	out := map[string]string{}
	for k, v := range files {
		out[k] = r.Replace(v)
	}
	return out
}

// nothingFetched: no request reached the HTTP server, git and helm never
// ran.
func nothingFetched(t *testing.T, dir string, r hostileResult) {
	t.Helper()
	for _, mark := range []string{httpMark, gitMark, helmMark} {
		data, err := os.ReadFile(filepath.Join(dir, mark))
		assert.True(t, os.IsNotExist(err), "%s: nothing may be fetched or run, got:\n%s", mark, data)
	}
}
