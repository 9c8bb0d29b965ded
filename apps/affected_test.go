package apps

import (
	"maps"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func app(name, path, extra string) string {
	return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: " + name + "}\nspec:\n  source:\n    repoURL: " + repoURL + "\n    path: " + path + "\n" + extra
}

// A repository whose two overlays share a base, with a multi-source Helm
// app whose values come from a $values ref, and a git files generator.
func sharedBaseRepo() fstest.MapFS {
	return fstest.MapFS{
		"bases/web/kustomization.yaml":      file("resources: [deployment.yaml]\nconfigMapGenerator:\n- name: cfg\n  files: [app.conf, key=extra.txt]\n"),
		"bases/web/deployment.yaml":         file("kind: Deployment\n"),
		"bases/web/app.conf":                file("x=1\n"),
		"bases/web/extra.txt":               file("y\n"),
		"components/tls/kustomization.yaml": file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches: [{path: tls.yaml}]\n"),
		"components/tls/tls.yaml":           file("kind: Deployment\n"),
		"overlays/dev/kustomization.yaml":   file("resources: [../../bases/web]\n"),
		"overlays/prod/kustomization.yaml":  file("resources: [../../bases/web, https://example.com/remote.yaml]\ncomponents: [../../components/tls]\npatches: [{path: replicas.yaml}]\n"),
		"overlays/prod/replicas.yaml":       file("kind: Deployment\n"),
		"charts/shop/Chart.yaml":            file("apiVersion: v2\nname: shop\nversion: 1.0.0\n"),
		"charts/shop/templates/deploy.yaml": file("kind: Deployment\n"),
		"values/prod.yaml":                  file("replicas: 3\n"),
		"envs/dev/config.json":              file(`{"env": "dev"}`),
		"envs/prod/config.json":             file(`{"env": "prod"}`),
		"README.md":                         file("# docs\n"),
		"argocd/web-dev.yaml":               file(app("web-dev", "overlays/dev", "")),
		"argocd/web-prod.yaml":              file(app("web-prod", "overlays/prod", "")),
		"argocd/shop.yaml": file(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  sources:
  - repoURL: ` + repoURL + `
    path: charts/shop
    helm: {valueFiles: [$values/values/prod.yaml]}
  - repoURL: ` + repoURL + `
    ref: values
`),
		"argocd/envs.yaml": file(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: envs}
spec:
  generators:
  - git: {repoURL: ` + repoURL + `, files: [{path: "envs/*/config.json"}]}
  template:
    metadata: {name: 'api-{{env}}'}
    spec: {source: {repoURL: ` + repoURL + `, path: apps/api}}
`),
	}
}

func discover(t *testing.T, repo fstest.MapFS) *Result {
	t.Helper()
	res, err := Discover(repo, Options{RepoURLs: []string{repoURL}})
	require.NoError(t, err)
	return res
}

func names(s Selection) []string {
	var out []string
	for _, a := range s.Apps {
		out = append(out, a.Name)
	}
	return out
}

func TestAffected(t *testing.T) {
	repo := sharedBaseRepo()
	res := discover(t, repo)
	for _, tc := range []struct {
		changed []string
		want    []string
		why     string
	}{
		{[]string{"bases/web/deployment.yaml"}, []string{"web-dev", "web-prod"}, "a kustomize resource of the app"},
		{[]string{"bases/web/extra.txt"}, []string{"web-dev", "web-prod"}, "a file the app's kustomization reads"},
		{[]string{"bases/web/new-file.yaml"}, []string{"web-dev", "web-prod"}, "a kustomize base or component of the app"},
		{[]string{"components/tls/tls.yaml"}, []string{"web-prod"}, "a file the app's kustomization reads"},
		{[]string{"overlays/prod/replicas.yaml"}, []string{"web-prod"}, "a file the app's kustomization reads"},
		{[]string{"overlays/prod/other.yaml"}, []string{"web-prod"}, "the app's source directory"},
		{[]string{"values/prod.yaml"}, []string{"shop"}, "a Helm values file of the app"},
		{[]string{"charts/shop/templates/deploy.yaml"}, []string{"shop"}, "the app's source directory"},
		{[]string{"envs/prod/config.json"}, []string{"api-prod"}, "the app's generator reads it"},
		{[]string{"argocd/envs.yaml"}, []string{"api-dev", "api-prod"}, "it declares the app"},
		{[]string{"README.md"}, nil, ""},
	} {
		sel := Affected(repo, repo, res, res, tc.changed)
		assert.Equal(t, tc.want, names(sel), "%v", tc.changed)
		assert.False(t, sel.All, "%v", tc.changed)
		if tc.why != "" && len(sel.Apps) > 0 {
			assert.Contains(t, sel.Apps[0].Why[0], tc.why, "%v", tc.changed)
		}
	}
	sel := Affected(repo, repo, res, res, []string{"README.md"})
	assert.Equal(t, []string{"README.md"}, sel.Ignored)

	// A manifest file no app names: every app, and why.
	sel = Affected(repo, repo, res, res, []string{"misc/policy.yaml"})
	assert.True(t, sel.All)
	assert.Equal(t, []string{"misc/policy.yaml"}, sel.Unattributed)
	assert.Len(t, sel.Apps, len(res.Apps))
	assert.Contains(t, sel.Apps[0].Why[0], "no app's inputs name it")
}

func TestAffectedAddedAndRemoved(t *testing.T) {
	base := sharedBaseRepo()
	head := maps.Clone(base)
	delete(head, "argocd/web-dev.yaml")
	head["argocd/new.yaml"] = file(app("new", "overlays/dev", ""))
	sel := Affected(base, head, discover(t, base), discover(t, head), []string{"argocd/web-dev.yaml", "argocd/new.yaml"})
	assert.Equal(t, []string{"new", "web-dev"}, names(sel))
	assert.Equal(t, "the change adds it", sel.Apps[0].Why[0])
	assert.Equal(t, "the change removes it", sel.Apps[1].Why[0])
}
