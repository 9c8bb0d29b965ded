package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/verify"
)

// Build environment variables Argo CD sets for a plugin's commands
// (Argo CD's "Config Management Plugins" documentation).
const (
	EnvAppName         = "ARGOCD_APP_NAME"
	EnvAppNamespace    = "ARGOCD_APP_NAMESPACE"
	EnvProject         = "ARGOCD_APP_PROJECT_NAME"
	EnvRevision        = "ARGOCD_APP_REVISION"
	EnvRevisionShort   = "ARGOCD_APP_REVISION_SHORT"
	EnvRepoURL         = "ARGOCD_APP_SOURCE_REPO_URL"
	EnvSourcePath      = "ARGOCD_APP_SOURCE_PATH"
	EnvTargetRevision  = "ARGOCD_APP_SOURCE_TARGET_REVISION"
	EnvKubeVersion     = "KUBE_VERSION"
	EnvKubeAPIVersions = "KUBE_API_VERSIONS"
	EnvParameters      = "ARGOCD_APP_PARAMETERS"
	// EnvPluginPrefix prefixes each spec.source.plugin.env entry. Argo CD
	// has already substituted $VAR and $$ in the value when aegis sees it.
	EnvPluginPrefix = "ARGOCD_ENV_"
	// EnvParamPrefix prefixes the per-parameter variables.
	EnvParamPrefix = "PARAM_"
	// EnvGateImage is set in the sidecar's own container spec (the install
	// sets it to the sidecar's image, pinned by digest in a release): the
	// gate Job's image unless the cluster policy's gate.yaml names one. An
	// Application cannot set it (its variables are ARGOCD_ENV_ and PARAM_).
	EnvGateImage = "AEGIS_GATE_IMAGE"
)

// Env is the build environment of one plugin command.
type Env struct {
	// AppName is Argo CD's instance name of the Application: its name, or
	// "<namespace>_<name>" for an Application outside the control plane's
	// namespace (apps in any namespace).
	AppName string
	// AppNamespace is the Application's destination namespace (not the
	// namespace the Application lives in): Helm's release namespace.
	AppNamespace   string
	Project        string
	Revision       string
	RevisionShort  string
	RepoURL        string
	SourcePath     string
	TargetRevision string
	// KubeVersion and KubeAPIVersions describe the destination cluster, for
	// Helm's .Capabilities.
	KubeVersion     string
	KubeAPIVersions []string
	// PluginEnv holds spec.source.plugin.env: ARGOCD_ENV_<name> without the
	// prefix, name as written in the Application.
	PluginEnv map[string]string
	// Parameters are spec.source.plugin.parameters, from
	// ARGOCD_APP_PARAMETERS (or, without it, from PARAM_*).
	Parameters []Parameter
	// GateImage is the sidecar's EnvGateImage: the gate image the install
	// chose ("" without it: the default of the aegis version).
	GateImage string
}

// Parameter is one spec.source.plugin.parameters entry, as Argo CD encodes
// it in ARGOCD_APP_PARAMETERS: a name and a string, an array or a map. A
// present but empty array or map is non-nil.
type Parameter struct {
	Name   string            `json:"name"`
	String *string           `json:"string,omitempty"`
	Array  []string          `json:"array,omitempty"`
	Map    map[string]string `json:"map,omitempty"`
}

// AppInstance splits Argo CD's instance name into the Application's
// namespace and name ("team_web" is web in team); a bare name has no
// namespace (the control plane's). Kubernetes names cannot hold '_', so the
// split is unambiguous.
func AppInstance(instance string) (namespace, name string) {
	if i := strings.Index(instance, "_"); i >= 0 {
		return instance[:i], instance[i+1:]
	}
	return "", instance
}

// ParseEnv reads the build environment from environ (os.Environ()). It
// fails on a malformed ARGOCD_APP_PARAMETERS; unknown parameter names are
// judged later, by Settings.
func ParseEnv(environ []string) (*Env, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			vars[k] = v
		}
	}
	e := &Env{
		AppName:        vars[EnvAppName],
		AppNamespace:   vars[EnvAppNamespace],
		Project:        vars[EnvProject],
		Revision:       vars[EnvRevision],
		RevisionShort:  vars[EnvRevisionShort],
		RepoURL:        vars[EnvRepoURL],
		SourcePath:     vars[EnvSourcePath],
		TargetRevision: vars[EnvTargetRevision],
		KubeVersion:    vars[EnvKubeVersion],
		GateImage:      strings.TrimSpace(vars[EnvGateImage]),
		PluginEnv:      map[string]string{},
	}
	if strings.ContainsAny(e.GateImage, " \t\n\r") {
		return nil, &verify.InputError{Msg: fmt.Sprintf("%s %q is not an image reference (the sidecar's own variable: see plugin/install/repo-server)", EnvGateImage, e.GateImage)}
	}
	for _, v := range strings.Split(vars[EnvKubeAPIVersions], ",") {
		if v = strings.TrimSpace(v); v != "" {
			e.KubeAPIVersions = append(e.KubeAPIVersions, v)
		}
	}
	for k, v := range vars {
		if name, ok := strings.CutPrefix(k, EnvPluginPrefix); ok && name != "" {
			e.PluginEnv[name] = v
		}
	}
	if raw, ok := vars[EnvParameters]; ok && strings.TrimSpace(raw) != "" {
		params, err := parseParametersJSON(raw)
		if err != nil {
			return nil, err
		}
		e.Parameters = params
	} else {
		e.Parameters = parametersFromVars(vars)
	}
	return e, nil
}

// maxParametersBytes bounds ARGOCD_APP_PARAMETERS (Linux already caps one
// environment string at 128 KiB; the bound holds wherever aegis runs).
const maxParametersBytes = 1 << 20

func parseParametersJSON(raw string) ([]Parameter, error) {
	if len(raw) > maxParametersBytes {
		return nil, &verify.InputError{Msg: fmt.Sprintf("%s is %d bytes, above the limit of %d: set fewer or smaller parameters", EnvParameters, len(raw), maxParametersBytes)}
	}
	if !utf8.ValidString(raw) {
		// encoding/json would quietly turn the bad bytes into U+FFFD: a
		// values file or release name other than the one written.
		return nil, &verify.InputError{Msg: fmt.Sprintf("%s is not valid UTF-8 (at byte %d): fix the Application's plugin parameters", EnvParameters, invalidUTF8Offset(raw))}
	}
	var params []Parameter
	if err := json.Unmarshal([]byte(raw), &params); err != nil {
		where := ""
		var se *json.SyntaxError
		if errors.As(err, &se) {
			where = fmt.Sprintf(" (at byte %d)", se.Offset)
		}
		return nil, &verify.InputError{Msg: fmt.Sprintf("%s is not the JSON array of parameters Argo CD writes: %v%s", EnvParameters, err, where)}
	}
	seen := map[string]bool{}
	for i, p := range params {
		if p.Name == "" {
			return nil, &verify.InputError{Msg: fmt.Sprintf("%s: parameter %d has no name", EnvParameters, i)}
		}
		if seen[p.Name] {
			return nil, &verify.InputError{Msg: fmt.Sprintf("%s: parameter %q is set twice", EnvParameters, p.Name)}
		}
		seen[p.Name] = true
	}
	return params, nil
}

func invalidUTF8Offset(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return i
			}
		}
	}
	return -1
}

// ParamEnvName is the PARAM_ variable of a parameter name as Argo CD
// escapes it: upper-cased, every character outside [A-Z0-9_] turned into
// '_'.
func ParamEnvName(name string) string {
	return EnvParamPrefix + invalidParamChar.ReplaceAllString(strings.ToUpper(name), "_")
}

var invalidParamChar = regexp.MustCompile(`[^A-Z0-9_]`)

// parametersFromVars rebuilds the announced parameters from PARAM_*
// variables when ARGOCD_APP_PARAMETERS is absent (a manual run). Only what
// the escaping keeps can be recovered: strings (PARAM_<NAME>), arrays
// (PARAM_<NAME>_<i> from 0 without gaps) and maps with upper-case keys
// (PARAM_<NAME>_<KEY>); a map key's original spelling is lost, so map
// parameters are rebuilt with the escaped key. Argo CD always sets
// ARGOCD_APP_PARAMETERS, which carries them exactly.
func parametersFromVars(vars map[string]string) []Parameter {
	var out []Parameter
	for _, a := range Parameters {
		base := ParamEnvName(a.Name)
		switch a.CollectionType {
		case CollectionArray:
			var arr []string
			for i := 0; ; i++ {
				v, ok := vars[base+"_"+strconv.Itoa(i)]
				if !ok {
					break
				}
				arr = append(arr, v)
			}
			if arr != nil {
				out = append(out, Parameter{Name: a.Name, Array: arr})
			}
		case CollectionMap:
			m := map[string]string{}
			for k, v := range vars {
				if key, ok := strings.CutPrefix(k, base+"_"); ok && key != "" {
					m[key] = v
				}
			}
			if len(m) > 0 {
				out = append(out, Parameter{Name: a.Name, Map: m})
			}
		default:
			if v, ok := vars[base]; ok {
				out = append(out, Parameter{Name: a.Name, String: &v})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
