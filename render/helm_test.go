package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/chart/common"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/kube-sentient/aegis/manifest"
)

const helmRoot = "testdata/helm"

func renderTestChart(t *testing.T, chart string, opts Options) []manifest.Object {
	t.Helper()
	objs, err := renderHelm(context.Background(), helmRoot, filepath.Join(helmRoot, chart), opts)
	require.NoError(t, err)
	return objs
}

func findObject(t *testing.T, objs []manifest.Object, kind, name string) manifest.Object {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	require.Failf(t, "object not rendered", "%s %s", kind, name)
	return manifest.Object{}
}

func hasObject(objs []manifest.Object, kind string) bool {
	for _, o := range objs {
		if o.GetKind() == kind {
			return true
		}
	}
	return false
}

func field(t *testing.T, o manifest.Object, path ...string) any {
	t.Helper()
	var cur any = o.Object
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			require.NotEmpty(t, c)
			cur = c[0].(map[string]any)[p]
		default:
			require.Failf(t, "no such field", "%v", path)
		}
	}
	return cur
}

func TestHelmValuesFlip(t *testing.T) {
	tests := []struct {
		name           string
		opts           Options
		hostNetwork    bool
		privileged     bool
		replicas       int64
		wantRunAsNonRt any
	}{
		{name: "chart defaults", hostNetwork: true, privileged: true, replicas: 1},
		{name: "fix values file", opts: Options{ValuesFiles: []string{"values-fixed.yaml"}}, hostNetwork: false, privileged: false, replicas: 1, wantRunAsNonRt: true},
		{name: "values file outside the chart then --set", opts: Options{ValuesFiles: []string{"../values/override.yaml"}, Set: []string{"replicaCount=5"}}, hostNetwork: true, privileged: false, replicas: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := renderTestChart(t, "app", tt.opts)
			d := findObject(t, objs, "Deployment", "release-app")
			assert.Equal(t, tt.hostNetwork, field(t, d, "spec", "template", "spec", "hostNetwork"))
			assert.Equal(t, tt.privileged, field(t, d, "spec", "template", "spec", "containers", "securityContext", "privileged"))
			assert.Equal(t, tt.replicas, field(t, d, "spec", "replicas"))
			assert.Equal(t, tt.wantRunAsNonRt, field(t, d, "spec", "template", "spec", "containers", "securityContext", "runAsNonRoot"))
		})
	}
}

func TestHelmHooksIncluded(t *testing.T) {
	objs := renderTestChart(t, "app", Options{})
	job := findObject(t, objs, "Job", "release-app-migrate")
	assert.Equal(t, "pre-install,pre-upgrade", job.GetAnnotations()["helm.sh/hook"])
	assert.Equal(t, "hook-succeeded", job.GetAnnotations()["helm.sh/hook-delete-policy"])
	assert.Equal(t, "app/templates/hook-job.yaml", job.Origin.Template)
	// Line 1 is a comment: the object starts at its apiVersion.
	assert.Equal(t, manifest.Location{Path: "app/templates/hook-job.yaml", Line: 2}, job.Origin.Location)
}

func TestHelmReleaseNameAndNamespace(t *testing.T) {
	tests := []struct {
		name             string
		opts             Options
		wantName, wantNS string
	}{
		{name: "defaults", wantName: "release", wantNS: "default"},
		{name: "given", opts: Options{ReleaseName: "shop", Namespace: "prod"}, wantName: "shop", wantNS: "prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := renderTestChart(t, "app", tt.opts)
			cm := findObject(t, objs, "ConfigMap", tt.wantName+"-app-info")
			assert.Equal(t, tt.wantName, field(t, cm, "data", "release"))
			assert.Equal(t, tt.wantNS, field(t, cm, "data", "namespace"))
			svc := findObject(t, objs, "Service", tt.wantName+"-app")
			assert.Equal(t, tt.wantNS, svc.GetNamespace())
		})
	}
	_, err := renderHelm(context.Background(), helmRoot, filepath.Join(helmRoot, "app"), Options{ReleaseName: "Not_Valid"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "release name")
}

func TestHelmCapabilities(t *testing.T) {
	tests := []struct {
		name        string
		opts        Options
		wantMonitor bool
		wantKube    string
	}{
		{name: "defaults", wantKube: common.DefaultCapabilities.KubeVersion.Version},
		{name: "kube version", opts: Options{KubeVersion: "v1.31.4"}, wantKube: "v1.31.4"},
		{name: "extra API version", opts: Options{APIVersions: []string{"monitoring.coreos.com/v1"}}, wantMonitor: true, wantKube: common.DefaultCapabilities.KubeVersion.Version},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := renderTestChart(t, "app", tt.opts)
			assert.Equal(t, tt.wantMonitor, hasObject(objs, "ServiceMonitor"))
			cm := findObject(t, objs, "ConfigMap", "release-app-info")
			assert.Equal(t, tt.wantKube, field(t, cm, "data", "kubeVersion"))
		})
	}
	// One render's API versions must not leak into the next (shared defaults).
	assert.False(t, common.DefaultCapabilities.APIVersions.Has("monitoring.coreos.com/v1"))

	_, err := renderHelm(context.Background(), helmRoot, filepath.Join(helmRoot, "app"), Options{KubeVersion: "not-a-version"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid --kube-version")
	var se *manifest.SourceError
	assert.ErrorAs(t, err, &se, "bad input, exit 2")
}

func TestHelmOrigins(t *testing.T) {
	objs := renderTestChart(t, "app", Options{})
	tests := []struct {
		kind, name string
		want       manifest.Origin
	}{
		{"Deployment", "release-app", manifest.Origin{Location: manifest.Location{Path: "app/templates/deployment.yaml", Line: 1}, Template: "app/templates/deployment.yaml"}},
		{"Service", "release-app", manifest.Origin{Location: manifest.Location{Path: "app/templates/service.yaml", Line: 1}, Template: "app/templates/service.yaml"}},
		// The second document of a multi-document template.
		{"ConfigMap", "release-app-info", manifest.Origin{Location: manifest.Location{Path: "app/templates/service.yaml", Line: 12}, Template: "app/templates/service.yaml"}},
		// CRDs are included, as Argo CD renders with --include-crds.
		{"CustomResourceDefinition", "widgets.example.com", manifest.Origin{Location: manifest.Location{Path: "app/crds/widgets.yaml", Line: 1}, Template: "app/crds/widgets.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			assert.Equal(t, tt.want, findObject(t, objs, tt.kind, tt.name).Origin)
		})
	}
	// NOTES.txt and templates that render to nothing give no object.
	assert.False(t, hasObject(objs, "Secret"))
	assert.Len(t, objs, 5)
	for _, o := range objs {
		_, err := manifest.NewSet([]manifest.Object{o}) // JSON-compatible values
		require.NoError(t, err)
	}
}

func TestHelmLocate(t *testing.T) {
	const (
		container = "spec.template.spec.containers[name=app]"
		tmpl      = "app/templates/deployment.yaml"
	)
	tests := []struct {
		name  string
		chart string
		opts  Options
		kind  string
		obj   string
		path  string
		want  manifest.Location
	}{
		{name: "scalar from values.yaml", path: "spec.template.spec.hostNetwork", want: manifest.Location{Path: "app/values.yaml", Line: 8}},
		{name: "below toYaml in values.yaml", path: container + ".securityContext.privileged", want: manifest.Location{Path: "app/values.yaml", Line: 11}},
		{name: "below with+toYaml", path: "spec.template.spec.securityContext.fsGroup", want: manifest.Location{Path: "app/values.yaml", Line: 15}},
		{name: "two values keys in a line: the template line, approximate", path: container + ".image", want: manifest.Location{Path: tmpl, Line: 24, Approximate: true}},
		{name: "user values file wins", opts: Options{ValuesFiles: []string{"values-fixed.yaml"}}, path: "spec.template.spec.hostNetwork", want: manifest.Location{Path: "app/values-fixed.yaml", Line: 1}},
		{name: "user values file below toYaml", opts: Options{ValuesFiles: []string{"values-fixed.yaml"}}, path: container + ".securityContext.privileged", want: manifest.Location{Path: "app/values-fixed.yaml", Line: 4}},
		{name: "key the user file does not set", opts: Options{ValuesFiles: []string{"values-fixed.yaml"}}, path: container + ".securityContext.runAsUser", want: manifest.Location{Path: "app/values.yaml", Line: 12}},
		{name: "values file in another directory", opts: Options{ValuesFiles: []string{"../values/override.yaml"}}, path: container + ".securityContext.privileged", want: manifest.Location{Path: "values/override.yaml", Line: 3}},
		{name: "--set has no file: template line", opts: Options{Set: []string{"replicaCount=5"}}, path: "spec.replicas", want: manifest.Location{Path: tmpl, Line: 8, Approximate: true}},
		{name: "literal in the template", path: container + ".ports", want: manifest.Location{Path: tmpl, Line: 27, Approximate: true}},
		{name: "unknown field falls back to the object", path: "status.readyReplicas", want: manifest.Location{Path: tmpl, Line: 1}},
		{name: "subchart value set by the parent", chart: "parent", kind: "Deployment", obj: "child", path: "spec.replicas", want: manifest.Location{Path: "parent/values.yaml", Line: 3}},
		{name: "subchart value from its own values.yaml", chart: "parent", kind: "Deployment", obj: "child", path: "spec.template.spec.hostPID", want: manifest.Location{Path: "parent/charts/child-dir/values.yaml", Line: 2}},
		{name: "global value", chart: "parent", kind: "Deployment", obj: "child", path: "metadata.labels.team", want: manifest.Location{Path: "parent/values.yaml", Line: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chart, kind, obj := tt.chart, tt.kind, tt.obj
			if chart == "" {
				chart, kind, obj = "app", "Deployment", "release-app"
			}
			o := findObject(t, renderTestChart(t, chart, tt.opts), kind, obj)
			assert.Equal(t, tt.want, o.Locate(manifest.ParsePath(tt.path)))
		})
	}
}

func TestHelmSubchart(t *testing.T) {
	objs := renderTestChart(t, "parent", Options{})
	d := findObject(t, objs, "Deployment", "child")
	assert.Equal(t, int64(4), field(t, d, "spec", "replicas"))
	assert.Equal(t, "payments", field(t, d, "metadata", "labels", "team"))
	assert.Equal(t, "parent/charts/child/templates/deployment.yaml", d.Origin.Template)
	assert.Equal(t, manifest.Location{Path: "parent/charts/child-dir/templates/deployment.yaml", Line: 1}, d.Origin.Location)

	// The dependency's condition is honoured.
	objs = renderTestChart(t, "parent", Options{Set: []string{"child.enabled=false"}})
	assert.False(t, hasObject(objs, "Deployment"))
	assert.True(t, hasObject(objs, "ConfigMap"))

	// Through the package entry point: detection and the Set.
	res, err := Render(context.Background(), helmRoot, "parent", Options{})
	require.NoError(t, err)
	assert.Equal(t, Helm, res.Type)
	assert.Equal(t, 2, res.Set.Len())
}

func TestHelmPackagedSubchart(t *testing.T) {
	root := writeChart(t, map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: top\nversion: 1.0.0\ndependencies:\n  - name: child\n    version: 0.2.0\n",
		"values.yaml": "child:\n  replicas: 2\n",
	})
	child, err := c2load.LoadDir(filepath.Join(helmRoot, "parent", "charts", "child-dir"))
	require.NoError(t, err)
	_, err = chartutil.Save(child, filepath.Join(root, "c", "charts"))
	require.NoError(t, err)

	objs, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{})
	require.NoError(t, err)
	d := findObject(t, objs, "Deployment", "child")
	assert.Equal(t, "top/charts/child/templates/deployment.yaml", d.Origin.Template)
	// Inside an archive there is no line to give; the archive is the file.
	assert.Equal(t, manifest.Location{Path: "c/charts/child-0.2.0.tgz"}, d.Origin.Location)
	// A value the parent sets is still found in the parent's values.yaml.
	assert.Equal(t, manifest.Location{Path: "c/values.yaml", Line: 2}, d.Locate(manifest.ParsePath("spec.replicas")))
}

func TestHelmAliasedSubcharts(t *testing.T) {
	root := writeChart(t, map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: top\nversion: 1.0.0\ndependencies:\n" +
			"  - {name: worker, version: 0.1.0, alias: blue}\n  - {name: worker, version: 0.1.0, alias: green}\n",
		"values.yaml":                            "blue:\n  color: blue\ngreen:\n  color: green\n",
		"charts/worker/Chart.yaml":               "apiVersion: v2\nname: worker\nversion: 0.1.0\n",
		"charts/worker/values.yaml":              "color: none\n",
		"charts/worker/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.color }}\ndata:\n  color: {{ .Values.color }}\n",
	})
	objs, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{})
	require.NoError(t, err)
	for i, color := range []string{"blue", "green"} {
		cm := findObject(t, objs, "ConfigMap", color)
		assert.Equal(t, "top/charts/"+color+"/templates/configmap.yaml", cm.Origin.Template)
		assert.Equal(t, manifest.Location{Path: "c/charts/worker/templates/configmap.yaml", Line: 1}, cm.Origin.Location)
		assert.Equal(t, manifest.Location{Path: "c/values.yaml", Line: 2 + 2*i}, cm.Locate(manifest.ParsePath("data.color")))
	}
}

func TestHelmErrors(t *testing.T) {
	tests := []struct {
		name     string
		chart    string
		opts     Options
		wantPath string
		wantLine int
		wantMsg  string
	}{
		{name: "fail", chart: "broken-fail", wantPath: "broken-fail/templates/cm.yaml", wantLine: 6, wantMsg: "boom"},
		{name: "parse error", chart: "broken-parse", wantPath: "broken-parse/templates/cm.yaml", wantLine: 6, wantMsg: "unclosed action"},
		{name: "required value", chart: "broken-required", wantPath: "broken-required/templates/cm.yaml", wantLine: 6, wantMsg: "host is required"},
		{name: "bad Chart.yaml", chart: "bad-chartyaml", wantPath: "bad-chartyaml/Chart.yaml", wantLine: 4, wantMsg: "Chart.yaml"},
		{name: "dependency not vendored", chart: "missing-dep", wantPath: "missing-dep/Chart.yaml", wantLine: 4, wantMsg: "redis"},
		{name: "invalid values file", chart: "app", opts: Options{ValuesFiles: []string{"../values/broken.yaml"}}, wantPath: "values/broken.yaml", wantLine: 3, wantMsg: "invalid values file"},
		{name: "missing values file", chart: "app", opts: Options{ValuesFiles: []string{"nope.yaml"}}, wantPath: "app/nope.yaml", wantMsg: "values file"},
		{name: "file above the size limit", chart: "app", opts: Options{Limits: limitsWith(func(l *manifest.Limits) { l.MaxFileBytes = 600 })}, wantPath: "app/templates/deployment.yaml", wantMsg: "above the limit"},
		{name: "chart above the total limit", chart: "app", opts: Options{Limits: limitsWith(func(l *manifest.Limits) { l.MaxTotalBytes = 2000 })}, wantPath: "app", wantMsg: "in total"},
		{name: "document limit applies to the output", chart: "app", opts: Options{Limits: limitsWith(func(l *manifest.Limits) { l.MaxDocuments = 2 })}, wantMsg: "too many YAML documents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderHelm(context.Background(), helmRoot, filepath.Join(helmRoot, tt.chart), tt.opts)
			require.Error(t, err)
			var se *manifest.SourceError
			require.True(t, errors.As(err, &se), "want a SourceError, got %T: %v", err, err)
			if tt.wantPath != "" {
				assert.Equal(t, tt.wantPath, se.Path, err.Error())
			}
			if tt.wantLine != 0 {
				assert.Equal(t, tt.wantLine, se.Line, err.Error())
			}
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func limitsWith(f func(*manifest.Limits)) manifest.Limits {
	l := manifest.DefaultLimits
	f(&l)
	return l
}

func TestHelmSetSyntaxError(t *testing.T) {
	_, err := renderHelm(context.Background(), helmRoot, filepath.Join(helmRoot, "app"), Options{Set: []string{"noequals"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--set "noequals"`)
}

// writeChart writes a chart into a fresh root and returns root.
func writeChart(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, "c", filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return root
}

const miniChart = "apiVersion: v2\nname: mini\nversion: 0.1.0\n"

func TestHelmHostileCharts(t *testing.T) {
	t.Run("symlink leaving root", func(t *testing.T) {
		root := writeChart(t, map[string]string{"Chart.yaml": miniChart})
		require.NoError(t, os.MkdirAll(filepath.Join(root, "c", "templates"), 0o755))
		outside := filepath.Join(t.TempDir(), "secret.yaml")
		require.NoError(t, os.WriteFile(outside, []byte("token: x\n"), 0o600))
		require.NoError(t, os.Symlink(outside, filepath.Join(root, "c", "templates", "leak.yaml")))
		_, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "outside the source root")
	})
	t.Run("symlink inside root is followed", func(t *testing.T) {
		root := writeChart(t, map[string]string{
			"Chart.yaml":      miniChart,
			"shared/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
			"templates/.keep": "",
		})
		require.NoError(t, os.Symlink(filepath.Join(root, "c", "shared", "cm.yaml"), filepath.Join(root, "c", "templates", "cm.yaml")))
		objs, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{})
		require.NoError(t, err)
		require.Len(t, objs, 1)
		assert.Equal(t, "c/templates/cm.yaml", objs[0].Origin.Path)
	})
	t.Run("endless include", func(t *testing.T) {
		root := writeChart(t, map[string]string{
			"Chart.yaml":          miniChart,
			"templates/_loop.tpl": `{{- define "loop" }}{{ include "loop" . }}{{ end }}`,
			"templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ include \"loop\" . }}\n",
		})
		_, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{})
		require.Error(t, err)
		var se *manifest.SourceError
		require.True(t, errors.As(err, &se))
		assert.True(t, strings.HasPrefix(se.Path, "c/templates/"), se.Path)
	})
	t.Run("output that is not YAML", func(t *testing.T) {
		root := writeChart(t, map[string]string{
			"Chart.yaml":        miniChart,
			"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\n{{ \"a: [\" }}\n",
		})
		_, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{})
		require.Error(t, err)
		var se *manifest.SourceError
		require.True(t, errors.As(err, &se))
		assert.Equal(t, "c/templates/cm.yaml", se.Path)
		assert.Equal(t, 6, se.Line)
	})
	t.Run("schema refs are not fetched", func(t *testing.T) {
		root := writeChart(t, map[string]string{
			"Chart.yaml":         miniChart,
			"values.yaml":        "a: 1\n",
			"values.schema.json": `{"$ref": "file:///etc/passwd"}`,
			"templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
		})
		_, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "c/values.schema.json")
		assert.Contains(t, err.Error(), "refused")
	})
	t.Run("schema violation", func(t *testing.T) {
		root := writeChart(t, map[string]string{
			"Chart.yaml":         miniChart,
			"values.yaml":        "replicas: many\n",
			"values.schema.json": `{"type": "object", "properties": {"replicas": {"type": "integer"}}}`,
			"templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
		})
		_, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "schema")
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		root := writeChart(t, map[string]string{
			"Chart.yaml":        miniChart,
			"templates/cm.yaml": "{{- range until 2000000 }}{{ end }}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
		})
		_, err := renderHelm(ctx, root, filepath.Join(root, "c"), Options{})
		// The engine may win the race; what matters is no hang and no panic.
		if err != nil {
			assert.ErrorIs(t, err, context.Canceled)
		}
	})
}
