package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/config"
)

// build runs kustomize (krusty, the library behind `kustomize build` and
// `kubectl apply -k`) on dir and returns the objects as maps.
func build(t *testing.T, dir string) []map[string]any {
	t.Helper()
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err)
	var out []map[string]any
	for _, r := range rm.Resources() {
		m, err := r.Map()
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

func find(objs []map[string]any, kind, namespace, name string) map[string]any {
	for _, o := range objs {
		md := o["metadata"].(map[string]any)
		ns, _ := md["namespace"].(string)
		if o["kind"] == kind && md["name"] == name && ns == namespace {
			return o
		}
	}
	return nil
}

func convert[T any](t *testing.T, m map[string]any) *T {
	t.Helper()
	require.NotNil(t, m)
	out := new(T)
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(m, out))
	return out
}

// argoInstallDir writes install/argocd's kustomization into a temporary
// directory with Argo CD's remote install.yaml replaced by the real
// argocd-repo-server Deployment of v3.6.1 (testdata), so that it builds
// without the network.
func argoInstallDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	k, err := os.ReadFile(filepath.Join("install", "argocd", "kustomization.yaml"))
	require.NoError(t, err)
	component, err := filepath.Abs(filepath.Join("install", "repo-server"))
	require.NoError(t, err)
	s := string(k)
	require.Contains(t, s, "https://raw.githubusercontent.com/argoproj/argo-cd/v3.6.1/manifests/install.yaml")
	s = strings.Replace(s, "https://raw.githubusercontent.com/argoproj/argo-cd/v3.6.1/manifests/install.yaml", "argocd-repo-server-deployment.yaml", 1)
	rel, err := filepath.Rel(dir, component) // kustomize wants a relative path
	require.NoError(t, err)
	s = strings.Replace(s, "../repo-server", rel, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(s), 0o644))
	dep, err := os.ReadFile(filepath.Join("testdata", "argocd", "argocd-repo-server-deployment.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "argocd-repo-server-deployment.yaml"), dep, 0o644))
	return dir
}

// The overlay adds the aegis sidecar to argocd-repo-server as Argo CD's
// "Config Management Plugins" guide says: argocd-cmp-server as the
// command, the var-files and plugins volumes, plugin.yaml from a ConfigMap at the config path, its own /tmp,
// runAsNonRoot and user 999; the repo-server container is left alone.
func TestInstallSidecarAgainstContracts(t *testing.T) {
	objs := build(t, argoInstallDir(t))
	dep := convert[appsv1.Deployment](t, find(objs, "Deployment", "argocd", "argocd-repo-server"))
	var sidecar, repo *corev1.Container
	for i := range dep.Spec.Template.Spec.Containers {
		c := &dep.Spec.Template.Spec.Containers[i]
		switch c.Name {
		case "aegis":
			sidecar = c
		case "argocd-repo-server":
			repo = c
		}
	}
	require.NotNil(t, sidecar, "the sidecar is added")
	require.NotNil(t, repo, "the repo-server is kept")
	volumes := map[string]corev1.Volume{}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range sidecar.VolumeMounts {
		mounts[m.MountPath] = m
		assert.Contains(t, volumes, m.Name, "mount %s has its volume", m.MountPath)
	}

	// The sidecar contract (contract_test.go, from Argo CD's "Config
	// Management Plugins" guide).
	assert.Equal(t, []string{cmpServerCommand}, sidecar.Command, "argocd-cmp-server is the command")
	for _, p := range sidecarMounts {
		assert.Contains(t, mounts, p, "the sidecar mounts %s", p)
	}
	require.NotNil(t, sidecar.SecurityContext)
	require.NotNil(t, sidecar.SecurityContext.RunAsUser)
	assert.Equal(t, int64(sidecarRunAsUser), *sidecar.SecurityContext.RunAsUser)
	assert.True(t, *sidecar.SecurityContext.RunAsNonRoot)

	assert.Equal(t, "var-files", mounts["/var/run/argocd"].Name, "the volume copyutil fills with argocd-cmp-server")
	assert.Equal(t, "plugins", mounts["/home/argocd/cmp-server/plugins"].Name, "the repo-server's plugin sockets")
	cfg := mounts["/home/argocd/cmp-server/config/plugin.yaml"]
	assert.Equal(t, "plugin.yaml", cfg.SubPath)
	cmName := volumes[cfg.Name].ConfigMap.Name
	assert.True(t, strings.HasPrefix(cmName, "aegis-plugin-"), "the generated ConfigMap, hash suffix and all: %s", cmName)
	tmp := mounts["/tmp"].Name
	for _, m := range repo.VolumeMounts {
		assert.NotEqual(t, tmp, m.Name, "the sidecar's /tmp is its own, not the repo-server's")
	}
	require.NotNil(t, volumes[tmp].EmptyDir)

	cm := convert[corev1.ConfigMap](t, find(objs, "ConfigMap", "argocd", cmName))
	want, err := os.ReadFile("plugin.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(want), cm.Data["plugin.yaml"], "the sidecar reads plugin/plugin.yaml")

	// The cluster policy: the ConfigMap aegis-policy by its own name (the
	// gate reads it by name), mounted read-only as a directory (so that the
	// kubelet refreshes it) at generate's default --cluster-policy, its
	// volume optional; the namespace the gate reads it from is the pod's.
	pol := mounts[DefaultClusterPolicyDir]
	assert.True(t, pol.ReadOnly)
	assert.Empty(t, pol.SubPath)
	require.NotNil(t, volumes[pol.Name].ConfigMap)
	assert.Equal(t, ClusterPolicyConfigMap, volumes[pol.Name].ConfigMap.Name)
	require.NotNil(t, volumes[pol.Name].ConfigMap.Optional)
	assert.True(t, *volumes[pol.Name].ConfigMap.Optional, "no ConfigMap: the built-in policy, not a sidecar that does not start")
	var nsEnv *corev1.EnvVar
	for i := range sidecar.Env {
		if sidecar.Env[i].Name == EnvPolicyNamespace {
			nsEnv = &sidecar.Env[i]
		}
	}
	require.NotNil(t, nsEnv, "the sidecar tells generate its namespace")
	require.NotNil(t, nsEnv.ValueFrom)
	require.NotNil(t, nsEnv.ValueFrom.FieldRef)
	assert.Equal(t, "metadata.namespace", nsEnv.ValueFrom.FieldRef.FieldPath)
	policy := convert[corev1.ConfigMap](t, find(objs, "ConfigMap", "argocd", ClusterPolicyConfigMap))
	cp, err := ParseClusterPolicy("install", policy.Data)
	require.NoError(t, err, "the shipped cluster policy is valid")
	assert.Equal(t, config.Default().FailOn, cp.Config.FailOn, "and is the built-in one")
	assert.Empty(t, cp.Config.Waivers)
	assert.Empty(t, cp.Gate.AllowParameters, "nothing may loosen the gate by default")
	assert.Empty(t, cp.Gate.AllowImages)
	assert.Equal(t, DefaultGateNamespace, cp.GateNamespace())
	assert.Equal(t, DefaultImage("v1.0.0"), cp.GateImage("v1.0.0"))
}

// repo-server/plugin.yaml is a copy (kustomize reads nothing outside the
// component's directory): it must stay plugin/plugin.yaml byte for byte.
func TestInstallPluginYAMLIsACopy(t *testing.T) {
	a, err := os.ReadFile("plugin.yaml")
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join("install", "repo-server", "plugin.yaml"))
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b), "cp plugin/plugin.yaml plugin/install/repo-server/plugin.yaml")
}

// The top-level overlay is argocd/ and gate/; gate/ builds on its own.
func TestInstallTopLevel(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("install", "kustomization.yaml"))
	require.NoError(t, err)
	var k struct {
		Resources []string `json:"resources"`
	}
	require.NoError(t, yaml.Unmarshal(data, &k))
	assert.Equal(t, []string{"argocd", "gate"}, k.Resources)
}

// permission is one API call presync makes, in the namespace kind it makes
// it in.
type permission struct {
	group, resource, verb string
	namespace             string // "" for cluster-scoped resources; "*" for any namespace
	name                  string // a resourceName when the call names one
	why                   string
}

// gatePermissions are the calls of `aegis argocd presync` (package plugin
// and the shadow namespaces it drives through verify and shadow). The
// cluster test TestIntegrationPresyncAsTheGateServiceAccount runs the gate
// under exactly the installed RBAC as well.
var gatePermissions = []permission{
	{"", "configmaps", "get", "aegis-system", "", "ReadSet: the rendered set's chunks"},
	{"", "configmaps", "get", "aegis-system", VerdictsConfigMap, "VerdictStore.Lookup"},
	{"", "configmaps", "update", "aegis-system", VerdictsConfigMap, "VerdictStore.Record"},
	{"", "configmaps", "list", "aegis-system", "", "collectOldSets"},
	{"", "configmaps", "delete", "aegis-system", "", "collectOldSets"},
	{"", "secrets", "get", "aegis-system", "", "ReadSet: the set's Secrets"},
	{"", "secrets", "list", "aegis-system", "", "collectOldSets"},
	{"", "secrets", "delete", "aegis-system", "", "collectOldSets"},
	{"argoproj.io", "applications", "get", "argocd", "", "emitEvent: the Application's uid"},
	{"", "events", "create", "argocd", "", "emitEvent"},
	{"", "configmaps", "get", "argocd", ClusterPolicyConfigMap, "ReadClusterPolicy"},
	{"apps", "deployments", "list", "*", "", "ReadLive"},
	{"", "services", "list", "*", "", "ReadLive"},
	{"", "configmaps", "list", "*", "", "ReadLive"},
	{"", "serviceaccounts", "list", "*", "", "ReadLive"},
	{"rbac.authorization.k8s.io", "clusterroles", "list", "", "", "ReadLive: cluster-scoped objects of the app"},
	{"rbac.authorization.k8s.io", "clusterrolebindings", "list", "", "", "ReadLive: cluster-scoped objects of the app"},
	{"", "namespaces", "create", "", "", "shadow: namespace"},
	{"", "namespaces", "get", "", "", "shadow: teardown wait"},
	{"", "namespaces", "list", "", "", "shadow: TeardownRun"},
	{"", "namespaces", "delete", "", "", "shadow: teardown"},
	{"networking.k8s.io", "networkpolicies", "create", "*", "", "shadow: isolation"},
	{"", "resourcequotas", "create", "*", "", "shadow: isolation"},
	{"", "resourcequotas", "get", "*", "", "shadow: quota counted"},
	{"", "limitranges", "create", "*", "", "shadow: isolation"},
	{"", "serviceaccounts", "get", "*", "", "shadow: default ServiceAccount ready"},
	{"apps", "deployments", "patch", "*", "", "shadow: server-side apply"},
	{"apps", "deployments", "get", "*", "", "shadow: health"},
	{"", "services", "patch", "*", "", "shadow: server-side apply"},
	{"", "secrets", "patch", "*", "", "shadow: server-side apply of the set's Secrets"},
	{"", "pods", "list", "*", "", "shadow: diagnosis"},
	{"", "events", "list", "*", "", "shadow: warning events"},
	{"apps", "replicasets", "list", "*", "", "shadow: pod attribution"},
	{"batch", "jobs", "list", "*", "", "shadow: pod attribution"},
	{"", "pods", "deletecollection", "*", "", "shadow: teardown"},
}

// allows evaluates RBAC rules the way the API server's authorizer does for
// one request (no aggregation, no non-resource URLs).
func allows(rules []rbacv1.PolicyRule, p permission) bool {
	has := func(list []string, v string) bool {
		for _, x := range list {
			if x == v || x == "*" {
				return true
			}
		}
		return false
	}
	for _, r := range rules {
		if has(r.APIGroups, p.group) && has(r.Resources, p.resource) && has(r.Verbs, p.verb) &&
			(len(r.ResourceNames) == 0 || (p.name != "" && has(r.ResourceNames, p.name))) {
			return true
		}
	}
	return false
}

// The gate's RBAC covers every call presync makes, and no more than it
// needs where it matters: no Secret is readable outside aegis-system, the
// verdicts are the only ConfigMap it may update.
func TestInstallRBACCoversThePresyncCalls(t *testing.T) {
	objs := build(t, filepath.Join("install", "gate"))
	sa := find(objs, "ServiceAccount", "aegis-system", GateServiceAccount)
	require.NotNil(t, sa)
	assert.NotNil(t, find(objs, "ConfigMap", "aegis-system", VerdictsConfigMap), "the verdicts exist before any gate runs")
	assert.NotNil(t, find(objs, "ValidatingAdmissionPolicy", "", "aegis-gate-confined"))
	assert.NotNil(t, find(objs, "ValidatingAdmissionPolicyBinding", "", "aegis-gate-confined"))
	ns := convert[corev1.Namespace](t, find(objs, "Namespace", "", "aegis-system"))
	assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"], "the gate Job meets restricted")

	// The rules that apply to aegis-gate, by namespace ("" for cluster-wide).
	rules := map[string][]rbacv1.PolicyRule{}
	subject := func(subjects []rbacv1.Subject) bool {
		for _, s := range subjects {
			if s.Kind == "ServiceAccount" && s.Name == GateServiceAccount && s.Namespace == "aegis-system" {
				return true
			}
		}
		return false
	}
	for _, o := range objs {
		switch o["kind"] {
		case "ClusterRoleBinding":
			b := convert[rbacv1.ClusterRoleBinding](t, o)
			if subject(b.Subjects) {
				rules[""] = append(rules[""], convert[rbacv1.ClusterRole](t, find(objs, "ClusterRole", "", b.RoleRef.Name)).Rules...)
			}
		case "RoleBinding":
			b := convert[rbacv1.RoleBinding](t, o)
			if subject(b.Subjects) {
				require.Equal(t, "Role", b.RoleRef.Kind)
				rules[b.Namespace] = append(rules[b.Namespace], convert[rbacv1.Role](t, find(objs, "Role", b.Namespace, b.RoleRef.Name)).Rules...)
			}
		}
	}
	for _, p := range gatePermissions {
		ok := allows(rules[""], p) || (p.namespace != "" && p.namespace != "*" && allows(rules[p.namespace], p))
		assert.True(t, ok, "%s %s/%s in %q (%s) is not granted", p.verb, p.group, p.resource, p.namespace, p.why)
	}
	for _, p := range []permission{
		{"", "secrets", "get", "*", "", "never read Secrets outside aegis-system"},
		{"", "secrets", "list", "*", "", "never read Secrets outside aegis-system"},
		{"", "secrets", "get", "argocd", "", "never read Argo CD's Secrets"},
		{"", "configmaps", "update", "aegis-system", "aegis-set-x-0", "only the verdicts are updated"},
		{"", "configmaps", "delete", "argocd", "", "no deletes outside aegis-system"},
		{"", "configmaps", "update", "argocd", ClusterPolicyConfigMap, "the gate never changes the policy it applies"},
		{"argoproj.io", "applications", "update", "argocd", "", "the Application is only read"},
		{"rbac.authorization.k8s.io", "clusterroles", "create", "", "", "no cluster-scoped object is applied"},
		{"rbac.authorization.k8s.io", "clusterrolebindings", "patch", "", "", "no cluster-scoped object is applied"},
		{"", "events", "create", "kube-system", "", "Events only where Applications live"},
	} {
		ok := allows(rules[""], p) || allows(rules[p.namespace], p)
		assert.False(t, ok, "%s %s/%s in %q is granted: %s", p.verb, p.group, p.resource, p.namespace, p.why)
	}
}
