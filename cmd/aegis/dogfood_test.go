package main

// Dogfood: aegis's own manifests through `aegis verify` with the default
// policy (the base is an empty directory without .aegis.yaml, so that every
// object and finding is new; the repository's .aegis.yaml is not the
// default policy): deploy/, the gate's objects (plugin/install/gate), the
// repo-server component as a release pins it (a well-formed digest that
// names no image) on Argo CD's own argocd-repo-server, and a gate Job that
// `aegis argocd generate` writes. None may bring a finding at or above
// medium, except the ones in dogfoodAccepted, each with why it stays.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

const dogfoodDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// dogfoodAccepted are the findings at or above medium that aegis's own
// manifests keep, by case and "scanner rule Kind/namespace/name container".
// A finding not listed fails the test, and so does a listed one that no
// longer appears (take it off the list).
var dogfoodAccepted = map[string]map[string]string{
	"deploy": rbacAccepted("ClusterRole//aegis"),
	"gate": merge(rbacAccepted("ClusterRole//aegis-gate"), map[string]string{
		"trivy KSV-0049 Role/aegis-system/aegis-gate": "the gate deletes the app's earlier rendered sets and updates its verdicts, ConfigMaps of its own namespace",
		"trivy KSV-0113 Role/aegis-system/aegis-gate": "the gate reads the Secrets of the sets it verifies, which generate puts in its own namespace and nowhere else",
	}),
	"repo-server": {
		"trivy KSV-0125 Deployment/argocd/argocd-repo-server aegis": untrustedRegistry,
	},
	"gate-job": {
		"trivy KSV-0125 Job/aegis-system/aegis-gate-web gate": untrustedRegistry,
	},
}

const untrustedRegistry = "aegis is published on ghcr.io, which is not in Trivy's default list of trusted registries (only Azure, ECR and GCR hosts); a cluster sets its own"

// rbacAccepted: what shadow deployments need (deploy/rbac.yaml explains it):
// the ClusterRole creates and patches a change's objects, Secrets, Roles
// and bindings included, in namespaces that do not exist yet, so only a
// ClusterRole can grant it; the ValidatingAdmissionPolicy beside it confines
// every write to namespaces labelled app.kubernetes.io/managed-by=aegis,
// which Trivy does not see.
func rbacAccepted(role string) map[string]string {
	why := "shadow deployments apply a change's objects into namespaces created per run (only a ClusterRole can grant that); the admission policy beside it confines the writes to aegis's own namespaces"
	out := map[string]string{}
	for _, rule := range []string{"KSV-0041", "KSV-0048", "KSV-0049", "KSV-0050", "KSV-0056"} {
		out["trivy "+rule+" "+role] = why
	}
	return out
}

func merge(a, b map[string]string) map[string]string {
	for k, v := range b {
		a[k] = v
	}
	return a
}

type dogfoodReport struct {
	Verdict  string `json:"verdict"`
	Scanners []struct {
		Name   string `json:"name"`
		Side   string `json:"side"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"scanners"`
	Findings []struct {
		Scanner       string `json:"scanner"`
		RuleID        string `json:"ruleId"`
		Severity      string `json:"severity"`
		Title         string `json:"title"`
		Message       string `json:"message"`
		BaselineState string `json:"baselineState"`
		Resource      struct {
			Kind, Namespace, Name, Container string
		} `json:"resource"`
		Location struct {
			Path string `json:"path"`
			Line int    `json:"line"`
		} `json:"location"`
	} `json:"findings"`
}

func TestDogfoodOwnManifestsPassTheDefaultPolicy(t *testing.T) {
	requireTrivy(t)
	root := repoRoot(t)
	empty := t.TempDir()

	// The repo-server component as the release pins it, on Argo CD's own
	// argocd-repo-server (the base: the same without the component, so
	// that Argo CD's own findings are unchanged, not aegis's).
	comp := t.TempDir()
	for _, side := range []string{"base", "head"} {
		dir := filepath.Join(comp, side, "argocd")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		dep, err := os.ReadFile(filepath.Join(root, "plugin", "testdata", "argocd", "argocd-repo-server-deployment.yaml"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "deployment.yaml"), dep, 0o644))
		k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: argocd\nresources: [deployment.yaml]\n"
		if side == "head" {
			k += "components: [../repo-server]\n"
			copyPinnedComponent(t, filepath.Join(root, "plugin", "install", "repo-server"), filepath.Join(comp, side, "repo-server"))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644))
	}

	cases := []struct {
		name, base, head, path string
	}{
		{"deploy", empty, root, "deploy"},
		{"gate", empty, root, "plugin/install/gate"},
		{"repo-server", filepath.Join(comp, "base"), filepath.Join(comp, "head"), "argocd"},
		{"gate-job", empty, generatedGate(t), "gate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := runBinary(t, "verify", "--shadow", "off", "--base-dir", c.base, "--head-dir", c.head, c.path, "-o", "json", "-q")
			var r dogfoodReport
			require.NoError(t, json.Unmarshal([]byte(res.stdout), &r), "exit %d: %s", res.code, res.stderr)
			for _, s := range r.Scanners {
				if s.Side == "head" && (s.Name == "posture" || s.Name == "trivy") {
					assert.Equal(t, "ok", s.Status, "scanner %s ran on the head: %s", s.Name, s.Error)
				}
			}
			accepted := dogfoodAccepted[c.name]
			seen := map[string]bool{}
			var unexpected []string
			for _, f := range r.Findings {
				if f.BaselineState != "new" && f.BaselineState != "updated" {
					continue
				}
				if f.Severity != "medium" && f.Severity != "high" && f.Severity != "critical" {
					continue
				}
				name := f.Resource.Name
				if strings.HasPrefix(name, "aegis-plugin-") {
					name = "aegis-plugin-<hash>" // kustomize's name suffix
				}
				key := strings.TrimSpace(fmt.Sprintf("%s %s %s/%s/%s %s", f.Scanner, f.RuleID, f.Resource.Kind, f.Resource.Namespace, name, f.Resource.Container))
				seen[key] = true
				if _, ok := accepted[key]; !ok {
					unexpected = append(unexpected, fmt.Sprintf("%s %s at %s:%d: %s (%s)", f.Severity, key, f.Location.Path, f.Location.Line, f.Title, f.Message))
				}
			}
			sort.Strings(unexpected)
			assert.Empty(t, unexpected, "new findings at or above medium in aegis's own manifests (%s)", c.path)
			for key := range accepted {
				assert.True(t, seen[key], "accepted finding %q no longer appears: take it off dogfoodAccepted", key)
			}
		})
	}
}

// copyPinnedComponent copies plugin/install/repo-server, its images: entry
// set as the release sets it.
func copyPinnedComponent(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(to, 0o755))
	entries, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		if e.Name() == "kustomization.yaml" {
			const committed = "    newTag: latest\n"
			require.Contains(t, string(data), committed)
			data = []byte(strings.Replace(string(data), committed, "    newTag: v1.4.0\n    digest: "+dogfoodDigest+"\n", 1))
		}
		require.NoError(t, os.WriteFile(filepath.Join(to, e.Name()), data, 0o644))
	}
}

// generatedGate runs `aegis argocd generate` on a one-ConfigMap app with a
// cluster policy whose gate image is pinned, and writes the gate's objects
// (the ConfigMap hook and the Job) into <dir>/gate/gate.yaml.
func generatedGate(t *testing.T) string {
	t.Helper()
	work := t.TempDir()
	app := filepath.Join(work, "repo", "web")
	require.NoError(t, os.MkdirAll(app, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(app, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  greeting: hello\n"), 0o644))
	policy := filepath.Join(work, "policy")
	require.NoError(t, os.MkdirAll(policy, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(policy, "gate.yaml"), []byte(
		"apiVersion: aegis.dev/v1alpha1\nkind: GateRules\nimage: ghcr.io/kube-sentient/aegis:v1.4.0@"+dogfoodDigest+"\n"), 0o644))
	res := runCommand(t, app, []string{"ARGOCD_APP_NAME=web", "ARGOCD_APP_NAMESPACE=shop", "ARGOCD_APP_SOURCE_PATH=web",
		"ARGOCD_APP_REVISION=0123456789abcdef0123456789abcdef01234567"}, "argocd", "generate", "-q", "--cluster-policy", policy)
	require.Equal(t, 0, res.code, res.stderr)
	var gate []string
	for _, doc := range strings.Split(res.stdout, "\n---\n") {
		var o struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
		if o.Metadata.Labels["app.kubernetes.io/name"] == "aegis" {
			gate = append(gate, strings.TrimPrefix(doc, "---\n"))
		}
	}
	require.Len(t, gate, 2, "the set's ConfigMap hook and the Job")
	head := filepath.Join(work, "head")
	require.NoError(t, os.MkdirAll(filepath.Join(head, "gate"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(head, "gate", "gate.yaml"), []byte(strings.Join(gate, "\n---\n")+"\n"), 0o644))
	return head
}
