package action

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/action/fakegithub"
	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/judge"
	"github.com/kube-sentient/aegis/report"
)

const forkRepo = "forker/Hello-World"

// savedReport writes the JSON report a fork's pull_request run saves for
// headSHA: the sample change, gated with the default policy (fail: a new
// high finding), then edit may change the document as an attacker would.
func savedReport(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	rep := sampleReport()
	judge.Gate(rep, config.Default(), time.Now())
	require.Equal(t, report.Fail, rep.Verdict)
	var buf bytes.Buffer
	require.NoError(t, report.WriteJSON(&buf, rep))
	data := buf.Bytes()
	if edit != nil {
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		edit(m)
		var err error
		data, err = json.Marshal(m)
		require.NoError(t, err)
	}
	p := filepath.Join(t.TempDir(), "aegis-report.json")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

// publishEnv is a publishing job's step: a workflow_run event for the
// sample fork's completed run, the publish input set, and a fake GitHub
// that knows the fork's pull request #2.
func publishEnv(t *testing.T, reportPath string) (env, *fakegithub.Server) {
	t.Helper()
	srv := fakegithub.New(testToken)
	t.Cleanup(srv.Close)
	srv.AddPullRequest(fakegithub.PullRequest{Number: 2, HeadRepo: forkRepo, HeadRef: "changes", HeadSHA: headSHA, Files: []string{"deploy/overlays/prod/node-logs.yaml"}})
	e := newEnv(t, srv)
	e.setEvent(t, EventWorkflowRun, filepath.Join(testdataDir, "workflow_run.json"))
	e["GITHUB_REF"], e["GITHUB_SHA"] = "refs/heads/main", baseSHA
	e[inputEnv(InputPublish)] = reportPath
	return e, srv
}

// noVerify fails the test if publish mode verifies anything.
func noVerify(t *testing.T) *fakeVerify {
	return &fakeVerify{err: assert.AnError, rep: sampleReport()}
}

func TestPublishForkReport(t *testing.T) {
	e, srv := publishEnv(t, savedReport(t, nil))
	fv := noVerify(t)
	res := runAction(t, e, fv)
	require.Equal(t, ExitPass, res.code, "publishing a failing verdict succeeds: the pull_request run gates\n%s", res.stderr)
	assert.Empty(t, fv.opts.Head, "publish mode must not verify")

	comments := srv.Comments(2)
	require.Len(t, comments, 1)
	body := comments[0].Body
	assert.True(t, strings.HasPrefix(body, commentMarker("")), "the sticky marker comes first")
	assert.Contains(t, body, "> [!NOTE]\n> Published from the report of the pull request's [workflow run 289782451](https://github.com/Codertocat/Hello-World/actions/runs/289782451) (conclusion: failure) for head `ec26c3e57ca3`")
	assert.Less(t, strings.Index(body, "[!NOTE]"), strings.Index(body, "FAIL"), "the provenance comes before the verdict")
	assert.Contains(t, body, "pss.hostPathVolumes")
	assert.NotContains(t, body, "[!CAUTION]")

	ups := srv.Uploads()
	require.Len(t, ups, 1)
	assert.Equal(t, headSHA, ups[0].CommitSHA, "the SARIF is filed on the commit the run built")
	assert.Equal(t, "refs/pull/2/head", ups[0].Ref)
	assert.Contains(t, string(ups[0].SARIF), "pss.hostPathVolumes")

	assert.Equal(t, "fail", res.outputs[OutputVerdict], "the verdict output is the report's")
	assert.Equal(t, "1", res.outputs[OutputNewFindings])
	assert.Equal(t, "", res.outputs[OutputSarifFile], "publish writes no files")
	assert.NoFileExists(t, e[inputEnv(InputSarifFile)])
	assert.Contains(t, res.summary, "Published from the report")
	assert.Contains(t, res.summary, "Comment: ")

	// The pull request is found from the event (owner:branch, then head
	// commit and repository), never from the report.
	pulls := srv.RequestsTo(`^GET /repos/Codertocat/Hello-World/pulls$`)
	require.Len(t, pulls, 1)
	assert.Contains(t, pulls[0].RawQuery, "head=forker%3Achanges")
	assert.Contains(t, pulls[0].RawQuery, "state=open")
}

func TestPublishCautionWhenThePullRequestChangesTheWorkflow(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   []string
		renamed map[string]string
	}{
		{"edited", []string{"deploy/a.yaml", ".github/workflows/aegis.yml"}, nil},
		{"renamed away", []string{".github/workflows/other.yml"}, map[string]string{".github/workflows/other.yml": ".github/workflows/aegis.yml"}},
		{"on the second page", append(manyFiles(150), ".github/workflows/aegis.yml"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, _ := publishEnv(t, savedReport(t, nil))
			srv := fakegithub.New(testToken)
			t.Cleanup(srv.Close)
			srv.AddPullRequest(fakegithub.PullRequest{Number: 2, HeadRepo: forkRepo, HeadRef: "changes", HeadSHA: headSHA, Files: c.files, Renamed: c.renamed})
			e["GITHUB_API_URL"], e["GITHUB_GRAPHQL_URL"] = srv.URL, srv.URL+"/graphql"
			res := runAction(t, e, noVerify(t))
			require.Equal(t, ExitPass, res.code, res.stderr)
			body := srv.Comments(2)[0].Body
			assert.Contains(t, body, "> [!CAUTION]\n> This pull request changes `.github/workflows/aegis.yml`, the workflow that wrote this report: the report and its verdict are the pull request's own claim.")
			assert.Less(t, strings.Index(body, "[!CAUTION]"), strings.Index(body, "[!NOTE]"))
			assert.Contains(t, res.stdout, "::warning title=aegis%3A the pull request changes the workflow that wrote the report::")
		})
	}
}

func manyFiles(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = filepath.Join("deploy", "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26)), "x.yaml")
	}
	return out
}

// A pull request of 3,000 files or more: GitHub lists no more, so aegis
// cannot tell whether the workflow is among them, and says so.
func TestPublishWarnsWhenTheFilesCannotBeListed(t *testing.T) {
	e, _ := publishEnv(t, savedReport(t, nil))
	srv := fakegithub.New(testToken)
	t.Cleanup(srv.Close)
	srv.AddPullRequest(fakegithub.PullRequest{Number: 2, HeadRepo: forkRepo, HeadRef: "changes", HeadSHA: headSHA, Files: append(manyFiles(3000), ".github/workflows/aegis.yml")})
	e["GITHUB_API_URL"], e["GITHUB_GRAPHQL_URL"] = srv.URL, srv.URL+"/graphql"
	res := runAction(t, e, noVerify(t))
	require.Equal(t, ExitPass, res.code, res.stderr)
	body := srv.Comments(2)[0].Body
	assert.Contains(t, body, "> [!WARNING]\n> aegis could not tell whether pull request #2 changes .github/workflows/aegis.yml")
	assert.Contains(t, body, "GitHub lists only the first 3000")
}

// Reports a pull request's run could have written, and events the job
// could be misconfigured with: exit 2, and nothing is sent to GitHub.
func TestPublishRefuses(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.json")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	big := filepath.Join(t.TempDir(), "big.json")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte(" "), report.MaxUntrustedBytes+1), 0o644))

	finding0 := func(m map[string]any) map[string]any { return m["findings"].([]any)[0].(map[string]any) }
	for _, c := range []struct {
		name   string
		report string
		event  func(map[string]any)
		env    map[string]string
		want   string
	}{
		{name: "a report of another commit", report: savedReport(t, func(m map[string]any) {
			m["head"].(map[string]any)["source"] = baseSHA
		}), want: "is not that run's report"},
		{name: "a verdict edited to pass", report: savedReport(t, func(m map[string]any) { m["verdict"] = "pass" }),
			want: "verdict pass, but the new finding posture pss.hostPathVolumes"},
		{name: "a new finding's severity edited away", report: savedReport(t, func(m map[string]any) {
			m["verdict"] = "pass"
			finding0(m)["severity"] = "none"
		}), want: `severity "none" is not a severity`},
		{name: "a location that is a URL", report: savedReport(t, func(m map[string]any) {
			finding0(m)["location"].(map[string]any)["path"] = "https://evil.example/x.yaml"
		}), want: "is not a relative slash path"},
		{name: "a location outside the repository", report: savedReport(t, func(m map[string]any) {
			finding0(m)["location"].(map[string]any)["path"] = "../../etc/passwd"
		}), want: "is not a clean relative path inside the repository"},
		{name: "a control character", report: savedReport(t, func(m map[string]any) {
			finding0(m)["message"] = "ok\x1b[2J\r::error::forged"
		}), want: "has a control character"},
		{name: "not a report", report: savedReport(t, func(m map[string]any) { m["kind"] = "Other" }), want: `kind "Other"`},
		{name: "a FIFO", report: fifo, want: "not a regular file"},
		{name: "larger than the bound", report: big, want: "above the limit of 67108864"},
		{name: "absent", report: filepath.Join(t.TempDir(), "none.json"), want: "reading the report"},
		{name: "a run of a push", report: savedReport(t, nil), event: func(m map[string]any) {
			m["workflow_run"].(map[string]any)["event"] = "push"
		}, want: `triggered by "push", not pull_request`},
		{name: "a head sha that is an option", report: savedReport(t, nil), event: func(m map[string]any) {
			m["workflow_run"].(map[string]any)["head_sha"] = "--upload-pack=touch /tmp/x"
		}, want: "is not a commit id"},
		{name: "another event", report: savedReport(t, nil), env: map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": filepath.Join(testdataDir, "pull_request.json")},
			want: "publish runs in a job triggered by workflow_run"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, srv := publishEnv(t, c.report)
			if c.event != nil {
				e.setEvent(t, EventWorkflowRun, writePayload(t, "workflow_run.json", c.event))
			}
			for k, v := range c.env {
				e[k] = v
			}
			res := runAction(t, e, noVerify(t))
			assert.Equal(t, ExitBadInput, res.code, res.stderr)
			assert.Contains(t, res.stderr, c.want)
			assert.Empty(t, srv.Requests(), "nothing is sent to GitHub")
			assert.Equal(t, "error", res.outputs[OutputVerdict])
			assert.NotContains(t, res.stdout, "::error::forged")
		})
	}
}

// A run whose pull request was closed, or pushed to since: nothing to
// publish to, and nothing published to any other pull request.
func TestPublishNoOpenPullRequest(t *testing.T) {
	e, _ := publishEnv(t, savedReport(t, nil))
	srv := fakegithub.New(testToken)
	t.Cleanup(srv.Close)
	// The fork's branch moved on; another fork has a branch of the same
	// name at the same commit; a closed pull request matches exactly.
	srv.AddPullRequest(fakegithub.PullRequest{Number: 2, HeadRepo: forkRepo, HeadRef: "changes", HeadSHA: baseSHA})
	srv.AddPullRequest(fakegithub.PullRequest{Number: 3, HeadRepo: "mallory/Hello-World", HeadRef: "changes", HeadSHA: headSHA})
	srv.AddPullRequest(fakegithub.PullRequest{Number: 4, HeadRepo: forkRepo, HeadRef: "changes", HeadSHA: headSHA, State: "closed"})
	e["GITHUB_API_URL"], e["GITHUB_GRAPHQL_URL"] = srv.URL, srv.URL+"/graphql"
	res := runAction(t, e, noVerify(t))
	require.Equal(t, ExitPass, res.code, res.stderr)
	for _, pr := range []int{2, 3, 4} {
		assert.Empty(t, srv.Comments(pr))
	}
	assert.Empty(t, srv.Uploads())
	assert.Contains(t, res.stderr, "no open pull request of this repository has head ec26c3e57ca3 from forker/Hello-World:changes")
	assert.Contains(t, res.summary, "nothing to publish")
}

// Text of the report is the pull request's: escaped in the comment as in
// any report, and a second publish updates the same sticky comment.
func TestPublishEscapesAndUpdates(t *testing.T) {
	e, srv := publishEnv(t, savedReport(t, func(m map[string]any) {
		f := m["findings"].([]any)[0].(map[string]any)
		f["message"] = "@org/admins see [here](https://evil.example) <img src=x onerror=alert(1)> | --> <!--"
	}))
	res := runAction(t, e, noVerify(t))
	require.Equal(t, ExitPass, res.code, res.stderr)
	res = runAction(t, e, noVerify(t))
	require.Equal(t, ExitPass, res.code, res.stderr)
	comments := srv.Comments(2)
	require.Len(t, comments, 1, "the sticky comment is updated, not duplicated")
	body := comments[0].Body
	assert.NotContains(t, body, "<img")
	assert.NotContains(t, body, "[here](https://evil.example)")
	assert.NotContains(t, body, "@org/admins")
	assert.Contains(t, body, "&lt;img src=x onerror=alert(1)&gt;")
}
