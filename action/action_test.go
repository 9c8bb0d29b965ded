package action

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sethvargo/go-githubactions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/action/fakegithub"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/sarif"
	"github.com/kube-sentient/aegis/verify"
)

// A pull request whose head adds a hostPath volume: the gate fails (exit
// 1), and everything is published: outputs, job summary with the chart,
// an error annotation on the source line, the sticky comment, and the
// SARIF upload, which decodes to the file written.
func TestActionPullRequest(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	srv.PendingPolls = 2
	e := newEnv(t, srv)
	base, head := gitWorkspace(t, e)
	e.setEvent(t, "pull_request", writePayload(t, "pull_request.json", func(m map[string]any) {
		pr := m["pull_request"].(map[string]any)
		pr["base"].(map[string]any)["sha"] = base
		pr["head"].(map[string]any)["sha"] = head
	}))
	fv := &fakeVerify{rep: sampleReport()}
	res := runAction(t, e, fv)

	require.Equal(t, ExitFail, res.code, res.stderr)
	assert.Equal(t, verify.Source{Revision: base}, fv.opts.Base, "base and head from the event")
	assert.Equal(t, verify.Source{Revision: head}, fv.opts.Head)
	assert.Equal(t, "deploy", fv.opts.Path)
	assert.Equal(t, verify.ShadowOff, fv.opts.Shadow)
	assert.Equal(t, "high", fv.opts.Config.FailOn.Severity)

	// Outputs.
	assert.Equal(t, "fail", res.outputs[OutputVerdict])
	assert.Equal(t, "1", res.outputs[OutputNewFindings])
	assert.Equal(t, "1", res.outputs[OutputFixedFindings])
	assert.Equal(t, e[inputEnv(InputSarifFile)], res.outputs[OutputSarifFile])
	assert.Equal(t, e[inputEnv(InputReportJSON)], res.outputs[OutputReportJSON])
	comments := srv.Comments(2)
	require.Len(t, comments, 1)
	assert.Equal(t, fmt.Sprintf("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-%d", comments[0].ID), res.outputs[OutputCommentURL])

	// The comment: the hidden marker first, the verdict, a link to the run.
	body := comments[0].Body
	assert.True(t, strings.HasPrefix(body, "<!-- aegis:sticky-comment category=default -->\n"), body)
	assert.Contains(t, body, "❌ aegis: FAIL")
	assert.Contains(t, body, "https://github.com/Codertocat/Hello-World/actions/runs/4242")
	creates := srv.RequestsTo(`^POST /repos/Codertocat/Hello-World/issues/2/comments$`)
	require.Len(t, creates, 1)
	assert.Equal(t, "Bearer "+testToken, creates[0].Header.Get("Authorization"))
	assert.Equal(t, "2022-11-28", creates[0].Header.Get("X-GitHub-Api-Version"))
	var sent struct{ Body string }
	require.NoError(t, json.Unmarshal(creates[0].Body, &sent))
	assert.Equal(t, body, sent.Body)

	// The SARIF upload: head sha, the PR's head ref, gzip+base64 of the file.
	uploads := srv.Uploads()
	require.Len(t, uploads, 1)
	up := uploads[0]
	assert.Equal(t, head, up.CommitSHA)
	assert.Equal(t, "refs/pull/2/head", up.Ref)
	assert.Equal(t, "aegis", up.ToolName)
	_, err := time.Parse(time.RFC3339, up.StartedAt)
	assert.NoError(t, err)
	file, err := os.ReadFile(e[inputEnv(InputSarifFile)])
	require.NoError(t, err)
	assert.Equal(t, file, up.SARIF, "the upload decodes (base64, gunzip) to the SARIF file")
	assert.NoError(t, sarif.CheckGitHub(file))
	raw := srv.RequestsTo(`^POST /repos/Codertocat/Hello-World/code-scanning/sarifs$`)
	require.Len(t, raw, 1)
	var upBody map[string]any
	require.NoError(t, json.Unmarshal(raw[0].Body, &upBody))
	assert.ElementsMatch(t, []string{"commit_sha", "ref", "sarif", "tool_name", "started_at"}, keys(upBody))
	// Polled until complete: pending twice, then complete.
	assert.Len(t, srv.RequestsTo(`^GET /repos/Codertocat/Hello-World/code-scanning/sarifs/`+up.ID+`$`), 3)

	// The JSON report.
	data, err := os.ReadFile(e[inputEnv(InputReportJSON)])
	require.NoError(t, err)
	rep, err := report.ReadJSON(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, report.Fail, rep.Verdict)

	// Summary: the report, the counts, what was published; locations
	// linked to their lines at the event's commits.
	assert.Contains(t, res.summary, "❌ aegis: FAIL")
	assert.Contains(t, res.summary, "| 🆕 New | 0 | 1 | 0 | 0 | 0 | **1** |\n| ✅ Fixed | 1 | 0 | 0 | 0 | 0 | **1** |\n| Unchanged | 0 | 0 | 0 | 1 | 0 | **1** |\n", "1 critical fixed, 1 high new, 1 low unchanged")
	for _, body := range []string{res.summary, comments[0].Body} {
		assert.Contains(t, body, "[overlays/prod/node-logs.yaml:16](https://github.com/Codertocat/Hello-World/blob/"+head+"/overlays/prod/node-logs.yaml#L16)", "a new problem at the head's commit")
		assert.Contains(t, body, "[base/deployment.yaml:22](https://github.com/Codertocat/Hello-World/blob/"+base+"/base/deployment.yaml#L22)", "a fixed one at the base's")
	}
	assert.Contains(t, res.summary, "processed")
	assert.Contains(t, res.summary, "Comment: https://github.com/Codertocat/Hello-World/pull/2#issuecomment-")

	// The annotation on the new finding's line.
	assert.Contains(t, res.stdout, "::error file=overlays/prod/node-logs.yaml,line=16,title=aegis high%3A title of pss.hostPathVolumes::prod-web violates pss.hostPathVolumes [posture pss.hostPathVolumes] Deployment/shop/prod-web container app\n")
	assert.NotContains(t, res.stdout, "pss.privileged", "fixed findings are not annotated")
	assert.NotContains(t, res.stdout+res.stderr+res.summary, testToken)
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A passing change exits 0, and its outputs say so. The Helm inputs reach
// the renderer as the CLI's flags do.
func TestActionPass(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	e := newEnv(t, srv)
	e[inputEnv(InputValues)] = "values-prod.yaml\n\n  values-eu.yaml  \n"
	e[inputEnv(InputSet)] = "image.tag=1.2.3\nreplicas=3"
	e[inputEnv(InputReleaseName)], e[inputEnv(InputNamespace)], e[inputEnv(InputKubeVersion)] = "web", "shop", "v1.37.2"
	fv := &fakeVerify{rep: sampleReport(
		finding("pss.privileged", report.Critical, report.Absent, "base/deployment.yaml", 22, "web"),
	)}
	res := runAction(t, e, fv)
	require.Equal(t, ExitPass, res.code, res.stderr)
	assert.Equal(t, []string{"values-prod.yaml", "values-eu.yaml"}, fv.opts.Render.ValuesFiles)
	assert.Equal(t, []string{"image.tag=1.2.3", "replicas=3"}, fv.opts.Render.Set)
	assert.Equal(t, "web", fv.opts.Render.ReleaseName)
	assert.Equal(t, "shop", fv.opts.Render.Namespace)
	assert.Equal(t, "v1.37.2", fv.opts.Render.KubeVersion)
	assert.False(t, fv.opts.Render.AllowRemoteBases, "a PR must not make the runner fetch remote bases")
	assert.Equal(t, "pass", res.outputs[OutputVerdict])
	assert.Equal(t, "0", res.outputs[OutputNewFindings])
	assert.Equal(t, "1", res.outputs[OutputFixedFindings])
	assert.NotContains(t, res.stdout, "::error")
}

// update edits aegis's own comment in place, found by its marker on a later
// page (the Link header's rel="next"); comments of other categories and of
// people are left alone.
func TestActionCommentUpdateAcrossPages(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	for i := range 130 {
		srv.AddComment(2, "octocat", fmt.Sprintf("comment %d", i))
	}
	other := srv.AddComment(2, "github-actions[bot]", commentMarker("staging")+"\nthe staging category's report")
	mine := srv.AddComment(2, "github-actions[bot]", commentMarker("")+"\nold report")
	quote := srv.AddComment(2, "octocat", "> "+commentMarker("")+"\nquoting aegis is not aegis")

	res := runAction(t, newEnv(t, srv), &fakeVerify{rep: sampleReport()})
	require.Equal(t, ExitFail, res.code, res.stderr)

	lists := srv.RequestsTo(`^GET /(repos/Codertocat/Hello-World|repositories/\d+)/issues/2/comments$`)
	require.Len(t, lists, 2, "130+3 comments at 100 per page: two pages")
	assert.Equal(t, "per_page=100", lists[0].RawQuery)
	assert.Contains(t, lists[1].RawQuery, "page=2")
	patches := srv.RequestsTo(`^PATCH /repos/Codertocat/Hello-World/issues/comments/\d+$`)
	require.Len(t, patches, 1)
	assert.Equal(t, fmt.Sprintf("/repos/Codertocat/Hello-World/issues/comments/%d", mine.ID), patches[0].Path)
	assert.Empty(t, srv.RequestsTo(`^POST /repos/.*/comments$`))

	after := srv.Comments(2)
	require.Len(t, after, 133)
	byID := map[int64]fakegithub.Comment{}
	for _, c := range after {
		byID[c.ID] = c
	}
	assert.Contains(t, byID[mine.ID].Body, "❌ aegis: FAIL")
	assert.Equal(t, other.Body, byID[other.ID].Body)
	assert.Equal(t, quote.Body, byID[quote.ID].Body)
	assert.Equal(t, fmt.Sprintf("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-%d", mine.ID), res.outputs[OutputCommentURL])
}

// recreate deletes aegis's old comments and posts a new one; hide-old
// minimizes them as outdated through GraphQL and posts a new one.
func TestActionCommentModes(t *testing.T) {
	t.Run("recreate", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		old := srv.AddComment(2, "github-actions[bot]", commentMarker("")+"\nold")
		keep := srv.AddComment(2, "octocat", "LGTM")
		e := newEnv(t, srv)
		e[inputEnv(InputCommentMode)] = CommentRecreate
		res := runAction(t, e, &fakeVerify{rep: sampleReport()})
		require.Equal(t, ExitFail, res.code, res.stderr)
		dels := srv.RequestsTo(`^DELETE `)
		require.Len(t, dels, 1)
		assert.Equal(t, fmt.Sprintf("/repos/Codertocat/Hello-World/issues/comments/%d", old.ID), dels[0].Path)
		after := srv.Comments(2)
		require.Len(t, after, 2)
		assert.Equal(t, keep.ID, after[0].ID)
		assert.Contains(t, after[1].Body, "aegis: FAIL")
	})
	t.Run("hide-old", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		old := srv.AddComment(2, "github-actions[bot]", commentMarker("")+"\nold")
		e := newEnv(t, srv)
		e[inputEnv(InputCommentMode)] = CommentHideOld
		res := runAction(t, e, &fakeVerify{rep: sampleReport()})
		require.Equal(t, ExitFail, res.code, res.stderr)
		gql := minimizeRequests(t, srv)
		require.Len(t, gql, 1)
		var q struct {
			Query     string
			Variables map[string]string
		}
		require.NoError(t, json.Unmarshal(gql[0].Body, &q))
		assert.Contains(t, q.Query, "minimizeComment(input: {subjectId: $id, classifier: OUTDATED})")
		assert.Equal(t, old.NodeID, q.Variables["id"])
		assert.Equal(t, "Bearer "+testToken, gql[0].Header.Get("Authorization"))
		after := srv.Comments(2)
		require.Len(t, after, 2)
		assert.True(t, after[0].Minimized)
		assert.Equal(t, "outdated", after[0].Reason)
		assert.False(t, after[1].Minimized)
		assert.Contains(t, after[1].Body, "aegis: FAIL")
	})
}

// bigReport has n new findings with long messages: its full Markdown is far
// above GitHub's comment limit.
func bigReport(n int) *report.Report {
	var fs []report.Finding
	for i := range n {
		f := finding(fmt.Sprintf("rule.%02d", i%50), report.Severities[i%5], report.New, fmt.Sprintf("apps/app-%05d/deployment.yaml", i), i+1, fmt.Sprintf("app-%05d", i))
		f.Message = strings.Repeat("ünïcödé message ", 20)
		fs = append(fs, f)
	}
	return sampleReport(fs...)
}

// The comment never exceeds 65,536 characters: the lists are shortened and
// the comment links to the job summary, which has them all.
func TestActionCommentWithinLimit(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	res := runAction(t, newEnv(t, srv), &fakeVerify{rep: bigReport(3000)})
	require.Equal(t, ExitFail, res.code, res.stderr)
	require.Empty(t, srv.RequestsTo(`^PATCH`))
	comments := srv.Comments(2)
	require.Len(t, comments, 1, res.stderr)
	n := utf8.RuneCountInString(comments[0].Body)
	assert.LessOrEqual(t, n, MaxCommentChars)
	assert.Greater(t, n, MaxCommentChars/2, "the budget is used, not wasted")
	assert.Contains(t, comments[0].Body, "https://github.com/Codertocat/Hello-World/actions/runs/4242")
	assert.Contains(t, comments[0].Body, "shortened")
}

// GitHub answers 422 "Body is too long" (its count differs, or its limit
// changed): aegis retries once with the compact comment, which fits.
func TestActionComment422BodyTooLong(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	srv.MaxCommentChars = 9000
	res := runAction(t, newEnv(t, srv), &fakeVerify{rep: bigReport(3000)})
	require.Equal(t, ExitFail, res.code, res.stderr)
	posts := srv.RequestsTo(`^POST /repos/Codertocat/Hello-World/issues/2/comments$`)
	require.Len(t, posts, 2, "the refused body, then the compact one")
	var first, second struct{ Body string }
	require.NoError(t, json.Unmarshal(posts[0].Body, &first))
	require.NoError(t, json.Unmarshal(posts[1].Body, &second))
	assert.Greater(t, utf8.RuneCountInString(first.Body), 9000)
	assert.LessOrEqual(t, utf8.RuneCountInString(second.Body), compactCommentChars)
	assert.Contains(t, second.Body, "❌ aegis: FAIL")
	assert.Contains(t, res.stderr, "refused the comment as too long")
	require.Len(t, srv.Comments(2), 1)
	assert.NotEmpty(t, res.outputs[OutputCommentURL])
}

// A pull request from a fork: the token is read-only, so GitHub refuses the
// comment and the upload (403). aegis says so once, clearly, in the log, an
// annotation and the summary, and the gate alone decides the exit code.
func TestActionForkReadOnlyToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *report.Report
		code int
	}{
		{"gate fails", sampleReport(), ExitFail},
		{"gate passes", sampleReport(finding("pss.privileged", report.Critical, report.Absent, "base/deployment.yaml", 22, "web")), ExitPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakegithub.New(testToken)
			defer srv.Close()
			srv.ReadOnly = true
			e := newEnv(t, srv)
			e.setEvent(t, "pull_request", forkPayload(t))
			res := runAction(t, e, &fakeVerify{rep: tc.rep})
			require.Equal(t, tc.code, res.code, res.stderr)

			// GitHub was asked, and refused.
			assert.Len(t, srv.RequestsTo(`^POST /repos/Codertocat/Hello-World/code-scanning/sarifs$`), 1)
			assert.Len(t, srv.RequestsTo(`^POST /repos/Codertocat/Hello-World/issues/2/comments$`), 1)
			assert.Empty(t, srv.Comments(2))
			assert.Empty(t, srv.Uploads())

			want := "Pull request #2 comes from the fork forker/Hello-World: GitHub gives its workflow a read-only token, so it refused the SARIF upload and the comment (403)."
			assert.Contains(t, res.stderr, want)
			assert.Contains(t, res.summary, "> [!WARNING]\n> "+want)
			assert.Contains(t, res.stdout, "::warning title=aegis%3A read-only token::"+want)
			assert.NotContains(t, res.stdout, "::error title=aegis: comment failed")
			assert.Equal(t, "", res.outputs[OutputCommentURL])
			assert.Equal(t, map[int]string{ExitFail: "fail", ExitPass: "pass"}[tc.code], res.outputs[OutputVerdict])
		})
	}
}

// Dependabot's pull requests get a read-only token too, from the same
// repository.
func TestActionDependabotReadOnlyToken(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	srv.ReadOnly = true
	e := newEnv(t, srv)
	e["GITHUB_ACTOR"] = "dependabot[bot]"
	res := runAction(t, e, &fakeVerify{rep: sampleReport(finding("pss.privileged", report.Critical, report.Absent, "b.yaml", 2, "web"))})
	assert.Equal(t, ExitPass, res.code, res.stderr)
	assert.Contains(t, res.summary, "Pull request #2 was triggered by Dependabot: GitHub gives its workflow a read-only token, so it refused the SARIF upload and the comment (403).")
}

// The same 403 on a pull request from the repository itself is not a fork's
// read-only token but a missing permission: an error, with what to add,
// and a gate that passed becomes exit 3 (the publication asked for failed).
func TestActionForbiddenNotFork(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	srv.ReadOnly = true
	res := runAction(t, newEnv(t, srv), &fakeVerify{rep: sampleReport(finding("pss.privileged", report.Critical, report.Absent, "b.yaml", 2, "web"))})
	assert.Equal(t, ExitInfra, res.code)
	assert.Contains(t, res.stdout, "::error title=aegis%3A comment failed::")
	assert.Contains(t, res.stderr, "pull-requests: write")
	assert.Contains(t, res.stderr, "security-events: write")
	assert.Contains(t, res.summary, "> [!CAUTION]")
	assert.Equal(t, "pass", res.outputs[OutputVerdict], "the verdict stays the gate's")
}

// SARIF processing: failed is an error with GitHub's messages; a 413 names
// the size; still pending when the wait ends is said, not an error;
// upload-sarif: false leaves the file for github/codeql-action/upload-sarif.
func TestActionSARIFUploadOutcomes(t *testing.T) {
	pass := func() *report.Report {
		return sampleReport(finding("aegis.probes", report.Low, report.New, "a.yaml", 3, "web"))
	}
	t.Run("processing failed", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		srv.PendingPolls = 1
		srv.ProcessingFails = true
		srv.ProcessingErrors = []string{"locationFromSarifResult: expected artifact location"}
		res := runAction(t, newEnv(t, srv), &fakeVerify{rep: pass()})
		assert.Equal(t, ExitInfra, res.code)
		assert.Contains(t, res.stderr, "code scanning could not process SARIF upload")
		assert.Contains(t, res.stderr, "locationFromSarifResult: expected artifact location")
		assert.Contains(t, res.stdout, "::error title=aegis%3A SARIF upload failed::")
		assert.Len(t, srv.Comments(2), 1, "the comment is still posted")
	})
	t.Run("too large: 413", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		srv.MaxSarifGzip = 200
		res := runAction(t, newEnv(t, srv), &fakeVerify{rep: pass()})
		assert.Equal(t, ExitInfra, res.code)
		assert.Contains(t, res.stderr, "code scanning refused the SARIF file as too large (413")
		assert.Contains(t, res.stderr, "Payload Too Large")
	})
	t.Run("still pending", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		srv.PendingPolls = 1000
		e := newEnv(t, srv)
		e[inputEnv(InputUploadWait)] = "60ms"
		res := runAction(t, e, &fakeVerify{rep: pass()})
		assert.Equal(t, ExitPass, res.code, res.stderr)
		assert.Contains(t, res.summary, "still pending after waiting 60ms")
		polls := len(srv.RequestsTo(`^GET /repos/.*/code-scanning/sarifs/`))
		assert.GreaterOrEqual(t, polls, 2)
		assert.LessOrEqual(t, polls, 13, "polled every 5 ms within 60 ms")
	})
	t.Run("no wait", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		e := newEnv(t, srv)
		e[inputEnv(InputUploadWait)] = "0"
		res := runAction(t, e, &fakeVerify{rep: pass()})
		assert.Equal(t, ExitPass, res.code, res.stderr)
		assert.Len(t, srv.Uploads(), 1)
		assert.Empty(t, srv.RequestsTo(`^GET /repos/.*/code-scanning/sarifs/`))
	})
	t.Run("upload-sarif false", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		e := newEnv(t, srv)
		e[inputEnv(InputUploadSarif)] = "false"
		res := runAction(t, e, &fakeVerify{rep: pass()})
		assert.Equal(t, ExitPass, res.code, res.stderr)
		assert.Empty(t, srv.RequestsTo(`code-scanning`))
		_, err := os.Stat(e[inputEnv(InputSarifFile)])
		assert.NoError(t, err, "the file is left for github/codeql-action/upload-sarif")
		assert.Contains(t, res.summary, "github/codeql-action/upload-sarif")
		assert.Equal(t, e[inputEnv(InputSarifFile)], res.outputs[OutputSarifFile])
	})
}

// upload-sarif defaults to auto: a repository without code scanning (403)
// keeps its verdict and gets a warning; upload-sarif: true makes the same
// refusal an error.
func TestActionUploadSarifAuto(t *testing.T) {
	pass := sampleReport(finding("pss.privileged", report.Critical, report.Absent, "b.yaml", 2, "web"))
	for _, tc := range []struct {
		value string
		code  int
	}{{"", ExitPass}, {"auto", ExitPass}, {"true", ExitInfra}} {
		t.Run("upload-sarif "+tc.value, func(t *testing.T) {
			srv := fakegithub.New(testToken)
			defer srv.Close()
			srv.CodeScanningDisabled = true
			e := newEnv(t, srv)
			if tc.value != "" {
				e[inputEnv(InputUploadSarif)] = tc.value
			}
			res := runAction(t, e, &fakeVerify{rep: pass})
			assert.Equal(t, tc.code, res.code, res.stderr)
			assert.Len(t, srv.RequestsTo(`^POST /repos/.*/code-scanning/sarifs$`), 1, "the upload was tried")
			assert.Len(t, srv.Comments(2), 1, "the comment is posted all the same")
			assert.Equal(t, "pass", res.outputs[OutputVerdict])
			if tc.code == ExitPass {
				assert.Contains(t, res.stdout, "::warning title=aegis%3A SARIF not uploaded::")
				assert.Contains(t, res.summary, "> [!WARNING]")
				assert.Contains(t, res.summary, "Advanced Security must be enabled")
				assert.NotContains(t, res.stdout, "::error")
			} else {
				assert.Contains(t, res.stdout, "::error title=aegis%3A SARIF upload failed::")
			}
		})
	}
}

// report-only: a failed gate exits 0; the verdict stays fail everywhere.
func TestActionReportOnly(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	e := newEnv(t, srv)
	e[inputEnv(InputReportOnly)] = "true"
	res := runAction(t, e, &fakeVerify{rep: sampleReport()})
	assert.Equal(t, ExitPass, res.code, res.stderr)
	assert.Equal(t, "fail", res.outputs[OutputVerdict])
	assert.Contains(t, res.stderr, "report-only is set, so the step exits 0")
	assert.Contains(t, res.summary, "FAIL")
	require.Len(t, srv.Comments(2), 1)
	assert.Contains(t, srv.Comments(2)[0].Body, "FAIL")
}

// GitHub shows 10 error and 10 warning annotations per step: the most
// severe new findings get them, and one notice says how many more there
// are and where.
func TestActionAnnotationsLimit(t *testing.T) {
	var fs []report.Finding
	for i := range 13 { // 13 high: errors
		fs = append(fs, finding(fmt.Sprintf("h.%02d", i), report.High, report.New, "h.yaml", i+1, "h"))
	}
	for i := range 3 { // 3 critical, listed last: still first
		fs = append(fs, finding(fmt.Sprintf("c.%02d", i), report.Critical, report.New, "c.yaml", i+1, "c"))
	}
	for i := range 12 { // 12 medium/low: warnings
		sev := report.Medium
		if i%2 == 1 {
			sev = report.Low
		}
		fs = append(fs, finding(fmt.Sprintf("m.%02d", i), sev, report.New, "m.yaml", i+1, "m"))
	}
	fs = append(fs, finding("w.00", report.Critical, report.New, "w.yaml", 1, "w"), finding("u.00", report.Critical, report.Unchanged, "u.yaml", 1, "u"))
	e := newEnv(t, nil)
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(policy, []byte(`apiVersion: aegis.dev/v1alpha1
kind: Config
waivers:
  - ruleId: w.00
    reason: accepted until the vendor ships a fix
    owner: sre
    expires: "2999-01-01"
`), 0o644))
	e[inputEnv(InputConfig)] = policy

	res := runAction(t, e, &fakeVerify{rep: sampleReport(fs...)})
	require.Equal(t, ExitFail, res.code, res.stderr)
	lines := strings.Split(res.stdout, "\n")
	var errs, warns, notices []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "::error "):
			errs = append(errs, l)
		case strings.HasPrefix(l, "::warning "):
			warns = append(warns, l)
		case strings.HasPrefix(l, "::notice "):
			notices = append(notices, l)
		}
	}
	require.Len(t, errs, 10)
	require.Len(t, warns, 10)
	require.Len(t, notices, 1)
	for i := range 3 {
		assert.Contains(t, errs[i], fmt.Sprintf("file=after/c.yaml,line=%d,title=aegis critical", i+1), "critical first, on repository paths")
	}
	assert.Contains(t, errs[3], "file=after/h.yaml,line=1,title=aegis high")
	for _, w := range warns[:6] {
		assert.Contains(t, w, "title=aegis medium")
	}
	// 16 critical or high (the waived one left out): 6 more; 12 medium or
	// low: 2 more.
	assert.Contains(t, notices[0], "8 more new finding(s) are not annotated here")
	assert.NotContains(t, res.stdout, "w.yaml", "waived findings are not annotated")
	assert.NotContains(t, res.stdout, "u.yaml", "unchanged findings are not annotated")
}

// Annotation properties and messages are escaped: a path or title holding
// ':' ',' '%' or a newline cannot forge another command.
func TestActionAnnotationEscaping(t *testing.T) {
	f := finding("evil", report.Critical, report.New, "a,b:c%.yaml", 7, "x")
	f.Title = "t,i:t%le\n::error::forged"
	f.Message = "line one\n::error file=x::forged"
	var out bytes.Buffer
	a := newAnnotator(githubactions.New(githubactions.WithWriter(&out), githubactions.WithGetenv(env{}.get)), nil)
	a.annotateFindings([]report.Finding{f})
	got := out.String()
	assert.Equal(t, 1, strings.Count(got, "\n"), got)
	assert.True(t, strings.HasPrefix(got, "::error file=a%2Cb%3Ac%25.yaml,line=7,title=aegis critical%3A t%2Ci%3At%25le %3A%3Aerror%3A%3Aforged::"), got)
}

// The job summary stays within GitHub's 1 MiB, even for a report whose
// Markdown would be far larger, and keeps the counts by severity.
func TestActionSummaryWithinLimit(t *testing.T) {
	res := runAction(t, newEnv(t, nil), &fakeVerify{rep: bigReport(5000)})
	require.Equal(t, ExitFail, res.code, res.stderr)
	assert.LessOrEqual(t, len(res.summary), MaxSummaryBytes)
	assert.Greater(t, len(res.summary), MaxSummaryBytes/2)
	assert.True(t, utf8.ValidString(res.summary))
	assert.Contains(t, res.summary, "#### Findings by severity\n\n| | Critical | High | Medium | Low | Info | Total |\n")
	assert.Contains(t, res.summary, "| 🆕 New | 1000 | 1000 | 1000 | 1000 | 1000 | **5000** |\n")
	assert.Contains(t, res.summary, "Some lists were shortened")
	assert.NotContains(t, res.summary, "mermaid", "no chart: it drew slivers at zero")
}

// The summary has the comment's structure: verdict, the named fixes and
// new problems, then the rest; its table counts exactly, zeros included.
func TestActionSummaryStructure(t *testing.T) {
	s := report.Summarize([]report.Finding{
		finding("a", report.Critical, report.New, "", 0, "a"),
		finding("b", report.High, report.Absent, "", 0, "b"),
		finding("c", report.High, report.Absent, "", 0, "c"),
		finding("d", report.High, report.Unchanged, "", 0, "d"),
		finding("e", report.Info, report.Unchanged, "", 0, "e"),
	})
	assert.Equal(t, "| | Critical | High | Medium | Low | Info | Total |\n|:--|--:|--:|--:|--:|--:|--:|\n"+
		"| 🆕 New | 1 | 0 | 0 | 0 | 0 | **1** |\n"+
		"| ✅ Fixed | 0 | 2 | 0 | 0 | 0 | **2** |\n"+
		"| Unchanged | 0 | 1 | 0 | 0 | 1 | **2** |\n", severityTable(s))

	res := runAction(t, newEnv(t, nil), &fakeVerify{rep: bigReport(3)})
	verdict := strings.Index(res.summary, "### ❌ aegis: FAIL")
	fixes := strings.Index(res.summary, "**This change fixes")
	introduces := strings.Index(res.summary, "**This change introduces 3 problems:**")
	fold := strings.Index(res.summary, "<details>")
	table := strings.Index(res.summary, "#### Findings by severity")
	assert.True(t, verdict >= 0 && fixes > verdict && introduces > fixes && fold > introduces && table > fold, res.summary)
}

// A value holding go-githubactions' fixed delimiter on a line of its own
// would end the value early and turn the rest into outputs: it is written
// with a fresh delimiter, and the runner reads back exactly the value.
func TestActionOutputDelimiterGuard(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "output")
	require.NoError(t, os.WriteFile(out, nil, 0o644))
	gha := githubactions.New(githubactions.WithGetenv(env{"GITHUB_OUTPUT": out}.get))
	evil := "before\n" + libraryDelimiter + "\nverdict=pass\nafter"
	require.NoError(t, setOutput(gha, "sarif-file", evil))
	require.NoError(t, setOutput(gha, "verdict", "fail"))
	require.NoError(t, setOutput(gha, "plain", "a "+libraryDelimiter+" b"))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	got, err := parseFileCommands(string(data))
	require.NoError(t, err, string(data))
	assert.Equal(t, map[string]string{"sarif-file": evil, "verdict": "fail", "plain": "a " + libraryDelimiter + " b"}, got)
	assert.Regexp(t, regexp.MustCompile(`(?m)^sarif-file<<ghadelimiter_[0-9a-f]{32}$`), string(data))

	// Without the guard the library's own format would be broken: the proof
	// that the guard matters.
	raw := filepath.Join(dir, "raw")
	require.NoError(t, os.WriteFile(raw, nil, 0o644))
	githubactions.New(githubactions.WithGetenv(env{"GITHUB_OUTPUT": raw}.get)).SetOutput("sarif-file", evil)
	data, _ = os.ReadFile(raw)
	broken, err := parseFileCommands(string(data))
	if err == nil {
		assert.NotEqual(t, evil, broken["sarif-file"])
	}

	// Outside Actions (no GITHUB_OUTPUT) nothing is written, nothing fails.
	assert.NoError(t, setOutput(githubactions.New(githubactions.WithGetenv(env{}.get)), "verdict", "pass"))
}

// The kubeconfig input is written to a private file (0600) that the cluster
// loader reads, removed after the run, and its contents appear nowhere:
// not in the log, the annotations, the summary or the outputs. Nor does
// the token.
func TestActionKubeconfigSecret(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	const kubeconfig = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: kube-SECRET-7f3a9c\n"
	e := newEnv(t, srv)
	e[inputEnv(InputShadow)] = verify.ShadowBoth
	e[inputEnv(InputKubeconfig)] = kubeconfig
	var path string
	var mode os.FileMode
	var contents []byte
	restConfig := func(p string) (*rest.Config, error) {
		path = p
		fi, err := os.Stat(p)
		require.NoError(t, err)
		mode = fi.Mode().Perm()
		contents, err = os.ReadFile(p)
		require.NoError(t, err)
		return &rest.Config{Host: "https://shadow.example:6443", BearerToken: "kube-SECRET-7f3a9c"}, nil
	}
	fv := &fakeVerify{rep: sampleReport()}
	res := runAction(t, e, fv, func(d *Deps) { d.RestConfig = restConfig })
	require.Equal(t, ExitFail, res.code, res.stderr)
	assert.Equal(t, os.FileMode(0o600), mode)
	assert.Equal(t, strings.TrimSpace(kubeconfig), string(contents), "the input's contents (GetInput trims the ends)")
	_, err := os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "the kubeconfig file is removed after the run")
	require.NotNil(t, fv.opts.Kube)
	assert.Equal(t, "https://shadow.example:6443", fv.opts.Kube.Host)
	assert.Equal(t, verify.ShadowBoth, fv.opts.Shadow)
	assert.Regexp(t, `^gh-4242-1-[0-9a-f]{4}$`, fv.opts.ShadowOptions.RunID)
	assert.Equal(t, 5*time.Minute, fv.opts.ShadowOptions.HealthTimeout)

	outputs, _ := json.Marshal(res.outputs)
	for _, secret := range []string{"kube-SECRET-7f3a9c", testToken} {
		for where, text := range map[string]string{"stdout": res.stdout, "stderr": res.stderr, "summary": res.summary, "outputs": string(outputs)} {
			assert.NotContains(t, text, secret, where)
		}
		for _, c := range srv.Comments(2) {
			assert.NotContains(t, c.Body, secret)
		}
	}
}

// A cluster that cannot be loaded is bad input (2), and the kubeconfig
// file is removed all the same.
func TestActionKubeconfigBroken(t *testing.T) {
	e := newEnv(t, nil)
	e[inputEnv(InputShadow)] = verify.ShadowHead
	e[inputEnv(InputKubeconfig)] = "not: [a kubeconfig"
	var path string
	res := runAction(t, e, &fakeVerify{rep: sampleReport()}, func(d *Deps) {
		d.RestConfig = func(p string) (*rest.Config, error) { path = p; return nil, errors.New("invalid kubeconfig") }
	})
	assert.Equal(t, ExitBadInput, res.code)
	assert.Contains(t, res.stderr, "shadow head needs a cluster: invalid kubeconfig")
	assert.Equal(t, "error", res.outputs[OutputVerdict])
	_, err := os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.NotContains(t, res.stdout+res.stderr+res.summary, "not: [a kubeconfig")
}

// Errors before a verdict: the exit code tells bad input (2) from an
// infrastructure failure (3); the summary and an annotation say why; the
// verdict output is "error".
func TestActionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(env)
		err  error
		code int
		want string
	}{
		{"bad input", func(e env) { e[inputEnv(InputShadow)] = "sometimes" }, nil, ExitBadInput, "input shadow"},
		{"render error", nil, &manifest.SourceError{Location: manifest.Location{Path: "overlays/prod/x.yaml", Line: 3}, Msg: "mapping values are not allowed"}, ExitBadInput, "overlays/prod/x.yaml:3"},
		{"cluster down", nil, errors.New("shadow: connection refused"), ExitInfra, "connection refused"},
		{"no base", func(e env) {
			e[inputEnv(InputBaseDir)] = ""
			e.setEvent(t, "schedule", filepath.Join("testdata", "pull_request.json"))
		}, nil, ExitBadInput, "are required with the schedule event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if tc.edit != nil {
				tc.edit(e)
			}
			res := runAction(t, e, &fakeVerify{rep: sampleReport(), err: tc.err})
			assert.Equal(t, tc.code, res.code)
			assert.Contains(t, res.stderr, tc.want)
			assert.Contains(t, res.summary, "aegis: ERROR")
			assert.Contains(t, res.stdout, "::error title=aegis")
			assert.Equal(t, "error", res.outputs[OutputVerdict])
		})
	}
}

// A verdict of error (a scanner failed) is exit 3; an expired waiver is 2.
func TestActionVerdictCodes(t *testing.T) {
	rep := sampleReport()
	rep.Scanners[1].Status = report.StatusError
	rep.Scanners[1].Error = "crashed"
	res := runAction(t, newEnv(t, nil), &fakeVerify{rep: rep})
	assert.Equal(t, ExitInfra, res.code)
	assert.Equal(t, "error", res.outputs[OutputVerdict])

	var ann bytes.Buffer
	a := newAnnotator(githubactions.New(githubactions.WithWriter(&ann), githubactions.WithGetenv(env{}.get)), nil)
	code := verdictCode(&report.Report{Verdict: report.Pass, ExpiredWaivers: []report.ExpiredWaiver{{Owner: "sre", Expires: "2020-01-01", Location: report.Location{Path: ".aegis.yaml", Line: 9}}}}, a)
	assert.Equal(t, ExitBadInput, code)
	assert.Contains(t, ann.String(), ".aegis.yaml:9: waiver (owner sre) expired on 2020-01-01")
}

// A category separates two aegis steps: its own sticky comment, and its own
// code-scanning category in every run of the SARIF upload.
func TestActionCategory(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	theirs := srv.AddComment(2, "github-actions[bot]", commentMarker("")+"\nthe default category")
	e := newEnv(t, srv)
	e[inputEnv(InputCategory)] = "prod"
	res := runAction(t, e, &fakeVerify{rep: sampleReport()})
	require.Equal(t, ExitFail, res.code, res.stderr)
	comments := srv.Comments(2)
	require.Len(t, comments, 2)
	assert.Equal(t, theirs.Body, comments[0].Body)
	assert.True(t, strings.HasPrefix(comments[1].Body, "<!-- aegis:sticky-comment category=prod -->\n"))
	var log struct {
		Runs []struct {
			AutomationDetails struct{ ID string } `json:"automationDetails"`
		} `json:"runs"`
	}
	require.Len(t, srv.Uploads(), 1)
	require.NoError(t, json.Unmarshal(srv.Uploads()[0].SARIF, &log))
	require.NotEmpty(t, log.Runs)
	for _, r := range log.Runs {
		assert.Equal(t, "aegis/prod/posture/", r.AutomationDetails.ID)
	}
}

// A push compares the pushed commit with the one before; there is no pull
// request, so no comment, and the upload goes to the pushed ref.
func TestActionPush(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	e := newEnv(t, srv)
	base, head := gitWorkspace(t, e)
	e["GITHUB_REF"] = "refs/heads/main"
	e.setEvent(t, "push", writePayload(t, "push.json", func(m map[string]any) { m["before"], m["after"] = base, head }))
	fv := &fakeVerify{rep: sampleReport()}
	res := runAction(t, e, fv)
	require.Equal(t, ExitFail, res.code, res.stderr)
	assert.Equal(t, verify.Source{Revision: base}, fv.opts.Base)
	assert.Equal(t, verify.Source{Revision: head}, fv.opts.Head)
	require.Len(t, srv.Uploads(), 1)
	assert.Equal(t, "refs/heads/main", srv.Uploads()[0].Ref)
	assert.Equal(t, head, srv.Uploads()[0].CommitSHA)
	assert.Empty(t, srv.RequestsTo(`comments`))
	assert.Contains(t, res.summary, "Comment: none (the push event has no pull request)")
}
