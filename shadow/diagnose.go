package shadow

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-sentient/aegis/manifest"
)

// unschedulableGrace is how long a pod may stay unschedulable before it is
// diagnosed (volume binding and scale-up make short spells normal).
const unschedulableGrace = 5 * time.Second

// target is an object of the set a diagnosis is attributed to.
type target struct {
	ID     manifest.Identity
	Origin manifest.Origin
}

// owner is an intermediate controller seen in the namespace (a ReplicaSet
// or a Job that is not itself in the set).
type owner struct {
	refs []metav1.OwnerReference
}

// diagnosis is a Diagnosis plus whether it makes its workload Degraded.
type diagnosis struct {
	Diagnosis
	degrades bool
}

// attributor walks owner references from a pod or a controller to the
// object of the set that owns it.
type attributor struct {
	applied map[types.UID]target // live objects of the set, by UID
	owners  map[types.UID]owner  // ReplicaSets and Jobs of the namespace
	ns      string               // the shadow namespace
}

func newAttributor(ns string, applied map[types.UID]target, rss []appsv1.ReplicaSet, jobs []batchv1.Job) *attributor {
	a := &attributor{applied: applied, owners: map[types.UID]owner{}, ns: ns}
	for _, rs := range rss {
		a.owners[rs.UID] = owner{refs: rs.OwnerReferences}
	}
	for _, j := range jobs {
		a.owners[j.UID] = owner{refs: j.OwnerReferences}
	}
	return a
}

// attribute returns the set's object that uid is, or that controls it.
// inSet is false when the chain leaves the set (an operator's pods).
func (a *attributor) attribute(uid types.UID, refs []metav1.OwnerReference) (target, bool) {
	for depth := 0; depth < 8; depth++ {
		if t, ok := a.applied[uid]; ok {
			return t, true
		}
		ref := controllerRef(refs)
		if ref == nil {
			return target{}, false
		}
		uid = ref.UID
		if o, ok := a.owners[uid]; ok {
			refs = o.refs
		} else {
			refs = nil
		}
	}
	return target{}, false
}

func controllerRef(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	if len(refs) > 0 {
		return &refs[0]
	}
	return nil
}

// diagnosePods turns the failures of the namespace's pods into diagnoses
// of the workloads that own them.
func (a *attributor) diagnosePods(pods []corev1.Pod, now time.Time) []diagnosis {
	var out []diagnosis
	for i := range pods {
		p := &pods[i]
		t, ok := a.attribute(p.UID, p.OwnerReferences)
		if !ok {
			t = target{ID: manifest.Identity{Kind: "Pod", Namespace: a.ns, Name: p.Name}}
		}
		underJob := ownedByJob(p)
		for _, d := range podFailures(p, now) {
			d.ID, d.Origin, d.Pod = t.ID, t.Origin, p.Name
			// A failed pod of a Job is retried: the Job's own status says
			// whether it failed for good.
			out = append(out, diagnosis{Diagnosis: d, degrades: !(underJob && d.Reason == ReasonFailed)})
		}
	}
	return out
}

func ownedByJob(p *corev1.Pod) bool {
	ref := controllerRef(p.OwnerReferences)
	return ref != nil && ref.Kind == "Job"
}

// podFailures diagnoses one pod (ID and Origin left empty).
func podFailures(p *corev1.Pod, now time.Time) []Diagnosis {
	var out []Diagnosis
	add := func(reason, container, msg string) {
		out = append(out, Diagnosis{Reason: reason, Container: container, Message: msg})
	}
	statuses := append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		oom := cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.Reason == "OOMKilled" ||
			cs.State.Terminated != nil && cs.State.Terminated.Reason == "OOMKilled"
		if oom {
			add(ReasonOOMKilled, cs.Name, fmt.Sprintf("container %q was killed for running out of memory (OOMKilled, restarts %d)", cs.Name, cs.RestartCount))
			continue
		}
		// A real kubelet shows a crash-looping container as Terminated (or
		// Running, not ready, with a failed last state) for most of its
		// back-off; Waiting/CrashLoopBackOff only lasts until the next
		// restart, so a poll could miss it.
		if p.Spec.RestartPolicy != corev1.RestartPolicyNever && cs.RestartCount > 0 {
			if t := failedTermination(cs); t != nil && !cs.Ready {
				add(ReasonCrashLoop, cs.Name, fmt.Sprintf("container %q is crash-looping (restarts %d): exited with code %d (%s)", cs.Name, cs.RestartCount, t.ExitCode, t.Reason))
				continue
			}
		}
		w := cs.State.Waiting
		if w == nil {
			continue
		}
		switch w.Reason {
		case "CrashLoopBackOff":
			add(ReasonCrashLoop, cs.Name, fmt.Sprintf("container %q is crash-looping (restarts %d): %s", cs.Name, cs.RestartCount, w.Message))
		case "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull":
			add(ReasonImagePull, cs.Name, fmt.Sprintf("container %q cannot pull image %q: %s: %s", cs.Name, cs.Image, w.Reason, w.Message))
		case "CreateContainerConfigError":
			add(ReasonCreateContainerConf, cs.Name, fmt.Sprintf("container %q cannot be created from its configuration: %s", cs.Name, w.Message))
		default:
			if strings.HasPrefix(w.Reason, "Err") || strings.HasSuffix(w.Reason, "Error") || strings.HasSuffix(w.Reason, "BackOff") {
				add(ReasonFailed, cs.Name, fmt.Sprintf("container %q is waiting: %s: %s", cs.Name, w.Reason, w.Message))
			}
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
			now.Sub(c.LastTransitionTime.Time) >= unschedulableGrace {
			add(ReasonUnschedulable, "", "pod cannot be scheduled: "+c.Message)
		}
	}
	if p.Status.Phase == corev1.PodFailed && len(out) == 0 {
		msg := "pod failed"
		if p.Status.Reason != "" || p.Status.Message != "" {
			msg = strings.TrimSpace("pod failed: " + p.Status.Reason + " " + p.Status.Message)
		}
		container := ""
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				container = cs.Name
				msg = fmt.Sprintf("pod failed: container %q exited with code %d (%s)", cs.Name, t.ExitCode, t.Reason)
				break
			}
		}
		add(ReasonFailed, container, msg)
	}
	return out
}

// diagnoseControllers finds controllers that cannot create their pods: a
// ReplicaSet's ReplicaFailure condition and FailedCreate events of the
// namespace. "exceeded quota" becomes ReasonQuotaExceeded.
func (a *attributor) diagnoseControllers(rss []appsv1.ReplicaSet, events []corev1.Event) []diagnosis {
	var out []diagnosis
	add := func(uid types.UID, refs []metav1.OwnerReference, msg string) {
		// Transient: the namespace's default ServiceAccount not created yet.
		if strings.Contains(msg, "error looking up service account") || strings.Contains(msg, "status unknown for quota") {
			return
		}
		t, ok := a.attribute(uid, refs)
		if !ok {
			return
		}
		reason := ReasonFailedCreate
		if strings.Contains(msg, "exceeded quota") {
			reason = ReasonQuotaExceeded
		}
		out = append(out, diagnosis{Diagnosis: Diagnosis{ID: t.ID, Origin: t.Origin, Reason: reason, Message: msg}, degrades: true})
	}
	for _, rs := range rss {
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				add(rs.UID, rs.OwnerReferences, c.Message)
			}
		}
	}
	for _, ev := range events {
		if ev.Type != corev1.EventTypeWarning || ev.Reason != "FailedCreate" {
			continue
		}
		switch ev.InvolvedObject.Kind {
		case "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController":
		default:
			continue
		}
		var refs []metav1.OwnerReference
		if o, ok := a.owners[ev.InvolvedObject.UID]; ok {
			refs = o.refs
		}
		add(ev.InvolvedObject.UID, refs, ev.Message)
	}
	return out
}

// dedupe keeps the first diagnosis of each workload, reason and container
// (three crash-looping replicas are one finding).
func dedupe(ds []diagnosis) []diagnosis {
	type key struct {
		id                manifest.Identity
		reason, container string
	}
	seen := map[key]bool{}
	var out []diagnosis
	for _, d := range ds {
		k := key{d.ID, d.Reason, d.Container}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}

// warningEvents summarises the namespace's Warning events, merging repeats
// of one object, reason and message.
func warningEvents(events []corev1.Event) []Event {
	var out []Event
	index := map[[3]string]int{}
	for _, ev := range events {
		if ev.Type != corev1.EventTypeWarning {
			continue
		}
		obj := ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name
		count := ev.Count
		if count == 0 && ev.Series != nil {
			count = ev.Series.Count
		}
		if count == 0 {
			count = 1
		}
		k := [3]string{obj, ev.Reason, ev.Message}
		if i, ok := index[k]; ok {
			out[i].Count += count
			continue
		}
		index[k] = len(out)
		out = append(out, Event{Object: obj, Reason: ev.Reason, Message: ev.Message, Count: count})
	}
	return out
}

// failedTermination returns the container's current or last termination
// when it exited with an error.
func failedTermination(cs corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
		if t != nil && t.ExitCode != 0 {
			return t
		}
	}
	return nil
}
