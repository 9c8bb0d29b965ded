package apps

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const repoURL = "https://github.com/acme/gitops.git"

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

// A monorepo as teams lay one out: an app-of-apps directory of
// Applications, and ApplicationSets over the apps/ and envs/ directories.
func monorepo() fstest.MapFS {
	return fstest.MapFS{
		"apps/web/kustomization.yaml":  file("resources: []\n"),
		"apps/api/kustomization.yaml":  file("resources: []\n"),
		"apps/skip/kustomization.yaml": file("resources: []\n"),
		"charts/shop/Chart.yaml":       file("apiVersion: v2\nname: shop\nversion: 1.0.0\n"),
		"envs/dev/config.json":         file(`{"env": "dev", "cluster": {"name": "dev-1"}, "replicas": 1}`),
		"envs/prod/config.json":        file(`{"env": "prod", "cluster": {"name": "prod-eu"}, "replicas": 3}`),
		"README.md":                    file("# not yaml\n"),
		"charts/shop/templates/x.yaml": file("kind: {{ .Values.kind }}\n"), // a template, not a manifest
		"argocd/apps/monitoring.yaml": file(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: monitoring
  namespace: argocd
spec:
  project: platform
  source:
    repoURL: git@github.com:acme/gitops.git
    path: platform/monitoring
    targetRevision: HEAD
    helm:
      releaseName: mon
      valueFiles: [values-prod.yaml]
      parameters:
      - {name: replicas, value: "2"}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
spec:
  sources:
  - repoURL: https://charts.example.com
    chart: shop
    targetRevision: 1.2.3
    helm:
      valueFiles: [$values/envs/prod/shop.yaml]
  - repoURL: https://github.com/acme/gitops
    ref: values
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: vendor
spec:
  source:
    repoURL: https://github.com/vendor/manifests
    path: deploy
`),
		"argocd/appsets/dirs.yaml": file(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: dirs
spec:
  generators:
  - git:
      repoURL: https://github.com/acme/gitops
      revision: HEAD
      directories:
      - path: apps/*
      - path: apps/skip
        exclude: true
  template:
    metadata:
      name: '{{path.basename}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{path}}'
        kustomize:
          namePrefix: '{{path[1]}}-'
`),
		"argocd/appsets/envs.yaml": file(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: envs
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - matrix:
      generators:
      - git:
          repoURL: https://github.com/acme/gitops
          revision: HEAD
          files:
          - path: envs/**/config.json
      - list:
          elements:
          - component: shop
            chart: charts/shop
  template:
    metadata:
      name: '{{ .component }}-{{ .env }}'
    spec:
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{ .chart }}'
        helm:
          releaseName: '{{ .component | upper }}'
          valueFiles: ['values-{{ .path.basename }}.yaml']
          parameters:
          - name: replicaCount
            value: '{{ .replicas }}'
`),
		"argocd/appsets/clusters.yaml": file(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: per-cluster
spec:
  generators:
  - clusters: {}
  template:
    metadata: {name: '{{name}}-guestbook'}
    spec:
      source: {repoURL: https://github.com/acme/gitops, path: guestbook}
`),
	}
}

func TestDiscoverMonorepo(t *testing.T) {
	res, err := Discover(monorepo(), Options{RepoURLs: []string{repoURL}})
	require.NoError(t, err)
	byName := map[string]App{}
	var names []string
	for _, a := range res.Apps {
		byName[a.Name] = a
		names = append(names, a.Name)
	}
	assert.Equal(t, []string{"api", "monitoring", "shop", "shop-dev", "shop-prod", "vendor", "web"}, names, "sorted; apps/skip excluded")

	mon := byName["monitoring"]
	assert.Empty(t, mon.Unverifiable, "git@github.com:acme/gitops.git is this repository")
	assert.Equal(t, "argocd/apps/monitoring.yaml:1", mon.Origin.String())
	assert.Equal(t, "mon", mon.Sources[0].Helm.ReleaseName)
	assert.Equal(t, []HelmParameter{{Name: "replicas", Value: "2"}}, mon.Sources[0].Helm.Parameters)

	assert.Contains(t, byName["shop"].Unverifiable, "chart shop comes from the Helm repository https://charts.example.com")
	assert.Contains(t, byName["vendor"].Unverifiable, "https://github.com/vendor/manifests is another repository")

	web := byName["web"]
	assert.Equal(t, "apps/web", web.Sources[0].Path)
	assert.Equal(t, "web-", web.Sources[0].Kustomize.NamePrefix, "path[1] is the second segment")
	assert.Equal(t, "argocd/appsets/dirs.yaml:1", web.Origin.String())
	assert.Contains(t, web.Generator, "ApplicationSet dirs, generator 0 (git directories)")

	prod := byName["shop-prod"]
	require.Len(t, prod.Sources, 1)
	assert.Equal(t, "charts/shop", prod.Sources[0].Path)
	assert.Equal(t, "SHOP", prod.Sources[0].Helm.ReleaseName, "sprig's upper")
	assert.Equal(t, []string{"values-prod.yaml"}, prod.Sources[0].Helm.ValueFiles, "the file's directory basename")
	assert.Equal(t, "3", prod.Sources[0].Helm.Parameters[0].Value)

	require.Len(t, res.Unverifiable, 1)
	assert.Equal(t, "per-cluster", res.Unverifiable[0].Name)
	assert.Contains(t, res.Unverifiable[0].Why, "the clusters generator's parameters come from outside the repository")
}

func TestDiscoverFastTemplateFlattensFiles(t *testing.T) {
	repo := fstest.MapFS{
		"envs/dev/config.yaml": file("env: dev\ncluster:\n  name: dev-1\nzones: [a, b]\n"),
		"appset.yaml": file(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s}
spec:
  generators:
  - git:
      repoURL: ` + repoURL + `
      files: [{path: "envs/*/config.yaml"}]
      values: {target: "{{cluster.name}}-x"}
  template:
    metadata: {name: '{{env}}-{{cluster.name}}-{{zones.1}}-{{path[1]}}-{{path.filename}}-{{values.target}}-{{unknown}}'}
    spec:
      source: {repoURL: ` + repoURL + `, path: '{{path}}'}
`),
	}
	res, err := Discover(repo, Options{RepoURLs: []string{repoURL}})
	require.NoError(t, err)
	require.Len(t, res.Apps, 1)
	assert.Equal(t, "dev-dev-1-b-dev-config.yaml-dev-1-x-{{unknown}}", res.Apps[0].Name, "an unknown parameter is left as it is")
	assert.Equal(t, "envs/dev", res.Apps[0].Sources[0].Path)
}

func TestDiscoverRefusesDuplicatesAndRunaways(t *testing.T) {
	res, err := Discover(monorepo(), Options{RepoURLs: []string{repoURL}, MaxApps: 3})
	assert.Nil(t, res)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than 3 apps")
	assert.Regexp(t, `^argocd/\S+\.yaml:\d+: `, err.Error(), "file and line")

	repo := monorepo()
	repo["argocd/apps/dup.yaml"] = file("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec: {source: {repoURL: " + repoURL + ", path: x}}\n")
	_, err = Discover(repo, Options{RepoURLs: []string{repoURL}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `two apps are named "web"`)
}

func TestDiscoverGoTemplateMissingKeyIsAnError(t *testing.T) {
	repo := fstest.MapFS{"a.yaml": file(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators: [{list: {elements: [{env: dev}]}}]
  template:
    metadata: {name: '{{ .nope }}'}
    spec: {source: {repoURL: ` + repoURL + `, path: x}}
`)}
	_, err := Discover(repo, Options{RepoURLs: []string{repoURL}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a.yaml:1: ApplicationSet s, generator 0")
	assert.Contains(t, err.Error(), "nope")
}

func TestSameRepo(t *testing.T) {
	for _, u := range []string{
		"https://github.com/acme/gitops", "https://github.com/acme/gitops.git", "https://GitHub.com/acme/gitops/",
		"git@github.com:acme/gitops.git", "ssh://git@github.com/acme/gitops", "ssh://git@github.com:22/acme/gitops.git",
		"https://token@github.com/acme/gitops",
	} {
		assert.True(t, sameRepo([]string{repoURL}, u), u)
	}
	for _, u := range []string{"https://github.com/acme/gitops2", "https://gitlab.com/acme/gitops", "https://github.com/acme", ""} {
		assert.False(t, sameRepo([]string{repoURL}, u), u)
	}
}

// Files are matched as `git ls-files -- PATTERN` matches them (Argo CD's
// repo server): "*" crosses "/", "**" is "*", no wildcard is a prefix.
func TestPathspecMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"envs/**/config.json", "envs/config.json", false},
		{"envs/**/config.json", "envs/eu/prod/config.json", true},
		{"envs/*/config.json", "envs/eu/prod/config.json", true},
		{"teams/*/app.yaml", "teams/a/app.yaml", true},
		{"**", "a/b/c", true},
		{"apps/*.yaml", "apps/x/y.yaml", true},
		{"apps/[ab]*.json", "apps/b1.json", true},
		{"apps/[!ab]*.json", "apps/b1.json", false},
		{"apps/web", "apps/web/config.json", true},
		{"apps/web", "apps/webx/config.json", false},
		{"a?c", "a/c", true},
	} {
		got, err := pathspecMatch(tc.pattern, tc.name)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%s %s", tc.pattern, tc.name)
	}
	assert.Equal(t, "my-app.v1", normalizeName("My_App.v1-"))
}
