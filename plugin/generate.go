package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/render/isolate"
	"github.com/kube-sentient/aegis/verify"
)

// PolicyFile is the revision's policy: generate uses the nearest one in the
// app path or above it in the repository (FindPolicy), as `aegis verify`
// run at the repository's root reads the root's; plugin.yaml's discovery
// looks for it. It may only tighten the cluster policy (ClusterPolicy.Apply).
const PolicyFile = ".aegis.yaml"

// GenerateOptions of one generate run.
type GenerateOptions struct {
	// Dir is the app path, where Argo CD runs the command (default ".").
	Dir string
	// RepoRoot is the repository's root, which origins are relative to and
	// which kustomize may not read outside. Default: Dir with
	// ARGOCD_APP_SOURCE_PATH taken off its end, else Dir.
	RepoRoot string
	Env      *Env
	// ToolVersion picks the default gate image.
	ToolVersion string
	// Limits bound the rendering (zero: manifest.DefaultLimits).
	Limits manifest.Limits
	// RenderLimits bound the render process's wall time and memory (zero:
	// isolate.DefaultLimits). The revision's policy may lower them, never
	// raise them: it is the change's own file.
	RenderLimits isolate.Limits
	// Cluster is the cluster policy (LoadClusterPolicyDir of the sidecar's
	// mount); nil is the built-in one, which nothing may loosen.
	Cluster *ClusterPolicy
	// PolicyNamespace is where the cluster policy's ConfigMap lives, for
	// the gate to read it again (default DefaultPolicyNamespace). It comes
	// from the sidecar's own environment (EnvPolicyNamespace), never from
	// the Application.
	PolicyNamespace string
}

// Generated is the output of generate.
type Generated struct {
	Type     render.Type
	Set      *manifest.Set
	Policy   Policy
	Settings Settings
	// Applied is the policy the gate will apply, as generate sees the
	// cluster policy (the gate reads the cluster policy again).
	Applied *Applied
	// Gate holds the gate's objects, nil when the gate parameter is false.
	Gate []*unstructured.Unstructured
}

// Generate renders the app path as `aegis verify` renders a side and
// appends the gate. Everything is validated before anything is returned:
// the caller writes the result in one piece or not at all.
func Generate(ctx context.Context, o GenerateOptions) (*Generated, error) {
	if o.Env == nil {
		return nil, errors.New("plugin: Generate needs the build environment")
	}
	s, err := o.Env.Settings(o.ToolVersion)
	if err != nil {
		return nil, err
	}
	cluster := BuiltinClusterPolicy("no ConfigMap " + ClusterPolicyConfigMap)
	if o.Cluster != nil {
		cluster = *o.Cluster
	}
	cluster.SidecarImage = o.Env.GateImage
	// Before anything is read from the revision: a refused parameter is
	// refused whatever the revision holds.
	if err := cluster.Judge(&s, o.ToolVersion); err != nil {
		return nil, err
	}
	policyNS := o.PolicyNamespace
	if policyNS == "" {
		policyNS = DefaultPolicyNamespace
	}
	if errs := validation.IsDNS1123Label(policyNS); len(errs) > 0 {
		return nil, &verify.InputError{Msg: fmt.Sprintf("%s %q is not a namespace name: %s (the sidecar sets it from its own namespace; see plugin/install/repo-server)", EnvPolicyNamespace, policyNS, strings.Join(errs, "; "))}
	}
	dir := o.Dir
	if dir == "" {
		dir = "."
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root := o.RepoRoot
	if root == "" {
		root = RepoRoot(dir, o.Env.SourcePath)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, &verify.InputError{Msg: fmt.Sprintf("the app path %s is not inside the repository root %s", dir, root)}
	}

	policy, policyCfg, err := readPolicy(root, dir)
	if err != nil {
		return nil, err
	}
	applied, err := cluster.Apply(policy, s.FailOn)
	if err != nil {
		return nil, err
	}
	ropts := render.Options{
		ReleaseName: s.ReleaseName,
		Namespace:   o.Env.AppNamespace,
		ValuesFiles: s.ValuesFiles,
		Set:         s.HelmSet,
		KubeVersion: o.Env.KubeVersion,
		APIVersions: o.Env.KubeAPIVersions,
		Recurse:     s.Recurse,
		Include:     s.Include,
		Exclude:     s.Exclude,
		Jsonnet:     s.Jsonnet,
		Limits:      o.Limits,
	}
	// In a child process, bounded: the revision under review wrote the
	// source, and the repo-server must survive whatever it asks for.
	res, err := isolate.Render(ctx, root, rel, ropts, renderLimits(o.RenderLimits, policyCfg))
	if err != nil {
		return nil, err
	}
	g := &Generated{Type: res.Type, Set: res.Set, Policy: policy, Settings: s, Applied: applied}
	if err := checkClusterPolicy(res.Set, o.Env.AppNamespace, policyNS); err != nil {
		return nil, err
	}
	if !s.Gate {
		return g, nil
	}
	if err := checkGateNamespace(res.Set, o.Env.AppNamespace, s.GateNamespace); err != nil {
		return nil, err
	}
	g.Gate, err = Gate(GateSpec{Settings: s, Namespace: o.Env.AppNamespace, Revision: o.Env.Revision, RepoURL: o.Env.RepoURL, Set: res.Set, Policy: policy, PolicyNamespace: policyNS})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// RepoRoot is the repository root of an app path: dir without the
// ARGOCD_APP_SOURCE_PATH it ends with, else dir itself.
func RepoRoot(dir, sourcePath string) string {
	sp := filepath.Clean(filepath.FromSlash(strings.Trim(sourcePath, "/")))
	if sp == "." || sp == "" || filepath.IsAbs(sp) || strings.HasPrefix(sp, "..") {
		return dir
	}
	d := filepath.Clean(dir)
	if strings.HasSuffix(d, string(filepath.Separator)+sp) {
		return strings.TrimSuffix(d, string(filepath.Separator)+sp)
	}
	return dir
}

// FindPolicy returns the nearest policy file in dir or in a directory
// above it up to root (the repository), or "" when there is none.
func FindPolicy(root, dir string) (string, error) {
	root, dir = filepath.Clean(root), filepath.Clean(dir)
	for {
		p := filepath.Join(dir, PolicyFile)
		if _, err := os.Lstat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if dir == root {
			return "", nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		if r, err := filepath.Rel(root, parent); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", nil
		}
		dir = parent
	}
}

// renderLimits are the sidecar's limits (def, else the defaults), lowered
// where the revision's policy (nil: none) sets lower ones.
func renderLimits(def isolate.Limits, policy *config.Config) isolate.Limits {
	l := def
	if l.Timeout <= 0 {
		l.Timeout = isolate.DefaultLimits.Timeout
	}
	if l.Memory <= 0 {
		l.Memory = isolate.DefaultLimits.Memory
	}
	if policy != nil && policy.Render.Timeout != "" {
		l.Timeout = min(l.Timeout, policy.Render.TimeoutValue)
	}
	if policy != nil && policy.Render.Memory != "" {
		l.Memory = min(l.Memory, policy.Render.MemoryBytes)
	}
	if l.Advice == "" {
		l.Advice = "the repo-server's limit (" + l.Timeout.String() + ", " + config.FormatQuantity(l.Memory) + "), which {setting} in the app's .aegis.yaml may lower but not raise; render a source this large outside Argo CD, or split the app"
	}
	return l
}

// readPolicy reads and validates the app's policy (FindPolicy), if any: a
// broken policy fails generation, as it fails `aegis verify`.
func readPolicy(root, dir string) (Policy, *config.Config, error) {
	p, err := FindPolicy(root, dir)
	if err != nil || p == "" {
		return Policy{}, nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return Policy{}, nil, err
	}
	display, _ := filepath.Rel(root, p)
	display = filepath.ToSlash(display)
	if !fi.Mode().IsRegular() {
		return Policy{}, nil, &config.Error{Path: display, Msg: "the policy must be a regular file (not a symlink)"}
	}
	// Lstat refused a symlink; a FIFO or a device is refused on the opened
	// file, and the read is bounded whatever the size said.
	data, err := manifest.ReadFile(p, config.MaxBytes)
	var tooLarge *manifest.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return Policy{}, nil, &config.Error{Path: display, Msg: fmt.Sprintf("config is larger than %d bytes", config.MaxBytes)}
	case err != nil:
		return Policy{}, nil, &config.Error{Path: display, Msg: fmt.Sprintf("cannot read the policy: %v", err)}
	}
	cfg, err := config.Parse(display, data)
	if err != nil {
		return Policy{}, nil, err
	}
	return Policy{Path: display, Data: data}, cfg, nil
}

// checkGateNamespace refuses a set that writes into the gate's namespace:
// the set could otherwise bring its own verdicts or its own rendered set.
func checkGateNamespace(set *manifest.Set, dest, gateNS string) error {
	if dest == gateNS {
		return &verify.InputError{Msg: fmt.Sprintf("the Application's destination namespace is the gate's namespace %s: aegis cannot gate an app that may write its verdicts; deploy it elsewhere or set the %s parameter", gateNS, ParamGateNamespace)}
	}
	for _, o := range set.Objects {
		if o.GetNamespace() == gateNS || (o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "" && o.GetName() == gateNS) {
			return &manifest.SourceError{Location: o.Origin.Location, Msg: fmt.Sprintf("%s is in (or is) the gate's namespace %s: a change may not write where aegis keeps its verdicts", o.ID(), gateNS)}
		}
	}
	return nil
}

// checkClusterPolicy refuses a set that writes the cluster policy's
// ConfigMap: in an app-of-apps repository the parent app may deploy into
// Argo CD's namespace, and a change must not rewrite the policy it is
// judged by (the sidecar's mount and the gate would both read it).
func checkClusterPolicy(set *manifest.Set, dest, policyNS string) error {
	for _, o := range set.Objects {
		ns := o.GetNamespace()
		if ns == "" {
			ns = dest
		}
		if o.GetKind() == "ConfigMap" && o.GroupVersionKind().Group == "" && o.GetName() == ClusterPolicyConfigMap && ns == policyNS {
			return &manifest.SourceError{Location: o.Origin.Location, Msg: fmt.Sprintf("%s is the cluster policy of aegis (%s/%s): a change may not rewrite the policy it is judged by; the platform team manages it outside the apps aegis gates", o.ID(), policyNS, ClusterPolicyConfigMap)}
		}
	}
	return nil
}

// WriteTo writes the rendered set and the gate as one YAML stream: only
// Kubernetes objects. It encodes everything before writing a byte, so that
// an error leaves w untouched.
func (g *Generated) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	y, err := g.Set.YAML()
	if err != nil {
		return 0, err
	}
	buf.Write(y)
	for _, u := range g.Gate {
		b, err := manifest.MarshalYAML(u.Object)
		if err != nil {
			return 0, fmt.Errorf("%s/%s: %w", u.GetKind(), u.GetName(), err)
		}
		if buf.Len() > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.WriteTo(w)
}

// Digest is the rendered set's digest, the gate's key.
func (g *Generated) Digest() string { return g.Set.Digest() }
