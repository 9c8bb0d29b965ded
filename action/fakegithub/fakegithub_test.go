package fakegithub

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func call(t *testing.T, s *Server, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &out), string(data))
	}
	return resp.StatusCode, out
}

// The server applies GitHub's rules on comments: write access moderates
// anyone's comment; without it a user changes only their own, and hides
// none; a read-only installation token writes nothing.
func TestCommentPermissions(t *testing.T) {
	s := New("ghs_bot")
	defer s.Close()
	s.AddToken("ghp_reader", Identity{Login: "reader", Kind: KindPersonal})
	s.AddToken("ghs_readonly", Identity{Login: "some-app[bot]", Kind: KindInstallation})
	theirs := s.AddComment(2, "octocat", "hello")
	own := s.AddComment(2, "reader", "mine")
	patch := func(token string, c Comment) int {
		code, _ := call(t, s, token, http.MethodPatch, fmt.Sprintf("/repos/o/r/issues/comments/%d", c.ID), `{"body":"edited"}`)
		return code
	}
	minimize := func(token string, c Comment) map[string]any {
		_, out := call(t, s, token, http.MethodPost, "/graphql", fmt.Sprintf(`{"query":"mutation($id: ID!) { minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) { minimizedComment { isMinimized } } }","variables":{"id":%q}}`, c.NodeID))
		return out
	}

	assert.Equal(t, http.StatusForbidden, patch("ghp_reader", theirs), "a user without write cannot edit another's comment")
	code, _ := call(t, s, "ghp_reader", http.MethodDelete, fmt.Sprintf("/repos/o/r/issues/comments/%d", theirs.ID), "")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, http.StatusOK, patch("ghp_reader", own), "but their own")
	assert.Contains(t, fmt.Sprint(minimize("ghp_reader", own)["errors"]), "reader does not have the correct permissions to execute `MinimizeComment`")
	assert.Equal(t, http.StatusForbidden, patch("ghs_readonly", theirs))
	assert.Contains(t, fmt.Sprint(minimize("ghs_readonly", theirs)["errors"]), "Resource not accessible by integration")
	assert.Equal(t, "hello", s.Comments(2)[0].Body)
	assert.False(t, s.Comments(2)[0].Minimized)

	// Write access is moderation: GitHub lets it edit and hide anyone's.
	assert.Equal(t, http.StatusOK, patch("ghs_bot", theirs))
	assert.Nil(t, minimize("ghs_bot", theirs)["errors"])
	assert.Equal(t, "edited", s.Comments(2)[0].Body)
	assert.True(t, s.Comments(2)[0].Minimized)

	// A comment's author is the token that created it.
	code, out := call(t, s, "ghp_reader", http.MethodPost, "/repos/o/r/issues/2/comments", `{"body":"new"}`)
	require.Equal(t, http.StatusCreated, code)
	assert.Equal(t, "reader", out["user"].(map[string]any)["login"])
	assert.Equal(t, "User", out["user"].(map[string]any)["type"])
}

// GET /user answers a personal token with its user and refuses an
// installation token; the GraphQL viewer answers both.
func TestIdentityEndpoints(t *testing.T) {
	s := New("ghs_bot")
	defer s.Close()
	s.AddToken("ghp_user", Identity{Login: "octo-ops", Kind: KindPersonal, Write: true})
	code, out := call(t, s, "ghp_user", http.MethodGet, "/user", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "octo-ops", out["login"])
	code, out = call(t, s, "ghs_bot", http.MethodGet, "/user", "")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, "Resource not accessible by integration", out["message"])
	for token, login := range map[string]string{"ghp_user": "octo-ops", "ghs_bot": "github-actions[bot]"} {
		_, out = call(t, s, token, http.MethodPost, "/graphql", `{"query":"query { viewer { login } }"}`)
		assert.Equal(t, login, out["data"].(map[string]any)["viewer"].(map[string]any)["login"])
	}
	code, _ = call(t, s, "ghp_unknown", http.MethodGet, "/user", "")
	assert.Equal(t, http.StatusUnauthorized, code)
}
