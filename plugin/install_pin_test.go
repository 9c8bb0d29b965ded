package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/chart/common"
	commonutil "helm.sh/helm/v4/pkg/chart/common/util"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"
)

// testDigest is a well-formed digest that names no image.
const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// pinComponent copies install/repo-server into a temporary directory and
// sets its images: entry as the release does (newTag, digest); it returns
// an argoInstallDir-style directory that builds with that component.
func pinComponent(t *testing.T, newTag, digest string) string {
	t.Helper()
	root := t.TempDir()
	comp := filepath.Join(root, "repo-server")
	require.NoError(t, os.MkdirAll(comp, 0o755))
	entries, err := os.ReadDir(filepath.Join("install", "repo-server"))
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("install", "repo-server", e.Name()))
		require.NoError(t, err)
		if e.Name() == "kustomization.yaml" {
			data = []byte(setReleaseImage(t, string(data), newTag, digest))
		}
		require.NoError(t, os.WriteFile(filepath.Join(comp, e.Name()), data, 0o644))
	}
	app := filepath.Join(root, "argocd")
	require.NoError(t, os.MkdirAll(app, 0o755))
	dep, err := os.ReadFile(filepath.Join("testdata", "argocd", "argocd-repo-server-deployment.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(app, "argocd-repo-server-deployment.yaml"), dep, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(app, "kustomization.yaml"), []byte(
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: argocd\n"+
			"resources: [argocd-repo-server-deployment.yaml]\ncomponents: [../repo-server]\n"), 0o644))
	return app
}

// setReleaseImage rewrites the component's images: entry as the release
// does: the committed entry is exactly name + newTag: latest.
func setReleaseImage(t *testing.T, kustomization, newTag, digest string) string {
	t.Helper()
	const committed = "images:\n  - name: ghcr.io/kube-sentient/aegis\n    newTag: latest\n"
	require.Contains(t, kustomization, committed, "the release rewrites this entry of install/repo-server/kustomization.yaml")
	entry := "images:\n  - name: ghcr.io/kube-sentient/aegis\n    newTag: " + newTag + "\n"
	if digest != "" {
		entry += "    digest: " + digest + "\n"
	}
	return strings.Replace(kustomization, committed, entry, 1)
}

func aegisSidecar(t *testing.T, objs []map[string]any) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	dep := convert[appsv1.Deployment](t, find(objs, "Deployment", "argocd", "argocd-repo-server"))
	for i := range dep.Spec.Template.Spec.Containers {
		if c := &dep.Spec.Template.Spec.Containers[i]; c.Name == "aegis" {
			return dep, c
		}
	}
	t.Fatal("no aegis sidecar")
	return nil, nil
}

func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// The release pins the install by setting images: in
// install/repo-server/kustomization.yaml: the sidecar and the gate image it
// hands to generate (AEGIS_GATE_IMAGE) become tag@digest; the committed
// install is latest, a development install. The pull policy is the API
// server's default for the image (Always for :latest, IfNotPresent with a
// tag and a digest), so the manifest leaves it out.
func TestInstallPinnedByTheRelease(t *testing.T) {
	const pinned = "ghcr.io/kube-sentient/aegis:v1.4.0@" + testDigest
	for name, c := range map[string]struct {
		dir   string
		image string
	}{
		"committed": {argoInstallDir(t), "ghcr.io/kube-sentient/aegis:latest"},
		"release":   {pinComponent(t, "v1.4.0", testDigest), pinned},
	} {
		t.Run(name, func(t *testing.T) {
			_, sidecar := aegisSidecar(t, build(t, c.dir))
			assert.Equal(t, c.image, sidecar.Image)
			gate, ok := envValue(sidecar, EnvGateImage)
			require.True(t, ok, "the sidecar tells generate the gate image")
			assert.Equal(t, c.image, gate, "the gate runs the sidecar's image")
			assert.Empty(t, sidecar.ImagePullPolicy, "the API server's default follows the image")
		})
	}

	// A kustomization that includes the component may set images: for the
	// same name (a mirror, its own pin): it wins, for the gate image too.
	dir := argoInstallDir(t)
	k, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	require.NoError(t, err)
	k = append(k, []byte("images:\n  - name: ghcr.io/kube-sentient/aegis\n    newName: registry.example/mirror/aegis\n    newTag: v1.4.0\n    digest: "+testDigest+"\n")...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), k, 0o644))
	_, sidecar := aegisSidecar(t, build(t, dir))
	assert.Equal(t, "registry.example/mirror/aegis:v1.4.0@"+testDigest, sidecar.Image)
	gate, _ := envValue(sidecar, EnvGateImage)
	assert.Equal(t, sidecar.Image, gate)
}

// The sidecar reads its gate image from its own environment, which an
// Application cannot set.
func TestParseEnvGateImage(t *testing.T) {
	e, err := ParseEnv(append(argoEnviron(baseApp()), EnvGateImage+"=ghcr.io/kube-sentient/aegis:v1.4.0@"+testDigest))
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/kube-sentient/aegis:v1.4.0@"+testDigest, e.GateImage)

	e, err = ParseEnv(append(argoEnviron(baseApp()), EnvPluginPrefix+EnvGateImage+"=evil.example/aegis:1"))
	require.NoError(t, err)
	assert.Empty(t, e.GateImage, "an Application's plugin env entry is not the sidecar's variable")

	_, err = ParseEnv(append(argoEnviron(baseApp()), EnvGateImage+"=a b"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not an image reference")
}

// The sidecar's probes reach what argocd-cmp-server serves: its Unix socket
// is plugins/<metadata.name>-<spec.version>.sock of plugin.yaml.
func TestInstallSidecarProbesAndLimits(t *testing.T) {
	_, sidecar := aegisSidecar(t, build(t, argoInstallDir(t)))
	var p struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Version string `json:"version"`
		} `json:"spec"`
	}
	data, err := os.ReadFile("plugin.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &p))
	sock := "/home/argocd/cmp-server/plugins/" + p.Metadata.Name + "-" + p.Spec.Version + ".sock"
	for name, probe := range map[string]*corev1.Probe{"readiness": sidecar.ReadinessProbe, "liveness": sidecar.LivenessProbe} {
		require.NotNil(t, probe, name)
		require.NotNil(t, probe.Exec, name)
		assert.Equal(t, []string{"/usr/bin/test", "-S", sock}, probe.Exec.Command, name)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		limit, request := sidecar.Resources.Limits[r], sidecar.Resources.Requests[r]
		assert.False(t, limit.IsZero(), "limit %s", r)
		assert.False(t, request.IsZero(), "request %s", r)
	}
	sc := sidecar.SecurityContext
	require.NotNil(t, sc)
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type)
}

// helmValues reads install/helm/values.yaml.
type helmValues struct {
	RepoServer struct {
		ExtraContainers []corev1.Container `json:"extraContainers"`
		Volumes         []corev1.Volume    `json:"volumes"`
	} `json:"repoServer"`
	Configs struct {
		CMP struct {
			Create  bool                      `json:"create"`
			Plugins map[string]map[string]any `json:"plugins"`
		} `json:"cmp"`
	} `json:"configs"`
	ExtraObjects []map[string]any `json:"extraObjects"`
}

func readHelmValues(t *testing.T) (helmValues, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("install", "helm", "values.yaml"))
	require.NoError(t, err)
	var v helmValues
	require.NoError(t, yaml.UnmarshalStrict(data, &v), "only the keys this test knows: each is a documented value of the argo-cd chart")
	return v, data
}

// chartNamespace is what values.yaml writes where the chart's namespace
// goes (extraObjects are rendered with tpl).
const chartNamespace = `{{ include "argo-cd.namespace" . }}`

// The values for the official argo-cd chart are the kustomize install, in
// the chart's documented keys: repoServer.extraContainers (the sidecar,
// equal but for the plugin ConfigMap the chart names argocd-cmp-cm),
// repoServer.volumes, configs.cmp (the plugin's spec) and extraObjects (the
// cluster policy and the gate's objects, equal to install/gate). Without
// the chart on this machine (no network) this checks the structure against
// the chart's documented values; TestHelmValuesRenderWithTheChart renders
// them with the real chart when AEGIS_ARGOCD_CHART names it.
func TestHelmValuesMatchTheKustomizeInstall(t *testing.T) {
	v, raw := readHelmValues(t)
	objs := build(t, argoInstallDir(t))
	dep, sidecar := aegisSidecar(t, objs)

	require.Len(t, v.RepoServer.ExtraContainers, 1)
	hc := v.RepoServer.ExtraContainers[0]
	assert.Equal(t, "ghcr.io/kube-sentient/aegis:latest", hc.Image)
	assert.Equal(t, 1, strings.Count(string(raw), "ghcr.io/kube-sentient/aegis:latest"), "the release rewrites one line")
	assert.Contains(t, string(raw), "image: &aegis-image ghcr.io/kube-sentient/aegis:latest # the release pins this line")
	gate, _ := envValue(&hc, EnvGateImage)
	assert.Equal(t, hc.Image, gate, "the anchor gives the gate the sidecar's image")

	// The chart mounts the plugin from argocd-cmp-cm, key aegis.yaml.
	want := sidecar.DeepCopy()
	for i, m := range want.VolumeMounts {
		if m.MountPath == "/home/argocd/cmp-server/config/plugin.yaml" {
			want.VolumeMounts[i].SubPath = "aegis.yaml"
		}
	}
	assert.True(t, equality.Semantic.DeepEqual(want, &hc), "repoServer.extraContainers[0] is install/repo-server/sidecar.yaml's container\nwant %+v\ngot  %+v", want, hc)

	vols := map[string]corev1.Volume{}
	for _, vol := range dep.Spec.Template.Spec.Volumes {
		vols[vol.Name] = vol
	}
	byName := map[string]corev1.Volume{}
	for _, vol := range v.RepoServer.Volumes {
		byName[vol.Name] = vol
	}
	for _, m := range hc.VolumeMounts {
		switch m.Name {
		case "var-files", "plugins": // the chart's own
			assert.NotContains(t, byName, m.Name)
		case "aegis-plugin":
			require.NotNil(t, byName[m.Name].ConfigMap)
			assert.Equal(t, "argocd-cmp-cm", byName[m.Name].ConfigMap.Name)
		default:
			assert.Equal(t, vols[m.Name], byName[m.Name], "volume %s", m.Name)
		}
	}
	assert.Len(t, v.RepoServer.Volumes, 3)

	// configs.cmp: the chart writes apiVersion, kind and metadata.name.
	assert.True(t, v.Configs.CMP.Create)
	require.Contains(t, v.Configs.CMP.Plugins, "aegis")
	var p struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec map[string]any `json:"spec"`
	}
	data, err := os.ReadFile("plugin.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &p))
	assert.Equal(t, "aegis", p.Metadata.Name, "the chart names the plugin by its key")
	assert.Equal(t, p.Spec, v.Configs.CMP.Plugins["aegis"], "configs.cmp.plugins.aegis is plugin/plugin.yaml's spec")

	// extraObjects: the cluster policy's defaults and install/gate.
	require.NotEmpty(t, v.ExtraObjects)
	policy := convert[corev1.ConfigMap](t, v.ExtraObjects[0])
	assert.Equal(t, ClusterPolicyConfigMap, policy.Name)
	assert.Equal(t, chartNamespace, policy.Namespace)
	for key, file := range map[string]string{"policy.yaml": "policy.yaml", "gate.yaml": "gate.yaml"} {
		b, err := os.ReadFile(filepath.Join("install", "repo-server", file))
		require.NoError(t, err)
		assert.Equal(t, string(b), policy.Data[key], "extraObjects' aegis-policy %s is install/repo-server/%s", key, file)
	}
	gateObjs := build(t, filepath.Join("install", "gate"))
	got := v.ExtraObjects[1:]
	require.Len(t, got, len(gateObjs), "extraObjects[1:] are install/gate's objects")
	for i, o := range gateObjs {
		md := o["metadata"].(map[string]any)
		if md["namespace"] == "argocd" {
			md["namespace"] = chartNamespace
		}
		assert.Equal(t, o, got[i], "extraObjects[%d] is install/gate's %s %s", i+1, o["kind"], md["name"])
	}
}

// TestHelmValuesRenderWithTheChart renders the values with the official
// argo-cd chart (argoproj/argo-helm charts/argo-cd; its directory in
// AEGIS_ARGOCD_CHART, read in place) with the Helm SDK, as `helm template`
// does (its optional redis-ha dependency left out). Skipped without it: the
// chart is not in this repository nor in the real-world corpus, and tests
// do not reach the network.
func TestHelmValuesRenderWithTheChart(t *testing.T) {
	chartDir := os.Getenv("AEGIS_ARGOCD_CHART")
	if chartDir == "" {
		t.Skip("AEGIS_ARGOCD_CHART is not set (a checkout's charts/argo-cd of github.com/argoproj/argo-helm)")
	}
	chrt, err := c2load.Load(chartDir)
	require.NoError(t, err)
	vals, err := common.ReadValuesFile(filepath.Join("install", "helm", "values.yaml"))
	require.NoError(t, err)
	require.NoError(t, chartutil.ProcessDependencies(chrt, vals))
	rv, err := commonutil.ToRenderValues(chrt, vals, common.ReleaseOptions{Name: "argocd", Namespace: "argocd", Revision: 1, IsInstall: true}, common.DefaultCapabilities)
	require.NoError(t, err)
	out, err := engine.Render(chrt, rv)
	require.NoError(t, err)
	var objs []map[string]any
	for name, text := range out {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for _, doc := range strings.Split(text, "\n---") {
			var o map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(doc), &o), "%s", name)
			if o == nil {
				continue
			}
			if md, ok := o["metadata"].(map[string]any); ok && md["namespace"] == nil {
				md["namespace"] = ""
				if o["kind"] != "Namespace" && !strings.HasPrefix(o["kind"].(string), "Cluster") && !strings.HasPrefix(o["kind"].(string), "Validating") {
					md["namespace"] = "argocd"
				}
			}
			objs = append(objs, o)
		}
	}
	dep := convert[appsv1.Deployment](t, find(objs, "Deployment", "argocd", "argocd-repo-server"))
	var sidecar *corev1.Container
	for i := range dep.Spec.Template.Spec.Containers {
		if dep.Spec.Template.Spec.Containers[i].Name == "aegis" {
			sidecar = &dep.Spec.Template.Spec.Containers[i]
		}
	}
	require.NotNil(t, sidecar, "the chart adds the sidecar")
	vols := map[string]bool{}
	for _, vol := range dep.Spec.Template.Spec.Volumes {
		assert.False(t, vols[vol.Name], "volume %s once", vol.Name)
		vols[vol.Name] = true
	}
	for _, m := range sidecar.VolumeMounts {
		assert.True(t, vols[m.Name], "the sidecar's volume %s is in the pod", m.Name)
	}
	cmp := convert[corev1.ConfigMap](t, find(objs, "ConfigMap", "argocd", "argocd-cmp-cm"))
	var plugin, want map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cmp.Data["aegis.yaml"]), &plugin))
	data, err := os.ReadFile("plugin.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &want))
	assert.Equal(t, want, plugin, "argocd-cmp-cm's aegis.yaml is plugin/plugin.yaml")
	policy := convert[corev1.ConfigMap](t, find(objs, "ConfigMap", "argocd", ClusterPolicyConfigMap))
	_, err = ParseClusterPolicy("chart", policy.Data)
	require.NoError(t, err)
	for _, o := range build(t, filepath.Join("install", "gate")) {
		md := o["metadata"].(map[string]any)
		ns, _ := md["namespace"].(string)
		assert.NotNil(t, find(objs, o["kind"].(string), ns, md["name"].(string)), "the chart renders install/gate's %s %s/%s", o["kind"], ns, md["name"])
	}
}
