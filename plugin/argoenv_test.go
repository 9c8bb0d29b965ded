package plugin

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// argoApp is what an Application and its cluster give a plugin command.
type argoApp struct {
	// InstanceName is ARGOCD_APP_NAME ("name", or "namespace_name").
	InstanceName   string
	DestNamespace  string
	Project        string
	Revision       string
	RepoURL        string
	Path           string
	TargetRevision string
	KubeVersion    string
	APIVersions    []string
	// Env is spec.source.plugin.env, in order.
	Env [][2]string
	// Params is spec.source.plugin.parameters.
	Params []Parameter
}

// argoEnviron builds a plugin command's environment the way Argo CD v3.6.1's
// repo-server does, step for step (reposerver/repository/repository.go:
// newEnv, getPluginEnvs, getPluginParamEnvs; pkg/apis/application/v1alpha1:
// Env.Envsubst, ApplicationSourcePluginParameters.Environ): the build
// variables, KUBE_VERSION and KUBE_API_VERSIONS, then each plugin env entry
// as ARGOCD_ENV_<name> with $VAR references to those variables substituted
// and $$ turned into $, then ARGOCD_APP_PARAMETERS and PARAM_* (parameters
// are not substituted). hack/tools/argocde2e checks the same behaviour
// against Argo CD's own code.
func argoEnviron(a argoApp) []string {
	short := func(n int) string {
		if len(a.Revision) > n {
			return a.Revision[:n]
		}
		return a.Revision
	}
	env := []string{
		"ARGOCD_APP_NAME=" + a.InstanceName,
		"ARGOCD_APP_NAMESPACE=" + a.DestNamespace,
		"ARGOCD_APP_PROJECT_NAME=" + a.Project,
		"ARGOCD_APP_REVISION=" + a.Revision,
		"ARGOCD_APP_REVISION_SHORT=" + short(7),
		"ARGOCD_APP_REVISION_SHORT_8=" + short(8),
		"ARGOCD_APP_SOURCE_REPO_URL=" + a.RepoURL,
		"ARGOCD_APP_SOURCE_PATH=" + a.Path,
		"ARGOCD_APP_SOURCE_TARGET_REVISION=" + a.TargetRevision,
		"KUBE_VERSION=" + a.KubeVersion,
		"KUBE_API_VERSIONS=" + strings.Join(a.APIVersions, ","),
	}
	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	for _, e := range a.Env {
		v := os.Expand(e[1], func(s string) string {
			if s == "$" { // Argo CD: "allow escaping $ with $$"
				return "$"
			}
			return vals[s]
		})
		env = append(env, fmt.Sprintf("ARGOCD_ENV_%s=%s", e[0], v))
	}
	// The plugin source is set (the app uses the plugin), so Argo CD always
	// writes ARGOCD_APP_PARAMETERS: "null" without parameters.
	params := "null"
	if a.Params != nil {
		out := make([]map[string]any, 0, len(a.Params))
		for _, p := range a.Params {
			m := map[string]any{"name": p.Name}
			if p.String != nil {
				m["string"] = *p.String
			}
			if p.Map != nil {
				m["map"] = p.Map
			}
			if p.Array != nil {
				m["array"] = p.Array
			}
			out = append(out, m)
		}
		b, err := json.Marshal(out)
		if err != nil {
			panic(err)
		}
		params = string(b)
	}
	env = append(env, "ARGOCD_APP_PARAMETERS="+params)
	for _, p := range a.Params {
		base := "PARAM_" + argoEscaped(p.Name)
		if p.String != nil {
			env = append(env, fmt.Sprintf("%s=%s", base, *p.String))
		}
		for k, v := range p.Map {
			env = append(env, fmt.Sprintf("%s_%s=%s", base, argoEscaped(k), v))
		}
		for i, v := range p.Array {
			env = append(env, fmt.Sprintf("%s_%d=%s", base, i, v))
		}
	}
	return env
}

func argoEscaped(name string) string {
	return regexp.MustCompile("[^A-Z0-9_]").ReplaceAllString(strings.ToUpper(name), "_")
}

func str(s string) *string { return &s }
