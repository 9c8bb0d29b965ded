package plugin

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// contractsDir is ../shared/contracts beside the clone, or
// $AEGIS_CONTRACTS_DIR (which .ci/run sets), as the other contract tests
// find it.
func contractsDir() string {
	if d := os.Getenv("AEGIS_CONTRACTS_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "contracts")
}

// contractSection returns the bullets of a "## " section of CONTRACTS.md
// whose title starts with title.
func contractSection(t *testing.T, title string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(contractsDir(), "CONTRACTS.md"))
	require.NoError(t, err, "the contract tests need shared/contracts beside the clone, or AEGIS_CONTRACTS_DIR")
	var bullets []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, "## "+title)
			continue
		}
		if !in {
			continue
		}
		switch {
		case strings.HasPrefix(line, "- "):
			bullets = append(bullets, strings.TrimPrefix(line, "- "))
		case strings.HasPrefix(line, "  ") && len(bullets) > 0:
			bullets[len(bullets)-1] += " " + strings.TrimSpace(line)
		}
	}
	require.NotEmpty(t, bullets, "CONTRACTS.md has a section %q", title)
	return bullets
}

// bullet returns the first bullet that starts with prefix.
func bullet(t *testing.T, bullets []string, prefix string) string {
	t.Helper()
	for _, b := range bullets {
		if strings.HasPrefix(b, prefix) {
			return b
		}
	}
	require.Failf(t, "CONTRACTS.md changed", "no bullet starts with %q", prefix)
	return ""
}

var backticked = regexp.MustCompile("`([^`]+)`")

func codeSpans(s string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// expandFields turns CONTRACTS.md's field notation into dotted paths:
// "spec.discover{fileName | find{glob | command,args}}" is spec.discover,
// spec.discover.fileName, spec.discover.find, spec.discover.find.glob, ...;
// "static[]" is a list whose items the notation does not describe.
func expandFields(tok string) []string {
	tok = strings.TrimSpace(tok)
	i := strings.Index(tok, "{")
	if i < 0 {
		return []string{strings.TrimSuffix(tok, "[]")}
	}
	prefix := tok[:i]
	inner := strings.TrimSuffix(tok[i+1:], "}")
	out := []string{prefix}
	depth, start := 0, 0
	var parts []string
	for j, r := range inner {
		switch r {
		case '{':
			depth++
		case '}':
			depth--
		case ',', '|':
			if depth == 0 {
				parts = append(parts, inner[start:j])
				start = j + 1
			}
		}
	}
	parts = append(parts, inner[start:])
	for _, p := range parts {
		for _, sub := range expandFields(p) {
			out = append(out, prefix+"."+sub)
		}
	}
	return out
}

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

// plugin.yaml uses only the fields CONTRACTS.md lists for a
// ConfigManagementPlugin, with the values it requires.
func TestPluginYAMLAgainstContracts(t *testing.T) {
	spec := bullet(t, contractSection(t, "Argo CD config management plugin"), "`plugin.yaml`:")
	allowed := map[string]bool{}
	values := map[string]string{}
	for _, tok := range codeSpans(spec) {
		if tok == "plugin.yaml" {
			continue
		}
		if k, v, ok := strings.Cut(tok, ": "); ok {
			allowed[k] = true
			values[k] = v
			continue
		}
		for _, p := range expandFields(tok) {
			allowed[p] = true
			// every prefix of a listed field is a field too (metadata, spec)
			for i := strings.Index(p, "."); i > 0; i = nextDot(p, i) {
				allowed[p[:i]] = true
			}
		}
	}
	require.True(t, allowed["spec.generate.command"], "the notation parsed: %v", allowed)
	require.True(t, allowed["spec.discover.find.glob"], "the notation parsed: %v", allowed)

	m := readPluginYAML(t)
	for _, p := range fieldPaths("", m) {
		assert.True(t, allowed[p], "plugin.yaml field %s is not one CONTRACTS.md lists", p)
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

func nextDot(p string, i int) int {
	j := strings.Index(p[i+1:], ".")
	if j < 0 {
		return -1
	}
	return i + 1 + j
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

// Every build variable CONTRACTS.md lists is one the plugin reads, with the
// prefixes and escaping it describes.
func TestEnvironmentAgainstContracts(t *testing.T) {
	b := bullet(t, contractSection(t, "Argo CD config management plugin"), "Environment of the commands")
	known := []string{EnvAppName, EnvAppNamespace, EnvProject, EnvRevision, EnvRevisionShort, EnvRepoURL, EnvSourcePath,
		EnvTargetRevision, EnvKubeVersion, EnvKubeAPIVersions, EnvParameters}
	var plain int
	for _, tok := range codeSpans(b) {
		switch {
		case regexp.MustCompile(`^[A-Z][A-Z_]+$`).MatchString(tok):
			assert.Contains(t, known, tok)
			plain++
		case strings.HasPrefix(tok, "ARGOCD_ENV_"):
			assert.Equal(t, "ARGOCD_ENV_<name>", tok)
			assert.Equal(t, "ARGOCD_ENV_", EnvPluginPrefix)
		case strings.HasPrefix(tok, "PARAM_"):
			assert.True(t, strings.HasPrefix(tok, EnvParamPrefix+"<NAME>"), tok)
		}
	}
	assert.Equal(t, len(known), plain, "CONTRACTS.md lists %d variables", plain)
	assert.Contains(t, b, "upper-cased, other characters -> `_`")
	assert.Equal(t, "PARAM_VALUES_FILES", ParamEnvName(ParamValuesFiles))
}

// The gate's hooks use Argo CD's hook annotations with values CONTRACTS.md
// allows, and the Job is bounded.
func TestGateHooksAgainstContracts(t *testing.T) {
	bullets := contractSection(t, "Argo CD resource hooks")
	first := bullets[0]
	spans := codeSpans(first)
	require.Equal(t, AnnotationHook, spans[0])
	hooks := allowedValues(first, AnnotationHook)
	policies := allowedValues(first, AnnotationHookDeletePolicy)
	require.Contains(t, hooks, HookPreSync)
	require.Contains(t, policies, DeleteBeforeHookCreation)
	assert.True(t, slices.Contains(spans, AnnotationSyncWave))
	assert.Contains(t, strings.Join(bullets, " "), "`activeDeadlineSeconds`")

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

// allowedValues reads "`key`: A | B | C (note)" from a CONTRACTS.md bullet.
func allowedValues(b, key string) []string {
	i := strings.Index(b, "`"+key+"`:")
	if i < 0 {
		return nil
	}
	rest := b[i+len(key)+3:]
	if j := strings.IndexAny(rest, ";("); j >= 0 {
		rest = rest[:j]
	}
	var out []string
	for _, v := range strings.Split(rest, "|") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
