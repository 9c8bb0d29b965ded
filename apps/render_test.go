package apps

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/render"
)

func TestRenderOptions(t *testing.T) {
	a := App{Name: "shop", Destination: Destination{Namespace: "prod"}, Sources: []Source{
		{RepoURL: repoURL, Path: "charts/shop", Helm: &Helm{
			ValueFiles: []string{"values.yaml", "$values/envs/prod/shop.yaml"},
			Parameters: []HelmParameter{{Name: "a", Value: "x,y"}, {Name: "b", Value: "1", ForceString: true}},
			FileParams: []HelmFileParam{{Name: "cfg", Path: "files/cfg.txt"}},
			Values:     "replicas: 2\n",
		}},
		{RepoURL: repoURL, Ref: "values"},
	}}
	path, opts, err := a.RenderOptions(t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, "charts/shop", path)
	assert.Equal(t, "shop", opts.ReleaseName, "Argo CD's default release name is the app's")
	assert.Equal(t, "prod", opts.Namespace, "the destination's namespace")
	require.Len(t, opts.ValuesFiles, 3)
	assert.Equal(t, []string{"values.yaml", "../../envs/prod/shop.yaml"}, opts.ValuesFiles[:2], "a $values ref, relative to the chart")
	inline, err := os.ReadFile(opts.ValuesFiles[2])
	require.NoError(t, err)
	assert.Equal(t, "replicas: 2\n", string(inline), "inline values last, as Argo CD applies them")
	assert.Equal(t, []string{`a=x\,y`}, opts.Set)
	assert.Equal(t, []string{"b=1"}, opts.SetString)
	assert.Equal(t, []string{"cfg=files/cfg.txt"}, opts.SetFile)

	for _, tc := range []struct {
		app  App
		want string
	}{
		{App{Name: "k", Sources: []Source{{RepoURL: repoURL, Path: "x", Kustomize: &Kustomize{NamePrefix: "p-"}}}}, "kustomize options (namePrefix) are not applied"},
		{App{Name: "two", Sources: []Source{{RepoURL: repoURL, Path: "a"}, {RepoURL: repoURL, Path: "b"}}}, "more than one source with a path"},
		{App{Name: "v", Unverifiable: "its source x is another repository"}, "cannot be verified from this repository"},
		{App{Name: "r", Sources: []Source{{RepoURL: repoURL, Path: "a", Helm: &Helm{ValueFiles: []string{"$nope/x.yaml"}}}}}, "names $nope, which no source of the app defines"},
		{App{Name: "p", Sources: []Source{{RepoURL: repoURL, Path: "a", Plugin: &Plugin{Name: "cmp"}}}}, "config management plugin"},
		// The Application is the pull request's: nothing outside the
		// repository may be read through it.
		{App{Name: "abs", Sources: []Source{{RepoURL: repoURL, Path: "a", Helm: &Helm{ValueFiles: []string{"/home/runner/.docker/config.json"}}}}}, "is not a file of the repository"},
		{App{Name: "up", Sources: []Source{{RepoURL: repoURL, Path: "a", Helm: &Helm{ValueFiles: []string{"../../../etc/passwd"}}}}}, "is not a file of the repository"},
		{App{Name: "fp", Sources: []Source{{RepoURL: repoURL, Path: "a", Helm: &Helm{FileParams: []HelmFileParam{{Name: "k", Path: "/etc/shadow"}}}}}}, "is not a file of the repository"},
		{App{Name: "src", Sources: []Source{{RepoURL: repoURL, Path: "../outside"}}}, "leaves the repository"},
		{App{Name: "srcabs", Sources: []Source{{RepoURL: repoURL, Path: "/etc"}}}, "is not a path in the repository"},
		{App{Name: "lib", Sources: []Source{{RepoURL: repoURL, Path: "a", Directory: &Directory{Jsonnet: &render.JsonnetConfig{Libs: []string{"/usr/share"}}}}}}, "is not a path in the repository"},
	} {
		tc.app.Origin.Path, tc.app.Origin.Line = "argocd/x.yaml", 3
		_, _, err := tc.app.RenderOptions(t.TempDir())
		require.Error(t, err, tc.app.Name)
		assert.Contains(t, err.Error(), tc.want)
		assert.Contains(t, err.Error(), "argocd/x.yaml:3: app "+tc.app.Name)
	}
}
