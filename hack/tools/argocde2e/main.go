// Command argocde2e runs aegis's config management plugin under the real
// Argo CD v3.6.1 (`make e2e-argocd`, run.sh):
//
//   - `argocde2e cmp-server ...` is Argo CD's own argocd-cmp-server (its
//     cobra command, linked in), started with plugin/plugin.yaml and the
//     aegis binary on PATH, listening on its unix socket;
//   - `argocde2e -aegis BIN -repo DIR` asks it for manifests through the
//     repo-server's own code path, reposerver/repository.GenerateManifests:
//     Argo CD builds the plugin's environment (build variables, plugin env
//     with $ substitution, parameters), tars the repository, streams it to
//     the sidecar over gRPC, and splits what the plugin prints. It checks
//     that the objects, the gate and the environment come out as aegis's own
//     tests (package plugin) expect, and that an error reaches Argo CD as an
//     error with no manifests.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	cmpserver "github.com/argoproj/argo-cd/v3/cmd/argocd-cmp-server/commands"
	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/reposerver/apiclient"
	"github.com/argoproj/argo-cd/v3/reposerver/repository"
	"github.com/argoproj/argo-cd/v3/util/git"
	utilio "github.com/argoproj/argo-cd/v3/util/io"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "cmp-server" {
		cmd := cmpserver.NewCommand()
		cmd.SetArgs(os.Args[2:])
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		return
	}
	aegis := flag.String("aegis", "", "the aegis binary (required)")
	repo := flag.String("repo", "", "aegis's repository (plugin/plugin.yaml, examples/) (required)")
	work := flag.String("work", "", "a scratch directory (default: a temporary one)")
	flag.Parse()
	if *aegis == "" || *repo == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*aegis, *repo, *work); err != nil {
		fmt.Fprintln(os.Stderr, "argocde2e: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("argocde2e: PASS")
}

type check struct {
	failures []string
}

func (c *check) expect(ok bool, format string, args ...any) {
	if !ok {
		c.failures = append(c.failures, fmt.Sprintf(format, args...))
		fmt.Println("  FAIL", fmt.Sprintf(format, args...))
	}
}

func run(aegis, repo, work string) error {
	if work == "" {
		d, err := os.MkdirTemp("", "argocde2e-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	_ = os.RemoveAll(work)
	aegis, _ = filepath.Abs(aegis)
	// Unix socket paths are short: keep the socket directory under /tmp.
	sockDir, err := os.MkdirTemp("", "cmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(sockDir)
	cfgDir, workDir, gitDir := filepath.Join(work, "config"), filepath.Join(work, "cmp"), filepath.Join(work, "repo")
	noPolicyDir := filepath.Join(work, "repo-without-policy")
	for _, d := range []string{cfgDir, workDir, gitDir, filepath.Join(noPolicyDir, "apps", "plain")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	pluginYAML, err := os.ReadFile(filepath.Join(repo, "plugin", "plugin.yaml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfgDir, common.PluginConfigFileName), pluginYAML, 0o644); err != nil {
		return err
	}
	if err := makeRepository(repo, gitDir); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(noPolicyDir, "apps", "plain", "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n"), 0o644); err != nil {
		return err
	}

	// The sidecar: Argo CD's argocd-cmp-server, aegis on its PATH.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv := exec.Command(self, "cmp-server", "--config-dir-path", cfgDir, "--loglevel", "warn")
	srv.Env = append(os.Environ(),
		"PATH="+filepath.Dir(aegis)+string(os.PathListSeparator)+os.Getenv("PATH"),
		common.EnvPluginSockFilePath+"="+sockDir,
		common.EnvCMPWorkDir+"="+workDir)
	srvLog, err := os.Create(filepath.Join(work, "cmp-server.log"))
	if err != nil {
		return err
	}
	defer srvLog.Close()
	srv.Stdout, srv.Stderr = srvLog, srvLog
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	sock := filepath.Join(sockDir, "aegis-v1.sock")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("argocd-cmp-server did not open %s (see %s)", sock, srvLog.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Println("argocd-cmp-server (argo-cd v3.6.1) listening on", sock)
	// The repo-server side finds the sidecars' sockets here.
	if err := os.Setenv(common.EnvPluginSockFilePath, sockDir); err != nil {
		return err
	}

	c := &check{}
	ctx := context.Background()

	// 1. The kustomize example, plugin named, as plugin/install/application.yaml.
	fmt.Println("case: kustomize example, plugin aegis-v1")
	path := "examples/kustomize-overlay/after/overlays/prod"
	start := time.Now()
	objs, err := generate(ctx, gitDir, path, "shop-web", "shop", &v1alpha1.ApplicationSourcePlugin{Name: "aegis-v1"})
	c.expect(err == nil, "kustomize example: %v", err)
	fmt.Printf("  %d objects in %s\n", len(objs), time.Since(start).Round(time.Millisecond))
	job := find(objs, "Job", "aegis-gate-shop-web")
	c.expect(job != nil, "the gate Job is in Argo CD's manifests")
	c.expect(find(objs, "Deployment", "prod-web") != nil, "the app's Deployment is in Argo CD's manifests")
	if job != nil {
		a := job.GetAnnotations()
		c.expect(a["argocd.argoproj.io/hook"] == "PreSync", "the Job is a PreSync hook: %v", a)
		// The digest Argo CD's run computed is the one aegis computes on its own.
		want, err := localDigest(aegis, filepath.Join(gitDir, path), []string{
			"ARGOCD_APP_NAME=shop-web", "ARGOCD_APP_NAMESPACE=shop", "ARGOCD_APP_SOURCE_PATH=" + path})
		c.expect(err == nil, "aegis argocd generate, directly: %v", err)
		c.expect(a["aegis.dev/digest"] == want, "digest through Argo CD %s, directly %s", a["aegis.dev/digest"], want)
		c.expect(a["aegis.dev/revision"] == revision, "ARGOCD_APP_REVISION reached aegis: %q", a["aegis.dev/revision"])
	}
	var cms int
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), "aegis-set-shop-web-") {
			cms++
		}
	}
	c.expect(cms == 1, "one ConfigMap hook holds the set, got %d", cms)

	// 2. Environment and parameters as Argo CD builds them.
	fmt.Println("case: Helm chart, plugin env ($, $$) and parameters (array, map), app in another namespace")
	objs, err = generate(ctx, gitDir, "apps/probe", "team_web", "shop", &v1alpha1.ApplicationSourcePlugin{
		Name: "aegis-v1",
		Env: v1alpha1.Env{
			{Name: "HELM_SET", Value: "price=pay $$5 for $ARGOCD_APP_NAME"},
			{Name: "SHADOW_TIMEOUT", Value: "4m"},
		},
		Parameters: v1alpha1.ApplicationSourcePluginParameters{
			{Name: "values-files", OptionalArray: &v1alpha1.OptionalArray{Array: []string{"values-prod.yaml"}}},
			{Name: "helm-set", OptionalMap: &v1alpha1.OptionalMap{Map: map[string]string{"hosts[0]": "a.example,b.example"}}},
			{Name: "fail-on", String_: ptr("medium")},
		},
	})
	c.expect(err == nil, "Helm chart: %v", err)
	cm := find(objs, "ConfigMap", "web-probe")
	c.expect(cm != nil, "the chart's ConfigMap, release web (from team_web)")
	if cm != nil {
		d, _, _ := unstructured.NestedStringMap(cm.Object, "data")
		c.expect(d["price"] == "pay $5 for team_web", "Argo CD substituted $ARGOCD_APP_NAME and $$, aegis nothing: %q", d["price"])
		c.expect(d["tier"] == "prod", "the values-files array parameter: %q", d["tier"])
		c.expect(d["host"] == "a.example,b.example", "the helm-set map parameter: %q", d["host"])
		c.expect(d["namespace"] == "shop", "ARGOCD_APP_NAMESPACE is the release namespace: %q", d["namespace"])
		c.expect(d["kube"] == "v1.37.2", "KUBE_VERSION reached Helm: %q", d["kube"])
		c.expect(d["widget"] == "yes", "KUBE_API_VERSIONS reached Helm: %q", d["widget"])
	}
	var gateJob *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Job" {
			gateJob = o
		}
	}
	c.expect(gateJob != nil, "the gate Job")
	if gateJob != nil {
		args := jobArgs(gateJob)
		c.expect(strings.Contains(args, "--app team_web"), "the instance name: %s", args)
		c.expect(strings.Contains(args, "--app-namespace team"), "the Application's namespace from the instance name: %s", args)
		c.expect(strings.Contains(args, "--shadow-timeout 4m0s"), "the plugin env entry: %s", args)
		c.expect(strings.Contains(args, "--fail-on medium"), "the string parameter: %s", args)
	}

	// 3. Discovery: no plugin name, the app path holds a .aegis.yaml.
	fmt.Println("case: discovery by .aegis.yaml")
	objs, err = generate(ctx, gitDir, "apps/discovered", "disc", "shop", &v1alpha1.ApplicationSourcePlugin{})
	c.expect(err == nil, "discovery: %v", err)
	c.expect(find(objs, "ConfigMap", "discovered") != nil, "the discovered app's object")
	c.expect(find(objs, "Job", "aegis-gate-disc") != nil, "the gate of the discovered app")

	// 4. Argo CD v3 uses a named plugin only where its discovery matches: an
	// app with no .aegis.yaml on its path (in a repository without a root
	// policy) cannot use aegis, even by name.
	fmt.Println("case: named plugin, no policy in the repository")
	_, err = generate(ctx, noPolicyDir, "apps/plain", "plain", "shop", &v1alpha1.ApplicationSourcePlugin{Name: "aegis-v1"})
	c.expect(err != nil && strings.Contains(err.Error(), `could not find cmp-server plugin with name "aegis-v1"`),
		"Argo CD refuses the named plugin where discovery does not match: %v", err)
	if err != nil {
		fmt.Println("  Argo CD says:", firstLine(err.Error()))
	}

	// 5. An error reaches Argo CD as an error, with no manifests.
	fmt.Println("case: malformed YAML")
	objs, err = generate(ctx, gitDir, "apps/broken", "broken", "shop", &v1alpha1.ApplicationSourcePlugin{Name: "aegis-v1"})
	c.expect(err != nil, "a broken app is an error for Argo CD")
	c.expect(len(objs) == 0, "and no manifests: %d", len(objs))
	if err != nil {
		fmt.Println("  Argo CD says:", firstLine(err.Error()))
		c.expect(strings.Contains(err.Error(), "apps/broken/app.yaml"), "aegis's message, with the file, reaches Argo CD: %v", err)
	}

	if len(c.failures) > 0 {
		return fmt.Errorf("%d check(s) failed (cmp-server log: %s)", len(c.failures), srvLog.Name())
	}
	return nil
}

const revision = "4f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"

// generate asks the sidecar for the manifests of the app at path, as the
// repo-server does for a sync.
func generate(ctx context.Context, root, path, app, dest string, plugin *v1alpha1.ApplicationSourcePlugin) ([]*unstructured.Unstructured, error) {
	repoURL := "https://github.com/kube-sentient/aegis.git"
	q := &apiclient.ManifestRequest{
		Repo:        &v1alpha1.Repository{Repo: repoURL},
		Revision:    revision,
		AppName:     app,
		Namespace:   dest,
		ProjectName: "default",
		ApplicationSource: &v1alpha1.ApplicationSource{
			RepoURL: repoURL, Path: path, TargetRevision: "main", Plugin: plugin,
		},
		KubeVersion: "v1.37.2",
		ApiVersions: []string{"v1", "apps/v1", "apps/v1/Deployment", "batch/v1", "example.com/v1", "example.com/v1/Widget"},
	}
	tmp, err := os.MkdirTemp("", "argocde2e-paths-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second) // the repo-server's default request timeout
	defer cancel()
	res, err := repository.GenerateManifests(ctx, filepath.Join(root, path), root, revision, q, false, git.NoopCredsStore{},
		resource.MustParse("100M"), utilio.NewRandomizedTempPaths(tmp))
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, m := range res.Manifests {
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal([]byte(m), &u.Object); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func jobArgs(job *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers")
	if len(cs) == 0 {
		return ""
	}
	var args []string
	for _, a := range cs[0].(map[string]any)["args"].([]any) {
		args = append(args, fmt.Sprint(a))
	}
	return strings.Join(args, " ")
}

// localDigest runs aegis's generate directly and returns the set's digest.
func localDigest(aegis, dir string, env []string) (string, error) {
	cmd := exec.Command(aegis, "argocd", "generate", "--quiet")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "aegis.dev/digest: "); ok {
			return v, nil
		}
	}
	return "", errors.New("no digest in the output")
}

// makeRepository writes the repository Argo CD checks out: a root policy,
// the kustomize example, a probe chart, a discovered app and a broken one.
func makeRepository(repo, dst string) error {
	if err := copyTree(filepath.Join(repo, "examples", "kustomize-overlay"), filepath.Join(dst, "examples", "kustomize-overlay")); err != nil {
		return err
	}
	files := map[string]string{
		// The repository's policy, as aegis's own repository has one.
		".aegis.yaml":                 "apiVersion: aegis.dev/v1alpha1\nkind: Config\n",
		"apps/probe/Chart.yaml":       "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
		"apps/probe/values.yaml":      "tier: dev\nprice: none\nhosts: [none]\n",
		"apps/probe/values-prod.yaml": "tier: prod\n",
		"apps/probe/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-probe
data:
  tier: {{ .Values.tier | quote }}
  price: {{ .Values.price | quote }}
  host: {{ index .Values.hosts 0 | quote }}
  namespace: {{ .Release.Namespace | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  widget: {{ ternary "yes" "no" (.Capabilities.APIVersions.Has "example.com/v1/Widget") | quote }}
`,
		"apps/discovered/.aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn:\n  severity: high\n",
		"apps/discovered/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: discovered}\ndata: {a: b}\n",
		"apps/broken/app.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n",
	}
	for name, body := range files {
		p := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func ptr[T any](v T) *T { return &v }
