package plugin

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The external contracts the plugin meets, stated here from Argo CD's
// public documentation (v2.6+ and v3):
//   - "Config Management Plugins", operator manual,
//     https://argo-cd.readthedocs.io/en/stable/operator-manual/config-management-plugins/
//     (the ConfigManagementPlugin file, the commands' environment, the
//     sidecar);
//   - "Resource Hooks" and "Sync Phases and Waves", user guide,
//     https://argo-cd.readthedocs.io/en/stable/user-guide/resource_hooks/ and
//     https://argo-cd.readthedocs.io/en/stable/user-guide/sync-waves/.

// The fields of a ConfigManagementPlugin (plugin.yaml is a file the sidecar
// reads, not a CRD): metadata.name, spec.version, spec.init and
// spec.generate (required) as command and args, spec.discover as fileName
// or find (glob, or command and args), spec.parameters as static
// announcements (a list) or a dynamic command, spec.preserveFileMode and
// spec.provideGitCreds.
var cmpFields = []string{
	"apiVersion", "kind",
	"metadata", "metadata.name",
	"spec", "spec.version",
	"spec.init", "spec.init.command", "spec.init.args",
	"spec.generate", "spec.generate.command", "spec.generate.args",
	"spec.discover", "spec.discover.fileName",
	"spec.discover.find", "spec.discover.find.glob", "spec.discover.find.command", "spec.discover.find.args",
	"spec.parameters", "spec.parameters.static",
	"spec.parameters.dynamic", "spec.parameters.dynamic.command", "spec.parameters.dynamic.args",
	"spec.preserveFileMode", "spec.provideGitCreds",
}

// The values plugin.yaml must have.
var cmpValues = map[string]string{
	"apiVersion": "argoproj.io/v1alpha1",
	"kind":       "ConfigManagementPlugin",
}

// The build environment Argo CD gives the plugin's commands (run in the
// application's path), besides ARGOCD_ENV_<name> for each entry of the
// Application's spec.source.plugin.env and PARAM_<NAME> for each parameter
// (the name upper-cased, every other character than A-Z, 0-9 and _ turned
// into _; arrays PARAM_<NAME>_<i>, maps PARAM_<NAME>_<KEY>).
var argoBuildEnv = []string{
	"ARGOCD_APP_NAME", "ARGOCD_APP_NAMESPACE", "ARGOCD_APP_PROJECT_NAME",
	"ARGOCD_APP_REVISION", "ARGOCD_APP_REVISION_SHORT",
	"ARGOCD_APP_SOURCE_REPO_URL", "ARGOCD_APP_SOURCE_PATH", "ARGOCD_APP_SOURCE_TARGET_REVISION",
	"KUBE_VERSION", "KUBE_API_VERSIONS",
	"ARGOCD_APP_PARAMETERS", // JSON array of the parameters set on the Application
}

// The sidecar: it runs argocd-cmp-server, which the repo-server's init
// container copies into /var/run/argocd; it mounts that volume, the
// repo-server's plugin sockets, its plugin.yaml, and a /tmp of its own; and
// it runs as the argocd user (UID 999), not root.
const cmpServerCommand = "/var/run/argocd/argocd-cmp-server"

var sidecarMounts = []string{
	"/var/run/argocd",
	"/home/argocd/cmp-server/plugins",
	"/home/argocd/cmp-server/config/plugin.yaml",
	"/tmp",
}

const sidecarRunAsUser = 999

// Resource hooks: the annotation names and the values Argo CD accepts.
// argocd.argoproj.io/hook is a comma-separated list of phases;
// argocd.argoproj.io/hook-delete-policy defaults to BeforeHookCreation;
// argocd.argoproj.io/sync-wave is an integer as a string. A hook that never
// finishes blocks the sync (there is no default timeout), so a hook Job
// must bound itself with spec.activeDeadlineSeconds.
const (
	argoHookAnnotation      = "argocd.argoproj.io/hook"
	argoDeletePolicy        = "argocd.argoproj.io/hook-delete-policy"
	argoSyncWaveAnnotation  = "argocd.argoproj.io/sync-wave"
	argoDefaultDeletePolicy = "BeforeHookCreation"
	argoPreSync             = "PreSync"
)

var (
	argoHookPhases     = []string{"PreSync", "Sync", "PostSync", "SyncFail", "Skip"}
	argoDeletePolicies = []string{"HookSucceeded", "HookFailed", "BeforeHookCreation"}
)

// fieldPaths lists the dotted paths of a decoded YAML mapping; lists are
// leaves (their items are checked on their own).
func fieldPaths(prefix string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out = append(out, p)
		out = append(out, fieldPaths(p, sub)...)
	}
	sort.Strings(out)
	return out
}

func readPluginYAML(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("plugin.yaml")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(data, &m))
	return m
}

// plugin.yaml uses only the fields of a ConfigManagementPlugin, with the
// values Argo CD requires.
func TestPluginYAMLAgainstContracts(t *testing.T) {
	allowed := map[string]bool{}
	for _, p := range cmpFields {
		allowed[p] = true
	}
	values := cmpValues
	m := readPluginYAML(t)
	for _, p := range fieldPaths("", m) {
		assert.True(t, allowed[p], "plugin.yaml field %s is not a ConfigManagementPlugin field", p)
	}
	for k, v := range values {
		assert.Equal(t, v, m[k], "plugin.yaml %s", k)
	}
	meta := m["metadata"].(map[string]any)
	s := m["spec"].(map[string]any)
	assert.Equal(t, "aegis", meta["name"])
	assert.NotEmpty(t, s["version"])
	gen := s["generate"].(map[string]any)
	assert.Equal(t, []any{"aegis"}, gen["command"], "generate (required) runs aegis")
	assert.Equal(t, []any{"argocd", "generate"}, gen["args"])
	find := s["discover"].(map[string]any)["find"].(map[string]any)
	assert.Equal(t, []any{"aegis"}, find["command"], "discovery: a .aegis.yaml in the app path or above it")
	assert.Equal(t, []any{"argocd", "discover"}, find["args"])
}

// The static parameter announcements are the parameters generate
// understands, with Argo CD's announcement fields only (repo-server's
// ParameterAnnouncement in argo-cd v3.6.1: name, title, tooltip, required,
// itemType, collectionType, string, array, map).
func TestPluginYAMLAnnouncesTheParameters(t *testing.T) {
	announcementFields := []string{"name", "title", "tooltip", "required", "itemType", "collectionType", "string", "array", "map"}
	static := readPluginYAML(t)["spec"].(map[string]any)["parameters"].(map[string]any)["static"].([]any)
	require.Len(t, static, len(Parameters))
	for i, item := range static {
		a := item.(map[string]any)
		for k := range a {
			assert.Contains(t, announcementFields, k, "announcement %d", i)
		}
		want := Parameters[i]
		assert.Equal(t, want.Name, a["name"])
		assert.Equal(t, want.Title, a["title"])
		assert.Equal(t, want.Tooltip, a["tooltip"])
		assert.Equal(t, want.CollectionType, a["collectionType"], want.Name)
		assert.Contains(t, []string{CollectionString, CollectionArray, CollectionMap}, a["collectionType"])
		if want.Default != "" {
			assert.Equal(t, want.Default, a["string"], want.Name)
		} else {
			assert.NotContains(t, a, "string", want.Name)
		}
	}
}

// An Application names the plugin <metadata.name>-<spec.version>; the
// example Application does.
func TestExampleApplicationUsesThePlugin(t *testing.T) {
	m := readPluginYAML(t)
	name := m["metadata"].(map[string]any)["name"].(string) + "-" + m["spec"].(map[string]any)["version"].(string)
	data, err := os.ReadFile(filepath.Join("install", "application.yaml"))
	require.NoError(t, err)
	var app unstructured.Unstructured
	require.NoError(t, yaml.Unmarshal(data, &app.Object))
	assert.Equal(t, "argoproj.io/v1alpha1", app.GetAPIVersion())
	assert.Equal(t, "Application", app.GetKind())
	got, _, _ := unstructured.NestedString(app.Object, "spec", "source", "plugin", "name")
	assert.Equal(t, name, got)
	path, _, _ := unstructured.NestedString(app.Object, "spec", "source", "path")
	_, err = os.Stat(filepath.Join("..", path))
	assert.NoError(t, err, "the example's path is in this repository")
	params, _, _ := unstructured.NestedSlice(app.Object, "spec", "source", "plugin", "parameters")
	env, _, _ := unstructured.NestedSlice(app.Object, "spec", "source", "plugin", "env")
	a := baseApp()
	a.InstanceName = app.GetName()
	for _, p := range params {
		pm := p.(map[string]any)
		a.Params = append(a.Params, Parameter{Name: pm["name"].(string), String: str(pm["string"].(string))})
	}
	for _, e := range env {
		em := e.(map[string]any)
		a.Env = append(a.Env, [2]string{em["name"].(string), em["value"].(string)})
	}
	e, err := ParseEnv(argoEnviron(a))
	require.NoError(t, err)
	_, err = e.Settings("dev")
	assert.NoError(t, err, "the example's parameters and env are ones aegis understands")
}

// The plugin reads exactly the build variables Argo CD sets, with its
// prefixes and its escaping of parameter names.
func TestEnvironmentAgainstContracts(t *testing.T) {
	known := []string{EnvAppName, EnvAppNamespace, EnvProject, EnvRevision, EnvRevisionShort, EnvRepoURL, EnvSourcePath,
		EnvTargetRevision, EnvKubeVersion, EnvKubeAPIVersions, EnvParameters}
	assert.ElementsMatch(t, argoBuildEnv, known)
	assert.Equal(t, "ARGOCD_ENV_", EnvPluginPrefix)
	assert.Equal(t, "PARAM_", EnvParamPrefix)
	assert.Equal(t, "PARAM_VALUES_FILES", ParamEnvName(ParamValuesFiles))
	assert.Equal(t, "PARAM_A_B_C_D", ParamEnvName("a.b-c d"), "upper-cased, other characters -> _")
}

// The gate's hooks use Argo CD's hook annotations with values it accepts,
// and the Job is bounded.
func TestGateHooksAgainstContracts(t *testing.T) {
	require.Equal(t, argoHookAnnotation, AnnotationHook)
	require.Equal(t, argoDeletePolicy, AnnotationHookDeletePolicy)
	require.Equal(t, argoSyncWaveAnnotation, AnnotationSyncWave)
	require.Equal(t, argoPreSync, HookPreSync)
	require.Equal(t, argoDefaultDeletePolicy, DeleteBeforeHookCreation)
	hooks, policies := argoHookPhases, argoDeletePolicies

	g, err := generateIn(t, repoRoot(t), "examples/plain-yaml/after", baseApp())
	require.NoError(t, err)
	for _, u := range g.Gate {
		a := u.GetAnnotations()
		assert.Contains(t, hooks, a[AnnotationHook])
		assert.Contains(t, policies, a[AnnotationHookDeletePolicy])
		_, err := strconv.Atoi(a[AnnotationSyncWave])
		assert.NoError(t, err, "sync-wave is an integer string")
	}
	d, found, _ := unstructured.NestedInt64(g.Gate[len(g.Gate)-1].Object, "spec", "activeDeadlineSeconds")
	assert.True(t, found && d > 0)
}
