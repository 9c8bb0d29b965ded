package main

// TestConformance compares aegis's ApplicationSet expansion (package apps,
// written from Argo CD's documented behaviour without importing Argo CD)
// with Argo CD v3.6.1's own: for each fixture repository it runs
// `aegis apps --dir REPO --repo-url URL -o json` and Argo CD's
// ApplicationSet controller code (controllers/template.GenerateApplications,
// i.e. generators.Transform over the real list, git, matrix and merge
// generators, then utils.Render.RenderTemplateParams), with the git
// generator's services.Repos served from the fixture's directory the way
// the repo-server serves it: GetDirectories walks the checkout as
// reposerver/repository.walkDirectoryTree does (hidden directories
// skipped), GetFiles lists files with Argo CD's own git client
// (util/git LsFiles: `git ls-files -- PATTERN`, the controller's default
// globbing), so the fixture is made a git work tree with its files staged.
//
// It fails, with a per-field diff, when the two disagree on any app: its
// name, project, and each source's repoURL, path, targetRevision, chart,
// ref, Helm and kustomize options and directory options; and when one
// side fails to expand an ApplicationSet that the other expands.
//
// How it runs: `go test ./...` in this module (CI: run.sh runs
// `go test -run Conformance ./...` after the plugin e2e), or by hand:
//
//	cd hack/tools/argocde2e && GOTOOLCHAIN=go1.27.3 go test -run Conformance -v ./...
//
// It builds aegis from the main module (../../../cmd/aegis) unless
// AEGIS_BIN names a binary. CONFORMANCE_REALWORLD (default
// /work/shared/realworld; "-" to skip) is a tree of real layouts read in
// place and copied into a temporary fixture, never into the repository.

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	log "github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	"github.com/argoproj/argo-cd/v3/applicationset/controllers/template"
	"github.com/argoproj/argo-cd/v3/applicationset/generators"
	"github.com/argoproj/argo-cd/v3/applicationset/services"
	"github.com/argoproj/argo-cd/v3/applicationset/utils"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/git"
)

const (
	conformanceRepoURL = "https://github.com/acme/gitops"
	controllerNS       = "argocd"
)

var aegisBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// Argo CD's generators log what they also return (the test reports
	// it); its git client traces every command it runs at info level.
	log.SetLevel(log.FatalLevel)
	if os.Getenv("ARGOCD_LOG_LEVEL") == "" {
		os.Setenv("ARGOCD_LOG_LEVEL", "warn")
	}
	if _, err := exec.LookPath("git"); err != nil {
		fmt.Fprintln(os.Stderr, "the conformance test needs git (Argo CD's git client lists the fixtures' files):", err)
		return 1
	}
	aegisBin = os.Getenv("AEGIS_BIN")
	if aegisBin == "" {
		dir, err := os.MkdirTemp("", "aegis-conformance-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		aegisBin = filepath.Join(dir, "aegis")
		root, err := filepath.Abs("../../..")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cmd := exec.Command("go", "build", "-o", aegisBin, "./cmd/aegis")
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building aegis:", err)
			return 1
		}
	}
	return m.Run()
}

// fixture is one repository: its files (ApplicationSets among them), and
// trees copied into it from outside (destination -> source directory).
type fixture struct {
	name  string
	files map[string]string
	trees map[string]string
}

func appset(name, body string) string {
	return "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: " + name +
		"\n  namespace: argocd\nspec:\n" + body
}

func fixtures() []fixture {
	fx := []fixture{
		{
			name: "git-directories-exclude",
			files: map[string]string{
				"apps/web/kustomization.yaml":       "resources: []\n",
				"apps/web/base/kustomization.yaml":  "resources: []\n",
				"apps/api/kustomization.yaml":       "resources: []\n",
				"apps/My_App/kustomization.yaml":    "resources: []\n",
				"apps/skip/kustomization.yaml":      "resources: []\n",
				"apps/.hidden/kustomization.yaml":   "resources: []\n",
				"infra/dns/kustomization.yaml":      "resources: []\n",
				"infra/dns/prod/kustomization.yaml": "resources: []\n",
				"argocd/dirs.yaml": appset("dirs", `  generators:
  - git:
      repoURL: https://github.com/acme/gitops
      revision: HEAD
      directories:
      - path: apps/*
      - path: apps/skip
        exclude: true
      - path: infra/*/prod
  template:
    metadata:
      name: 'dir-{{path.basenameNormalized}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        targetRevision: HEAD
        path: '{{path}}'
        kustomize:
          namePrefix: '{{path[0]}}-{{path[1]}}-'
          nameSuffix: '-{{path.basename}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{path.basename}}'
`),
			},
		},
		{
			name: "git-files-fasttemplate",
			files: map[string]string{
				"envs/dev/config.json":         `{"env": "dev", "cluster": {"name": "dev-1", "zones": ["a", "b"]}, "replicas": 1, "port": 8080, "debug": true, "nothing": null}`,
				"envs/eu/prod/config.json":     `{"env": "prod", "cluster": {"name": "prod-eu", "zones": ["x"]}, "replicas": 3, "port": 443, "debug": false, "nothing": null}`,
				"envs/config.json":             `{"env": "root", "cluster": {"name": "root", "zones": ["r"]}, "replicas": 0, "port": 1, "debug": false, "nothing": null}`,
				"teams/alpha/app.yaml":         "- team: alpha\n  chart: charts/a\n  owner: {name: Ann}\n- team: alpha2\n  chart: charts/a2\n  owner: {name: Al}\n",
				"teams/beta/app.yaml":          "team: beta\nchart: charts/b\nowner:\n  name: Bob\n",
				"teams/gamma/deep/app.yaml":    "team: gamma\nchart: charts/g\nowner:\n  name: Gus\n",
				"teams/delta/skip/app.yaml":    "team: delta\nchart: charts/d\nowner:\n  name: Dee\n",
				"teams/delta/skip/ignored.txt": "x\n",
				"argocd/files.yaml": appset("envs", `  generators:
  - git:
      repoURL: https://github.com/acme/gitops
      revision: HEAD
      files:
      - path: envs/**/config.json
      values:
        ns: '{{cluster.name}}-{{path.basename}}'
  template:
    metadata:
      name: 'env-{{env}}-{{path.basename}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        targetRevision: HEAD
        path: '{{path}}'
        helm:
          releaseName: '{{cluster.name}}'
          valueFiles:
          - '{{path.filename}}'
          - 'values-{{path[1]}}.yaml'
          - '{{path.filenameNormalized}}'
          parameters:
          - name: zone
            value: '{{cluster.zones.0}}'
          - name: replicas
            value: '{{replicas}}'
          - name: port
            value: '{{port}}'
          - name: debug
            value: '{{debug}}'
          - name: nothing
            value: '{{nothing}}'
          - name: ns
            value: '{{values.ns}}'
          - name: unknown
            value: '{{ unknown }}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{values.ns}}'
---
`) + appset("teams", `  generators:
  - git:
      repoURL: https://github.com/acme/gitops.git
      revision: HEAD
      pathParamPrefix: cfg
      files:
      - path: teams/*/app.yaml
      - path: teams/delta/**
        exclude: true
      values:
        owner: '{{owner.name}}'
  template:
    metadata:
      name: 'team-{{team}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{chart}}'
        helm:
          releaseName: '{{cfg.path.basename}}'
          valueFiles: ['../../{{cfg.path}}/{{cfg.path.filename}}']
          parameters:
          - name: owner
            value: '{{values.owner}}'
          - name: seg
            value: '{{cfg.path[1]}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: team
`),
			},
		},
		{
			name: "gotemplate-sprig",
			files: map[string]string{
				"clusters/eu/west/cluster.yaml": "name: West_One\nenv: Prod\nreplicas: 3\nimage: {tag: v1.2.3}\ntitle: The Quick Brown Fox Jumps Over The Lazy Dog And Keeps Running Far Away\n",
				"clusters/us/cluster.yaml":      "name: us\nenv: Dev\nreplicas: 1\nimage: {tag: latest}\ntitle: 'Hello World_Foo! v1.0'\n",
				"argocd/gotmpl.yaml": appset("gotmpl", `  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - git:
      repoURL: https://github.com/acme/gitops
      revision: HEAD
      files:
      - path: clusters/**/cluster.yaml
      values:
        ns: '{{ .name | lower }}-{{ .path.basename }}'
  template:
    metadata:
      name: '{{ .env | lower }}-{{ index .path.segments 1 }}-{{ normalize .name }}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        targetRevision: '{{ .image.tag }}'
        path: '{{ .path.segments | join "/" }}'
        helm:
          releaseName: '{{ printf "%s-%s" (.name | lower) (.path.basename | upper) }}'
          valueFiles:
          - '{{ .path.filename }}'
          - 'values-{{ .path.basenameNormalized }}.yaml'
          - '{{ .path.filenameNormalized | trimSuffix ".yaml" }}.yml'
          parameters:
          - name: replicas
            value: '{{ .replicas }}'
          - name: replicasPlus
            value: '{{ add .replicas 1 }}'
          - name: tag
            value: '{{ dig "image" "tag" "none" . }}'
          - name: ns
            value: '{{ .values.ns }}'
          - name: slug
            value: '{{ slugify .title }}'
          - name: slug20
            value: '{{ slugify 20 true .title }}'
          - name: segs
            value: '{{ len .path.segments }}'
          - name: yaml
            value: '{{ .image | toYaml }}'
          - name: ternary
            value: '{{ if eq .env "Prod" }}big{{ else }}small{{ end }}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{ .values.ns }}'
`),
			},
		},
		{
			name: "list-nested",
			files: map[string]string{
				"argocd/list.yaml": appset("golist", `  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list:
      elements:
      - name: a
        cfg: {replicas: 2, tags: [x, w], labels: {tier: web}}
      - name: b
        cfg: {replicas: 5, tags: [z], labels: {tier: db}}
      elementsYaml: |
        - name: c
          cfg: {replicas: 1, tags: [w], labels: {tier: cache}}
  template:
    metadata:
      name: 'list-{{ .name }}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: 'apps/{{ .cfg.labels.tier }}'
        helm:
          parameters:
          - name: replicas
            value: '{{ .cfg.replicas }}'
          - name: tag0
            value: '{{ index .cfg.tags 0 }}'
          - name: json
            value: '{{ .cfg.tags | toJson }}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
---
`) + appset("fastlist", `  generators:
  - list:
      elements:
      - cluster: east
        url: https://east.example.com
        values:
          revision: main
          env: staging
      - cluster: west
        url: https://west.example.com
        values:
          revision: v2
          env: prod
  template:
    metadata:
      name: 'fast-{{cluster}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        targetRevision: '{{values.revision}}'
        path: 'envs/{{values.env}}'
        kustomize:
          namePrefix: '{{cluster}}-'
      destination:
        server: '{{url}}'
        namespace: default
`),
			},
		},
		{
			name: "list-fasttemplate-non-string",
			files: map[string]string{
				"argocd/list.yaml": appset("numbers", `  generators:
  - list:
      elements:
      - cluster: east
        replicas: 3
        cfg: {tier: web}
  template:
    metadata:
      name: 'n-{{cluster}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: 'apps/{{cfg.tier}}'
        helm:
          parameters:
          - name: replicas
            value: '{{replicas}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
`),
			},
		},
		{
			// Argo CD (and kubectl) read manifests with sigs.k8s.io/yaml,
			// YAML 1.1: unquoted y, n, yes, on, off are booleans, in list
			// elements (free-form JSON) too, keys included.
			name: "yaml-1.1-booleans",
			files: map[string]string{
				"argocd/bools.yaml": appset("bools", `  goTemplate: true
  generators:
  - list:
      elements:
      - name: b1
        flags: [y, n, yes, on, off]
        y: wye
  template:
    metadata:
      name: '{{ .name }}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: apps/bools
        helm:
          parameters:
          - name: "flags"
            value: '{{ .flags | toJson }}'
          - name: "key-y"
            value: '{{ index . "y" | default "none" }}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
`),
			},
		},
		{
			name: "matrix",
			files: map[string]string{
				"apps/web/kustomization.yaml": "resources: []\n",
				"apps/api/kustomization.yaml": "resources: []\n",
				"envs/dev/env.json":           `{"env": "dev", "size": "s"}`,
				"envs/prod/env.json":          `{"env": "prod", "size": "l"}`,
				"argocd/matrix.yaml": appset("matrix-fast", `  generators:
  - matrix:
      generators:
      - git:
          repoURL: https://github.com/acme/gitops
          revision: HEAD
          directories:
          - path: apps/*
      - list:
          elements:
          - appName: '{{path.basename}}-dev'
            env: dev
          - appName: '{{path.basename}}-prod'
            env: prod
  template:
    metadata:
      name: '{{appName}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{path}}'
        helm:
          valueFiles: ['values-{{env}}.yaml']
          releaseName: '{{path[1]}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{env}}'
---
`) + appset("matrix-go", `  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - matrix:
      generators:
      - git:
          repoURL: https://github.com/acme/gitops
          revision: HEAD
          files:
          - path: envs/*/env.json
      - git:
          repoURL: https://github.com/acme/gitops
          revision: HEAD
          pathParamPrefix: app
          directories:
          - path: 'apps/*'
  template:
    metadata:
      name: 'm-{{ .app.path.basename }}-{{ .env }}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{ .app.path.path }}'
        helm:
          valueFiles: ['../../{{ .path.path }}/values-{{ .size }}.yaml']
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{ .env }}'
`),
			},
		},
		{
			name: "merge",
			files: map[string]string{
				"apps/web/kustomization.yaml": "resources: []\n",
				"apps/api/kustomization.yaml": "resources: []\n",
				"apps/db/kustomization.yaml":  "resources: []\n",
				"argocd/merge.yaml": appset("merge-fast", `  generators:
  - merge:
      mergeKeys: [path.basename]
      generators:
      - git:
          repoURL: https://github.com/acme/gitops
          revision: HEAD
          directories:
          - path: apps/*
          values:
            replicas: "1"
      - list:
          elements:
          - path.basename: api
            values.replicas: "3"
            extra: "x"
          - path.basename: nothere
            values.replicas: "9"
  template:
    metadata:
      name: 'merge-{{path.basename}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{path}}'
        helm:
          parameters:
          - name: replicas
            value: '{{values.replicas}}'
          - name: extra
            value: '{{extra}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
---
`) + appset("merge-go", `  goTemplate: true
  generators:
  - merge:
      mergeKeys: [name]
      generators:
      - list:
          elements:
          - name: a
            cfg: {first: "1", second: "1"}
          - name: b
            cfg: {first: "1", second: "1"}
      - list:
          elements:
          - name: b
            cfg: {second: "2"}
            more: "m"
  template:
    metadata:
      name: 'mg-{{ .name }}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: 'apps/{{ .name }}'
        helm:
          parameters:
          - name: first
            value: '{{ .cfg.first }}'
          - name: second
            value: '{{ .cfg.second }}'
          - name: more
            value: '{{ .more }}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
`),
			},
		},
		{
			name: "merge-gotemplate-nested-key",
			files: map[string]string{
				"apps/web/kustomization.yaml": "resources: []\n",
				"apps/api/kustomization.yaml": "resources: []\n",
				"argocd/merge.yaml": appset("merge-nested", `  goTemplate: true
  generators:
  - merge:
      mergeKeys: [path.basename]
      generators:
      - git:
          repoURL: https://github.com/acme/gitops
          revision: HEAD
          directories:
          - path: apps/*
      - list:
          elements:
          - path: {basename: api}
            replicas: "3"
  template:
    metadata:
      name: 'mn-{{ .path.basename }}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{ .path.path }}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
`),
			},
		},
		{
			name: "selector",
			files: map[string]string{
				"apps/web/kustomization.yaml": "resources: []\n",
				"apps/api/kustomization.yaml": "resources: []\n",
				"apps/db/kustomization.yaml":  "resources: []\n",
				"argocd/selector.yaml": appset("sel-fast", `  generators:
  - list:
      elements:
      - {name: one, tier: web, env: prod}
      - {name: two, tier: db, env: prod}
      - {name: three, tier: web, env: dev}
    selector:
      matchLabels:
        tier: web
  - git:
      repoURL: https://github.com/acme/gitops
      revision: HEAD
      directories:
      - path: apps/*
    selector:
      matchLabels:
        path.basename: api
  template:
    metadata:
      name: 'sel-{{name}}{{path.basename}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: 'apps/{{tier}}{{path.basename}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
---
`) + appset("sel-go", `  goTemplate: true
  generators:
  - git:
      repoURL: https://github.com/acme/gitops
      revision: HEAD
      directories:
      - path: apps/*
    selector:
      matchLabels:
        path.basename: web
  template:
    metadata:
      name: 'selgo-{{ .path.basename }}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{ .path.path }}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
---
`) + appset("sel-expr", `  generators:
  - list:
      elements:
      - {name: e1, tier: web}
      - {name: e2, tier: db}
      - {name: e3, tier: cache}
    selector:
      matchExpressions:
      - {key: tier, operator: In, values: [web, cache]}
  template:
    metadata:
      name: 'expr-{{name}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: 'apps/{{tier}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
`),
			},
		},
	}
	rw := os.Getenv("CONFORMANCE_REALWORLD")
	if rw == "" {
		rw = "/work/shared/realworld"
	}
	if rw != "-" {
		if st, err := os.Stat(filepath.Join(rw, "kustomize/components-example/overlays")); err == nil && st.IsDir() {
			fx = append(fx, fixture{
				name:  "realworld-kustomize-overlays",
				trees: map[string]string{"kustomize": filepath.Join(rw, "kustomize")},
				files: map[string]string{
					"argocd/overlays.yaml": appset("overlays", `  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - git:
      repoURL: https://github.com/acme/gitops
      revision: HEAD
      directories:
      - path: kustomize/components-example/overlays/*
      - path: kustomize/multibases/*
      - path: kustomize/multibases/base
        exclude: true
  template:
    metadata:
      name: '{{ index .path.segments 1 }}-{{ .path.basenameNormalized }}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{ .path.path }}'
        kustomize:
          namePrefix: '{{ .path.basename }}-'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{ .path.basename }}'
`),
				},
			})
		}
		if st, err := os.Stat(filepath.Join(rw, "charts")); err == nil && st.IsDir() {
			fx = append(fx, fixture{
				name:  "realworld-charts",
				trees: map[string]string{"charts": filepath.Join(rw, "charts")},
				files: map[string]string{
					"argocd/charts.yaml": appset("charts", `  generators:
  - matrix:
      generators:
      - git:
          repoURL: https://github.com/acme/gitops
          revision: HEAD
          files:
          - path: charts/*/Chart.yaml
      - list:
          elements:
          - env: dev
          - env: prod
  template:
    metadata:
      name: '{{name}}-{{env}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/gitops
        path: '{{path}}'
        helm:
          releaseName: '{{name}}'
          valueFiles: [values.yaml]
          parameters:
          - name: chartVersion
            value: '{{version}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{env}}'
`),
				},
			})
		}
	}
	return fx
}

func TestConformance(t *testing.T) {
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeFixture(t, root, fx)
			argo, argoErr := argoApps(t, root)
			aegis, aegisErr := aegisApps(t, root)
			switch {
			case argoErr != nil && aegisErr != nil:
				t.Logf("both fail, as they should:\n  argo:  %v\n  aegis: %v", argoErr, aegisErr)
				return
			case argoErr != nil:
				t.Errorf("Argo CD fails and aegis does not:\n  argo: %v\n  aegis apps: %s", argoErr, names(aegis))
				return
			case aegisErr != nil:
				t.Errorf("aegis fails and Argo CD does not:\n  aegis: %v\n  argo apps: %s", aegisErr, names(argo))
				return
			}
			if diff := diffApps(aegis, argo); diff != "" {
				t.Errorf("aegis and Argo CD disagree (- aegis, + argo):\n%s", diff)
				return
			}
			t.Logf("%d apps agree: %s", len(argo), names(argo))
		})
	}
}

func writeFixture(t *testing.T, root string, fx fixture) {
	t.Helper()
	for dst, src := range fx.trees {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
			target := filepath.Join(root, dst, rel)
			if d.IsDir() {
				return os.MkdirAll(target, 0o755)
			}
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range fx.files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The repo-server lists files with git ls-files: the fixture is a work
	// tree with every file staged.
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// localRepos is services.Repos over a local git work tree.
type localRepos struct {
	root string
}

var _ services.Repos = localRepos{}

// GetFiles lists the files that match pattern as the repo-server does
// (GetGitFiles: util/git's LsFiles, the controller's default globbing) and
// returns their contents by path relative to the root.
func (r localRepos) GetFiles(ctx context.Context, repoURL, _, _, pattern string, _ bool, _ *v1alpha1.SourceIntegrity) (map[string][]byte, error) {
	if err := r.check(repoURL); err != nil {
		return nil, err
	}
	c, err := git.NewClientExt(repoURL, r.root, git.NopCreds{}, true, false, "", "")
	if err != nil {
		return nil, err
	}
	if pattern == "" {
		pattern = "."
	}
	files, err := c.LsFiles(ctx, pattern, false)
	if err != nil {
		return nil, err
	}
	res := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(r.root, f))
		if err != nil {
			return nil, err
		}
		res[f] = data
	}
	return res, nil
}

// GetDirectories is the repo-server's GetGitDirectories:
// reposerver/repository.walkDirectoryTree with hidden directories skipped
// (its default, IncludeHiddenDirectories false).
func (r localRepos) GetDirectories(_ context.Context, repoURL, _, _ string, _ bool, _ *v1alpha1.SourceIntegrity) ([]string, error) {
	if err := r.check(repoURL); err != nil {
		return nil, err
	}
	var paths []string
	err := filepath.WalkDir(r.root, func(p string, entry fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("error walking the file tree: %w", err)
		}
		if !entry.IsDir() {
			return nil
		}
		if strings.HasPrefix(entry.Name(), ".") && p != r.root {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(r.root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		paths = append(paths, filepath.ToSlash(rel))
		return nil
	})
	return paths, err
}

func (r localRepos) GetOciFiles(context.Context, string, string, string, string, bool) (map[string][]byte, error) {
	return nil, fmt.Errorf("no OCI repositories in the conformance test")
}

func (r localRepos) GetOciDirectories(context.Context, string, string, string, bool) ([]string, error) {
	return nil, fmt.Errorf("no OCI repositories in the conformance test")
}

func (r localRepos) check(url string) error {
	if strings.TrimSuffix(url, ".git") != conformanceRepoURL {
		return fmt.Errorf("repository %s is not the fixture's (%s)", url, conformanceRepoURL)
	}
	return nil
}

// argoApps expands every ApplicationSet of the fixture with Argo CD's
// controller code.
func argoApps(t *testing.T, root string) ([]v1alpha1.Application, error) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var c client.Client = fake.NewClientBuilder().WithScheme(scheme).WithObjects(&v1alpha1.AppProject{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: controllerNS},
	}).Build()
	repos := localRepos{root: root}
	terminal := map[string]generators.Generator{
		"List": generators.NewListGenerator(),
		"Git":  generators.NewGitGenerator(repos, controllerNS),
	}
	nested := map[string]generators.Generator{
		"List":   terminal["List"],
		"Git":    terminal["Git"],
		"Matrix": generators.NewMatrixGenerator(terminal),
		"Merge":  generators.NewMergeGenerator(terminal),
	}
	top := map[string]generators.Generator{
		"List":   terminal["List"],
		"Git":    terminal["Git"],
		"Matrix": generators.NewMatrixGenerator(nested),
		"Merge":  generators.NewMergeGenerator(nested),
	}
	var sets []v1alpha1.ApplicationSet
	err := filepath.WalkDir(filepath.Join(root, "argocd"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var as v1alpha1.ApplicationSet
			if err := yaml.UnmarshalStrict([]byte(doc), &as); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			sets = append(sets, as)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var all []v1alpha1.Application
	for _, as := range sets {
		apps, _, err := template.GenerateApplications(log.WithField("applicationset", as.Name), as, top, &utils.Render{}, c)
		if err != nil {
			return nil, fmt.Errorf("ApplicationSet %s: %w", as.Name, err)
		}
		all = append(all, apps...)
	}
	return all, nil
}

// aegisResult is `aegis apps -o json`.
type aegisResult struct {
	Apps []struct {
		Name    string           `json:"name"`
		Project string           `json:"project"`
		Sources []map[string]any `json:"sources"`
	} `json:"apps"`
	Unverifiable []map[string]any `json:"unverifiable"`
}

// app is what the test compares of an Application: its name, project and
// sources, as plain JSON values (Argo CD's ApplicationSource field names).
type app struct {
	Name    string
	Project string
	Sources []any
}

func aegisApps(t *testing.T, root string) ([]app, error) {
	t.Helper()
	cmd := exec.Command(aegisBin, "apps", "--dir", root, "--repo-url", conformanceRepoURL, "-o", "json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res aegisResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("aegis apps output: %v\n%s", err, out)
	}
	for _, u := range res.Unverifiable {
		// A file aegis could not read as manifests (e.g. a chart's
		// values.yaml that mentions argoproj.io) is aegis's caution, not an
		// expansion: Argo CD is given the ApplicationSets directly.
		if u["kind"] == "file" {
			t.Logf("aegis: unverifiable file %v: %v", u["name"], u["why"])
			continue
		}
		return nil, fmt.Errorf("aegis lists an unverifiable %v %v: %v", u["kind"], u["name"], u["why"])
	}
	apps := make([]app, 0, len(res.Apps))
	for _, a := range res.Apps {
		x := app{Name: a.Name, Project: a.Project}
		for _, s := range a.Sources {
			x.Sources = append(x.Sources, normalize(s))
		}
		apps = append(apps, x)
	}
	return apps, nil
}

// argoView is an Argo CD Application as the test compares it.
func argoView(a v1alpha1.Application) app {
	x := app{Name: a.Name, Project: a.Spec.Project}
	srcs := a.Spec.Sources
	if a.Spec.Source != nil {
		srcs = append([]v1alpha1.ApplicationSource{*a.Spec.Source}, srcs...)
	}
	for _, s := range srcs {
		data, err := json.Marshal(s)
		if err != nil {
			panic(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			panic(err)
		}
		x.Sources = append(x.Sources, normalize(m))
	}
	return x
}

// compared are the fields of a source both sides spell alike (Argo CD's
// ApplicationSource JSON); anything else is left out of the comparison.
var compared = map[string][]string{
	"":          {"repoURL", "path", "targetRevision", "chart", "ref", "helm", "kustomize", "directory"},
	"helm":      {"valueFiles", "parameters", "fileParameters", "releaseName", "values", "namespace", "kubeVersion", "ignoreMissingValueFiles"},
	"kustomize": {"namePrefix", "nameSuffix", "images", "commonLabels", "namespace", "components"},
	"directory": {"recurse", "include", "exclude"},
}

func normalize(m map[string]any) map[string]any {
	return keep(m, "")
}

func keep(m map[string]any, section string) map[string]any {
	out := map[string]any{}
	for _, k := range compared[section] {
		v, ok := m[k]
		if !ok || isZero(v) {
			continue
		}
		if sub, ok := v.(map[string]any); ok && section == "" {
			sub = keep(sub, k)
			if len(sub) == 0 {
				continue
			}
			v = sub
		}
		out[k] = v
	}
	return out
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

func names(apps any) string {
	var ns []string
	switch a := apps.(type) {
	case []app:
		for _, x := range a {
			ns = append(ns, x.Name)
		}
	case []v1alpha1.Application:
		for _, x := range a {
			ns = append(ns, x.Name)
		}
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// diffApps compares the apps by name and, for the apps both have, field
// by field; "" when they agree.
func diffApps(aegis []app, argo []v1alpha1.Application) string {
	byName := func(apps []app) (map[string]app, []string) {
		m := map[string]app{}
		var dups []string
		for _, a := range apps {
			if _, ok := m[a.Name]; ok {
				dups = append(dups, a.Name)
			}
			m[a.Name] = a
		}
		return m, dups
	}
	var argoApps []app
	for _, a := range argo {
		argoApps = append(argoApps, argoView(a))
	}
	// Sources round-trip through JSON so both sides hold the same types.
	for i := range argoApps {
		data, _ := json.Marshal(argoApps[i].Sources)
		argoApps[i].Sources = nil
		_ = json.Unmarshal(data, &argoApps[i].Sources)
	}
	am, _ := byName(aegis)
	gm, gdups := byName(argoApps)
	var b strings.Builder
	for _, d := range gdups {
		fmt.Fprintf(&b, "  Argo CD generates app %q more than once\n", d)
	}
	all := map[string]bool{}
	for n := range am {
		all[n] = true
	}
	for n := range gm {
		all[n] = true
	}
	keys := make([]string, 0, len(all))
	for n := range all {
		keys = append(keys, n)
	}
	slices.Sort(keys)
	for _, n := range keys {
		a, inA := am[n]
		g, inG := gm[n]
		switch {
		case !inG:
			fmt.Fprintf(&b, "- app %q (only aegis generates it): %s\n", n, compact(a))
		case !inA:
			fmt.Fprintf(&b, "+ app %q (only Argo CD generates it): %s\n", n, compact(g))
		default:
			var lines []string
			if a.Project != g.Project {
				lines = append(lines, fmt.Sprintf("    project: aegis %q, argo %q", a.Project, g.Project))
			}
			diffValue(&lines, "sources", toAny(a.Sources), toAny(g.Sources))
			if len(lines) > 0 {
				fmt.Fprintf(&b, "  app %q:\n%s\n", n, strings.Join(lines, "\n"))
			}
		}
	}
	return b.String()
}

func toAny(v any) any {
	data, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}

func compact(a app) string {
	data, _ := json.Marshal(a)
	return string(data)
}

func diffValue(lines *[]string, path string, a, g any) {
	if reflect.DeepEqual(a, g) {
		return
	}
	am, aok := a.(map[string]any)
	gm, gok := g.(map[string]any)
	if aok && gok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			diffValue(lines, path+"."+k, am[k], gm[k])
		}
		return
	}
	al, aok := a.([]any)
	gl, gok := g.([]any)
	if aok && gok && len(al) == len(gl) {
		for i := range al {
			diffValue(lines, fmt.Sprintf("%s[%d]", path, i), al[i], gl[i])
		}
		return
	}
	js := func(v any) string {
		if v == nil {
			return "(absent)"
		}
		data, _ := json.Marshal(v)
		return string(data)
	}
	*lines = append(*lines, fmt.Sprintf("    %s: aegis %s, argo %s", path, js(a), js(g)))
}
