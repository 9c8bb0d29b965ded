package main

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trust2InputCases are hostile-corpus cases of issue 14 ("smaller
// defects"): kustomize errors that named the file but not the line, a NUL
// byte without a line, directory symlink loops that ended as an
// infrastructure error with the looping path spelt out forty times,
// metadata.name and metadata.namespace of the wrong type accepted as
// empty, and policy or values files that are a FIFO (the run hung) or a
// symlink to /dev/zero (the run ate the memory). Then the static posture
// rules for cluster-wide objects, which fire with --shadow off.
func trust2InputCases() []hostileCase {
	head := func(files map[string]string) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation {
			writeFiles(t, filepath.Join(dir, "head"), files)
			return verifyHead()
		}
	}
	kust := func(files map[string]string) func(t *testing.T, dir string) invocation {
		files["app.yaml"] = goodDeployment
		return head(files)
	}
	// withLinks writes files and then symlinks (link -> target) in head/.
	withLinks := func(files, links map[string]string, path ...string) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation {
			writeFiles(t, filepath.Join(dir, "head"), files)
			for link, target := range links {
				symlink(t, target, filepath.Join(dir, "head", link))
			}
			return verifyHead(path...)
		}
	}
	fifo := func(t *testing.T, p string) {
		t.Helper()
		require.NoError(t, syscall.Mkfifo(p, 0o644))
	}
	// loopNamedOnce: the symlink is named, not the path the loop makes.
	loopNamedOnce := func(t *testing.T, dir string, r hostileResult) {
		assert.NotContains(t, r.stderr, "loop/loop")
		assert.NotContains(t, r.stderr, "too many levels of symbolic links")
	}
	// smallRSS: /dev/zero was not read.
	smallRSS := func(t *testing.T, dir string, r hostileResult) {
		assert.Less(t, r.maxRSS, int64(512<<10), "peak memory (KiB): the device was not read")
	}
	// newFinding checks the JSON report: the rule's finding is new, at
	// path:line, with the severity.
	newFinding := func(rule, severity, path string, line int) func(t *testing.T, dir string, r hostileResult) {
		return func(t *testing.T, dir string, r hostileResult) {
			rep := decodeReport(t, r.files["aegis.json"])
			for _, f := range rep.Findings {
				if f.RuleID == rule && f.Location.Path == path && f.Location.Line == line {
					assert.Equal(t, "new", f.BaselineState, rule)
					assert.Equal(t, severity, f.Severity, rule)
					return
				}
			}
			t.Errorf("no %s finding at %s:%d in %+v", rule, path, line, rep.Findings)
		}
	}
	const rbacArgs = "apiVersion: rbac.authorization.k8s.io/v1\n"
	clusterAdmin := rbacArgs + "kind: ClusterRoleBinding\nmetadata:\n  name: ci-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n  - kind: ServiceAccount\n    name: ci\n    namespace: ci\n"
	godRole := rbacArgs + "kind: ClusterRole\nmetadata:\n  name: god\nrules:\n  - apiGroups: [\"*\"]\n    resources: [\"*\"]\n    verbs: [\"*\"]\n---\n" +
		rbacArgs + "kind: RoleBinding\nmetadata:\n  name: to-god\n  namespace: shop\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: god\nsubjects:\n  - kind: ServiceAccount\n    name: web\n    namespace: shop\n"
	failOpen := "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: policy\nwebhooks:\n  - name: pods.policy.example.com\n    failurePolicy: Ignore\n    sideEffects: None\n    admissionReviewVersions: [v1]\n    clientConfig:\n      service: {name: policy, namespace: policy}\n    rules:\n      - apiGroups: [\"\"]\n        apiVersions: [v1]\n        operations: [CREATE, UPDATE]\n        resources: [pods]\n"
	return []hostileCase{
		// --- a. kustomize errors at their line ---
		{entry: entryKustomize, name: "unknown field in a patch entry, at its line", code: exitBadInput,
			want: `head/kustomization\.yaml:5: invalid kustomization: unknown field "bogus"`,
			prepare: kust(map[string]string{
				"kustomization.yaml": "resources:\n- app.yaml\npatches:\n- path: p.yaml\n  bogus: 1\n",
				"p.yaml":             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
			})},
		{entry: entryKustomize, name: "JSON patch operation on a missing path, at the operation", code: exitBadInput,
			want: `head/p\.yaml:4: kustomize: remove operation does not apply: doc is missing path: "/spec/nope/x"`,
			prepare: kust(map[string]string{
				"kustomization.yaml": "resources:\n- app.yaml\npatches:\n- path: p.yaml\n  target:\n    kind: Deployment\n    name: web\n",
				"p.yaml":             "- op: replace\n  path: /spec/replicas\n  value: 3\n- op: remove\n  path: /spec/nope/x\n",
			})},
		{entry: entryKustomize, name: "the same object in two resources, at the second", code: exitBadInput,
			want: `head/app2\.yaml:1: kustomize: .*may not add resource with an already registered id.*Deployment/web is defined here and at app\.yaml:1`,
			prepare: kust(map[string]string{
				"kustomization.yaml": "resources:\n- app.yaml\n- app2.yaml\n",
				"app2.yaml":          goodDeployment,
			})},
		{entry: entryKustomize, name: "replicas entry for no object, at the entry", code: exitBadInput,
			want: `head/kustomization\.yaml:6: kustomize: resource with name nope does not match`,
			prepare: kust(map[string]string{
				"kustomization.yaml": "resources:\n- app.yaml\nreplicas:\n- name: web\n  count: 2\n- name: nope\n  count: 1\n",
			})},
		// --- b. NUL bytes at their line ---
		{entry: entryKustomize, name: "NUL byte in the kustomization", code: exitBadInput,
			want:    `head/kustomization\.yaml:3: a NUL byte is not allowed in YAML`,
			prepare: kust(map[string]string{"kustomization.yaml": "resources:\n- app.yaml\n# \x00\n"})},
		{entry: entryPlain, name: "NUL byte in a manifest", code: exitBadInput,
			want:    `head/cm\.yaml:6: a NUL byte is not allowed in YAML`,
			prepare: head(map[string]string{"app.yaml": goodDeployment, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"a\x00b\"\n"})},
		{entry: entryHelm, name: "NUL byte in a values file", code: exitBadInput,
			want: `head/chart/v\.yaml:2: a NUL byte is not allowed in YAML`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, withChart("a: 1\n", map[string]string{"chart/v.yaml": "a: 2\nb: \"\x00\"\n"}))
				writeFiles(t, filepath.Join(dir, "base"), map[string]string{"chart/v.yaml": "a: 2\n"})
				return verifyHead("chart", "-f", "v.yaml")
			}},
		// --- c. symlink loops: exit 2, the symlink named once ---
		{entry: entryKustomize, name: "resources entry that is a symlink to its own directory", code: exitBadInput,
			want: `head/kustomization\.yaml:3: "loop" goes through a symlink loop: loop points at the source root`,
			prepare: withLinks(map[string]string{"kustomization.yaml": "resources:\n- app.yaml\n- loop\n", "app.yaml": goodDeployment},
				map[string]string{"loop": "."}),
			check: loopNamedOnce},
		{entry: entryKustomize, name: "a base's resources entry that links back to its parent", code: exitBadInput,
			want: `head/sub/kustomization\.yaml:3: "loop" goes through a symlink loop: sub/loop points at the source root`,
			prepare: withLinks(map[string]string{"kustomization.yaml": "resources:\n- sub\n", "sub/kustomization.yaml": "resources:\n- ../app.yaml\n- loop\n", "app.yaml": goodDeployment},
				map[string]string{"sub/loop": ".."}),
			check: loopNamedOnce},
		{entry: entryKustomize, name: "two bases linked to each other", code: exitBadInput,
			want: `"loop" goes through a symlink loop: b/loop points at a,`,
			prepare: withLinks(map[string]string{"kustomization.yaml": "resources:\n- a\n- app.yaml\n", "a/kustomization.yaml": "resources:\n- loop\n", "b/kustomization.yaml": "resources:\n- loop\n", "app.yaml": goodDeployment},
				map[string]string{"a/loop": "../b", "b/loop": "../a"}),
			check: loopNamedOnce},
		{entry: entryHelm, name: "templates/loop linking to the chart", code: exitBadInput,
			want: `head/chart/templates/loop: symlink loop: it points at chart, a directory that contains it`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, chartFiles("a: 1\n"))
				symlink(t, "..", filepath.Join(dir, "head", "chart", "templates", "loop"))
				return verifyHead("chart")
			},
			check: loopNamedOnce},
		{entry: entryHelm, name: "two template directories linked to each other", code: exitBadInput,
			want: `head/chart/templates/a/loop: symlink loop: it points at chart/templates/b`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, chartFiles("a: 1\n"))
				symlink(t, "../b", filepath.Join(dir, "head", "chart", "templates", "a", "loop"))
				symlink(t, "../a", filepath.Join(dir, "head", "chart", "templates", "b", "loop"))
				return verifyHead("chart")
			},
			check: loopNamedOnce},
		// --- d. metadata.name and metadata.namespace must be strings ---
		{entry: entryPlain, name: "metadata.namespace as a mapping", code: exitBadInput,
			want:    `head/cm\.yaml:5: metadata\.namespace is a mapping; it must be a string`,
			prepare: head(map[string]string{"app.yaml": goodDeployment, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace:\n    prod: true\n"})},
		{entry: entryPlain, name: "metadata.namespace as a list", code: exitBadInput,
			want:    `head/cm\.yaml:5: metadata\.namespace is a list; it must be a string`,
			prepare: head(map[string]string{"app.yaml": goodDeployment, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: [prod, kube-system]\n"})},
		{entry: entryPlain, name: "metadata.name as a number", code: exitBadInput,
			want:    `head/cm\.yaml:4: metadata\.name is a number; it must be a string \(quote it`,
			prepare: head(map[string]string{"app.yaml": goodDeployment, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 404\n"})},
		{entry: entryKustomize, name: "metadata.namespace as a number in a resource", code: exitBadInput,
			want: `head/cm\.yaml:5: metadata\.namespace is a number`,
			prepare: kust(map[string]string{
				"kustomization.yaml": "resources:\n- app.yaml\n- cm.yaml\n",
				"cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: 7\n",
			})},
		// --- f. regular files only, read with a bound ---
		{entry: entryConfig, name: "--config a symlink to /dev/zero", code: exitBadInput,
			want: `zero\.yaml: cannot read config: not a regular file \(a character device, through a symlink\)`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				symlink(t, "/dev/zero", filepath.Join(dir, "zero.yaml"))
				return invocation{cmd: "verify", args: []string{"--base-dir", "base", "--head-dir", "head", "--config", "zero.yaml"}}
			},
			check: smallRSS},
		{entry: entryConfig, name: "--config a FIFO", code: exitBadInput,
			want: `fifo\.yaml: cannot read config: not a regular file \(a named pipe\)`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				fifo(t, filepath.Join(dir, "fifo.yaml"))
				return invocation{cmd: "verify", args: []string{"--base-dir", "base", "--head-dir", "head", "--config", "fifo.yaml"}}
			}},
		{entry: entryConfig, name: "the base directory's .aegis.yaml a FIFO", code: exitBadInput,
			want: `base/\.aegis\.yaml: cannot read config: not a regular file \(a named pipe\)`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				fifo(t, filepath.Join(dir, "base", ".aegis.yaml"))
				return invocation{cmd: "verify", args: []string{"--base-dir", "base", "--head-dir", "head"}}
			}},
		{entry: entryHelm, name: "-f values file a FIFO", code: exitBadInput,
			want: `head/vals/v\.yaml: values file: not a regular file \(a named pipe\)`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, chartFiles("a: 1\n"))
				writeFiles(t, filepath.Join(dir, "base"), map[string]string{"vals/v.yaml": "a: 2\n"})
				require.NoError(t, syscall.Mkdir(filepath.Join(dir, "head", "vals"), 0o755))
				fifo(t, filepath.Join(dir, "head", "vals", "v.yaml"))
				return verifyHead("chart", "-f", "../vals/v.yaml")
			}},
		{entry: entryHelm, name: "-f /dev/zero", code: exitBadInput,
			want: `/dev/zero: values file: not a regular file \(a character device\)`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, chartFiles("a: 1\n"))
				return verifyHead("chart", "-f", "/dev/zero")
			},
			check: smallRSS},
		{entry: entryPlain, name: "a FIFO named like a manifest", code: exitBadInput,
			want: `head/x\.yaml: not a regular file \(a named pipe\)`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				fifo(t, filepath.Join(dir, "head", "x.yaml"))
				return verifyHead()
			}},
		// --- e. the cluster-level posture rules, with --shadow off ---
		{entry: entryPlain, name: "PR adds a ClusterRoleBinding to cluster-admin", code: exitFail,
			want: `New critical finding aegis\.clusterAdminBinding on ClusterRoleBinding/ci-admin at rbac\.yaml:8`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := head(map[string]string{"app.yaml": goodDeployment, "rbac.yaml": clusterAdmin})(t, dir)
				inv.args = append(inv.args, "--shadow", "off")
				return inv
			},
			check: newFinding("aegis.clusterAdminBinding", "critical", "rbac.yaml", 8)},
		{entry: entryPlain, name: "PR adds a role granting * on * and a RoleBinding to it", code: exitFail,
			want: `New critical finding aegis\.clusterAdminBinding on ClusterRole/god at rbac\.yaml:8`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := head(map[string]string{"app.yaml": goodDeployment, "rbac.yaml": godRole})(t, dir)
				inv.args = append(inv.args, "--shadow", "off")
				return inv
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				newFinding("aegis.clusterAdminBinding", "critical", "rbac.yaml", 8)(t, dir, r)  // the rule's verbs
				newFinding("aegis.clusterAdminBinding", "critical", "rbac.yaml", 18)(t, dir, r) // the binding's roleRef.name
			}},
		{entry: entryPlain, name: "PR adds a webhook that fails open on pods", code: exitFail,
			want: `New high finding aegis\.webhookFailOpen on ValidatingWebhookConfiguration/policy at hooks\.yaml:7`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := head(map[string]string{"app.yaml": goodDeployment, "hooks.yaml": failOpen})(t, dir)
				inv.args = append(inv.args, "--shadow", "off")
				return inv
			},
			check: newFinding("aegis.webhookFailOpen", "high", "hooks.yaml", 7)},
		{entry: entryPlain, name: "PR adds a Namespace: an info finding, no gate", code: exitPass,
			prepare: func(t *testing.T, dir string) invocation {
				inv := head(map[string]string{"app.yaml": goodDeployment, "ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"})(t, dir)
				inv.args = append(inv.args, "--shadow", "off")
				return inv
			},
			check: newFinding("aegis.clusterScopedObject", "info", "ns.yaml", 2)},
		{entry: entryPlain, name: "a cluster-admin binding the base already has is not new", code: exitPass,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "base"), map[string]string{"rbac.yaml": clusterAdmin})
				// moved down a line: the same finding
				inv := head(map[string]string{"app.yaml": goodDeployment, "rbac.yaml": "# kept\n" + clusterAdmin})(t, dir)
				inv.args = append(inv.args, "--shadow", "off")
				return inv
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				rep := decodeReport(t, r.files["aegis.json"])
				n := 0
				for _, f := range rep.Findings {
					if f.RuleID == "aegis.clusterAdminBinding" {
						n++
						assert.Equal(t, "unchanged", f.BaselineState)
						assert.Equal(t, 9, f.Location.Line, "the head's line")
					}
				}
				assert.Equal(t, 1, n)
			}},
	}
}
