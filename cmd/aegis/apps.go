package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kube-sentient/aegis/apps"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/verify"
)

func newAppsCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		rev, dir, output string
		repoURLs         []string
		maxApps          int
		changed, explain bool
		ghOutput         bool
		base, head       verify.Source
	)
	c := &cobra.Command{
		Use:   "apps (--revision REV | --dir DIR) | apps --changed (--base REV | --base-dir DIR) (--head REV | --head-dir DIR)",
		Short: "List the Argo CD apps of a revision: its Applications and what its ApplicationSets generate",
		Long: `apps reads every Application and ApplicationSet manifest of the repository
at a git revision (or of a directory) as Argo CD reads them, evaluates the
ApplicationSets' list, git directory and git file generators (and matrix and
merge of those; goTemplate or the default templating), and lists the apps
with their sources.

An app whose source is another repository or a Helm repository, and an
ApplicationSet whose generators read a cluster, a SCM provider, pull requests
or a plugin, is listed as not verifiable, with why.

--changed selects the apps a change can affect: the apps it adds or removes,
and those one of whose inputs it changes (the manifest that declares the app,
the generator files it came from, its source directories, Helm values files,
and what its kustomizations reference, transitively). A changed manifest,
values or Jsonnet file that no app names selects every app (never a silent
skip); other files (documentation, code) select nothing. --explain says why
each app was selected.

--repo-url names this repository as the manifests spell it (repeatable;
default: the git remote "origin", and $GITHUB_SERVER_URL/$GITHUB_REPOSITORY
in GitHub Actions).`,
		Example: `  aegis apps --revision HEAD
  aegis apps --dir . --repo-url https://github.com/acme/gitops -o json
  aegis apps --changed --base origin/main --head HEAD --explain`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			switch output {
			case "text", "json", "github-matrix":
			default:
				return &usageError{err: fmt.Errorf("--output %q: want text, json or github-matrix", output)}
			}
			if ghOutput && output != "github-matrix" {
				return &usageError{err: fmt.Errorf("--github-output goes with -o github-matrix")}
			}
			if len(repoURLs) == 0 {
				repoURLs = defaultRepoURLs(c.Context())
			}
			opts := apps.Options{RepoURLs: repoURLs, MaxApps: maxApps}
			if changed {
				if rev != "" || dir != "" {
					return &usageError{err: fmt.Errorf("--changed compares --base and --head; --revision and --dir list one tree")}
				}
				for _, s := range []struct {
					name string
					src  verify.Source
				}{{"base", base}, {"head", head}} {
					if err := verify.CheckSource(s.name, s.src, "--"+s.name, "--"+s.name+"-dir"); err != nil {
						return err
					}
				}
				return runAppsChanged(c.Context(), stdout, base, head, opts, output, explain, ghOutput)
			}
			if base != (verify.Source{}) || head != (verify.Source{}) || explain {
				return &usageError{err: fmt.Errorf("--base, --head and --explain go with --changed")}
			}
			src := verify.Source{Revision: rev, Dir: dir}
			if err := verify.CheckSource("tree", src, "--revision", "--dir"); err != nil {
				return err
			}
			root, cleanup, err := verify.Checkout(c.Context(), "tree", src, manifest.DefaultLimits.MaxTotalBytes)
			if err != nil {
				return err
			}
			defer cleanup()
			tree, err := verify.TreeFS(root)
			if err != nil {
				return err
			}
			res, err := apps.Discover(tree, opts)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			case "github-matrix":
				var names []string
				for _, a := range res.Apps {
					if a.Unverifiable == "" {
						names = append(names, a.Name)
					}
				}
				return writeMatrix(stdout, names, ghOutput)
			}
			return printApps(stdout, res)
		},
	}
	fl := c.Flags()
	fl.StringVar(&rev, "revision", "", "the git revision to read (of the repository at the working directory)")
	fl.StringVar(&dir, "dir", "", "a directory to read instead of a revision")
	fl.StringSliceVar(&repoURLs, "repo-url", nil, "a URL that names this repository in the manifests (repeatable)")
	fl.IntVar(&maxApps, "max-apps", apps.DefaultMaxApps, "refuse a repository with more apps than this (a runaway generator)")
	fl.StringVarP(&output, "output", "o", "text", "text|json|github-matrix (a GitHub Actions matrix: a job per app, sharded into at most 256 jobs)")
	fl.BoolVar(&ghOutput, "github-output", false, "with -o github-matrix: write the step outputs matrix and count to $GITHUB_OUTPUT instead of stdout")
	fl.BoolVar(&changed, "changed", false, "list the apps the change from --base to --head can affect")
	fl.BoolVar(&explain, "explain", false, "with --changed: say why each app was selected")
	fl.StringVar(&base.Revision, "base", "", "with --changed: the base revision")
	fl.StringVar(&base.Dir, "base-dir", "", "with --changed: the base as a directory")
	fl.StringVar(&head.Revision, "head", "", "with --changed: the head revision")
	fl.StringVar(&head.Dir, "head-dir", "", "with --changed: the head as a directory")
	return c
}

// runAppsChanged selects the apps a change can affect.
func runAppsChanged(ctx context.Context, stdout io.Writer, base, head verify.Source, opts apps.Options, output string, explain, ghOutput bool) error {
	var trees [2]string
	var fsys [2]fs.FS
	var results [2]*apps.Result
	for i, s := range []struct {
		name string
		src  verify.Source
	}{{"base", base}, {"head", head}} {
		root, cleanup, err := verify.Checkout(ctx, s.name, s.src, manifest.DefaultLimits.MaxTotalBytes)
		if err != nil {
			return err
		}
		defer cleanup()
		trees[i] = root
		if fsys[i], err = verify.TreeFS(root); err != nil {
			return err
		}
		if results[i], err = apps.Discover(fsys[i], opts); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	files, err := verify.ChangedFiles(ctx, base, head, trees)
	if err != nil {
		return err
	}
	sel := apps.Affected(fsys[0], fsys[1], results[0], results[1], files)
	switch output {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sel)
	case "github-matrix":
		names := make([]string, len(sel.Apps))
		for i, a := range sel.Apps {
			names[i] = a.Name
		}
		return writeMatrix(stdout, names, ghOutput)
	}
	for _, a := range sel.Apps {
		if !explain {
			fmt.Fprintln(stdout, a.Name)
			continue
		}
		fmt.Fprintf(stdout, "%s\n", a.Name)
		for _, why := range a.Why {
			fmt.Fprintf(stdout, "  %s\n", why)
		}
	}
	if explain && len(sel.Ignored) > 0 {
		fmt.Fprintf(stdout, "ignored (no app reads them): %s\n", strings.Join(sel.Ignored, ", "))
	}
	return nil
}

// maxMatrixJobs is GitHub Actions' limit on the jobs of one matrix.
const maxMatrixJobs = 256

// matrixJob is one job of the matrix: the apps it verifies (the Action's
// apps input takes them as they are) and a name for the job and its
// comment's category.
type matrixJob struct {
	Name string `json:"name"`
	Apps string `json:"apps"`
}

// writeMatrix writes a GitHub Actions matrix of the apps: a job per app,
// or up to 256 jobs sharing them when there are more. With toFile, it
// appends the outputs matrix and count to $GITHUB_OUTPUT.
func writeMatrix(stdout io.Writer, names []string, toFile bool) error {
	jobs := make([]matrixJob, 0, min(len(names), maxMatrixJobs))
	if len(names) <= maxMatrixJobs {
		for _, n := range names {
			jobs = append(jobs, matrixJob{Name: n, Apps: n})
		}
	} else {
		shards := make([][]string, maxMatrixJobs)
		for i, n := range names {
			shards[i%maxMatrixJobs] = append(shards[i%maxMatrixJobs], n)
		}
		for i, sh := range shards {
			jobs = append(jobs, matrixJob{Name: fmt.Sprintf("shard-%d-of-%d", i+1, maxMatrixJobs), Apps: strings.Join(sh, ",")})
		}
	}
	data, err := json.Marshal(map[string][]matrixJob{"include": jobs})
	if err != nil {
		return err
	}
	if !toFile {
		_, err = fmt.Fprintf(stdout, "%s\n", data)
		return err
	}
	path := os.Getenv("GITHUB_OUTPUT")
	if path == "" {
		return &usageError{err: fmt.Errorf("--github-output: $GITHUB_OUTPUT is not set (outside GitHub Actions, print the matrix to stdout)")}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	// JSON holds no newline: one line per output.
	if _, err := fmt.Fprintf(f, "matrix=%s\ncount=%d\n", data, len(jobs)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%d apps in %d jobs\n", len(names), len(jobs))
	return err
}

// defaultRepoURLs are the URLs this repository is known by: the git
// remote "origin" and, in GitHub Actions, the workflow's repository.
func defaultRepoURLs(ctx context.Context) []string {
	var out []string
	if b, err := exec.CommandContext(ctx, "git", "remote", "get-url", "origin").Output(); err == nil {
		if u := strings.TrimSpace(string(b)); u != "" {
			out = append(out, u)
		}
	}
	if server, repo := os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY"); server != "" && repo != "" {
		out = append(out, strings.TrimSuffix(server, "/")+"/"+repo)
	}
	return out
}

func printApps(w io.Writer, res *apps.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tSOURCE\tDECLARED AT\tNOTE")
	for _, a := range res.Apps {
		var srcs []string
		for _, s := range a.Sources {
			switch {
			case s.Chart != "":
				srcs = append(srcs, "chart "+s.Chart)
			case s.Ref != "" && s.Path == "":
				srcs = append(srcs, "$"+s.Ref)
			default:
				srcs = append(srcs, s.Path)
			}
		}
		note := a.Generator
		if a.Unverifiable != "" {
			note = "not verifiable: " + a.Unverifiable
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, strings.Join(srcs, ", "), a.Origin, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, u := range res.Unverifiable {
		fmt.Fprintf(w, "not verifiable: %s %s at %s: %s\n", u.Kind, u.Name, u.Origin, u.Why)
	}
	_, err := fmt.Fprintf(w, "%d apps, %d not verifiable, %d ApplicationSets not evaluated\n", len(res.Apps), countUnverifiable(res.Apps), len(res.Unverifiable))
	return err
}

func countUnverifiable(as []apps.App) int {
	n := 0
	for _, a := range as {
		if a.Unverifiable != "" {
			n++
		}
	}
	return n
}
