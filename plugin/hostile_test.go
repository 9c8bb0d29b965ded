package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/verify"
)

// Hostile ARGOCD_APP_PARAMETERS: invalid UTF-8 (encoding/json would turn it
// into U+FFFD, another file name than the one written), nesting, size, a
// truncated document (the message says where).
func TestParseEnvHostileParameters(t *testing.T) {
	for name, tc := range map[string]struct{ raw, want string }{
		"invalid UTF-8": {`[{"name":"values-files","array":["a` + "\xff" + `.yaml"]}]`, "not valid UTF-8 (at byte 35)"},
		"deep nesting":  {strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "exceeded max depth"},
		"truncated":     {`[{"name":"values-files","array":["a.yaml"]`, "at byte 42"},
		"too large":     {`[{"name":"helm-set","map":{"a":"` + strings.Repeat("x", maxParametersBytes) + `"}}]`, "above the limit"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseEnv([]string{"ARGOCD_APP_NAME=web", "ARGOCD_APP_PARAMETERS=" + tc.raw})
			require.Error(t, err)
			assert.True(t, verify.IsBadInput(err))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSettingsRefuseHostileValues(t *testing.T) {
	for name, c := range map[string]struct {
		env    [][2]string
		params []Parameter
		want   string
	}{
		"absolute values file":           {params: []Parameter{{Name: ParamValuesFiles, Array: []string{"/etc/passwd"}}}, want: "is an absolute path"},
		"absolute values file from env":  {env: [][2]string{{"VALUES_FILES", "a.yaml,/root/.kube/config"}}, want: "is an absolute path"},
		"values file URL":                {params: []Parameter{{Name: ParamValuesFiles, Array: []string{"https://example.com/v.yaml"}}}, want: "is a URL"},
		"env entry not UTF-8":            {env: [][2]string{{"RELEASE_NAME", "a\xff"}}, want: "ARGOCD_ENV_RELEASE_NAME is not valid UTF-8"},
		"Application name with a slash":  {params: nil, want: "not a valid name"},
		"Application name with a $(...)": {params: nil, want: "not a valid name"},
	} {
		t.Run(name, func(t *testing.T) {
			a := baseApp()
			a.Env, a.Params = c.env, c.params
			switch name {
			case "Application name with a slash":
				a.InstanceName = "web/../x"
			case "Application name with a $(...)":
				a.InstanceName = "web$(id)"
			}
			e, err := ParseEnv(argoEnviron(a))
			require.NoError(t, err)
			_, err = e.Settings("dev")
			require.Error(t, err)
			assert.True(t, verify.IsBadInput(err))
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// A values file that climbs out of the repository, directly or through a
// symlinked directory, is refused and its content never rendered (Argo CD's
// own Helm source refuses it too).
func TestGenerateValuesFilesStayInTheRepository(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "prod.yaml"), []byte("greeting: STOLEN\n"), 0o600))
	root := t.TempDir()
	chart := filepath.Join(root, "charts", "probe")
	writeFiles(t, chart, map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
		"values.yaml":       "greeting: hello\nprice: none\nlist: [x]\n",
		"templates/cm.yaml": cmTemplate,
	})
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "charts", "linked")))
	rel, err := filepath.Rel(chart, filepath.Join(outside, "prod.yaml"))
	require.NoError(t, err)
	for _, tc := range []struct{ file, want string }{
		{rel, "leaves the source root"},
		{"../linked/prod.yaml", "resolves (through a symlink) outside the source root"},
	} {
		a := baseApp()
		a.Params = []Parameter{{Name: ParamValuesFiles, Array: []string{tc.file}}}
		_, err := generateIn(t, root, "charts/probe", a)
		require.Error(t, err, tc.file)
		assert.True(t, verify.IsBadInput(err))
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), "STOLEN")
	}
}
