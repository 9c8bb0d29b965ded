package posture

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-sentient/aegis/manifest"
)

// templatePaths says where a kind keeps its pod: the PodSpec and the pod's
// metadata (annotations matter to the older AppArmor and seccomp checks).
type templatePaths struct {
	spec, meta  manifest.FieldPath
	longRunning bool // whether its pods are expected to run until replaced
}

var (
	templateOfPod     = templatePaths{spec: manifest.ParsePath("spec"), meta: manifest.ParsePath("metadata")}
	templateOfCronJob = templatePaths{
		spec: manifest.ParsePath("spec.jobTemplate.spec.template.spec"),
		meta: manifest.ParsePath("spec.jobTemplate.spec.template.metadata"),
	}
	templateOfJob        = templatePaths{spec: manifest.ParsePath("spec.template.spec"), meta: manifest.ParsePath("spec.template.metadata")}
	templateOfController = templatePaths{spec: templateOfJob.spec, meta: templateOfJob.meta, longRunning: true}
)

// podKinds lists the pod-bearing kinds by group and kind. The group matters:
// a custom resource that happens to be called "Deployment" is not a pod
// template, and reading it as one would invent findings. "extensions" covers
// manifests still written against the pre-1.16 API groups.
var podKinds = map[schema.GroupKind]templatePaths{
	{Group: "", Kind: "Pod"}:                   templateOfPod,
	{Group: "", Kind: "ReplicationController"}: templateOfController,
	{Group: "apps", Kind: "Deployment"}:        templateOfController,
	{Group: "apps", Kind: "StatefulSet"}:       templateOfController,
	{Group: "apps", Kind: "DaemonSet"}:         templateOfController,
	{Group: "apps", Kind: "ReplicaSet"}:        templateOfController,
	{Group: "extensions", Kind: "Deployment"}:  templateOfController,
	{Group: "extensions", Kind: "DaemonSet"}:   templateOfController,
	{Group: "extensions", Kind: "ReplicaSet"}:  templateOfController,
	{Group: "batch", Kind: "Job"}:              templateOfJob,
	{Group: "batch", Kind: "CronJob"}:          templateOfCronJob,
}

// Container lists in a PodSpec, in the order the kubelet starts them.
const (
	listInit      = "initContainers"
	listMain      = "containers"
	listEphemeral = "ephemeralContainers"
)

// containerRef is one container of a pod with where it sits, so a finding
// can name it and point at its source line.
type containerRef struct {
	list  string // listInit, listMain or listEphemeral
	index int
	c     *corev1.Container
	path  manifest.FieldPath
}

// workload is the pod template of one object, typed, with its source paths.
type workload struct {
	obj   manifest.Object
	paths templatePaths
	pod   corev1.PodTemplateSpec
	refs  []containerRef
}

// loadWorkload returns the object's pod template, or ok=false for a kind that
// holds no pod. A template that does not convert to the typed API (a string
// where a bool belongs, a list where a map belongs) is an error: guessing
// would let a malformed manifest pass as clean.
func loadWorkload(obj manifest.Object) (w *workload, ok bool, err error) {
	paths, ok := podKinds[obj.GroupVersionKind().GroupKind()]
	if !ok {
		return nil, false, nil
	}
	tmpl := map[string]any{}
	for key, path := range map[string]manifest.FieldPath{"metadata": paths.meta, "spec": paths.spec} {
		v, found, err := unstructured.NestedFieldNoCopy(obj.Object, path...)
		if err != nil {
			return nil, true, conversionError(obj, fmt.Errorf("%s: %w", path, err))
		}
		if found && v != nil {
			tmpl[key] = v
		}
	}
	w = &workload{obj: obj, paths: paths}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(tmpl, &w.pod); err != nil {
		return nil, true, conversionError(obj, err)
	}
	w.refs = containerRefs(&w.pod.Spec, paths.spec)
	return w, true, nil
}

func conversionError(obj manifest.Object, err error) error {
	return fmt.Errorf("%s: posture: cannot read the pod template of %s: %w", obj.Origin.Location, obj.ID(), err)
}

// containerRefs lists every container: init, regular and ephemeral.
func containerRefs(spec *corev1.PodSpec, specPath manifest.FieldPath) []containerRef {
	var refs []containerRef
	add := func(list string, i int, c *corev1.Container) {
		refs = append(refs, containerRef{list: list, index: i, c: c, path: specPath.Child(list, manifest.ItemByName(c.Name))})
	}
	for i := range spec.InitContainers {
		add(listInit, i, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		add(listMain, i, &spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		// EphemeralContainerCommon has exactly Container's fields; the PSA
		// library reads ephemeral containers through the same conversion.
		add(listEphemeral, i, (*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	return refs
}

// container returns the container with a name (the first one, should a
// broken manifest repeat a name).
func (w *workload) container(name string) (containerRef, bool) {
	for _, r := range w.refs {
		if r.c.Name == name {
			return r, true
		}
	}
	return containerRef{}, false
}

// volumeIndex returns the index of the named volume, or -1.
func (w *workload) volumeIndex(name string) int {
	for i, v := range w.pod.Spec.Volumes {
		if v.Name == name {
			return i
		}
	}
	return -1
}

// longRunning reports whether the pod is expected to keep running, so that
// probes matter: controllers that keep replicas up, and bare pods that
// restart always. Jobs and CronJobs run to completion and need no probes.
func (w *workload) longRunning() bool {
	if w.obj.GetKind() == "Pod" {
		rp := w.pod.Spec.RestartPolicy
		return rp == "" || rp == corev1.RestartPolicyAlways
	}
	return w.paths.longRunning
}

// isSidecar reports whether an init container is a native sidecar
// (restartPolicy: Always): it runs for the pod's lifetime, so it is a
// long-running container for probes.
func isSidecar(r containerRef) bool {
	return r.list == listInit && r.c.RestartPolicy != nil && *r.c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}
