package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trustRevisionCases are hostile-corpus cases of issue 13 ("the change under
// review cannot choose its own base, policy, rules or verdict"): the pull
// request's checkout holds directories named like the revisions aegis is
// asked to compare, and a policy of its own. Each case is a git repository
// (the checkout, at the head) whose base commit holds a clean app and the
// policy, and whose head commit makes the app privileged, a high finding
// the base's policy fails on.
func trustRevisionCases() []hostileCase {
	newFinding := func(t *testing.T, dir string, r hostileResult) {
		t.Helper()
		rep := decodeReport(t, firstNonEmptyFile(r, "aegis.json", "aegis-report.json"))
		assert.Equal(t, "fail", rep.Verdict)
		assert.True(t, hasFinding(rep, "pss.privileged", "new", "apps/web/app.yaml"), "the head's privileged container is new: %+v", rep.Findings)
	}
	return []hostileCase{
		{entry: entryCLI, name: "a directory named HEAD does not stand in for the revision HEAD", code: exitFail,
			prepare: func(t *testing.T, dir string) invocation {
				pr := prRepo(t, dir, map[string]string{"HEAD/apps/web/app.yaml": goodDeployment})
				return invocation{cmd: "verify", dir: "repo", args: []string{"--base", pr.base, "--head", "HEAD", "apps/web"}}
			}, check: newFinding},
		{entry: entryCLI, name: "a directory named origin/main does not stand in for the base", code: exitFail,
			prepare: func(t *testing.T, dir string) invocation {
				// The PR copies its own (privileged) app under origin/main/:
				// read as the base, the change would introduce nothing.
				pr := prRepo(t, dir, map[string]string{"origin/main/apps/web/app.yaml": privilegedDeployment})
				pr.git("update-ref", "refs/remotes/origin/main", pr.base)
				return invocation{cmd: "verify", dir: "repo", args: []string{"--base", "origin/main", "--head", "HEAD", "apps/web"}}
			}, check: newFinding},
		{entry: entryEvent, name: "a directory named after the event's base sha does not stand in for it", code: exitFail,
			prepare: func(t *testing.T, dir string) invocation {
				pr := prRepo(t, dir, nil)
				// The PR cannot know its merge base's sha in advance on every
				// push, but it can for a stale branch: the attack is real.
				writeFiles(t, filepath.Join(dir, "repo", pr.base, "apps", "web"), map[string]string{"app.yaml": privilegedDeployment})
				pr.git("add", "-A")
				pr.git("commit", "-qm", "the base's sha as a directory")
				head := pr.git("rev-parse", "HEAD")
				payload := eventPayload(t, dir, pr.base, head)
				return invocation{cmd: "action", dir: "repo", payload: payload, inputs: map[string]string{"shadow": "off", "path": "apps/web", "comment": "false", "upload-sarif": "false"}}
			}, check: newFinding},
		{entry: entryCLI, name: "the head's .aegis.yaml does not judge the head", code: exitFail,
			want: `policy: \.aegis\.yaml from the base revision`,
			prepare: func(t *testing.T, dir string) invocation {
				// The PR waives its own finding and raises the threshold in
				// the checkout's policy; the base's policy judges it.
				loosened := quickPolicy + "failOn:\n  severity: critical\nwaivers:\n  - ruleId: pss.privileged\n    reason: trust me\n    owner: mallory\n    expires: \"2999-01-01\"\n"
				pr := prRepo(t, dir, map[string]string{".aegis.yaml": loosened})
				return invocation{cmd: "verify", dir: "repo", args: []string{"--base", pr.base, "--head", "HEAD", "apps/web"}}
			}, check: func(t *testing.T, dir string, r hostileResult) {
				newFinding(t, dir, r)
				assert.NotContains(t, r.files["aegis.json"], "mallory", "no waiver of the head applies")
			}},
		{entry: entryConfig, name: "the head cannot rewrite the Semgrep rules the base's policy names", code: exitPass,
			prepare: func(t *testing.T, dir string) invocation {
				// The base's policy runs Semgrep with rules/app.yaml; the PR
				// empties that file. The stand-in Semgrep records the rules
				// it was given: they must be the base's.
				semgrepBin := standInSemgrep(t, dir)
				policy := "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy:\n    enabled: false\n  trivy-image:\n    enabled: false\n  semgrep:\n    enabled: true\n    binary: " + semgrepBin + "\n    rules: [rules/app.yaml]\n"
				pr := prRepoWith(t, dir, map[string]string{".aegis.yaml": policy, "rules/app.yaml": "rules:\n  - id: base-rule-" + "kept\n"},
					map[string]string{"rules/app.yaml": "rules: []\n", "apps/web/app.py": "eval(input())\n"}, goodDeployment)
				return invocation{cmd: "verify", dir: "repo", args: []string{"--base", pr.base, "--head", "HEAD", "apps/web"}}
			}, check: func(t *testing.T, dir string, r hostileResult) {
				seen, err := os.ReadFile(filepath.Join(dir, "semgrep-rules.log"))
				require.NoError(t, err, "semgrep ran: %s", r.stderr)
				assert.Contains(t, string(seen), "base-rule-kept", "semgrep got the base's rules")
				assert.NotContains(t, string(seen), "rules: []", "never the head's")
			}},
		{entry: entryEvent, name: "the pull request changes the workflow file that runs aegis", code: exitFail,
			want: `warning: this run's workflow file \.github/workflows/aegis\.yml is changed by pull request #2 itself: the pull request controls the check that judges it`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := workflowPR(t, dir, "run: exit 0 # aegis removed\n")
				return inv
			}, check: func(t *testing.T, dir string, r hostileResult) {
				newFinding(t, dir, r)
				assert.Contains(t, r.files["summary"], "is changed by pull request #2 itself")
				assert.Regexp(t, `::warning file=\.github/workflows/aegis\.yml,title=aegis%3A the pull request changes this workflow::`, r.stdout)
			}},
		{entry: entryEvent, name: "a workflow file the pull request leaves alone is not flagged", code: exitFail,
			prepare: func(t *testing.T, dir string) invocation {
				return workflowPR(t, dir, "")
			}, check: func(t *testing.T, dir string, r hostileResult) {
				newFinding(t, dir, r)
				assert.NotContains(t, r.stderr+r.files["summary"], "is changed by pull request")
			}},
		{entry: entryCLI, name: "a revision that is both a branch and a tag", code: exitBadInput,
			want: `--base: "release" is ambiguous in the repository at .*: give a full sha, or refs/heads/NAME or refs/tags/NAME`,
			prepare: func(t *testing.T, dir string) invocation {
				pr := prRepo(t, dir, nil)
				pr.git("branch", "release", pr.base)
				pr.git("tag", "release", "HEAD")
				return invocation{cmd: "verify", dir: "repo", args: []string{"--base", "release", "--head", "HEAD", "apps/web"}}
			}},
		{entry: entryCLI, name: "--base given a directory says to use --base-dir", code: exitBadInput,
			want: `--base: "base" is not a revision of the repository at .*base is a directory: revisions and directories have separate flags`,
			prepare: func(t *testing.T, dir string) invocation {
				prRepo(t, dir, map[string]string{"base/app.yaml": goodDeployment})
				return invocation{cmd: "verify", dir: "repo", args: []string{"--base", "base", "--head", "HEAD", "."}}
			}},
	}
}

// workflowPR is a pull request run by .github/workflows/aegis.yml; the head
// appends change to that workflow when it is not empty.
func workflowPR(t *testing.T, dir, change string) invocation {
	t.Helper()
	const workflow = "on: pull_request\njobs:\n  aegis:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: kube-sentient/aegis@v1\n"
	head := map[string]string{}
	if change != "" {
		head[".github/workflows/aegis.yml"] = workflow + "      - " + change
	}
	pr := prRepoWith(t, dir, map[string]string{".aegis.yaml": quickPolicy, ".github/workflows/aegis.yml": workflow}, head, privilegedDeployment)
	return invocation{cmd: "action", dir: "repo", payload: eventPayload(t, dir, pr.base, pr.git("rev-parse", "HEAD")),
		env:    []string{"GITHUB_WORKFLOW_REF=Codertocat/Hello-World/.github/workflows/aegis.yml@refs/pull/2/merge"},
		inputs: map[string]string{"shadow": "off", "path": "apps/web", "comment": "false", "upload-sarif": "false"}}
}

// privilegedDeployment is goodDeployment with a privileged container.
var privilegedDeployment = strings.Replace(goodDeployment, "image: nginx:1.27\n", "image: nginx:1.27\n          securityContext:\n            privileged: true\n", 1)

// prCheckout is a pull request's checkout: a git repository at dir/repo
// whose HEAD is the head commit.
type prCheckout struct {
	dir, base string
	git       func(args ...string) string
}

// prRepo makes the checkout: the base commit holds apps/web/app.yaml (a
// good Deployment) and .aegis.yaml (quickPolicy); the head commit makes the
// app privileged and adds extra (the attacker's files).
func prRepo(t *testing.T, dir string, extra map[string]string) prCheckout {
	t.Helper()
	return prRepoWith(t, dir, map[string]string{".aegis.yaml": quickPolicy}, extra, privilegedDeployment)
}

func prRepoWith(t *testing.T, dir string, baseFiles, headFiles map[string]string, headApp string) prCheckout {
	t.Helper()
	repo := filepath.Join(dir, "repo")
	pr := prCheckout{dir: repo, git: gitIn(t, repo)}
	files := map[string]string{"apps/web/app.yaml": goodDeployment}
	for k, v := range baseFiles {
		files[k] = v
	}
	writeFiles(t, repo, files)
	pr.git("init", "-q", "-b", "main")
	pr.git("add", "-A")
	pr.git("commit", "-qm", "base")
	pr.base = pr.git("rev-parse", "HEAD")
	head := map[string]string{"apps/web/app.yaml": headApp}
	for k, v := range headFiles {
		head[k] = v
	}
	writeFiles(t, repo, head)
	pr.git("add", "-A")
	pr.git("commit", "-qm", "head")
	return pr
}

// gitIn runs git in repo as a test user, failing the test on an error, and
// returns its trimmed output.
func gitIn(t *testing.T, repo string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return strings.TrimSpace(string(out))
	}
}

// standInSemgrep writes a stand-in for Semgrep that answers --version and,
// for a scan, appends the rule files it was given (--config) to
// dir/semgrep-rules.log and reports no finding, as Semgrep's JSON does.
func standInSemgrep(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin", "semgrep")
	log := filepath.Join(dir, "semgrep-rules.log")
	script := `#!/bin/sh
case "$1" in --version) echo '1.100.0'; exit 0;; esac
while [ $# -gt 0 ]; do
  if [ "$1" = "--config" ]; then cat "$2" >>` + log + `; shift; fi
  shift
done
echo '{"results":[],"errors":[],"paths":{"scanned":[]}}'
`
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	return bin
}

// firstNonEmptyFile is the first of the named report files a run wrote.
func firstNonEmptyFile(r hostileResult, names ...string) string {
	for _, n := range names {
		if r.files[n] != "" {
			return r.files[n]
		}
	}
	return ""
}
