package plugin

// The cluster policy: who decides how strict the Argo CD gate is.
//
// generate reads the app's .aegis.yaml from the revision being synced, and
// the Application's parameters and plugin env: in an app-of-apps
// repository the same pull request controls all of them. So neither may
// loosen the gate. The platform team's policy lives in the ConfigMap
// aegis-policy installed with the plugin (plugin/install/repo-server): the
// sidecar has it mounted read-only at a path of its own container spec
// (DefaultClusterPolicyDir), and the gate Job reads it again from the API
// (the namespace comes from the sidecar's own environment, never from
// ARGOCD_ENV_*), so that a stale mount cannot decide and no object of the
// rendered output can stand in for it. Without the ConfigMap the built-in
// default policy applies and nothing may loosen it.
//
// The revision's .aegis.yaml may only tighten the cluster policy (Apply):
// a lower failOn.severity, and failOn.scannerError or failOn.unhealthy
// turned on, are honoured; its waivers, its scanners section (enabled,
// severity, allowMissing, allowError, binaries, arguments, ...) and anything
// it turns off are not, and the gate says so in its log and its Event.
// A parameter that would loosen the gate (LooseningParameters) is refused
// unless gate.yaml's allowParameters names it (Judge): generation fails, so
// Argo CD does not sync.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/verify"
)

// The cluster policy's ConfigMap, its keys, where the sidecar has it
// mounted, and how the sidecar learns its own namespace.
const (
	ClusterPolicyConfigMap = "aegis-policy"
	// ClusterPolicyKey holds the gate's policy: an .aegis.yaml.
	ClusterPolicyKey = "policy.yaml"
	// GateRulesKey holds GateRules: the gate's image and namespace and what
	// an Application may loosen.
	GateRulesKey = "gate.yaml"
	// DefaultClusterPolicyDir is where plugin/install mounts the ConfigMap
	// into the sidecar (generate's --cluster-policy).
	DefaultClusterPolicyDir = "/etc/aegis/cluster-policy"
	// EnvPolicyNamespace is set in the sidecar's own container spec (the
	// downward API's metadata.namespace): the namespace of the ConfigMap,
	// which generate writes into the gate Job. Argo CD prefixes every
	// variable an Application sets (ARGOCD_ENV_, PARAM_), so no
	// Application can set it.
	EnvPolicyNamespace = "AEGIS_POLICY_NAMESPACE"
	// DefaultPolicyNamespace is Argo CD's own namespace in its standard
	// install.
	DefaultPolicyNamespace = "argocd"

	gateRulesKind = "GateRules"
)

// LooseningParameters are the parameters whose value can make the gate
// weaker than the cluster policy: gate=false, a fail-on above the policy's
// failOn.severity, an image or gate namespace other than the cluster's, a
// verdict lifetime above DefaultVerdictTTL. The others cannot: values-files,
// helm-set and release-name choose what is rendered, which is also what is
// deployed and verified; a shorter timeout only fails sooner; shadow=head
// deploys only the new set, so every runtime finding of it counts as new
// (stricter, not laxer, than both); app-namespace only addresses the Event.
var LooseningParameters = []string{ParamGate, ParamFailOn, ParamImage, ParamGateNamespace, ParamVerdictTTL}

// GateRules is gate.yaml: the cluster side's settings of the gate and the
// parameters an Application may use to loosen it.
type GateRules struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// Image is the gate Job's image (default: DefaultImage of the sidecar's
	// aegis version).
	Image string `yaml:"image"`
	// GateNamespace is where the gate runs and keeps its verdicts (default
	// DefaultGateNamespace).
	GateNamespace string `yaml:"gateNamespace"`
	// AllowParameters are LooseningParameters an Application may set to a
	// looser value (default none).
	AllowParameters []string `yaml:"allowParameters"`
	// AllowImages are prefixes of images the image parameter may name
	// besides Image (e.g. "registry.example/aegis@sha256:").
	AllowImages []string `yaml:"allowImages"`
}

// ClusterPolicy is the platform team's policy for the Argo CD gate.
type ClusterPolicy struct {
	// Config is policy.yaml (config.Default() when absent).
	Config *config.Config
	Gate   GateRules
	// Source says where it was read, for messages.
	Source string
	// SidecarImage is the sidecar's AEGIS_GATE_IMAGE (Env.GateImage): the
	// install's gate image, used when gate.yaml names none.
	SidecarImage string
}

// BuiltinClusterPolicy is the policy without a ConfigMap: the default
// .aegis.yaml, and nothing may loosen it.
func BuiltinClusterPolicy(why string) ClusterPolicy {
	return ClusterPolicy{Config: config.Default(), Source: "the built-in default policy (" + why + ")"}
}

// allowHint says where a loosening is allowed, for refusals.
const allowHint = "key " + GateRulesKey + " of the ConfigMap " + ClusterPolicyConfigMap

// ParseClusterPolicy reads the ConfigMap's data (key -> content). source
// names it in messages ("ConfigMap argocd/aegis-policy"). Keys other than
// policy.yaml and gate.yaml are refused: a misspelt key would otherwise
// silently leave the built-in policy in force.
func ParseClusterPolicy(source string, data map[string]string) (ClusterPolicy, error) {
	cp := ClusterPolicy{Config: config.Default(), Source: source}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != ClusterPolicyKey && k != GateRulesKey {
			return ClusterPolicy{}, &config.Error{Path: source, Msg: fmt.Sprintf("unknown key %q: the cluster policy has only %s (an .aegis.yaml) and %s (the gate's rules)", k, ClusterPolicyKey, GateRulesKey)}
		}
	}
	if v, ok := data[ClusterPolicyKey]; ok {
		c, err := config.Parse(source+" "+ClusterPolicyKey, []byte(v))
		if err != nil {
			return ClusterPolicy{}, err
		}
		// Paths in a ConfigMap resolve nowhere: only absolute ones mean
		// anything, and relativeTo (cmd/aegis) leaves those alone.
		c.Path = ""
		cp.Config = c
	}
	if v, ok := data[GateRulesKey]; ok {
		g, err := parseGateRules(source+" "+GateRulesKey, []byte(v))
		if err != nil {
			return ClusterPolicy{}, err
		}
		cp.Gate = g
	}
	return cp, nil
}

func parseGateRules(path string, data []byte) (GateRules, error) {
	var g GateRules
	if len(data) > config.MaxBytes {
		return g, &config.Error{Path: path, Msg: fmt.Sprintf("larger than %d bytes", config.MaxBytes)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return g, &config.Error{Path: path, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(root.Content) == 0 {
		return g, &config.Error{Path: path, Line: 1, Msg: fmt.Sprintf("empty; it needs at least apiVersion: %s and kind: %s", config.APIVersion, gateRulesKind)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&g); err != nil && !errors.Is(err, io.EOF) {
		return g, rulesDecodeError(path, err)
	}
	at := func(key string) int {
		n := root.Content[0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i].Line
			}
		}
		return n.Line
	}
	bad := func(key, format string, args ...any) error {
		return &config.Error{Path: path, Line: at(key), Msg: fmt.Sprintf(format, args...)}
	}
	if g.APIVersion != config.APIVersion || g.Kind != gateRulesKind {
		return g, bad("kind", "apiVersion must be %s and kind %s, got %q and %q", config.APIVersion, gateRulesKind, g.APIVersion, g.Kind)
	}
	if g.Image != "" && strings.ContainsAny(g.Image, " \t\n") {
		return g, bad("image", "%q is not an image reference", g.Image)
	}
	if g.GateNamespace != "" {
		if errs := validation.IsDNS1123Label(g.GateNamespace); len(errs) > 0 {
			return g, bad("gateNamespace", "%q is not a namespace name: %s", g.GateNamespace, strings.Join(errs, "; "))
		}
	}
	for _, p := range g.AllowParameters {
		if slices.Contains(LooseningParameters, p) {
			continue
		}
		if _, known := announcement(p); known {
			return g, bad("allowParameters", "%q cannot loosen the gate, so it needs no allowance (the parameters that can: %s)", p, strings.Join(LooseningParameters, ", "))
		}
		return g, bad("allowParameters", "%q is not a parameter of aegis (the parameters that can loosen the gate: %s)", p, strings.Join(LooseningParameters, ", "))
	}
	for _, p := range g.AllowImages {
		if strings.TrimSpace(p) == "" || strings.ContainsAny(p, " \t\n") {
			return g, bad("allowImages", "%q is not an image prefix", p)
		}
	}
	return g, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// rulesDecodeError names the line of gate.yaml's first decoding problem,
// and an unknown key as such.
func rulesDecodeError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	e := &config.Error{Path: path, Msg: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
		if field, ok := strings.CutPrefix(e.Msg, "field "); ok {
			if name, _, ok := strings.Cut(field, " not found in type"); ok {
				e.Msg = fmt.Sprintf("unknown key %q (gate.yaml has image, gateNamespace, allowParameters and allowImages)", name)
			}
		}
	}
	return e
}

// LoadClusterPolicyDir reads the ConfigMap as the sidecar has it mounted:
// one file per key. A directory that does not exist, or is empty (the
// volume is optional), is the built-in policy. Kubernetes' own entries of a
// ConfigMap volume (..data and its timestamped directory) are skipped.
func LoadClusterPolicyDir(dir string) (ClusterPolicy, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return BuiltinClusterPolicy("no ConfigMap " + ClusterPolicyConfigMap + " mounted at " + dir), nil
	}
	if err != nil {
		return ClusterPolicy{}, fmt.Errorf("reading the cluster policy at %s: %w", dir, err)
	}
	data := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p) // the volume's keys are symlinks into ..data
		if err != nil {
			return ClusterPolicy{}, fmt.Errorf("reading the cluster policy at %s: %w", dir, err)
		}
		if fi.IsDir() {
			continue
		}
		if fi.Size() > config.MaxBytes {
			return ClusterPolicy{}, &config.Error{Path: p, Msg: fmt.Sprintf("larger than %d bytes", config.MaxBytes)}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return ClusterPolicy{}, fmt.Errorf("reading the cluster policy at %s: %w", dir, err)
		}
		data[e.Name()] = string(b)
	}
	if len(data) == 0 {
		return BuiltinClusterPolicy("the ConfigMap " + ClusterPolicyConfigMap + " mounted at " + dir + " is absent or empty"), nil
	}
	return ParseClusterPolicy("ConfigMap "+ClusterPolicyConfigMap+" (mounted at "+dir+")", data)
}

func (cp ClusterPolicy) config() *config.Config {
	if cp.Config == nil {
		return config.Default()
	}
	return cp.Config
}

func (cp ClusterPolicy) source() string {
	if cp.Source == "" {
		return BuiltinClusterPolicy("no ConfigMap " + ClusterPolicyConfigMap).Source
	}
	return cp.Source
}

// allows reports whether gate.yaml lets an Application loosen param.
func (cp ClusterPolicy) allows(param string) bool {
	return slices.Contains(cp.Gate.AllowParameters, param)
}

// GateImage is the gate image the cluster side chooses: gate.yaml's, else
// the sidecar's AEGIS_GATE_IMAGE (SidecarImage), else the aegis version's.
func (cp ClusterPolicy) GateImage(toolVersion string) string {
	if cp.Gate.Image != "" {
		return cp.Gate.Image
	}
	if cp.SidecarImage != "" {
		return cp.SidecarImage
	}
	return DefaultImage(toolVersion)
}

// GateNamespace is the gate namespace the cluster side chooses.
func (cp ClusterPolicy) GateNamespace() string {
	if cp.Gate.GateNamespace != "" {
		return cp.Gate.GateNamespace
	}
	return DefaultGateNamespace
}

// Judge gives s the cluster side's image and gate namespace where the
// Application set none, and refuses every parameter (or plugin env entry)
// that would loosen the gate without the cluster policy allowing it. All
// refusals are reported at once; the error is bad input (exit 2), so that
// generation fails and Argo CD does not sync.
func (cp ClusterPolicy) Judge(s *Settings, toolVersion string) error {
	if _, set := s.From[ParamImage]; !set {
		s.Image = cp.GateImage(toolVersion)
	}
	if _, set := s.From[ParamGateNamespace]; !set {
		s.GateNamespace = cp.GateNamespace()
	}
	var refused []string
	refuse := func(param, format string, args ...any) {
		if cp.allows(param) {
			return
		}
		refused = append(refused, fmt.Sprintf("%s is %s", s.From[param], fmt.Sprintf(format, args...)))
	}
	if _, set := s.From[ParamGate]; set && !s.Gate {
		refuse(ParamGate, "false: that switches the aegis gate off")
	}
	if _, set := s.From[ParamFailOn]; set {
		if err := cp.checkFailOn(s.FailOn); err != nil {
			refuse(ParamFailOn, "%s", err.Error())
		}
	}
	if _, set := s.From[ParamImage]; set && s.Image != cp.GateImage(toolVersion) && !cp.imageAllowed(s.Image) {
		refuse(ParamImage, "%q: the gate Job runs with the gate's ServiceAccount, so the cluster chooses its image (%s)", s.Image, cp.GateImage(toolVersion))
	}
	if _, set := s.From[ParamGateNamespace]; set && s.GateNamespace != cp.GateNamespace() {
		refuse(ParamGateNamespace, "%q: the gate keeps its verdicts and reads its rendered sets in %s; another namespace could hold forged ones", s.GateNamespace, cp.GateNamespace())
	}
	if _, set := s.From[ParamVerdictTTL]; set && s.VerdictTTL > DefaultVerdictTTL {
		refuse(ParamVerdictTTL, "%s, longer than %s: a recorded pass would stand longer than the cluster policy lets it", s.VerdictTTL, DefaultVerdictTTL)
	}
	if len(refused) == 0 {
		return nil
	}
	return &verify.InputError{Msg: fmt.Sprintf("%s; the cluster policy does not allow an Application to loosen the gate (it is %s): to allow it, the platform team lists the parameter in allowParameters (for an image, allowImages) in %s",
		strings.Join(refused, "; "), cp.source(), allowHint)}
}

// checkFailOn refuses a fail-on above the cluster policy's failOn.severity
// (one that lets more findings pass). A lower one is always allowed.
func (cp ClusterPolicy) checkFailOn(failOn string) error {
	if failOn == "" {
		return nil
	}
	sev, err := report.ParseSeverity(failOn)
	if err != nil {
		return err
	}
	if floor := report.Severity(cp.config().FailOn.Severity); sev.Rank() > floor.Rank() {
		return fmt.Errorf("%s, above the cluster policy's failOn.severity %s: new %s findings would pass", sev, floor, floor)
	}
	return nil
}

func (cp ClusterPolicy) imageAllowed(image string) bool {
	if cp.allows(ParamImage) {
		return true
	}
	for _, p := range cp.Gate.AllowImages {
		if strings.HasPrefix(image, p) {
			return true
		}
	}
	return false
}

// CheckGate is the gate's own check of the arguments generate wrote into
// its Job, against the cluster policy the gate read itself: a sidecar with
// a stale or missing mount must not decide for the cluster.
func (cp ClusterPolicy) CheckGate(gateNamespace, failOn string, verdictTTL time.Duration) error {
	var refused []string
	if gateNamespace != cp.GateNamespace() && !cp.allows(ParamGateNamespace) {
		refused = append(refused, fmt.Sprintf("the gate runs in %s, not in the cluster policy's gate namespace %s (allowParameters: %s)", gateNamespace, cp.GateNamespace(), ParamGateNamespace))
	}
	if err := cp.checkFailOn(failOn); err != nil && !cp.allows(ParamFailOn) {
		refused = append(refused, fmt.Sprintf("--fail-on %s (allowParameters: %s)", err, ParamFailOn))
	}
	if verdictTTL > DefaultVerdictTTL && !cp.allows(ParamVerdictTTL) {
		refused = append(refused, fmt.Sprintf("--verdict-ttl %s is longer than %s (allowParameters: %s)", verdictTTL, DefaultVerdictTTL, ParamVerdictTTL))
	}
	if len(refused) == 0 {
		return nil
	}
	return &verify.InputError{Msg: fmt.Sprintf("the gate's arguments loosen the cluster policy (%s): %s; generate should have refused them (is the sidecar's copy of the ConfigMap %s stale?); to allow them, change %s",
		cp.source(), strings.Join(refused, "; "), ClusterPolicyConfigMap, allowHint)}
}

// Applied is the policy the gate applies: the cluster policy, tightened by
// the revision's policy and the fail-on parameter.
type Applied struct {
	Config *config.Config
	// Source names the cluster policy.
	Source string
	// RevisionPath is the revision's policy file ("" for none).
	RevisionPath string
	// Honoured and Ignored say what of the revision's policy was applied
	// and what was not (each item short, e.g. "failOn.severity medium").
	Honoured, Ignored []string
}

// Note is one line for logs and Events on how the revision's policy was
// applied ("" when it had none).
func (a *Applied) Note() string {
	if a.RevisionPath == "" {
		return ""
	}
	var parts []string
	if len(a.Honoured) > 0 {
		parts = append(parts, "tightened by "+strings.Join(a.Honoured, ", "))
	}
	if len(a.Ignored) > 0 {
		parts = append(parts, "not honoured (the revision may only tighten the cluster policy): "+strings.Join(a.Ignored, ", "))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("the revision's policy %s changes nothing of %s", a.RevisionPath, a.Source)
	}
	return fmt.Sprintf("the revision's policy %s: %s", a.RevisionPath, strings.Join(parts, "; "))
}

// revisionFailOn is what a revision's policy wrote under failOn, before
// config's defaults fill in what it left out.
type revisionFailOn struct {
	FailOn struct {
		Severity     *string `yaml:"severity"`
		ScannerError *bool   `yaml:"scannerError"`
		Unhealthy    *bool   `yaml:"unhealthy"`
	} `yaml:"failOn"`
}

// Apply returns the policy the gate applies: the cluster policy, then the
// fail-on parameter (a lower severity always; a higher one only where
// allowParameters names fail-on, else an error), then what of the
// revision's policy rev tightens it. rev is validated as `aegis verify`
// validates a policy: a broken one is an error.
func (cp ClusterPolicy) Apply(rev Policy, failOn string) (*Applied, error) {
	base := cp.config()
	c := *base
	c.Path = ""
	c.Scanners = make(map[string]config.ScannerSettings, len(base.Scanners))
	for k, v := range base.Scanners {
		c.Scanners[k] = v
	}
	c.Waivers = slices.Clone(base.Waivers)
	scannerErr, unhealthy := boolOr(base.FailOn.ScannerError, true), boolOr(base.FailOn.Unhealthy, true)
	c.FailOn.ScannerError, c.FailOn.Unhealthy = &scannerErr, &unhealthy
	a := &Applied{Config: &c, Source: cp.source(), RevisionPath: rev.Path}

	if failOn != "" {
		sev, err := report.ParseSeverity(failOn)
		if err != nil {
			return nil, &verify.InputError{Msg: fmt.Sprintf("fail-on: %v", err)}
		}
		if err := cp.checkFailOn(failOn); err != nil && !cp.allows(ParamFailOn) {
			return nil, &verify.InputError{Msg: fmt.Sprintf("fail-on %v; to allow it, list %s in allowParameters in %s", err, ParamFailOn, allowHint)}
		}
		c.FailOn.Severity = string(sev)
	}
	if len(rev.Data) == 0 {
		a.RevisionPath = ""
		return a, nil
	}
	path := rev.Path
	if path == "" {
		path = PolicyFile
	}
	a.RevisionPath = path
	full, err := config.Parse(path, rev.Data)
	if err != nil {
		return nil, err
	}
	var raw revisionFailOn
	if err := yaml.Unmarshal(rev.Data, &raw); err != nil {
		return nil, &config.Error{Path: path, Msg: err.Error()} // config.Parse accepted it: not reached
	}
	if p := raw.FailOn.Severity; p != nil {
		sev := report.Severity(strings.ToLower(*p))
		cur := report.Severity(c.FailOn.Severity)
		switch {
		case sev.Rank() < cur.Rank():
			c.FailOn.Severity = string(sev)
			a.Honoured = append(a.Honoured, "failOn.severity "+string(sev))
		case sev.Rank() > cur.Rank():
			a.Ignored = append(a.Ignored, fmt.Sprintf("failOn.severity %s (the gate fails on %s)", sev, cur))
		}
	}
	tighten := func(name string, rev *bool, cur *bool) {
		switch {
		case rev == nil || *rev == *cur:
		case *rev:
			*cur = true
			a.Honoured = append(a.Honoured, name+" true")
		default:
			a.Ignored = append(a.Ignored, name+" false")
		}
	}
	tighten("failOn.scannerError", raw.FailOn.ScannerError, c.FailOn.ScannerError)
	tighten("failOn.unhealthy", raw.FailOn.Unhealthy, c.FailOn.Unhealthy)
	if n := len(full.Waivers); n > 0 {
		a.Ignored = append(a.Ignored, plural(n, "waiver", "waivers"))
	}
	if len(full.Scanners) > 0 {
		names := make([]string, 0, len(full.Scanners))
		for k := range full.Scanners {
			names = append(names, k)
		}
		sort.Strings(names)
		a.Ignored = append(a.Ignored, "scanners settings ("+strings.Join(names, ", ")+")")
	}
	return a, nil
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
