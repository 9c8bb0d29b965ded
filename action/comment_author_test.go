package action

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/action/fakegithub"
)

// The sticky comment is aegis's only if the token's identity wrote it: the
// marker alone proves nothing, since anyone can type it. GitHub lets a
// token with write access edit, delete and hide anyone's comment (the fake
// does too), so these tests hold aegis itself to the rule.

// minimizeRequests are the GraphQL requests that hide a comment (the
// identity lookup is GraphQL too).
func minimizeRequests(t *testing.T, srv *fakegithub.Server) []fakegithub.Request {
	t.Helper()
	var out []fakegithub.Request
	for _, r := range srv.RequestsTo(`^POST /graphql$`) {
		if strings.Contains(string(r.Body), "minimizeComment") {
			out = append(out, r)
		}
	}
	return out
}

// touched lists the comment ids aegis edited or deleted and the node ids it
// hid.
func touched(t *testing.T, srv *fakegithub.Server) (ids []string, nodes []string) {
	t.Helper()
	for _, r := range srv.RequestsTo(`^(PATCH|DELETE) /repos/.*/issues/comments/\d+$`) {
		ids = append(ids, r.Path[strings.LastIndex(r.Path, "/")+1:])
	}
	for _, r := range minimizeRequests(t, srv) {
		var q struct{ Variables map[string]string }
		require.NoError(t, json.Unmarshal(r.Body, &q))
		nodes = append(nodes, q.Variables["id"])
	}
	return ids, nodes
}

// assertUntouched: the comment exists, unchanged, not hidden, and aegis
// sent no request to change it.
func assertUntouched(t *testing.T, srv *fakegithub.Server, c fakegithub.Comment) {
	t.Helper()
	var now *fakegithub.Comment
	for _, x := range srv.Comments(c.PR) {
		if x.ID == c.ID {
			now = &x
		}
	}
	require.NotNil(t, now, "comment %d by %s was deleted", c.ID, c.User)
	assert.Equal(t, c.Body, now.Body, "comment %d by %s was edited", c.ID, c.User)
	assert.Equal(t, c.Updated, now.Updated)
	assert.False(t, now.Minimized, "comment %d by %s was hidden", c.ID, c.User)
	ids, nodes := touched(t, srv)
	assert.NotContains(t, ids, fmt.Sprint(c.ID))
	assert.NotContains(t, nodes, c.NodeID)
}

// aegisComments are the comments the token posted this run (by login).
func newComments(srv *fakegithub.Server, login string, before map[int64]bool) []fakegithub.Comment {
	var out []fakegithub.Comment
	for _, c := range srv.Comments(2) {
		if !before[c.ID] && c.User == login {
			out = append(out, c)
		}
	}
	return out
}

func ids(cs ...fakegithub.Comment) map[int64]bool {
	m := map[int64]bool{}
	for _, c := range cs {
		m[c.ID] = true
	}
	return m
}

// Someone starts a comment with aegis's marker (claiming a pass, say). In
// every comment mode aegis leaves it exactly as it is, handles its own
// earlier comment as the mode says, posts or updates its own, and names
// the other author in a warning.
func TestActionCommentOtherAuthorsMarker(t *testing.T) {
	for _, mode := range []string{CommentUpdate, CommentRecreate, CommentHideOld} {
		t.Run(mode, func(t *testing.T) {
			for _, withOwn := range []bool{false, true} {
				t.Run(fmt.Sprintf("own earlier comment %v", withOwn), func(t *testing.T) {
					srv := fakegithub.New(testToken)
					defer srv.Close()
					var own fakegithub.Comment
					if withOwn {
						own = srv.AddComment(2, "github-actions[bot]", commentMarker("")+"\nthe previous run's report")
					}
					// After aegis's: the latest marked comment, which
					// update mode used to edit.
					forged := srv.AddComment(2, "mallory", commentMarker("")+"\n### ✅ aegis: PASS")
					e := newEnv(t, srv)
					e[inputEnv(InputCommentMode)] = mode
					res := runAction(t, e, &fakeVerify{rep: sampleReport()})
					require.Equal(t, ExitFail, res.code, res.stderr)

					assertUntouched(t, srv, forged)
					assert.Contains(t, res.stderr, fmt.Sprintf(`warning: comment %d on #2 starts with aegis's marker but was written by "mallory", not by the token's identity "github-actions[bot]": aegis leaves it as it is`, forged.ID))

					posted := newComments(srv, "github-actions[bot]", ids(own, forged))
					after := map[int64]fakegithub.Comment{}
					for _, c := range srv.Comments(2) {
						after[c.ID] = c
					}
					switch {
					case withOwn && mode == CommentUpdate:
						assert.Empty(t, posted, "its own comment is updated in place")
						assert.Contains(t, after[own.ID].Body, "❌ aegis: FAIL")
						assert.Equal(t, fmt.Sprintf("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-%d", own.ID), res.outputs[OutputCommentURL])
					case withOwn && mode == CommentRecreate:
						assert.NotContains(t, after, own.ID, "its own old comment is deleted")
					case withOwn && mode == CommentHideOld:
						assert.True(t, after[own.ID].Minimized, "its own old comment is hidden")
					}
					if !withOwn || mode != CommentUpdate {
						require.Len(t, posted, 1, res.stderr)
						assert.Contains(t, posted[0].Body, "❌ aegis: FAIL")
						assert.Equal(t, fmt.Sprintf("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-%d", posted[0].ID), res.outputs[OutputCommentURL])
					}
				})
			}
		})
	}
}

// The identity comes from GitHub (GraphQL viewer), which knows every kind of
// token: the workflow's GITHUB_TOKEN, a GitHub App's installation token
// (GET /user refuses both), a personal token. Each recognises its own
// comment among marked comments of the others.
func TestActionCommentIdentityFromToken(t *testing.T) {
	const appToken, pat = "ghs_appInstallationToken0123456789", "github_pat_11AAAAAAA0123456789"
	for _, tc := range []struct {
		name, token, login string
	}{
		{"GITHUB_TOKEN", testToken, "github-actions[bot]"},
		{"GitHub App", appToken, "aegis-checks[bot]"},
		{"personal token", pat, "octo-ops"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakegithub.New(testToken)
			defer srv.Close()
			srv.AddToken(appToken, fakegithub.Identity{Login: "aegis-checks[bot]", Kind: fakegithub.KindInstallation, Write: true})
			srv.AddToken(pat, fakegithub.Identity{Login: "octo-ops", Kind: fakegithub.KindPersonal, Write: true})
			byLogin := map[string]fakegithub.Comment{}
			for _, login := range []string{"github-actions[bot]", "aegis-checks[bot]", "octo-ops"} {
				byLogin[login] = srv.AddComment(2, login, commentMarker("")+"\nreport by "+login)
			}
			e := newEnv(t, srv)
			e[inputEnv(InputToken)] = tc.token
			res := runAction(t, e, &fakeVerify{rep: sampleReport()})
			require.Equal(t, ExitFail, res.code, res.stderr)

			patches := srv.RequestsTo(`^PATCH `)
			require.Len(t, patches, 1, res.stderr)
			assert.Equal(t, fmt.Sprintf("/repos/Codertocat/Hello-World/issues/comments/%d", byLogin[tc.login].ID), patches[0].Path)
			for login, c := range byLogin {
				if login != tc.login {
					assertUntouched(t, srv, c)
					assert.Contains(t, res.stderr, fmt.Sprintf("written by %q, not by the token's identity %q", login, tc.login))
				}
			}
			assert.Len(t, srv.RequestsTo(`^POST /graphql$`), 1, "one identity lookup")
			assert.Empty(t, srv.RequestsTo(`^GET /user$`))
			assert.Empty(t, srv.RequestsTo(`^POST /repos/.*/comments$`))
		})
	}
}

// comment-author overrides the lookup: no identity request, and only that
// login's comment is aegis's. A wrong value is noticed when GitHub names
// the author of the comment aegis posts.
func TestActionCommentAuthorInput(t *testing.T) {
	t.Run("override", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		srv.BotLogin = "aegis-checks[bot]" // the token is an app's
		defer srv.Close()
		mine := srv.AddComment(2, "aegis-checks[bot]", commentMarker("")+"\nold")
		theirs := srv.AddComment(2, "github-actions[bot]", commentMarker("")+"\nby another workflow's token")
		e := newEnv(t, srv)
		e[inputEnv(InputCommentAuthor)] = " Aegis-Checks[bot] " // logins compare case-insensitively
		res := runAction(t, e, &fakeVerify{rep: sampleReport()})
		require.Equal(t, ExitFail, res.code, res.stderr)
		assert.Empty(t, srv.RequestsTo(`^POST /graphql$`), "no identity lookup")
		assertUntouched(t, srv, theirs)
		patches := srv.RequestsTo(`^PATCH `)
		require.Len(t, patches, 1)
		assert.Equal(t, fmt.Sprintf("/repos/Codertocat/Hello-World/issues/comments/%d", mine.ID), patches[0].Path)
	})
	t.Run("wrong value", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		e := newEnv(t, srv)
		e[inputEnv(InputCommentAuthor)] = "aegis-checks[bot]"
		res := runAction(t, e, &fakeVerify{rep: sampleReport()})
		require.Equal(t, ExitFail, res.code, res.stderr)
		c := srv.Comments(2)
		require.Len(t, c, 1)
		assert.Contains(t, res.stderr, fmt.Sprintf(`warning: GitHub posted comment %d as "github-actions[bot]", but aegis took the token for "aegis-checks[bot]": the next run will not recognise the comment as its own; set the comment-author input to "github-actions[bot]"`, c[0].ID))
	})
	t.Run("not a login", func(t *testing.T) {
		for _, v := range []string{"two words", "x\n::error::", "-lead", "a[bot][bot]"} {
			e := env{inputEnv(InputCommentAuthor): v}
			_, err := readInputs(githubactions.New(githubactions.WithGetenv(e.get)))
			require.Error(t, err, v)
			assert.Contains(t, err.Error(), "input comment-author: ")
			assert.Contains(t, err.Error(), "is not a GitHub login")
		}
	})
}

// When GitHub cannot say who the token is, no marked comment is aegis's:
// it posts a new one and leaves every other as it is.
func TestActionCommentIdentityUnknown(t *testing.T) {
	srv := fakegithub.New(testToken)
	defer srv.Close()
	old := srv.AddComment(2, "github-actions[bot]", commentMarker("")+"\nold")
	e := newEnv(t, srv)
	e["GITHUB_GRAPHQL_URL"] = srv.URL + "/no-graphql-here"
	e[inputEnv(InputCommentMode)] = CommentRecreate
	res := runAction(t, e, &fakeVerify{rep: sampleReport()})
	require.Equal(t, ExitFail, res.code, res.stderr)
	assertUntouched(t, srv, old)
	assert.Contains(t, res.stderr, "warning: could not learn who the token is")
	assert.Contains(t, res.stderr, fmt.Sprintf(`comment %d on #2 by "github-actions[bot]" starts with aegis's marker, but the token's identity is unknown`, old.ID))
	require.Len(t, srv.Comments(2), 2)
	assert.Contains(t, srv.Comments(2)[1].Body, "❌ aegis: FAIL")
}
