package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/action/fakegithub"
)

// trustActionCases are hostile-corpus cases of issue 13 ("the change under
// review cannot choose its own base, policy, rules or verdict").
func trustActionCases() []hostileCase {
	var cases []hostileCase
	cases = append(cases, stickyCommentCases()...)
	return cases
}

// The sticky comment: anyone can start a comment with aegis's marker, and
// GitHub lets the workflow's token (pull-requests: write) edit, delete and
// hide anyone's comment. A comment by another user that carries the marker
// (here a forged PASS) must stay exactly as it is in every comment mode;
// aegis posts its own and names the other author in a warning.

// forgedComment is the comment an attacker posts on the pull request: the
// marker of aegis's default category and a verdict aegis did not give.
const forgedComment = "<!-- aegis:sticky-comment category=default -->\n### ✅ aegis: PASS\n\nNothing to see here.\n"

func stickyCommentCases() []hostileCase {
	var cases []hostileCase
	for _, mode := range []string{"update", "recreate", "hide-old"} {
		cases = append(cases, hostileCase{
			entry: entryEvent, name: "another user's comment with aegis's marker, comment-mode " + mode, code: exitPass,
			want: `aegis: warning: comment \d+ on #2 starts with aegis's marker but was written by "mallory", not by the token's identity "github-actions\[bot\]": aegis leaves it as it is`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := commentPR(t, dir, map[string]string{"comment-mode": mode})
				inv.seed = func(s *fakegithub.Server) { s.AddComment(2, "mallory", forgedComment) }
				return inv
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				forged := commentBy(t, r, "mallory")
				assertCommentUntouched(t, r, forged, forgedComment)
				own := commentBy(t, r, "github-actions[bot]")
				assert.True(t, strings.HasPrefix(own.Body, "<!-- aegis:sticky-comment category=default -->\n"), own.Body)
				assert.Contains(t, own.Body, "aegis: PASS")
				assert.Equal(t, fmt.Sprintf("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-%d", own.ID), r.files["output comment-url"])
			},
		})
	}
	return append(cases,
		// The token is a GitHub App's (its comments are aegis-checks[bot]'s);
		// the workflow says so, and the GITHUB_TOKEN's older marked
		// comment, the newest one, is someone else's.
		hostileCase{
			entry: entryEvent, name: "comment-author input: only that login's comment is updated", code: exitPass,
			want: `comment \d+ on #2 starts with aegis's marker but was written by "github-actions\[bot\]", not by the token's identity "aegis-checks\[bot\]"`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := commentPR(t, dir, map[string]string{"comment-author": "aegis-checks[bot]"})
				inv.seed = func(s *fakegithub.Server) {
					s.BotLogin = "aegis-checks[bot]"
					s.AddComment(2, "aegis-checks[bot]", forgedComment+"(the app's previous run)\n")
					s.AddComment(2, "github-actions[bot]", forgedComment)
				}
				return inv
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assertCommentUntouched(t, r, commentBy(t, r, "github-actions[bot]"), forgedComment)
				own := commentBy(t, r, "aegis-checks[bot]")
				assert.NotContains(t, own.Body, "previous run", "updated in place")
				assert.Len(t, r.github.RequestsTo(`^PATCH /repos/Codertocat/Hello-World/issues/comments/`+fmt.Sprint(own.ID)+`$`), 1)
				assert.Empty(t, r.github.RequestsTo(`^POST /graphql$`), "the input spares the identity lookup")
				assert.Empty(t, r.github.RequestsTo(`^POST /repos/.*/comments$`))
			},
		},
		// A personal token: GitHub says its user is octo-ops. A marked
		// comment by someone else after octo-ops' is not aegis's.
		hostileCase{
			entry: entryEvent, name: "personal token: the identity is its user", code: exitPass,
			want: `comment \d+ on #2 starts with aegis's marker but was written by "mallory", not by the token's identity "octo-ops"`,
			prepare: func(t *testing.T, dir string) invocation {
				const pat = "github_pat_11HOSTILE0123456789abcdef"
				inv := commentPR(t, dir, map[string]string{"token": pat})
				inv.seed = func(s *fakegithub.Server) {
					s.AddToken(pat, fakegithub.Identity{Login: "octo-ops", Kind: fakegithub.KindPersonal, Write: true})
					s.AddComment(2, "octo-ops", forgedComment+"(octo-ops' previous run)\n")
					s.AddComment(2, "mallory", forgedComment)
				}
				return inv
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assertCommentUntouched(t, r, commentBy(t, r, "mallory"), forgedComment)
				own := commentBy(t, r, "octo-ops")
				assert.NotContains(t, own.Body, "previous run", "updated in place")
				assert.Empty(t, r.github.RequestsTo(`^POST /repos/.*/comments$`))
			},
		},
	)
}

// commentPR makes the case's directory a git repository with a base commit
// (base/app.yaml, a good Deployment) and a head commit that adds a
// ConfigMap beside it, and runs the action on the pull_request event of the
// two: a verification that passes and gets as far as the comment. The
// policy is the directory's .aegis.yaml, named by absolute path.
func commentPR(t *testing.T, dir string, inputs map[string]string) invocation {
	t.Helper()
	git := gitIn(t, dir)
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-qm", "base")
	base := git("rev-parse", "HEAD")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "base", "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: b\n"), 0o644))
	git("add", "-A")
	git("commit", "-qm", "head")
	head := git("rev-parse", "HEAD")
	in := map[string]string{"shadow": "off", "path": filepath.Join(dir, "base"), "config": filepath.Join(dir, ".aegis.yaml")}
	for k, v := range inputs {
		in[k] = v
	}
	return invocation{cmd: "action", payload: eventPayload(t, dir, base, head), inputs: in}
}

// commentBy is the one comment on pull request #2 by login.
func commentBy(t *testing.T, r hostileResult, login string) fakegithub.Comment {
	t.Helper()
	var found []fakegithub.Comment
	for _, c := range r.github.Comments(2) {
		if c.User == login {
			found = append(found, c)
		}
	}
	require.Len(t, found, 1, "comments by %s", login)
	return found[0]
}

// assertCommentUntouched: the comment still has its body, is not hidden,
// and aegis sent no edit, delete or minimize for it.
func assertCommentUntouched(t *testing.T, r hostileResult, c fakegithub.Comment, body string) {
	t.Helper()
	assert.Equal(t, body, c.Body, "comment %d by %s", c.ID, c.User)
	assert.False(t, c.Minimized, "comment %d by %s is hidden", c.ID, c.User)
	assert.Equal(t, c.Created, c.Updated, "comment %d by %s was edited", c.ID, c.User)
	assert.Zero(t, len(r.github.RequestsTo(fmt.Sprintf(`^(PATCH|DELETE) /repos/Codertocat/Hello-World/issues/comments/%d$`, c.ID))), "edits and deletes of comment %d by %s", c.ID, c.User)
	for _, q := range r.github.RequestsTo(`^POST /graphql$`) {
		assert.False(t, strings.Contains(string(q.Body), c.NodeID), "minimizeComment of comment %d by %s", c.ID, c.User)
	}
}
