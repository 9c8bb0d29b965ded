package plugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/verify"
)

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	return root
}

// generateIn runs Generate in the app path dir (relative to the
// repository root) with the environment Argo CD would give it.
func generateIn(t testing.TB, root, path string, a argoApp) (*Generated, error) {
	t.Helper()
	a.Path = path
	env, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	return Generate(context.Background(), GenerateOptions{Dir: filepath.Join(root, filepath.FromSlash(path)), Env: env, ToolVersion: "v0.9.0"})
}

// splitArgo splits a generate output the way Argo CD's repo-server does
// (a YAML-or-JSON stream of unstructured objects).
func splitArgo(t testing.TB, out []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if err == io.EOF {
			return objs
		}
		require.NoError(t, err)
		if len(u.Object) == 0 {
			continue
		}
		require.NotEmpty(t, u.GetAPIVersion(), "every document is a Kubernetes object")
		require.NotEmpty(t, u.GetKind())
		require.NotEmpty(t, u.GetName())
		objs = append(objs, u)
	}
}

// Generate renders an app path exactly as `aegis verify` renders the same
// directory: same objects, same digest, same origins (repository-relative),
// then the gate.
func TestGenerateRendersLikeVerify(t *testing.T) {
	root := repoRoot(t)
	for _, path := range []string{"examples/kustomize-overlay/after/overlays/prod", "examples/plain-yaml/after", "examples/helm-values/after/chart"} {
		t.Run(path, func(t *testing.T) {
			a := baseApp()
			a.DestNamespace = "default"
			a.InstanceName = "release" // verify's default Helm release name
			g, err := generateIn(t, root, path, a)
			require.NoError(t, err)
			want, err := render.Render(context.Background(), root, path, render.Options{})
			require.NoError(t, err)
			assert.Equal(t, want.Type, g.Type)
			assert.Equal(t, want.Set.Digest(), g.Digest(), "the same rendering as the CLI")
			for i, o := range g.Set.Objects {
				assert.Equal(t, want.Set.Objects[i].Origin, o.Origin)
				assert.True(t, strings.HasPrefix(o.Origin.Path, "examples/"), "origins are relative to the repository root: %s", o.Origin.Path)
			}

			var out bytes.Buffer
			_, err = g.WriteTo(&out)
			require.NoError(t, err)
			objs := splitArgo(t, out.Bytes())
			require.Len(t, objs, g.Set.Len()+len(g.Gate))
			job := objs[len(objs)-1]
			assert.Equal(t, "Job", job.GetKind())
			assert.Equal(t, HookPreSync, job.GetAnnotations()[AnnotationHook])
			cm := objs[len(objs)-2]
			assert.Equal(t, "ConfigMap", cm.GetKind())
			assert.Equal(t, HookPreSync, cm.GetAnnotations()[AnnotationHook])
			assert.Equal(t, g.Digest(), cm.GetAnnotations()[AnnotationDigest])
		})
	}
}

// The gate Job is bounded, replaces the previous sync's, runs as aegis-gate
// with the restricted profile, and names exactly the set the ConfigMaps hold.
func TestGateJob(t *testing.T) {
	a := baseApp()
	a.Params = []Parameter{{Name: ParamFailOn, String: str("medium")}, {Name: ParamGateTimeout, String: str("20m")}}
	g, err := generateIn(t, repoRoot(t), "examples/kustomize-overlay/after/overlays/prod", a)
	require.NoError(t, err)
	require.Len(t, g.Gate, 2)
	cm, job := g.Gate[0], g.Gate[1]
	for _, u := range g.Gate {
		assert.Equal(t, DefaultGateNamespace, u.GetNamespace())
		assert.Equal(t, HookPreSync, u.GetAnnotations()[AnnotationHook])
		assert.Equal(t, DeleteBeforeHookCreation, u.GetAnnotations()[AnnotationHookDeletePolicy])
		assert.Equal(t, a.Revision, u.GetAnnotations()[AnnotationRevision])
	}
	cmWave, _ := strconv.Atoi(cm.GetAnnotations()[AnnotationSyncWave])
	jobWave, _ := strconv.Atoi(job.GetAnnotations()[AnnotationSyncWave])
	assert.Less(t, cmWave, jobWave, "the set is in the cluster before the Job runs")
	assert.Less(t, jobWave, 0)
	assert.Equal(t, "aegis-gate-shop-web", job.GetName())

	deadline, _, _ := unstructured.NestedInt64(job.Object, "spec", "activeDeadlineSeconds")
	assert.Equal(t, int64(1200), deadline)
	backoff, _, _ := unstructured.NestedInt64(job.Object, "spec", "backoffLimit")
	assert.Zero(t, backoff, "a failed gate is not retried into a pass")
	sa, _, _ := unstructured.NestedString(job.Object, "spec", "template", "spec", "serviceAccountName")
	assert.Equal(t, GateServiceAccount, sa)
	containers, _, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers")
	require.Len(t, containers, 1)
	c := containers[0].(map[string]any)
	assert.Equal(t, "ghcr.io/kube-sentient/aegis:v0.9.0", c["image"])
	args := toStrings(c["args"].([]any))
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		return "<absent>"
	}
	assert.Equal(t, []string{"argocd", "presync"}, args[:2])
	assert.Equal(t, g.Digest(), flag("--digest"))
	assert.Equal(t, SetName("shop-web", g.Digest()), flag("--set-name"))
	assert.Equal(t, "1", flag("--chunks"))
	assert.Equal(t, "shop", flag("--namespace"))
	assert.Equal(t, "shop-web", flag("--app"))
	assert.Equal(t, "argocd", flag("--app-namespace"))
	assert.Equal(t, "medium", flag("--fail-on"))
	assert.Equal(t, "19m0s", flag("--deadline"), "the gate stops before the Job's deadline, to tear down")
	rootPolicy, err := os.ReadFile(filepath.Join(repoRoot(t), ".aegis.yaml"))
	require.NoError(t, err)
	assert.Equal(t, ".aegis.yaml", g.Policy.Path, "the repository's root policy is the app's")
	assert.Equal(t, Policy{Data: rootPolicy}.Digest(), flag("--policy-digest"))

	// Restricted Pod Security: the gate runs in a namespace that enforces it.
	sc := c["securityContext"].(map[string]any)
	assert.Equal(t, false, sc["allowPrivilegeEscalation"])
	assert.Equal(t, true, sc["readOnlyRootFilesystem"])
	assert.Equal(t, []any{"ALL"}, sc["capabilities"].(map[string]any)["drop"])
	psc, _, _ := unstructured.NestedMap(job.Object, "spec", "template", "spec", "securityContext")
	assert.Equal(t, true, psc["runAsNonRoot"])
	assert.Equal(t, "RuntimeDefault", psc["seccompProfile"].(map[string]any)["type"])
}

func toStrings(v []any) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = s.(string)
	}
	return out
}

// The ConfigMaps hold the set: read back, it has the generated digest, the
// same objects and their origins.
func TestGateConfigMapsRoundTrip(t *testing.T) {
	g, err := generateIn(t, repoRoot(t), "examples/kustomize-overlay/after/overlays/prod", baseApp())
	require.NoError(t, err)
	d, err := DecodeSet(chunkData(t, g.Gate), manifest.DefaultLimits.MaxTotalBytes)
	require.NoError(t, err)
	assert.Equal(t, g.Digest(), d.Digest)
	require.Equal(t, g.Set.Len(), d.Set.Len())
	for i, o := range d.Set.Objects {
		assert.Equal(t, g.Set.Objects[i].Origin, o.Origin)
		assert.Equal(t, g.Set.Objects[i].Object, o.Object)
	}
}

// chunkData reads the set back from the gate's hooks: the binaryData of
// its ConfigMaps in order, and its Secret hook's data if there is one.
func chunkData(t testing.TB, gate []*unstructured.Unstructured) Encoded {
	t.Helper()
	var e Encoded
	for _, u := range gate {
		var s string
		switch u.GetKind() {
		case "ConfigMap":
			s, _, _ = unstructured.NestedString(u.Object, "binaryData", chunkKey)
		case "Secret":
			s, _, _ = unstructured.NestedString(u.Object, "data", secretsKey)
		default:
			continue
		}
		b, err := base64.StdEncoding.DecodeString(s)
		require.NoError(t, err)
		if u.GetKind() == "Secret" {
			e.Secrets = b
		} else {
			e.Public = append(e.Public, b...)
		}
	}
	return e
}

// A set too large for one ConfigMap is split; every chunk, with the copy
// client-side apply puts into last-applied-configuration, fits the API
// server's limits (256 KiB of annotations, 1 MiB per object).
func TestGateSplitsLargeSets(t *testing.T) {
	root := t.TempDir()
	var b strings.Builder
	for i := 0; i < 12; i++ {
		noise := make([]byte, 48<<10) // incompressible
		_, err := rand.Read(noise)
		require.NoError(t, err)
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: blob-%d}\ndata:\n  blob: %s\n", i, base64.StdEncoding.EncodeToString(noise))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "blobs.yaml"), []byte(b.String()), 0o644))
	a := baseApp()
	a.Path = ""
	env, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	g, err := Generate(context.Background(), GenerateOptions{Dir: root, Env: env})
	require.NoError(t, err)
	cms := g.Gate[:len(g.Gate)-1] // no Secret in this set: ConfigMaps, then the Job
	require.Greater(t, len(cms), 4, "about 850 KiB of base64 noise needs several chunks")
	for i, cm := range cms {
		assert.Equal(t, fmt.Sprintf("%d/%d", i, len(cms)), cm.GetAnnotations()[AnnotationChunk])
		assert.Equal(t, chunkName(SetName("shop-web", g.Digest()), i), cm.GetName())
		whole, err := json.Marshal(cm.Object)
		require.NoError(t, err)
		lastApplied := len(whole) // kubectl's annotation holds the object itself
		assert.Less(t, lastApplied+sumAnnotations(cm), 256<<10, "annotations incl. last-applied-configuration")
		assert.Less(t, len(whole)+lastApplied, 1<<20, "the object with its last-applied copy")
	}
	job := g.Gate[len(g.Gate)-1]
	args := job.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["args"].([]any)
	assert.Contains(t, toStrings(args), strconv.Itoa(len(cms)))
	d, err := DecodeSet(chunkData(t, g.Gate), manifest.DefaultLimits.MaxTotalBytes)
	require.NoError(t, err)
	assert.Equal(t, g.Digest(), d.Digest)
}

// The set's Secrets go into a Secret hook beside the ConfigMaps (same
// wave, same digest), never into the ConfigMaps.
func TestGateKeepsSecretValuesOutOfConfigMaps(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"app/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n" + secretYAML})
	g, err := generateIn(t, root, "app", baseApp())
	require.NoError(t, err)
	require.Len(t, g.Gate, 3)
	cm, sec, job := g.Gate[0], g.Gate[1], g.Gate[2]
	assert.Equal(t, "ConfigMap", cm.GetKind())
	assert.Equal(t, "Secret", sec.GetKind())
	assert.Equal(t, "Job", job.GetKind())
	assert.Equal(t, cm.GetAnnotations()[AnnotationSyncWave], sec.GetAnnotations()[AnnotationSyncWave])
	assert.Equal(t, g.Digest(), sec.GetAnnotations()[AnnotationDigest])
	assert.Equal(t, HookPreSync, sec.GetAnnotations()[AnnotationHook])
	assert.Equal(t, secretsName(SetName("shop-web", g.Digest())), sec.GetName())
	e := chunkData(t, g.Gate)
	assert.NotContains(t, inflate(t, e.Public), "hunter2-do-not-leak")
	d, err := DecodeSet(e, manifest.DefaultLimits.MaxTotalBytes)
	require.NoError(t, err)
	assert.Equal(t, g.Digest(), d.Digest)
}

func sumAnnotations(u *unstructured.Unstructured) int {
	n := 0
	for k, v := range u.GetAnnotations() {
		n += len(k) + len(v)
	}
	return n
}

// Helm gets the Application's name as release name, its destination as
// namespace, the cluster's version and API versions as capabilities, and
// the values files and --set values of the parameters; a literal $ from a
// plugin env entry stays literal.
func TestGenerateHelmSettings(t *testing.T) {
	root := t.TempDir()
	chart := filepath.Join(root, "charts", "probe")
	writeFiles(t, chart, map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: probe\nversion: 0.1.0\nkubeVersion: \">=1.30.0-0\"\n",
		"values.yaml":        "greeting: hello\nprice: none\nlist: []\n",
		"values-prod.yaml":   "greeting: prod\n",
		"templates/cm.yaml":  cmTemplate,
		"templates/cap.yaml": "{{- if .Capabilities.APIVersions.Has \"example.com/v1/Widget\" }}\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {{ .Release.Name }}\n{{- end }}\n",
	})
	a := baseApp()
	a.InstanceName = "team_web"
	a.KubeVersion = "1.31.4"
	a.Env = [][2]string{{"HELM_SET", "price=pay $$5 now"}}
	a.Params = []Parameter{
		{Name: ParamValuesFiles, Array: []string{"values-prod.yaml"}},
		{Name: ParamHelmSet, Map: map[string]string{"list[0]": "a,b"}},
	}
	g, err := generateIn(t, root, "charts/probe", a)
	require.NoError(t, err)
	assert.Equal(t, render.Helm, g.Type)
	cm, ok := g.Set.Find(manifest.Identity{Kind: "ConfigMap", Namespace: "shop", Name: "web-probe"})
	require.True(t, ok, "release name web (from team_web), namespace shop: %v", ids(g.Set))
	data := cm.Object["data"].(map[string]any)
	assert.Equal(t, "web", data["release"])
	assert.Equal(t, "shop", data["namespace"])
	assert.Equal(t, "v1.31.4", data["kube"])
	assert.Equal(t, "prod", data["greeting"], "values files from the parameter")
	assert.Equal(t, "pay $5 now", data["price"], "Argo CD turned $$ into $; aegis expands nothing")
	assert.Equal(t, "a,b", data["first"], "a map parameter's value is literal, comma included")
	_, ok = g.Set.Find(manifest.Identity{Group: "example.com", Kind: "Widget", Name: "web"})
	assert.True(t, ok, "KUBE_API_VERSIONS reach .Capabilities.APIVersions")

	a.KubeVersion = "1.29.0"
	_, err = generateIn(t, root, "charts/probe", a)
	require.Error(t, err, "KUBE_VERSION is the chart's kubeVersion check's version")
	assert.Contains(t, err.Error(), "incompatible with Kubernetes")
}

const cmTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-probe
  namespace: {{ .Release.Namespace }}
data:
  release: {{ .Release.Name | quote }}
  namespace: {{ .Release.Namespace | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  greeting: {{ .Values.greeting | quote }}
  price: {{ .Values.price | quote }}
  first: {{ index .Values.list 0 | quote }}
`

func ids(s *manifest.Set) []string {
	var out []string
	for _, o := range s.Objects {
		out = append(out, o.ID().String())
	}
	return out
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

// The app's .aegis.yaml is validated and carried with the set; its digest
// is in the Job's arguments. A broken policy fails generation.
func TestGenerateCarriesThePolicy(t *testing.T) {
	root := t.TempDir()
	policy := "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn:\n  severity: critical\n"
	writeFiles(t, root, map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "app/.aegis.yaml": policy})
	g, err := generateIn(t, root, "app", baseApp())
	require.NoError(t, err)
	assert.Equal(t, "app/.aegis.yaml", g.Policy.Path)
	assert.Equal(t, []string{"ConfigMap/x"}, ids(g.Set), "a plain app's policy file is not one of its manifests")
	assert.Equal(t, "app/cm.yaml", g.Set.Objects[0].Origin.Path)
	assert.Equal(t, policy, string(g.Policy.Data))
	d, err := DecodeSet(chunkData(t, g.Gate), manifest.DefaultLimits.MaxTotalBytes)
	require.NoError(t, err)
	assert.Equal(t, policy, string(d.Policy.Data))
	assert.Equal(t, g.Policy.Digest(), d.PolicyDigest)
	assert.Equal(t, g.Policy.Digest(), g.Gate[len(g.Gate)-1].GetAnnotations()[AnnotationPolicy])

	writeFiles(t, root, map[string]string{"app/.aegis.yaml": policy + "colour: blue\n"})
	_, err = generateIn(t, root, "app", baseApp())
	require.Error(t, err)
	var ce *config.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "app/.aegis.yaml", ce.Path)
	assert.True(t, verify.IsBadInput(err))
}

// The gate runs before every PreSync hook of the set (Argo CD's own, and
// Helm's pre-install hooks that Argo CD runs as PreSync).
func TestGateWavesBelowTheSetsHooks(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"app/hooks.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: "Sync,PreSync", argocd.argoproj.io/sync-wave: "-5"}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: busybox}]}}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: helm-pre
  annotations: {helm.sh/hook: pre-install, helm.sh/hook-weight: "-9"}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: busybox}]}}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: post
  annotations: {argocd.argoproj.io/hook: PostSync, argocd.argoproj.io/sync-wave: "-50"}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: busybox}]}}}
`})
	g, err := generateIn(t, root, "app", baseApp())
	require.NoError(t, err)
	assert.Equal(t, "-11", g.Gate[0].GetAnnotations()[AnnotationSyncWave])
	assert.Equal(t, "-10", g.Gate[1].GetAnnotations()[AnnotationSyncWave])
}

// A set that writes into the gate's namespace could bring its own verdict:
// generation refuses it, naming the object's file and line.
func TestGenerateRefusesTheGateNamespace(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"app/forged.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aegis-verdicts\n  namespace: aegis-system\n"})
	_, err := generateIn(t, root, "app", baseApp())
	require.Error(t, err)
	assert.True(t, verify.IsBadInput(err))
	assert.Contains(t, err.Error(), "app/forged.yaml:1")
	assert.Contains(t, err.Error(), "gate's namespace aegis-system")

	writeFiles(t, root, map[string]string{"app/forged.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
	a := baseApp()
	a.DestNamespace = "aegis-system"
	_, err = generateIn(t, root, "app", a)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "destination namespace is the gate's namespace")

	a.Params = []Parameter{{Name: ParamGate, String: str("false")}}
	a.Path = "app"
	env, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	cp := clusterPolicy(t, "", rulesHead+"allowParameters: [gate]\n") // gate=false loosens: the cluster must allow it
	g, err := Generate(context.Background(), GenerateOptions{Dir: filepath.Join(root, "app"), Env: env, Cluster: &cp})
	require.NoError(t, err, "without the gate there is nothing to protect")
	assert.Empty(t, g.Gate)
}

func TestRepoRoot(t *testing.T) {
	assert.Equal(t, "/tmp/x", RepoRoot("/tmp/x/apps/web", "apps/web"))
	assert.Equal(t, "/tmp/x", RepoRoot("/tmp/x/apps/web", "/apps/web/"))
	assert.Equal(t, "/tmp/x/apps/web", RepoRoot("/tmp/x/apps/web", "."))
	assert.Equal(t, "/tmp/x/apps/web", RepoRoot("/tmp/x/apps/web", "other/web"))
	assert.Equal(t, "/tmp/x/apps/web", RepoRoot("/tmp/x/apps/web", "../web"))
	assert.Equal(t, "/tmp/x/apps/web", RepoRoot("/tmp/x/apps/web", ""))
}

// An overlay reaching ../../base renders because the repository root is
// the app path without ARGOCD_APP_SOURCE_PATH; the same files outside that
// root are refused, as the CLI refuses them.
func TestGenerateRepositoryRootBoundsKustomize(t *testing.T) {
	root := repoRoot(t)
	a := baseApp()
	a.Path = "wrong/path"
	env, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	_, err = Generate(context.Background(), GenerateOptions{Dir: filepath.Join(root, "examples/kustomize-overlay/after/overlays/prod"), Env: env})
	require.Error(t, err, "with the app path as root, ../../base is outside it")
	assert.Contains(t, err.Error(), "leaves the source root")
}

func TestNames(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	assert.Equal(t, "aegis-gate-web", JobName("web"))
	assert.Equal(t, "aegis-set-web-abababababab", SetName("web", d))
	long := strings.Repeat("very-long-application-name-", 10)
	for _, n := range []string{JobName(long), SetName(long, d), JobName("team_web"), SetName("Team_Web", d)} {
		assert.LessOrEqual(t, len(n), 63, n)
		assert.Regexp(t, `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, n)
	}
	assert.NotEqual(t, JobName(long), JobName(long+"x"), "truncated names keep a hash of the whole")
	assert.NotEqual(t, JobName("team_web"), JobName("team-web"), "a changed name keeps a hash")
	assert.NotEqual(t, VerdictKey("a", d), VerdictKey("b", d))
	assert.Regexp(t, `^[-._a-zA-Z0-9]+$`, VerdictKey(long, d))
}

// BenchmarkGenerate renders each example and builds its gate, as `aegis
// argocd generate` does in Argo CD's sidecar (in process: no start-up).
func BenchmarkGenerate(b *testing.B) {
	root := repoRoot(b)
	for _, path := range []string{"examples/kustomize-overlay/after/overlays/prod", "examples/helm-values/after/chart", "examples/plain-yaml/after"} {
		b.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(b *testing.B) {
			a := baseApp()
			for b.Loop() {
				g, err := generateIn(b, root, path, a)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := g.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGate1000 is generate's own work beyond rendering, on a set of
// 1,000 objects (500 Deployments, 500 Services): encoding and compressing
// the set, building the hooks, writing the YAML stream.
func BenchmarkGate1000(b *testing.B) {
	var y strings.Builder
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&y, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%[1]d, namespace: shop, labels: {app: app-%[1]d}}
spec:
  replicas: 2
  selector: {matchLabels: {app: app-%[1]d}}
  template:
    metadata: {labels: {app: app-%[1]d}}
    spec:
      containers:
        - name: app
          image: registry.example/app-%[1]d:1.%[1]d
          ports: [{containerPort: 8080}]
          resources: {limits: {cpu: 500m, memory: 256Mi}, requests: {cpu: 50m, memory: 64Mi}}
          securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata: {name: app-%[1]d, namespace: shop}
spec: {selector: {app: app-%[1]d}, ports: [{port: 80, targetPort: 8080}]}
`, i)
	}
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("apps.yaml", []byte(y.String()))
	require.NoError(b, err)
	set, err := manifest.NewSet(objs)
	require.NoError(b, err)
	env, err := ParseEnv(argoEnviron(baseApp()))
	require.NoError(b, err)
	s, err := env.Settings("dev")
	require.NoError(b, err)
	for b.Loop() {
		gate, err := Gate(GateSpec{Settings: s, Namespace: "shop", Set: set})
		if err != nil {
			b.Fatal(err)
		}
		g := &Generated{Set: set, Gate: gate}
		if _, err := g.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// The policy is the nearest .aegis.yaml in the app path or above it, up to
// the repository's root, never beyond.
func TestFindPolicy(t *testing.T) {
	outside := t.TempDir()
	root := filepath.Join(outside, "repo")
	writeFiles(t, outside, map[string]string{
		".aegis.yaml":                   "above the repository",
		"repo/apps/web/overlays/prod/x": "",
		"repo/apps/api/.aegis.yaml":     "api's own",
		"repo/apps/api/overlays/prod/x": "",
		"repo/other/x":                  "",
	})
	find := func(dir string) string {
		p, err := FindPolicy(root, filepath.Join(root, dir))
		require.NoError(t, err)
		if p == "" {
			return ""
		}
		r, err := filepath.Rel(root, p)
		require.NoError(t, err)
		return filepath.ToSlash(r)
	}
	assert.Equal(t, "", find("apps/web/overlays/prod"), "the file above the repository is not the app's")
	assert.Equal(t, "apps/api/.aegis.yaml", find("apps/api/overlays/prod"))
	assert.Equal(t, "apps/api/.aegis.yaml", find("apps/api"))
	writeFiles(t, root, map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\n"})
	assert.Equal(t, ".aegis.yaml", find("apps/web/overlays/prod"), "the repository's root policy")
	assert.Equal(t, ".aegis.yaml", find("other"))
	assert.Equal(t, ".aegis.yaml", find("."))

	// generate carries the root's policy for an app below it.
	writeFiles(t, root, map[string]string{"apps/web/overlays/prod/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
	g, err := generateIn(t, root, "apps/web/overlays/prod", baseApp())
	require.NoError(t, err)
	assert.Equal(t, ".aegis.yaml", g.Policy.Path)
}
