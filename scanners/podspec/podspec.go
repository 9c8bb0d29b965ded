// Package podspec finds the pods an object describes, wherever it keeps
// them: the pod template of a built-in workload (Deployment, CronJob, ...),
// the pod of a well-known custom resource (Argo Rollouts and Workflows,
// KEDA ScaledJob, Knative Serving, the Prometheus operator, OpenKruise),
// and, in any other object, every field shaped like a PodTemplateSpec or a
// PodSpec. Each pod is a PodTemplateSpec-shaped view with a map back to
// the object's own fields, so that a finding on the view points at the
// source line that set it.
//
// The posture scanner evaluates the views, the image scanner scans their
// images, and Unscanned lists the kinds whose container-like data no view
// covers: what aegis could not see is said, never silently passed.
package podspec

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-sentient/aegis/manifest"
)

// Container lists of a PodSpec, in the order the kubelet starts them.
var ContainerLists = []string{"initContainers", "containers", "ephemeralContainers"}

// Pod is one pod an object describes.
type Pod struct {
	// Path is where the pod sits in the object: its PodTemplateSpec, its
	// PodSpec, or the object part it is built from (an Argo template).
	// Empty for a pod made of the object itself (a Pod).
	Path manifest.FieldPath
	// Qualifier tells apart the pods of one object that holds several (an
	// Argo Workflow's templates, pods found by shape): the pod's path. It
	// is "" for the single pod of a kind's known path.
	Qualifier string
	// Template is the pod as a PodTemplateSpec: {"metadata": ..., "spec":
	// ...}. It shares maps with the object: read only.
	Template map[string]any
	// LongRunning says the pods run until replaced (controllers, Rollouts,
	// Knative revisions), so that probes matter.
	LongRunning bool
	// OperatorMerged says the containers are patches an operator merges,
	// by name, into containers of its own (the Prometheus operator): a
	// container without an image is such a patch.
	OperatorMerged bool
	// Shape is true for a pod found by its shape rather than its kind.
	Shape bool
	// Images are images the pod runs that no container list holds (a
	// Prometheus's spec.image), with the object path of each.
	Images []Image
	// Unread are fields that change the pod but could not be interpreted
	// (an Argo podSpecPatch that is not YAML): Unscanned lists them.
	Unread []manifest.FieldPath

	rewrites []rewrite
}

// Image is an image field outside the container lists.
type Image struct {
	Container string // the container the operator runs it in
	Path      manifest.FieldPath
}

// rewrite maps a prefix of the view onto a path of the object.
type rewrite struct{ view, src manifest.FieldPath }

// Source returns the path of the object that holds a field of the view
// (a path into Template, "spec.containers[name=app].image"): the longest
// mapped prefix, with the rest appended. A field the view made up maps to
// the pod's own path.
func (p *Pod) Source(view manifest.FieldPath) manifest.FieldPath {
	best := -1
	for i, r := range p.rewrites {
		if view.HasPrefix(r.view) && (best < 0 || len(r.view) > len(p.rewrites[best].view)) {
			best = i
		}
	}
	if best < 0 {
		return p.Path
	}
	r := p.rewrites[best]
	return r.src.Child(view[len(r.view):]...)
}

// mapTo records that the view's prefix view comes from the object's src.
func (p *Pod) mapTo(view, src manifest.FieldPath) {
	p.rewrites = append(p.rewrites, rewrite{view: view, src: src})
}

// Typed converts the view to the typed API. A field of the wrong type (a
// string where a bool belongs) is an error.
func (p *Pod) Typed() (corev1.PodTemplateSpec, error) {
	var out corev1.PodTemplateSpec
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(p.Template, &out)
	return out, err
}

// Spec returns the view's PodSpec map (nil when there is none).
func (p *Pod) Spec() map[string]any {
	s, _ := p.Template["spec"].(map[string]any)
	return s
}

// Kind says how Find knew where the pods are.
type Kind int

const (
	// ByShape: the kind is not known; pods were looked for by shape.
	ByShape Kind = iota
	// BuiltIn: a Kubernetes workload kind.
	BuiltIn
	// WellKnown: a custom resource whose pod aegis knows where to find.
	WellKnown
)

// Find returns the pods of an object and how it knew where to look. A
// known path that runs through something other than a mapping is an
// error naming it: guessing would let a malformed manifest pass.
func Find(obj manifest.Object) ([]Pod, Kind, error) {
	gk := obj.GroupVersionKind().GroupKind()
	if at, ok := builtIn[gk]; ok {
		pods, err := templateAt(obj.Object, at)
		return pods, BuiltIn, err
	}
	if f, ok := wellKnown[gk]; ok {
		pods, err := f(obj.Object)
		return pods, WellKnown, err
	}
	return byShape(obj.Object), ByShape, nil
}

// templateKind is a kind with one pod template at a fixed path.
type templateKind struct {
	path        manifest.FieldPath // to the PodTemplateSpec; nil: the object is the pod
	longRunning bool
	knative     bool // unnamed containers get Knative's default names
}

var (
	podItself      = templateKind{}
	jobTemplate    = templateKind{path: manifest.ParsePath("spec.template")}
	controller     = templateKind{path: manifest.ParsePath("spec.template"), longRunning: true}
	cronJobTempl   = templateKind{path: manifest.ParsePath("spec.jobTemplate.spec.template")}
	knativeTempl   = templateKind{path: manifest.ParsePath("spec.template"), longRunning: true, knative: true}
	knativeItself  = templateKind{longRunning: true, knative: true}
	scaledJobTempl = templateKind{path: manifest.ParsePath("spec.jobTargetRef.template")}
)

// builtIn lists the pod-bearing Kubernetes kinds by group and kind.
// "extensions" covers manifests still written against the pre-1.16 groups.
var builtIn = map[schema.GroupKind]templateKind{
	{Group: "", Kind: "Pod"}:                   podItself,
	{Group: "", Kind: "ReplicationController"}: controller,
	{Group: "", Kind: "PodTemplate"}:           {path: manifest.FieldPath{"template"}},
	{Group: "apps", Kind: "Deployment"}:        controller,
	{Group: "apps", Kind: "StatefulSet"}:       controller,
	{Group: "apps", Kind: "DaemonSet"}:         controller,
	{Group: "apps", Kind: "ReplicaSet"}:        controller,
	{Group: "extensions", Kind: "Deployment"}:  controller,
	{Group: "extensions", Kind: "DaemonSet"}:   controller,
	{Group: "extensions", Kind: "ReplicaSet"}:  controller,
	{Group: "batch", Kind: "Job"}:              jobTemplate,
	{Group: "batch", Kind: "CronJob"}:          cronJobTempl,
}

// IsBuiltIn reports whether gk is a built-in pod-bearing kind.
func IsBuiltIn(gk schema.GroupKind) bool {
	_, ok := builtIn[gk]
	return ok
}

// wellKnown lists the custom resources whose pods aegis reads from known
// paths (docs/scanners.md, "Workloads inside custom resources", says where
// each path comes from).
var wellKnown = map[schema.GroupKind]func(map[string]any) ([]Pod, error){
	{Group: "argoproj.io", Kind: "Rollout"}:                   templateFinder(controller),
	{Group: "argoproj.io", Kind: "Workflow"}:                  workflowFinder(manifest.FieldPath{"spec"}),
	{Group: "argoproj.io", Kind: "WorkflowTemplate"}:          workflowFinder(manifest.FieldPath{"spec"}),
	{Group: "argoproj.io", Kind: "ClusterWorkflowTemplate"}:   workflowFinder(manifest.FieldPath{"spec"}),
	{Group: "argoproj.io", Kind: "CronWorkflow"}:              workflowFinder(manifest.ParsePath("spec.workflowSpec")),
	{Group: "keda.sh", Kind: "ScaledJob"}:                     templateFinder(scaledJobTempl),
	{Group: "serving.knative.dev", Kind: "Service"}:           templateFinder(knativeTempl),
	{Group: "serving.knative.dev", Kind: "Configuration"}:     templateFinder(knativeTempl),
	{Group: "serving.knative.dev", Kind: "Revision"}:          templateFinder(knativeItself),
	{Group: "monitoring.coreos.com", Kind: "Prometheus"}:      operatorFinder(promKeys, "prometheus", "thanos-sidecar"),
	{Group: "monitoring.coreos.com", Kind: "PrometheusAgent"}: operatorFinder(promKeys, "prometheus", ""),
	{Group: "monitoring.coreos.com", Kind: "Alertmanager"}:    operatorFinder(promKeys, "alertmanager", ""),
	{Group: "monitoring.coreos.com", Kind: "ThanosRuler"}:     operatorFinder(thanosRulerKeys, "thanos-ruler", ""),
	{Group: "apps.kruise.io", Kind: "CloneSet"}:               templateFinder(controller),
	{Group: "apps.kruise.io", Kind: "StatefulSet"}:            templateFinder(controller),
	{Group: "apps.kruise.io", Kind: "DaemonSet"}:              templateFinder(controller),
	{Group: "apps.kruise.io", Kind: "BroadcastJob"}:           templateFinder(jobTemplate),
}

// IsWellKnown reports whether gk is a custom resource Find reads by kind.
func IsWellKnown(gk schema.GroupKind) bool {
	_, ok := wellKnown[gk]
	return ok
}

func templateFinder(k templateKind) func(map[string]any) ([]Pod, error) {
	return func(obj map[string]any) ([]Pod, error) { return templateAt(obj, k) }
}

// templateAt returns the pod template at k's path (none when the object
// does not set it: a Rollout with a workloadRef).
func templateAt(obj map[string]any, k templateKind) ([]Pod, error) {
	t := obj
	if k.path != nil {
		v, found, err := lookup(obj, k.path)
		if err != nil || !found || v == nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: is %s, not a mapping", k.path, describe(v))
		}
		t = m
	}
	p := Pod{Path: k.path, Template: map[string]any{}, LongRunning: k.longRunning}
	for _, key := range []string{"metadata", "spec"} {
		if v, ok := t[key]; ok && v != nil {
			p.Template[key] = v
		}
		p.mapTo(manifest.FieldPath{key}, k.path.Child(key))
	}
	if k.knative {
		nameKnativeContainers(&p, k.path.Child("spec"))
	}
	return []Pod{p}, nil
}

// nameKnativeContainers gives unnamed containers the name Knative gives
// them ("user-container", numbered when there are several), in a copy.
func nameKnativeContainers(p *Pod, specPath manifest.FieldPath) {
	spec, _ := p.Template["spec"].(map[string]any)
	list, _ := spec["containers"].([]any)
	unnamed := false
	for _, it := range list {
		if c, ok := it.(map[string]any); ok {
			if n, _ := c["name"].(string); n == "" {
				unnamed = true
			}
		}
	}
	if !unnamed {
		return
	}
	spec = shallow(spec)
	out := make([]any, len(list))
	for i, it := range list {
		out[i] = it
		c, ok := it.(map[string]any)
		if !ok {
			continue
		}
		if n, _ := c["name"].(string); n != "" {
			continue
		}
		name := "user-container"
		if len(list) > 1 {
			name = fmt.Sprintf("user-container-%d", i)
		}
		c = shallow(c)
		c["name"] = name
		out[i] = c
		p.mapTo(manifest.FieldPath{"spec", "containers", manifest.ItemByName(name)}, specPath.Child("containers", fmt.Sprintf("[%d]", i)))
	}
	spec["containers"] = out
	p.Template = shallow(p.Template)
	p.Template["spec"] = spec
}

// Pod fields the Prometheus operator's kinds take from their spec, per the
// CRDs (kube-prometheus-stack's charts/crds): ThanosRuler has no
// hostNetwork.
var (
	promKeys        = []string{"containers", "initContainers", "securityContext", "hostNetwork", "hostUsers", "volumes"}
	thanosRulerKeys = []string{"containers", "initContainers", "securityContext", "hostUsers", "volumes"}
)

// operatorFinder reads a pod spread over spec (the Prometheus operator's
// kinds): the pod fields listed, spec.podMetadata as the pod's metadata,
// spec.image as the main container's image and, for Prometheus,
// spec.thanos.image as the Thanos sidecar's.
func operatorFinder(keys []string, main, thanos string) func(map[string]any) ([]Pod, error) {
	return func(obj map[string]any) ([]Pod, error) {
		specPath := manifest.FieldPath{"spec"}
		v, found, err := lookup(obj, specPath)
		if err != nil || !found || v == nil {
			return nil, err
		}
		spec, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("spec: is %s, not a mapping", describe(v))
		}
		p := Pod{Path: specPath, Template: map[string]any{}, OperatorMerged: true}
		view := map[string]any{}
		for _, k := range keys {
			if v, ok := spec[k]; ok && v != nil {
				view[k] = v
				p.mapTo(manifest.FieldPath{"spec", k}, specPath.Child(k))
			}
		}
		p.Template["spec"] = view
		if m, ok := spec["podMetadata"]; ok && m != nil {
			p.Template["metadata"] = m
			p.mapTo(manifest.FieldPath{"metadata"}, specPath.Child("podMetadata"))
		}
		p.Images = append(p.Images, Image{Container: main, Path: specPath.Child("image")})
		if thanos != "" {
			p.Images = append(p.Images, Image{Container: thanos, Path: specPath.Child("thanos", "image")})
		}
		return []Pod{p}, nil
	}
}

// lookup walks maps along path. Found is false when a key is missing; a
// step through something other than a mapping is an error.
func lookup(obj map[string]any, path manifest.FieldPath) (any, bool, error) {
	var cur any = obj
	for i, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			if cur == nil {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("%s: is %s, not a mapping", path[:i], describe(cur))
		}
		v, ok := m[k]
		if !ok {
			return nil, false, nil
		}
		cur = v
	}
	return cur, true, nil
}

func describe(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a number"
}

func shallow(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// itemSelector addresses item i of a list: by its name when it has one
// that no other item shares (so the path survives reordering), else by
// index.
func itemSelector(list []any, i int) string {
	if m, ok := list[i].(map[string]any); ok {
		if n, _ := m["name"].(string); n != "" {
			unique := true
			for j, o := range list {
				if om, ok := o.(map[string]any); ok && j != i {
					if on, _ := om["name"].(string); on == n {
						unique = false
					}
				}
			}
			if unique {
				return manifest.ItemByName(n)
			}
		}
	}
	return fmt.Sprintf("[%d]", i)
}

// maxDepth bounds the walk for shapes: a pod deeper than this in an
// object is not read as one, and Unscanned lists the object instead.
const maxDepth = 16

// IsPodSpec is the shape test for a PodSpec: a mapping whose
// `containers` is a non-empty list of mappings that each have a
// non-empty string `name` and a non-empty string `image`.
func IsPodSpec(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	list, ok := m["containers"].([]any)
	if !ok || len(list) == 0 {
		return false
	}
	for _, it := range list {
		c, ok := it.(map[string]any)
		if !ok {
			return false
		}
		name, _ := c["name"].(string)
		image, _ := c["image"].(string)
		if name == "" || strings.TrimSpace(image) == "" {
			return false
		}
	}
	return true
}

// IsPodTemplateSpec is the shape test for a PodTemplateSpec: a mapping
// whose `spec` is a PodSpec (its `metadata`, if a mapping, is the pod's).
func IsPodTemplateSpec(v any) bool {
	m, ok := v.(map[string]any)
	return ok && IsPodSpec(m["spec"])
}

// byShape walks an object of a kind aegis does not know (apart from its
// metadata and status) and returns a pod for every PodTemplateSpec- or
// PodSpec-shaped field, not looking inside one it found.
func byShape(obj map[string]any) []Pod {
	var out []Pod
	var walk func(v any, path manifest.FieldPath, depth int)
	walk = func(v any, path manifest.FieldPath, depth int) {
		switch x := v.(type) {
		case map[string]any:
			if depth > 0 || len(path) > 0 { // the object itself is a pod only by kind
				if IsPodTemplateSpec(x) {
					p := Pod{Path: path, Qualifier: path.String(), Shape: true, Template: map[string]any{"spec": x["spec"]}}
					p.mapTo(manifest.FieldPath{"spec"}, path.Child("spec"))
					if m, ok := x["metadata"].(map[string]any); ok {
						p.Template["metadata"] = m
					}
					p.mapTo(manifest.FieldPath{"metadata"}, path.Child("metadata"))
					out = append(out, p)
					return
				}
				if IsPodSpec(x) {
					p := Pod{Path: path, Qualifier: path.String(), Shape: true, Template: map[string]any{"spec": x}}
					p.mapTo(manifest.FieldPath{"spec"}, path)
					out = append(out, p)
					return
				}
			}
			if depth >= maxDepth {
				return
			}
			for _, k := range sortedKeys(x) {
				if depth == 0 && (k == "metadata" || k == "status") {
					continue
				}
				walk(x[k], path.Child(k), depth+1)
			}
		case []any:
			if depth >= maxDepth {
				return
			}
			for i := range x {
				walk(x[i], path.Child(itemSelector(x, i)), depth+1)
			}
		}
	}
	walk(obj, nil, 0)
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
