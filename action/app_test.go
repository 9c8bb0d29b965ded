package action

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/verify"
)

// The app input verifies an Argo CD app by name: its path and Helm
// settings come from its Application, each side from its own (the head's
// Application sets a parameter the base's does not).
func TestActionApp(t *testing.T) {
	e := newEnv(t, nil)
	repo := e["GITHUB_WORKSPACE"]
	application := func(params string) string {
		return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec:\n  source:\n" +
			"    repoURL: https://github.com/Codertocat/Hello-World.git\n    path: deploy\n" +
			"    helm: {releaseName: web, parameters: [" + params + "]}\n  destination: {namespace: shop}\n"
	}
	git(t, repo, "init", "-q", "-b", "main")
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "deploy"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "deploy", "a.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "app.yaml"), []byte(application(`{name: a, value: "1"}`)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("output\nsummary\n*.sarif\n*.json\n"), 0o644))
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "base")
	base := git(t, repo, "rev-parse", "HEAD")
	require.NoError(t, os.WriteFile(filepath.Join(repo, "app.yaml"), []byte(application(`{name: a, value: "2"}`)), 0o644))
	git(t, repo, "commit", "-qam", "head")
	head := git(t, repo, "rev-parse", "HEAD")
	t.Chdir(repo)
	e[inputEnv(InputPath)], e[inputEnv(InputApp)] = ".", "web"
	e[inputEnv(InputBase)], e[inputEnv(InputHead)] = base, head
	e[inputEnv(InputBaseDir)], e[inputEnv(InputHeadDir)] = "", ""
	e["GITHUB_REPOSITORY"], e["GITHUB_SERVER_URL"] = "Codertocat/Hello-World", "https://github.com"
	e[inputEnv(InputComment)], e[inputEnv(InputUploadSarif)] = "false", "false"

	fv := &fakeVerify{rep: sampleReport()}
	res := runAction(t, e, fv)
	require.Equal(t, ExitFail, res.code, res.stderr)
	assert.Equal(t, "deploy", fv.opts.Path)
	assert.Equal(t, "web", fv.opts.Render.ReleaseName)
	assert.Equal(t, "shop", fv.opts.Render.Namespace, "the destination's namespace")
	assert.Equal(t, []string{"a=2"}, fv.opts.Render.Set, "the head's Application")
	require.NotNil(t, fv.opts.BaseRender)
	assert.Equal(t, []string{"a=1"}, fv.opts.BaseRender.Set, "the base's own Application")
	assert.Equal(t, verify.Source{Revision: base}, fv.opts.Base)
	assert.Contains(t, res.stderr+res.stdout, "app web: deploy on the head (app.yaml:1)")

	// With path or a render input: bad input, nothing verified.
	for k, v := range map[string]string{InputPath: "deploy", InputSet: "x=1"} {
		e2 := maps(e)
		e2[inputEnv(k)] = v
		fv := &fakeVerify{rep: sampleReport()}
		res := runAction(t, e2, fv)
		assert.Equal(t, ExitBadInput, res.code, k)
		assert.Contains(t, res.stderr+res.stdout, "inputs app and "+k+" are both set", k)
	}
}

func maps(e env) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	return out
}

// The apps input verifies several apps with one report (verify.RunApps):
// auto, all, or a matrix job's names; never with app or path.
func TestActionAppsInput(t *testing.T) {
	for _, tc := range []struct {
		apps string
		want verify.AppsOptions
	}{
		{"auto", verify.AppsOptions{}},
		{"all", verify.AppsOptions{All: true}},
		{"web-dev, web-prod", verify.AppsOptions{Names: []string{"web-dev", "web-prod"}}},
	} {
		t.Run(tc.apps, func(t *testing.T) {
			e := newEnv(t, nil)
			base, head := gitWorkspace(t, e)
			e[inputEnv(InputBase)], e[inputEnv(InputHead)] = base, head
			e[inputEnv(InputPath)], e[inputEnv(InputApps)] = ".", tc.apps
			e[inputEnv(InputComment)], e[inputEnv(InputUploadSarif)] = "false", "false"
			e["GITHUB_REPOSITORY"], e["GITHUB_SERVER_URL"] = "Codertocat/Hello-World", "https://github.com"
			var got *verify.AppsOptions
			fv := &fakeVerify{rep: sampleReport()}
			res := runAction(t, e, fv, func(d *Deps) {
				d.VerifyApps = func(ctx context.Context, o verify.Options, ao verify.AppsOptions) (*verify.Result, error) {
					got = &ao
					return fv.run(ctx, o)
				}
			})
			require.Equal(t, ExitFail, res.code, res.stderr)
			require.NotNil(t, got, "the apps input runs verify.RunApps")
			tc.want.RepoURLs = []string{"https://github.com/Codertocat/Hello-World"}
			assert.Equal(t, tc.want, *got)
		})
	}
	e := newEnv(t, nil)
	gitWorkspace(t, e)
	e[inputEnv(InputApps)], e[inputEnv(InputApp)] = "auto", "web"
	res := runAction(t, e, &fakeVerify{rep: sampleReport()})
	assert.Equal(t, ExitBadInput, res.code)
	assert.Contains(t, res.stderr+res.stdout, "inputs app and apps are both set")
}
