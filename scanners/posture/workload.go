package posture

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/scanners/podspec"
)

// Paths in a pod's view (a PodTemplateSpec, podspec.Pod.Template); the
// view maps them back to the object's own fields.
var (
	viewSpec = manifest.FieldPath{"spec"}
	viewMeta = manifest.FieldPath{"metadata"}
)

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
	path  manifest.FieldPath // in the view
}

// workload is one pod of an object, typed, with its source paths.
type workload struct {
	obj  manifest.Object
	src  *podspec.Pod
	pod  corev1.PodTemplateSpec
	refs []containerRef
	// version is the Pod Security Standards version the pod is held to.
	version api.Version
}

// loadWorkloads returns the pods of an object (none for a kind that holds
// no pod): a built-in workload's template, a well-known custom resource's
// pod, every pod-shaped field of any other object (podspec.Find). A pod
// of a known kind that does not convert to the typed API (a string where
// a bool belongs, a list where a map belongs) is an error: guessing would
// let a malformed manifest pass as clean. A pod found by its shape that
// does not convert is left to the report's unscanned list
// (podspec.Unscanned): the shape may be a look-alike of another API.
func loadWorkloads(obj manifest.Object, version api.Version) ([]*workload, error) {
	pods, kind, err := podspec.Find(obj)
	if err != nil {
		return nil, conversionError(obj, err)
	}
	var out []*workload
	for i := range pods {
		w := &workload{obj: obj, src: &pods[i], version: version}
		w.pod, err = pods[i].Typed()
		if err != nil {
			if kind == podspec.ByShape {
				continue
			}
			return nil, conversionError(obj, err)
		}
		w.refs = containerRefs(&w.pod.Spec, viewSpec)
		out = append(out, w)
	}
	return out, nil
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
	if podspec.IsBuiltIn(w.obj.GroupVersionKind().GroupKind()) && w.obj.GetKind() == "Pod" {
		rp := w.pod.Spec.RestartPolicy
		return rp == "" || rp == corev1.RestartPolicyAlways
	}
	return w.src.LongRunning
}

// isSidecar reports whether an init container is a native sidecar
// (restartPolicy: Always): it runs for the pod's lifetime, so it is a
// long-running container for probes.
func isSidecar(r containerRef) bool {
	return r.list == listInit && r.c.RestartPolicy != nil && *r.c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}
