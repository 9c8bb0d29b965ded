package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/output"
	"github.com/kube-sentient/aegis/plugin"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/semgrep"
	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/shadow"
)

// newArgoCDCommand is the Argo CD adapter: `generate` is the config
// management plugin's generate command (plugin/plugin.yaml), `presync` the
// gate Job that generate appends. Everything they do is package plugin.
func newArgoCDCommand(stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{
		Use:   "argocd",
		Short: "Argo CD: the config management plugin (generate) and its PreSync gate (presync)",
		Long: `argocd holds the two commands of aegis's Argo CD integration (plugin/):

  generate  run by Argo CD's repo-server sidecar in the app path: renders it
            and appends a PreSync gate (plugin/plugin.yaml runs it);
  presync   run by the gate Job in the cluster before Argo CD applies anything:
            verifies the rendered set against the live objects and stops the
            sync when the gate fails.

plugin/install/ installs the sidecar, the gate's ServiceAccount and its RBAC.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(newArgoCDGenerateCommand(stdout, stderr), newArgoCDPresyncCommand(stdout, stderr), newArgoCDDiscoverCommand(stdout, stderr))
	return c
}

// newArgoCDDiscoverCommand is the plugin's discovery (plugin.yaml's
// discover.find.command): Argo CD v3 uses even a plugin an Application
// names only where discovery matches, so the plugin matches every app whose
// path, or a directory above it in the repository, holds the policy.
func newArgoCDDiscoverCommand(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "discover",
		Short: "Print the app's policy file if the app path or a directory above it has one (the plugin's discovery)",
		Long: `discover runs in the app path, as Argo CD runs the plugin's discovery
command. It prints the nearest .aegis.yaml in the app path or above it in the
repository (ARGOCD_APP_SOURCE_PATH tells where the repository starts), and
nothing when there is none: Argo CD takes any output as a match. It always
exits 0 (an error would only hide the plugin); problems go to stderr.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			dir, err := os.Getwd()
			if err != nil {
				fmt.Fprintln(stderr, "aegis: discover:", err)
				return nil
			}
			env, _ := plugin.ParseEnv(os.Environ())
			source := ""
			if env != nil {
				source = env.SourcePath
			}
			p, err := plugin.FindPolicy(plugin.RepoRoot(dir, source), dir)
			if err != nil {
				fmt.Fprintln(stderr, "aegis: discover:", err)
				return nil
			}
			if p != "" {
				fmt.Fprintln(stdout, p)
			}
			return nil
		},
	}
}

func newArgoCDGenerateCommand(stdout, stderr io.Writer) *cobra.Command {
	var path, repoRoot, clusterPolicy string
	var quiet bool
	var params strings.Builder
	for _, a := range plugin.Parameters {
		fmt.Fprintf(&params, "  %-15s %-6s %s\n", a.Name, collection(a.CollectionType), a.Tooltip)
	}
	c := &cobra.Command{
		Use:   "generate",
		Short: "Render the app path for Argo CD and append the PreSync gate (the plugin's generate command)",
		Long: `generate renders the current directory (the app path Argo CD runs it in) as
aegis verify renders a side: kustomize, Helm or plain YAML, detected as Argo CD
detects them. Helm gets the Application's name as release name,
ARGOCD_APP_NAMESPACE as namespace, and KUBE_VERSION and KUBE_API_VERSIONS as
capabilities.

The gate's policy is the cluster's: the ConfigMap aegis-policy that the
platform team installs with the plugin, mounted into the sidecar at
--cluster-policy (keys policy.yaml, an .aegis.yaml, and gate.yaml, what an
Application may loosen; without it the built-in default policy applies). The
nearest .aegis.yaml of the revision (the app path or above it) may only
tighten it: it is validated here and carried to the gate, which honours a
lower failOn.severity and failOn checks turned on, and ignores the rest
(waivers, scanners). A parameter that would loosen the gate (gate=false, a
fail-on above the policy's, another image, gate namespace or a verdict
lifetime above 24h) is refused (exit 2) unless gate.yaml allows it. See
docs/argocd.md.

It appends the gate: ConfigMap hooks holding the rendered set (gzip, in
chunks) and a PreSync hook Job that runs 'aegis argocd presync' on exactly
that set (its digest is in the Job's arguments).

stdout carries only Kubernetes objects (one YAML stream), written at the end in
one piece; any error exits non-zero with the message on stderr and nothing on
stdout, so that Argo CD never takes an empty render for an empty app.

Parameters (spec.source.plugin.parameters), also settable as plugin env
entries ARGOCD_ENV_<NAME> (upper case, '-' as '_'; arrays comma-separated,
helm-set in Helm's --set syntax); a parameter wins over an env entry (helm-set
applies both, the parameter last):

` + params.String() + `
Exit codes: 0 rendered, 2 bad input (source, parameter, policy), 3 other errors.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			env, err := plugin.ParseEnv(os.Environ())
			if err != nil {
				return err
			}
			start := time.Now()
			cp, err := loadClusterPolicy(clusterPolicy, c.Flags().Changed("cluster-policy"))
			if err != nil {
				return err
			}
			registerRepoSecrets(path, repoRoot, env.SourcePath)
			g, err := plugin.Generate(c.Context(), plugin.GenerateOptions{Dir: path, RepoRoot: repoRoot, Env: env, ToolVersion: version,
				Cluster: &cp, PolicyNamespace: os.Getenv(plugin.EnvPolicyNamespace)})
			if err != nil {
				return err
			}
			// The manifests Argo CD applies: their Secrets must reach it.
			if _, err := g.WriteTo(secret.Unredacted(stdout)); err != nil {
				return &exitError{code: exitInfra, err: fmt.Errorf("writing the manifests: %w", err)}
			}
			if w := plugin.GateImageWarning(g.Settings.Image); w != "" && len(g.Gate) > 0 {
				fmt.Fprintf(stderr, "aegis: warning: %s\n", w)
			}
			if !quiet {
				gate := "no gate (parameter gate=false)"
				if len(g.Gate) > 0 {
					gate = fmt.Sprintf("gate: %d ConfigMap(s) and Job %s in %s", len(g.Gate)-1, plugin.JobName(g.Settings.App), g.Settings.GateNamespace)
				}
				fmt.Fprintf(stderr, "aegis: rendered %s: %d objects, %s; %s; %d ms\n", g.Type, g.Set.Len(), g.Digest(), gate, time.Since(start).Milliseconds())
				fmt.Fprintf(stderr, "aegis: policy: %s\n", g.Applied.Source)
				if n := g.Applied.Note(); n != "" {
					fmt.Fprintf(stderr, "aegis: %s\n", n)
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&path, "path", ".", "the app path (Argo CD runs generate in it)")
	c.Flags().StringVar(&repoRoot, "repo-root", "", "the repository root that origins are relative to and kustomize may read (default: the app path without ARGOCD_APP_SOURCE_PATH)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no summary line on stderr")
	c.Flags().StringVar(&clusterPolicy, "cluster-policy", plugin.DefaultClusterPolicyDir, "the directory where the ConfigMap aegis-policy is mounted (absent or empty: the built-in default policy, which nothing may loosen)")
	return c
}

// loadClusterPolicy reads the mounted cluster policy. The default mount
// path may be absent (no ConfigMap: the built-in policy); a directory named
// on the command line must exist, so that a typo does not quietly stand for
// "no policy".
func loadClusterPolicy(dir string, explicit bool) (plugin.ClusterPolicy, error) {
	if explicit {
		if _, err := os.Stat(dir); err != nil {
			return plugin.ClusterPolicy{}, &usageError{err: fmt.Errorf("--cluster-policy %s: %w", dir, errors.Unwrap(err))}
		}
	}
	return plugin.LoadClusterPolicyDir(dir)
}

func collection(t string) string {
	if t == "" {
		return plugin.CollectionString
	}
	return t
}

type presyncFlags struct {
	o             plugin.PresyncOptions
	kube          kubeFlags
	configPath    string
	shadowTimeout time.Duration
	deadline      time.Duration
	runID         string
	output        string
	quiet         bool
}

func newArgoCDPresyncCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &presyncFlags{}
	c := &cobra.Command{
		Use:   "presync --app APP --digest DIGEST --set-name NAME --chunks N --namespace NS",
		Short: "The PreSync gate: verify the rendered set against the live objects; fail the sync when the gate fails",
		Long: `presync runs in the cluster as the PreSync hook Job that 'aegis argocd
generate' appends (in-cluster configuration, or --kubeconfig), with the flags
that generate wrote. It:

  1. reads the rendered set back from its ConfigMaps in --gate-namespace and
     checks its digest and its policy's: anything else fails closed;
     reads the cluster policy (the ConfigMap aegis-policy in
     --policy-namespace; absent: the built-in default), refuses arguments
     that loosen it, and lets the revision's .aegis.yaml only tighten it;
  2. passes at once when a passing verdict for this app, digest and policy is
     recorded in the ConfigMap aegis-verdicts and not expired;
  3. otherwise verifies the set (head) against the live objects of the
     destination namespace (base): shadow namespaces, health, the scanners
     the image has, delta and the policy's gate; shadow namespaces are always
     torn down;
  4. records the verdict, emits an Event on the Application, and deletes the
     app's earlier rendered sets.

Exit codes: 0 pass, 1 gate failed, 2 bad input (a forged or missing set, a bad
flag or policy), 3 infrastructure error. Anything but 0 fails the Job and
stops the sync.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			return runPresync(c.Context(), f, stdout, stderr)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.o.App, "app", "", "the Application's instance name (ARGOCD_APP_NAME: name, or namespace_name)")
	fl.StringVar(&f.o.AppNamespace, "app-namespace", plugin.DefaultAppNamespace, "the namespace the Application lives in, when the instance name does not say")
	fl.StringVar(&f.o.Namespace, "namespace", "", "the Application's destination namespace (ARGOCD_APP_NAMESPACE)")
	fl.StringVar(&f.o.GateNamespace, "gate-namespace", plugin.DefaultGateNamespace, "the namespace of the rendered set's ConfigMaps and of the verdicts")
	fl.StringVar(&f.o.SetName, "set-name", "", "the rendered set's ConfigMaps are <set-name>-0 ... <set-name>-<chunks-1>")
	fl.IntVar(&f.o.Chunks, "chunks", 1, "how many ConfigMaps hold the rendered set")
	fl.StringVar(&f.o.Digest, "digest", "", "the rendered set's digest (sha256:...): the set read back must have it")
	fl.StringVar(&f.o.PolicyDigest, "policy-digest", "", "the digest of the revision's policy carried with the set (empty: none)")
	fl.StringVar(&f.o.PolicyNamespace, "policy-namespace", plugin.DefaultPolicyNamespace, "the namespace of the cluster policy, the ConfigMap aegis-policy (absent: the built-in default policy)")
	fl.StringVar(&f.o.Revision, "revision", "", "the revision being synced (ARGOCD_APP_REVISION), for messages")
	fl.StringVar(&f.o.Verdicts, "verdicts", plugin.VerdictsConfigMap, "the ConfigMap in --gate-namespace that records verdicts")
	fl.DurationVar(&f.o.VerdictTTL, "verdict-ttl", plugin.DefaultVerdictTTL, "how long a recorded verdict lets a later sync of the same set pass at once")
	fl.StringVar(&f.o.Shadow, "shadow", plugin.DefaultShadow, "head: deploy the rendered set; both: also the live baseline")
	fl.DurationVar(&f.shadowTimeout, "shadow-timeout", plugin.DefaultShadowTimeout, "how long to wait for the shadow deployments to become healthy")
	fl.DurationVar(&f.deadline, "deadline", 0, "stop (and tear down) after this long; the Job's activeDeadlineSeconds is a little longer (0: no deadline)")
	fl.StringVar(&f.runID, "run-id", "", "id of the shadow namespaces (default: argo-<random>)")
	fl.StringVar(&f.o.FailOn, "fail-on", "", "fail on new findings at or above this severity (overrides the policy)")
	fl.StringVarP(&f.configPath, "config", "c", "", "an administrator's policy file, used instead of policy.yaml of the cluster policy (the revision's .aegis.yaml may still only tighten it)")
	fl.StringVarP(&f.output, "output", "o", "text", "stdout format: text|json")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress on stderr")
	f.kube.register(c)
	return c
}

func runPresync(ctx context.Context, f *presyncFlags, stdout, stderr io.Writer) error {
	if f.output != "text" && f.output != "json" {
		return &usageError{err: fmt.Errorf("--output must be text or json, got %q", f.output)}
	}
	var missing []string
	for _, fl := range []struct{ name, v string }{{"--app", f.o.App}, {"--digest", f.o.Digest}, {"--set-name", f.o.SetName}} {
		if fl.v == "" {
			missing = append(missing, fl.name)
		}
	}
	if len(missing) > 0 {
		return &usageError{err: fmt.Errorf("presync needs %s (the gate Job that generate writes passes them)", strings.Join(missing, ", "))}
	}
	kube, err := f.kube.restConfig()
	if err != nil {
		return err
	}
	if f.configPath != "" {
		if f.o.Config, err = config.Load(f.configPath); err != nil {
			return err
		}
	}
	if f.deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.deadline)
		defer cancel()
	}
	progress := newProgress(stderr, f.quiet)
	o := f.o
	o.Kube = kube
	o.ToolVersion = version
	o.Progress = progress
	ttl := 30 * time.Minute
	if f.deadline > 0 {
		ttl = f.deadline + 15*time.Minute
	}
	o.ShadowOptions = shadow.Options{RunID: f.runID, HealthTimeout: f.shadowTimeout, TTL: ttl, TeardownTimeout: 90 * time.Second}
	o.Scanners = func(cfg *config.Config, shadowMode string) ([]scanners.Scanner, func(), error) {
		return presyncScanners(cfg, shadowMode, kube, progress)
	}
	start := time.Now()
	res, err := plugin.Presync(ctx, o)
	if err != nil {
		return err
	}
	if res.Cached != nil {
		fmt.Fprintf(stdout, "aegis: %s: recorded verdict pass for %s (recorded %s, valid until %s)\n", o.App, o.Digest,
			res.Cached.RecordedAt.Format(time.RFC3339), res.Cached.ExpiresAt.Format(time.RFC3339))
		return nil
	}
	progress("gate decided in %d ms", time.Since(start).Milliseconds())
	if f.output == "json" {
		if err := report.WriteJSON(stdout, res.Report); err != nil {
			return &exitError{code: exitInfra, err: err}
		}
	} else {
		output.PrintSummary(stdout, res.Report, output.TextOptions{})
	}
	return verdictError(res.Report, res.Policy)
}

// presyncScanners are verify's scanners without semgrep, which scans the
// source files a change touches: the gate has the rendered set, not the
// repository (semgrep runs in CI, `aegis verify` and the GitHub Action).
func presyncScanners(cfg *config.Config, shadowMode string, kube *rest.Config, progress func(string, ...any)) ([]scanners.Scanner, func(), error) {
	set, err := buildScanners(cfg, shadowMode, kube, progress)
	if err != nil {
		return nil, nil, err
	}
	out := set.scanners[:0]
	for _, s := range set.scanners {
		if s.Name() == semgrep.Name {
			if cfg.Enabled(semgrep.Name) {
				progress("semgrep not run by the gate: it scans source files, and the gate has the rendered set only")
			}
			continue
		}
		out = append(out, s)
	}
	return out, set.close, nil
}

// registerRepoSecrets registers the secret values of the repository that
// holds the app path (the tree generate may read) before rendering, so a
// render error that quotes one prints it masked on stderr.
func registerRepoSecrets(path, repoRoot, sourcePath string) {
	dir, err := filepath.Abs(path)
	if err != nil {
		return
	}
	root := repoRoot
	if root == "" {
		root = plugin.RepoRoot(dir, sourcePath)
	}
	secret.RegisterTree(root)
}
