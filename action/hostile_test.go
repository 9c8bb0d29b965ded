package action

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/verify"
)

// A base or head that git could read as an option, a blank one, or one with
// control characters is refused before git ever runs, whether it comes from
// the event payload or from an input.
func TestActionHostileRevisions(t *testing.T) {
	sha := func(side, v string) string {
		return writePayload(t, "pull_request.json", func(m map[string]any) {
			m["pull_request"].(map[string]any)[side].(map[string]any)["sha"] = v
		})
	}
	for _, tc := range []struct {
		name    string
		payload string
		in      Inputs
		want    string
	}{
		{"base sha is an option", sha("base", "--output=/tmp/aegis-pwned"), Inputs{}, `the pull_request event's base revision "--output=/tmp/aegis-pwned" starts with '-'`},
		{"head sha is an option", sha("head", "-c"), Inputs{}, `the pull_request event's head revision "-c" starts with '-'`},
		{"head sha is blank", sha("head", "   "), Inputs{}, "the pull_request event's head revision is blank"},
		{"base sha with a line break", sha("base", "main\n--upload-pack=x"), Inputs{}, "control characters"},
		{"base input is an option", filepath.Join("testdata", "pull_request.json"), Inputs{Base: "--upload-pack=touch /tmp/x"}, `input base "--upload-pack=touch /tmp/x" starts with '-'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveTarget(EventPullRequest, payloadOf(t, tc.payload), tc.in, "refs/pull/2/merge", headSHA)
			require.Error(t, err)
			assert.True(t, verify.IsBadInput(err), "exit 2")
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	// A directory whose name starts with '-' is a directory (base-dir),
	// never a revision: git would read it as an option.
	dir := filepath.Join(t.TempDir(), "-odd")
	require.NoError(t, os.Mkdir(dir, 0o755))
	assert.NoError(t, verify.CheckSource("base", verify.Source{Dir: dir}, "input base", "input base-dir"))
	assert.Error(t, verify.CheckRevision("input base", "-odd"))
	assert.NoError(t, verify.CheckRevision("input base", "HEAD~1"))
	assert.NoError(t, verify.CheckRevision("input base", baseSHA+"^1"))
}

func TestActionPayloadNotUTF8(t *testing.T) {
	p := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"pull_request":{"base":{"sha":"a`+"\xff"+`"}}}`), 0o644))
	_, err := readPayload(p)
	require.Error(t, err)
	assert.True(t, verify.IsBadInput(err))
	assert.Contains(t, err.Error(), "is not valid UTF-8")
}
