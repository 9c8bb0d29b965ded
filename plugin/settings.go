package plugin

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/verify"
)

// Collection types of a parameter announcement (Argo CD's collectionType;
// "" means string).
const (
	CollectionString = "string"
	CollectionArray  = "array"
	CollectionMap    = "map"
)

// Announcement is one parameter aegis announces in plugin.yaml
// (spec.parameters.static) and understands in generate.
type Announcement struct {
	Name           string
	Title          string
	Tooltip        string
	CollectionType string
	// Default is the string default shown in the UI ("" for none).
	Default string
}

// Parameter names.
const (
	ParamValuesFiles = "values-files"
	ParamHelmSet     = "helm-set"
	ParamReleaseName = "release-name"
	// Plain directories, as Argo CD's spec.source.directory.
	ParamRecurse           = "recurse"
	ParamInclude           = "include"
	ParamExclude           = "exclude"
	ParamJsonnetTLA        = "jsonnet-tla"
	ParamJsonnetTLACode    = "jsonnet-tla-code"
	ParamJsonnetExtVar     = "jsonnet-ext-var"
	ParamJsonnetExtVarCode = "jsonnet-ext-var-code"
	ParamJsonnetLibs       = "jsonnet-libs"
	ParamGate              = "gate"
	ParamImage             = "image"
	ParamGateNamespace     = "gate-namespace"
	ParamGateTimeout       = "gate-timeout"
	ParamShadow            = "shadow"
	ParamShadowTimeout     = "shadow-timeout"
	ParamVerdictTTL        = "verdict-ttl"
	ParamFailOn            = "fail-on"
	ParamAppNamespace      = "app-namespace"
)

// Defaults of the gate.
const (
	DefaultGateNamespace = "aegis-system"
	DefaultAppNamespace  = "argocd"
	DefaultGateTimeout   = 15 * time.Minute
	DefaultShadowTimeout = 5 * time.Minute
	DefaultVerdictTTL    = 24 * time.Hour
	DefaultShadow        = verify.ShadowBoth
	// GateServiceAccount runs the gate Job (plugin/install creates it).
	GateServiceAccount = "aegis-gate"
	// VerdictsConfigMap holds the recorded verdicts in the gate namespace.
	VerdictsConfigMap = "aegis-verdicts"
	// ImageRepository is the aegis image the gate runs by default.
	ImageRepository = "ghcr.io/kube-sentient/aegis"
	maxGateTimeout  = 6 * time.Hour
	minGateTimeout  = 2 * time.Minute
)

// Parameters are the parameters aegis announces, in plugin.yaml's order. A
// parameter NAME can also be set through the Application's plugin env as
// ARGOCD_ENV_<NAME> (upper case, '-' as '_'; arrays comma-separated, helm-set
// in Helm's --set syntax); a parameter wins over the env entry, except that
// helm-set applies both, the parameter's values last (--set's last word wins).
var Parameters = []Announcement{
	{Name: ParamValuesFiles, Title: "Helm values files", CollectionType: CollectionArray,
		Tooltip: "Values files of the chart, relative to the chart directory, applied in order after values.yaml."},
	{Name: ParamHelmSet, Title: "Helm values (--set)", CollectionType: CollectionMap,
		Tooltip: "Helm values, each a dotted path and its value, applied after the values files like --set (keys use Helm's dotted paths; values are literal, commas included)."},
	{Name: ParamReleaseName, Title: "Helm release name", CollectionType: CollectionString,
		Tooltip: "Helm release name (default: the Application's name, as Argo CD's own Helm source uses)."},
	{Name: ParamRecurse, Title: "Directory: recurse", CollectionType: CollectionString, Default: "false",
		Tooltip: "A plain directory: true also reads its subdirectories (Argo CD's directory.recurse); false reads only its own files, as Argo CD's default."},
	{Name: ParamInclude, Title: "Directory: include", CollectionType: CollectionString,
		Tooltip: "A plain directory: read only the files whose path relative to it matches this glob (Argo CD's directory.include; '*' also matches '/', '{a,b}' lists)."},
	{Name: ParamExclude, Title: "Directory: exclude", CollectionType: CollectionString,
		Tooltip: "A plain directory: skip the files whose path relative to it matches this glob (Argo CD's directory.exclude; wins over include)."},
	{Name: ParamJsonnetTLA, Title: "Jsonnet top-level arguments", CollectionType: CollectionMap,
		Tooltip: "Jsonnet top-level arguments as name: string value (Argo CD's directory.jsonnet.tlas); as a plugin env entry, a JSON object."},
	{Name: ParamJsonnetTLACode, Title: "Jsonnet top-level arguments (code)", CollectionType: CollectionMap,
		Tooltip: "Jsonnet top-level arguments as name: Jsonnet code (tlas with code: true); as a plugin env entry, a JSON object."},
	{Name: ParamJsonnetExtVar, Title: "Jsonnet external variables", CollectionType: CollectionMap,
		Tooltip: "Jsonnet external variables as name: string value (Argo CD's directory.jsonnet.extVars); as a plugin env entry, a JSON object."},
	{Name: ParamJsonnetExtVarCode, Title: "Jsonnet external variables (code)", CollectionType: CollectionMap,
		Tooltip: "Jsonnet external variables as name: Jsonnet code (extVars with code: true); as a plugin env entry, a JSON object."},
	{Name: ParamJsonnetLibs, Title: "Jsonnet libraries", CollectionType: CollectionArray,
		Tooltip: "Jsonnet library directories searched by imports, relative to the repository root (Argo CD's directory.jsonnet.libs)."},
	{Name: ParamGate, Title: "PreSync gate", CollectionType: CollectionString, Default: "true",
		Tooltip: "true appends the aegis PreSync gate (a ConfigMap with the rendered set and a Job that verifies it); false renders only."},
	{Name: ParamImage, Title: "Gate image", CollectionType: CollectionString,
		Tooltip: "Image of the gate Job (default " + ImageRepository + ":<aegis version>)."},
	{Name: ParamGateNamespace, Title: "Gate namespace", CollectionType: CollectionString, Default: DefaultGateNamespace,
		Tooltip: "Namespace of the gate Job, the rendered-set ConfigMaps and the verdicts (holds the aegis-gate ServiceAccount; the AppProject must allow it as a destination)."},
	{Name: ParamGateTimeout, Title: "Gate timeout", CollectionType: CollectionString, Default: DefaultGateTimeout.String(),
		Tooltip: "activeDeadlineSeconds of the gate Job, as a duration (2m to 6h): a gate that does not finish fails the sync."},
	{Name: ParamShadow, Title: "Shadow deployments", CollectionType: CollectionString, Default: DefaultShadow,
		Tooltip: "both deploys the live baseline and the new set into shadow namespaces; head deploys only the new set."},
	{Name: ParamShadowTimeout, Title: "Shadow health timeout", CollectionType: CollectionString, Default: DefaultShadowTimeout.String(),
		Tooltip: "How long the gate waits for the shadow deployments to become healthy."},
	{Name: ParamVerdictTTL, Title: "Verdict lifetime", CollectionType: CollectionString, Default: DefaultVerdictTTL.String(),
		Tooltip: "How long a recorded passing verdict for the same rendered set and policy lets a later sync pass at once."},
	{Name: ParamFailOn, Title: "Fail on severity", CollectionType: CollectionString,
		Tooltip: "New findings at or above this severity fail the gate (critical, high, medium, low, info; default: the policy's failOn.severity)."},
	{Name: ParamAppNamespace, Title: "Application namespace", CollectionType: CollectionString, Default: DefaultAppNamespace,
		Tooltip: "Namespace the Application lives in, for the gate's Event (default: from the app's instance name, else argocd)."},
}

func announcement(name string) (Announcement, bool) {
	for _, a := range Parameters {
		if a.Name == name {
			return a, true
		}
	}
	return Announcement{}, false
}

// Settings are what an Application tunes through its parameters and plugin
// env, validated.
type Settings struct {
	// Helm.
	ValuesFiles []string
	HelmSet     []string // each one --set argument
	ReleaseName string
	// Plain directories: recurse, include, exclude and Jsonnet, as
	// Argo CD's spec.source.directory.
	Recurse          bool
	Include, Exclude string
	Jsonnet          render.JsonnetConfig
	// Gate.
	Gate          bool
	Image         string
	GateNamespace string
	GateTimeout   time.Duration
	Shadow        string
	ShadowTimeout time.Duration
	VerdictTTL    time.Duration
	FailOn        string
	// App is the Application's instance name (ARGOCD_APP_NAME); AppName and
	// AppNamespace are its name and the namespace it lives in.
	App, AppName, AppNamespace string
	// From names where each parameter the Application set came from
	// (`plugin parameter "gate"` or `plugin env entry ARGOCD_ENV_GATE`),
	// by parameter name: ClusterPolicy.Judge tells set values from defaults
	// and names them in its refusals.
	From map[string]string
}

// DefaultImage is the gate image of an aegis version: a release's own tag,
// "latest" for a development build.
func DefaultImage(toolVersion string) string {
	tag := "latest"
	if len(toolVersion) > 1 && toolVersion[0] == 'v' && toolVersion[1] >= '0' && toolVersion[1] <= '9' && !strings.ContainsAny(toolVersion, "+/ ") {
		tag = toolVersion
	}
	return ImageRepository + ":" + tag
}

// Settings validates the parameters and plugin env entries against what
// aegis announces. An unknown name, a value of the wrong collection type or
// an invalid value is bad input: generate fails rather than render something
// the Application's author did not ask for.
func (e *Env) Settings(toolVersion string) (Settings, error) {
	s := Settings{
		Gate:          true,
		Image:         DefaultImage(toolVersion),
		GateNamespace: DefaultGateNamespace,
		GateTimeout:   DefaultGateTimeout,
		Shadow:        DefaultShadow,
		ShadowTimeout: DefaultShadowTimeout,
		VerdictTTL:    DefaultVerdictTTL,
		App:           e.AppName,
		From:          map[string]string{},
	}
	if e.AppName == "" {
		return s, &verify.InputError{Msg: EnvAppName + " is not set: `aegis argocd generate` runs as Argo CD's config management plugin (see plugin/plugin.yaml)"}
	}
	ns, name := AppInstance(e.AppName)
	s.AppName, s.AppNamespace = name, ns
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return s, &verify.InputError{Msg: fmt.Sprintf("%s %q: the Application name is not a valid name: %s", EnvAppName, e.AppName, strings.Join(errs, "; "))}
	}

	// Values by parameter name: env entries first, parameters over them.
	strs := map[string]string{}
	arrays := map[string][]string{}
	maps := map[string]map[string]string{}
	setStrs := []string{} // helm-set from env: already --set syntax
	envNames := make([]string, 0, len(e.PluginEnv))
	for k := range e.PluginEnv {
		envNames = append(envNames, k)
	}
	sort.Strings(envNames)
	for _, k := range envNames {
		v := e.PluginEnv[k]
		a, ok := announcement(strings.ReplaceAll(strings.ToLower(k), "_", "-"))
		if !ok {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin env %s%s: aegis has no setting %q (it knows %s)", EnvPluginPrefix, k, k, envNamesList())}
		}
		if !utf8.ValidString(v) {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin env %s%s is not valid UTF-8: fix the Application's plugin env", EnvPluginPrefix, k)}
		}
		if v != "" {
			s.From[a.Name] = "plugin env entry " + EnvPluginPrefix + k
		}
		switch a.CollectionType {
		case CollectionArray:
			arrays[a.Name] = splitList(v)
		case CollectionMap:
			if a.Name != ParamHelmSet {
				// Jsonnet variables: a JSON object of strings.
				m := map[string]string{}
				if strings.TrimSpace(v) != "" {
					if err := json.Unmarshal([]byte(v), &m); err != nil {
						return s, &verify.InputError{Msg: fmt.Sprintf("plugin env %s%s: a JSON object of strings, such as {\"env\": \"prod\"}: %v", EnvPluginPrefix, k, err)}
					}
				}
				maps[a.Name] = m
			} else if v != "" {
				setStrs = append(setStrs, v)
			}
		default:
			strs[a.Name] = v
		}
	}
	for _, p := range e.Parameters {
		a, ok := announcement(p.Name)
		if !ok {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q is not one aegis announces (it knows %s)", p.Name, paramNamesList())}
		}
		switch {
		case (p.String != nil && *p.String != "") || len(p.Array) > 0 || len(p.Map) > 0:
			s.From[a.Name] = fmt.Sprintf("plugin parameter %q", a.Name)
		case p.String != nil:
			delete(s.From, a.Name) // an empty string parameter empties the env entry's value too
		}
		switch a.CollectionType {
		case CollectionArray:
			if p.Array == nil {
				return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q is an array: set it with array: [...]", p.Name)}
			}
			arrays[a.Name] = p.Array
		case CollectionMap:
			if p.Map == nil {
				return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q is a map: set it with map: {...}", p.Name)}
			}
			maps[a.Name] = p.Map // after the env entry's values: --set's last word wins
		default:
			if p.String == nil {
				return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q is a string: set it with string: ...", p.Name)}
			}
			strs[a.Name] = *p.String
		}
	}

	s.ValuesFiles = arrays[ParamValuesFiles]
	for _, f := range s.ValuesFiles {
		if f == "" {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q holds an empty file name", ParamValuesFiles)}
		}
		// As Argo CD's own Helm source: values files come from the
		// repository, never from the repo-server's disk.
		if filepath.IsAbs(f) || strings.HasPrefix(f, "/") {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q: %q is an absolute path; values files are relative to the chart and inside the repository", ParamValuesFiles, f)}
		}
		if strings.Contains(f, "://") {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q: %q is a URL; aegis reads values files from the repository only", ParamValuesFiles, f)}
		}
	}
	s.HelmSet = append(s.HelmSet, setStrs...)
	if m := maps[ParamHelmSet]; m != nil {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "" {
				return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q has an empty key", ParamHelmSet)}
			}
			s.HelmSet = append(s.HelmSet, k+"="+escapeSetValue(m[k]))
		}
	}
	if err := s.directorySettings(strs, arrays, maps); err != nil {
		return s, err
	}
	s.ReleaseName = name
	if v, ok := strs[ParamReleaseName]; ok && v != "" {
		s.ReleaseName = v
	}
	if v, ok := strs[ParamGate]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q must be true or false, got %q", ParamGate, v)}
		}
		s.Gate = b
	}
	if v := strs[ParamImage]; v != "" {
		if strings.ContainsAny(v, " \t\n") {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q: %q is not an image reference", ParamImage, v)}
		}
		s.Image = v
	}
	if v := strs[ParamGateNamespace]; v != "" {
		if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q: %q is not a namespace name: %s", ParamGateNamespace, v, strings.Join(errs, "; "))}
		}
		s.GateNamespace = v
	}
	var err error
	if s.GateTimeout, err = durationParam(strs, ParamGateTimeout, DefaultGateTimeout); err != nil {
		return s, err
	}
	if s.GateTimeout < minGateTimeout || s.GateTimeout > maxGateTimeout {
		return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q must be between %s and %s, got %s", ParamGateTimeout, minGateTimeout, maxGateTimeout, s.GateTimeout)}
	}
	if s.ShadowTimeout, err = durationParam(strs, ParamShadowTimeout, DefaultShadowTimeout); err != nil {
		return s, err
	}
	if s.ShadowTimeout+gateMargin > s.GateTimeout {
		return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q (%s) leaves no time for the scanners and teardown within %q (%s): keep it at least %s below", ParamShadowTimeout, s.ShadowTimeout, ParamGateTimeout, s.GateTimeout, gateMargin)}
	}
	if s.VerdictTTL, err = durationParam(strs, ParamVerdictTTL, DefaultVerdictTTL); err != nil {
		return s, err
	}
	if v := strs[ParamShadow]; v != "" {
		if v != verify.ShadowHead && v != verify.ShadowBoth {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q must be head or both, got %q", ParamShadow, v)}
		}
		s.Shadow = v
	}
	if v := strs[ParamFailOn]; v != "" {
		sev, err := report.ParseSeverity(v)
		if err != nil {
			return s, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q: %v", ParamFailOn, err)}
		}
		s.FailOn = string(sev)
	}
	if s.AppNamespace == "" {
		s.AppNamespace = DefaultAppNamespace
		if v := strs[ParamAppNamespace]; v != "" {
			s.AppNamespace = v
		}
	}
	if errs := validation.IsDNS1123Label(s.AppNamespace); len(errs) > 0 {
		return s, &verify.InputError{Msg: fmt.Sprintf("Application namespace %q is not a namespace name: %s", s.AppNamespace, strings.Join(errs, "; "))}
	}
	return s, nil
}

// directorySettings reads recurse, include, exclude and the Jsonnet
// parameters.
func (s *Settings) directorySettings(strs map[string]string, arrays map[string][]string, maps map[string]map[string]string) error {
	if v := strs[ParamRecurse]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q must be true or false, got %q", ParamRecurse, v)}
		}
		s.Recurse = b
	}
	for _, g := range []struct {
		name string
		dst  *string
	}{{ParamInclude, &s.Include}, {ParamExclude, &s.Exclude}} {
		v := strs[g.name]
		if v == "" {
			continue
		}
		if _, err := render.CompileGlob(g.name, v); err != nil {
			return &verify.InputError{Msg: fmt.Sprintf("plugin parameter %v", err)}
		}
		*g.dst = v
	}
	for _, set := range []struct {
		name string
		code bool
		dst  *[]render.JsonnetVar
	}{
		{ParamJsonnetTLA, false, &s.Jsonnet.TLAs},
		{ParamJsonnetTLACode, true, &s.Jsonnet.TLAs},
		{ParamJsonnetExtVar, false, &s.Jsonnet.ExtVars},
		{ParamJsonnetExtVarCode, true, &s.Jsonnet.ExtVars},
	} {
		m := maps[set.name]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "" {
				return &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q has an empty name", set.name)}
			}
			*set.dst = append(*set.dst, render.JsonnetVar{Name: k, Value: m[k], Code: set.code})
		}
	}
	s.Jsonnet.Libs = arrays[ParamJsonnetLibs]
	if err := render.CheckDirectory(render.Options{Jsonnet: s.Jsonnet}); err != nil {
		return &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q: %v", ParamJsonnetLibs, err)}
	}
	return nil
}

// gateMargin is the time the gate keeps, beyond the shadow health wait, for
// the live read, the scanners, the verdict and the teardown.
const gateMargin = 2 * time.Minute

func durationParam(strs map[string]string, name string, def time.Duration) (time.Duration, error) {
	v, ok := strs[name]
	if !ok || v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, &verify.InputError{Msg: fmt.Sprintf("plugin parameter %q must be a positive duration such as 10m, got %q", name, v)}
	}
	return d, nil
}

// escapeSetValue makes a map parameter's value literal for Helm's --set
// parser, where ',' separates assignments and '\' escapes.
func escapeSetValue(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`)
	return r.Replace(v)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func paramNamesList() string {
	names := make([]string, len(Parameters))
	for i, a := range Parameters {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

func envNamesList() string {
	names := make([]string, len(Parameters))
	for i, a := range Parameters {
		names[i] = EnvPluginPrefix + strings.ToUpper(strings.ReplaceAll(a.Name, "-", "_"))
	}
	return strings.Join(names, ", ")
}
