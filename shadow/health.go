package shadow

import (
	"fmt"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ObjectHealth computes the health of a live object: kstatus's verdict,
// mapped to Argo CD's vocabulary (Current -> Healthy, InProgress and
// Terminating -> Progressing, Failed -> Degraded, NotFound -> Missing), with
// the kind rules of Argo CD's health table where they differ from kstatus
// (suspension, Jobs, Pods, Services, Ingresses, PVCs, StatefulSets with
// OnDelete). A nil object is Missing.
func ObjectHealth(u *unstructured.Unstructured) (Health, string) {
	if u == nil {
		return Missing, "object not found"
	}
	if h, msg, ok := kindHealth(u); ok {
		return h, msg
	}
	res, err := status.Compute(u)
	if err != nil {
		return Unknown, fmt.Sprintf("cannot compute status: %v", err)
	}
	switch res.Status {
	case status.CurrentStatus:
		return Healthy, res.Message
	case status.InProgressStatus, status.TerminatingStatus:
		return Progressing, res.Message
	case status.FailedStatus:
		return Degraded, res.Message
	case status.NotFoundStatus:
		return Missing, res.Message
	}
	return Unknown, res.Message
}

// kindHealth holds the rules of the health table that kstatus does not
// apply. ok is false when kstatus decides.
func kindHealth(u *unstructured.Unstructured) (h Health, msg string, ok bool) {
	obj := u.Object
	gvk := u.GroupVersionKind()
	switch gvk.Group + "/" + gvk.Kind {
	case "apps/Deployment":
		if paused, _, _ := unstructured.NestedBool(obj, "spec", "paused"); paused {
			return Suspended, "Deployment is paused", true
		}
		for _, c := range conditions(u) {
			if c.typ == "Progressing" && c.reason == "ProgressDeadlineExceeded" {
				return Degraded, fmt.Sprintf("Deployment %q exceeded its progress deadline", u.GetName()), true
			}
		}
	case "apps/StatefulSet":
		strategy, _, _ := unstructured.NestedString(obj, "spec", "updateStrategy", "type")
		if strategy == "OnDelete" && observed(u) {
			replicas := nestedInt(obj, 1, "spec", "replicas")
			ready := nestedInt(obj, 0, "status", "readyReplicas")
			if ready < replicas {
				return Progressing, fmt.Sprintf("Ready: %d/%d", ready, replicas), true
			}
			return Healthy, "StatefulSet uses the OnDelete update strategy and its replicas are ready", true
		}
	case "batch/Job":
		for _, c := range conditions(u) {
			if c.status != "True" {
				continue
			}
			switch c.typ {
			case "Complete":
				return Healthy, "Job completed", true
			case "Failed":
				return Degraded, nonEmpty(c.message, "Job failed"), true
			case "Suspended":
				return Suspended, "Job is suspended", true
			}
		}
		if suspend, _, _ := unstructured.NestedBool(obj, "spec", "suspend"); suspend {
			return Suspended, "Job is suspended", true
		}
		return Progressing, "Job has not completed", true
	case "batch/CronJob":
		if suspend, _, _ := unstructured.NestedBool(obj, "spec", "suspend"); suspend {
			return Suspended, "CronJob is suspended", true
		}
	case "/Pod":
		h, msg := podHealth(u)
		return h, msg, true
	case "/Service":
		typ, _, _ := unstructured.NestedString(obj, "spec", "type")
		if typ == "LoadBalancer" {
			if ing, _, _ := unstructured.NestedSlice(obj, "status", "loadBalancer", "ingress"); len(ing) == 0 {
				return Progressing, "LoadBalancer Service has no ingress address yet", true
			}
		}
		return Healthy, "Service is ready", true
	case "networking.k8s.io/Ingress", "extensions/Ingress":
		if ing, _, _ := unstructured.NestedSlice(obj, "status", "loadBalancer", "ingress"); len(ing) == 0 {
			return Progressing, "Ingress has no load balancer address yet", true
		}
		return Healthy, "Ingress has a load balancer address", true
	case "/PersistentVolumeClaim":
		phase, _, _ := unstructured.NestedString(obj, "status", "phase")
		switch phase {
		case "Bound":
			return Healthy, "PVC is bound", true
		case "Lost":
			return Degraded, "PVC lost its volume", true
		}
		return Progressing, "PVC is not bound yet", true
	}
	return "", "", false
}

// podHealth follows the Pod rows of the health table.
func podHealth(u *unstructured.Unstructured) (Health, string) {
	obj := u.Object
	phase, _, _ := unstructured.NestedString(obj, "status", "phase")
	switch phase {
	case "Succeeded":
		return Healthy, "Pod succeeded"
	case "Failed":
		msg, _, _ := unstructured.NestedString(obj, "status", "message")
		if msg == "" {
			if t := terminated(obj); t != "" {
				msg = t
			}
		}
		return Degraded, nonEmpty(msg, "Pod failed")
	}
	for _, cs := range containerStatuses(obj) {
		if r := cs.waitingReason; r != "" && (strings.HasPrefix(r, "Err") || strings.HasSuffix(r, "Error") || strings.HasSuffix(r, "BackOff")) {
			return Degraded, fmt.Sprintf("container %q is waiting: %s", cs.name, r)
		}
	}
	policy, _, _ := unstructured.NestedString(obj, "spec", "restartPolicy")
	if policy == "" {
		policy = "Always"
	}
	if phase != "Running" {
		return Progressing, "Pod is " + nonEmpty(phase, "not observed yet")
	}
	if policy != "Always" {
		return Progressing, "Pod is running"
	}
	for _, c := range conditions(u) {
		if c.typ == "Ready" && c.status == "True" {
			return Healthy, "Pod is running and ready"
		}
	}
	for _, cs := range containerStatuses(obj) {
		if cs.lastTerminated != "" {
			return Degraded, fmt.Sprintf("container %q is not ready and terminated before (%s)", cs.name, cs.lastTerminated)
		}
	}
	return Progressing, "Pod is running but not ready"
}

func terminated(obj map[string]any) string {
	for _, cs := range containerStatuses(obj) {
		if cs.terminatedReason != "" {
			return fmt.Sprintf("container %q terminated: %s (exit code %d)", cs.name, cs.terminatedReason, cs.exitCode)
		}
	}
	return ""
}

type condition struct{ typ, status, reason, message string }

func conditions(u *unstructured.Unstructured) []condition {
	list, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []condition
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		out = append(out, condition{typ: s("type"), status: s("status"), reason: s("reason"), message: s("message")})
	}
	return out
}

// observed reports whether the controller has seen the object's newest
// generation.
func observed(u *unstructured.Unstructured) bool {
	og, found, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	return found && og >= u.GetGeneration()
}

func nestedInt(obj map[string]any, def int64, path ...string) int64 {
	v, found, err := unstructured.NestedFieldNoCopy(obj, path...)
	if !found || err != nil {
		return def
	}
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case float64:
		return int64(n)
	}
	return def
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type containerStatus struct {
	name, waitingReason, waitingMessage string
	terminatedReason                    string
	exitCode                            int64
	lastTerminated                      string
	ready                               bool
}

// containerStatuses returns the statuses of init and app containers.
func containerStatuses(obj map[string]any) []containerStatus {
	var out []containerStatus
	for _, field := range []string{"initContainerStatuses", "containerStatuses"} {
		list, _, _ := unstructured.NestedSlice(obj, "status", field)
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			var cs containerStatus
			cs.name, _, _ = unstructured.NestedString(m, "name")
			cs.ready, _, _ = unstructured.NestedBool(m, "ready")
			cs.waitingReason, _, _ = unstructured.NestedString(m, "state", "waiting", "reason")
			cs.waitingMessage, _, _ = unstructured.NestedString(m, "state", "waiting", "message")
			cs.terminatedReason, _, _ = unstructured.NestedString(m, "state", "terminated", "reason")
			cs.exitCode = nestedInt(m, 0, "state", "terminated", "exitCode")
			if last, found, _ := unstructured.NestedMap(m, "lastState", "terminated"); found {
				r, _ := last["reason"].(string)
				cs.lastTerminated = nonEmpty(r, "terminated")
			}
			out = append(out, cs)
		}
	}
	return out
}
