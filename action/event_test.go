package action

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/verify"
)

func payloadOf(t *testing.T, path string) *payload {
	t.Helper()
	p, err := readPayload(path)
	require.NoError(t, err)
	return p
}

// Base, head and where to publish come from the event, as GitHub's webhook
// payloads give them; explicit inputs win.
func TestActionEventTargets(t *testing.T) {
	pr := filepath.Join("testdata", "pull_request.json")
	fork := forkPayload(t)
	push := filepath.Join("testdata", "push.json")
	newBranch := writePayload(t, "push.json", func(m map[string]any) { m["before"] = zeroSHA; m["created"] = true })
	deleted := writePayload(t, "push.json", func(m map[string]any) { m["after"] = zeroSHA; m["deleted"] = true })
	dispatch := filepath.Join(t.TempDir(), "dispatch.json")
	require.NoError(t, os.WriteFile(dispatch, []byte(`{"inputs":{"base":"origin/main","head":"fix/cve"},"ref":"refs/heads/fix/cve","repository":{"full_name":"Codertocat/Hello-World"},"workflow":".github/workflows/aegis.yml"}`), 0o644))
	mergeGroup := filepath.Join(t.TempDir(), "merge_group.json")
	require.NoError(t, os.WriteFile(mergeGroup, []byte(`{"action":"checks_requested","merge_group":{"head_sha":"1111111111111111111111111111111111111111","head_ref":"refs/heads/gh-readonly-queue/main/pr-2-f95f852bd8fca8fcc58a9a2d6c842781e32a215e","base_sha":"f95f852bd8fca8fcc58a9a2d6c842781e32a215e","base_ref":"refs/heads/main"}}`), 0o644))

	for _, tc := range []struct {
		name    string
		event   string
		payload string
		in      Inputs
		want    Target
		wantErr string
	}{
		{name: "pull_request", event: EventPullRequest, payload: pr,
			want: Target{Event: EventPullRequest, Base: rev(baseSHA), Head: rev(headSHA), PR: 2, CommitSHA: headSHA, Ref: "refs/pull/2/head", HeadRepo: "Codertocat/Hello-World"}},
		{name: "pull_request from a fork", event: EventPullRequest, payload: fork,
			want: Target{Event: EventPullRequest, Base: rev(baseSHA), Head: rev(headSHA), PR: 2, CommitSHA: headSHA, Ref: "refs/pull/2/head", Fork: true, HeadRepo: "forker/Hello-World"}},
		{name: "explicit inputs win", event: EventPullRequest, payload: pr, in: Inputs{Base: "main", Head: "HEAD"},
			want: Target{Event: EventPullRequest, Base: rev("main"), Head: rev("HEAD"), PR: 2, CommitSHA: headSHA, Ref: "refs/pull/2/head", HeadRepo: "Codertocat/Hello-World"}},
		{name: "pull_request_target from the same repository", event: EventPullRequestTarget, payload: pr,
			want: Target{Event: EventPullRequestTarget, Base: rev(baseSHA), Head: rev(headSHA), PR: 2, CommitSHA: headSHA, Ref: "refs/pull/2/head", HeadRepo: "Codertocat/Hello-World"}},
		{name: "pull_request_target from a fork is refused", event: EventPullRequestTarget, payload: fork,
			wantErr: "refusing to verify pull request #2 from forker/Hello-World on a pull_request_target event: that event runs with the base repository's secrets"},
		{name: "pull_request_target from a fork, explicitly allowed", event: EventPullRequestTarget, payload: fork, in: Inputs{AllowUntrustedHead: true},
			want: Target{Event: EventPullRequestTarget, Base: rev(baseSHA), Head: rev(headSHA), PR: 2, CommitSHA: headSHA, Ref: "refs/pull/2/head", Fork: true, HeadRepo: "forker/Hello-World"}},
		{name: "push", event: EventPush, payload: push,
			want: Target{Event: EventPush, Base: rev("6113728f27ae82c7b1a177c8d03f9e96e0adf246"), Head: rev("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"), CommitSHA: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", Ref: "refs/heads/main"}},
		{name: "push of a new branch: against the first parent", event: EventPush, payload: newBranch,
			want: Target{Event: EventPush, Base: rev("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c^1"), Head: rev("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"), CommitSHA: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", Ref: "refs/heads/main"}},
		{name: "push that deletes the branch", event: EventPush, payload: deleted, wantErr: "deleted its branch"},
		{name: "workflow_dispatch inputs", event: EventWorkflowDispatch, payload: dispatch,
			want: Target{Event: EventWorkflowDispatch, Base: rev("origin/main"), Head: rev("fix/cve"), CommitSHA: "3e1d2f4a5b6c7d8e9f00112233445566778899aa", Ref: "refs/heads/main"}},
		{name: "merge_group", event: EventMergeGroup, payload: mergeGroup,
			want: Target{Event: EventMergeGroup, Base: rev(baseSHA), Head: rev("1111111111111111111111111111111111111111"), CommitSHA: "1111111111111111111111111111111111111111", Ref: "refs/heads/gh-readonly-queue/main/pr-2-f95f852bd8fca8fcc58a9a2d6c842781e32a215e"}},
		{name: "pull_request without pull_request", event: EventPullRequest, payload: push, wantErr: "has no pull_request"},
		{name: "an event without sides", event: "schedule", payload: "", wantErr: "inputs base and head (git revisions) or base-dir and head-dir (directories) are required with the schedule event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := "refs/heads/main"
			got, err := resolveTarget(tc.event, payloadOf(t, tc.payload), tc.in, ref, "3e1d2f4a5b6c7d8e9f00112233445566778899aa")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.True(t, verify.IsBadInput(err), "exit 2")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, *got)
		})
	}
}

// The refusal says why (secrets, write token, deploys the fork's code) and
// what to do instead.
func TestActionPullRequestTargetMessage(t *testing.T) {
	e := newEnv(t, nil)
	e.setEvent(t, EventPullRequestTarget, forkPayload(t))
	res := runAction(t, e, &fakeVerify{rep: sampleReport()})
	assert.Equal(t, ExitBadInput, res.code)
	for _, want := range []string{"secrets", "write token", "deploys its workloads into your cluster", "Use the pull_request event", "allow-untrusted-head: true"} {
		assert.Contains(t, res.stderr, want)
	}
	assert.Contains(t, res.summary, "refusing to verify pull request #2")
}

// A payload that is not JSON is bad input; a missing one is an empty event.
func TestActionPayloadErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(bad, []byte("{not json"), 0o644))
	_, err := readPayload(bad)
	require.Error(t, err)
	assert.True(t, verify.IsBadInput(err))
	p, err := readPayload(filepath.Join(t.TempDir(), "absent.json"))
	require.NoError(t, err)
	assert.Nil(t, p.PullRequest)
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return strings.TrimSpace(string(out))
}

// When the base is a revision, the policy is the BASE's: a pull request
// that loosens .aegis.yaml (failOn high -> critical) is judged by the
// base's policy.
func TestActionPolicyFromBase(t *testing.T) {
	e := newEnv(t, nil)
	repo := e["GITHUB_WORKSPACE"]
	git(t, repo, "init", "-q", "-b", "main")
	policy := func(sev string) string {
		return "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn:\n  severity: " + sev + "\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(repo, ".aegis.yaml"), []byte(policy("high")), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "deploy"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "deploy", "a.yaml"), []byte("kind: ConfigMap\n"), 0o644))
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "base")
	base := git(t, repo, "rev-parse", "HEAD")
	require.NoError(t, os.WriteFile(filepath.Join(repo, ".aegis.yaml"), []byte(policy("critical")), 0o644))
	git(t, repo, "commit", "-qam", "the PR loosens the gate")
	head := git(t, repo, "rev-parse", "HEAD")
	t.Chdir(repo)

	e[inputEnv(InputBase)], e[inputEnv(InputHead)], e[inputEnv(InputPath)] = base, head, "deploy"
	e[inputEnv(InputBaseDir)], e[inputEnv(InputHeadDir)] = "", ""
	fv := &fakeVerify{rep: sampleReport()}
	res := runAction(t, e, fv)
	require.Equal(t, ExitFail, res.code, res.stderr)
	assert.Equal(t, "high", fv.opts.Config.FailOn.Severity, "the base's policy, not the head's")
	assert.Equal(t, ".aegis.yaml@"+base[:12], fv.opts.Config.Path)
	assert.Contains(t, res.stderr, "policy: .aegis.yaml from the base revision")

	// An explicit config missing from the base is refused, with why.
	e[inputEnv(InputConfig)] = "policies/new.yaml"
	res = runAction(t, e, &fakeVerify{rep: sampleReport()})
	assert.Equal(t, ExitBadInput, res.code)
	assert.Contains(t, res.stderr, "policies/new.yaml does not exist in the base revision")

	// No policy in the base: the default policy (not the head's file).
	e[inputEnv(InputConfig)] = ""
	require.NoError(t, os.WriteFile(filepath.Join(repo, "x"), nil, 0o644))
	git(t, repo, "rm", "-q", ".aegis.yaml")
	git(t, repo, "commit", "-qm", "no policy")
	noPolicy := git(t, repo, "rev-parse", "HEAD")
	require.NoError(t, os.WriteFile(filepath.Join(repo, ".aegis.yaml"), []byte(policy("critical")), 0o644))
	e[inputEnv(InputBase)] = noPolicy
	fv = &fakeVerify{rep: sampleReport()}
	res = runAction(t, e, fv)
	require.Equal(t, ExitFail, res.code, res.stderr)
	assert.Equal(t, "high", fv.opts.Config.FailOn.Severity)
	assert.Empty(t, fv.opts.Config.Path)

	// A base that was never fetched (actions/checkout's default depth of 1)
	// is said to be so, rather than read as "no policy".
	e[inputEnv(InputBase)] = baseSHA
	res = runAction(t, e, &fakeVerify{rep: sampleReport()})
	assert.Equal(t, ExitBadInput, res.code)
	assert.Contains(t, res.stderr, "is not a revision of the repository")
	assert.Contains(t, res.stderr, "fetch-depth: 0")
	e[inputEnv(InputBase)] = noPolicy

	// fail-on overrides whichever policy applies.
	e[inputEnv(InputFailOn)] = "critical"
	fv = &fakeVerify{rep: sampleReport()}
	res = runAction(t, e, fv)
	assert.Equal(t, ExitPass, res.code, res.stderr)
	assert.Equal(t, "critical", fv.opts.Config.FailOn.Severity)
}

func TestWorkflowPath(t *testing.T) {
	for ref, want := range map[string]string{
		"Codertocat/Hello-World/.github/workflows/aegis.yml@refs/pull/2/merge": ".github/workflows/aegis.yml",
		"Codertocat/Hello-World/.github/workflows/a/b.yml@refs/heads/main":     ".github/workflows/a/b.yml",
		"other/repo/.github/workflows/aegis.yml@refs/heads/main":               "", // a reusable or required workflow from elsewhere
		"Codertocat/Hello-World/.github/workflows/../../x.yml@main":            "",
		"Codertocat/Hello-World/.github/workflows/aegis.yml":                   "",
		"": "",
	} {
		assert.Equal(t, want, workflowPath(ref, "Codertocat/Hello-World"), ref)
	}
}
