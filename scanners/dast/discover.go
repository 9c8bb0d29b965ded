package dast

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/shadow"
)

// target is one Service port to scan, resolved to a pod port.
type target struct {
	endpoint Endpoint
	pod      string
	podPort  int32
	scheme   string
}

// discover lists the Service ports of namespace ns that the filters select
// and resolves each to a Ready pod and its port. services is how many
// Services the namespace has. A selected port without a Ready pod is an
// error (all of them are named in one error).
func discover(ctx context.Context, cs kubernetes.Interface, ns string, set *manifest.Set, svcGlobs, portGlobs []string, logf func(string, ...any)) (targets []target, services int, err error) {
	list, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("listing the Services of %s: %w", ns, err)
	}
	svcs := list.Items
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	var errs []error
	for i := range svcs {
		svc := &svcs[i]
		if !matchAny(svcGlobs, svc.Name) {
			logf("dast: Service %s/%s skipped: not selected by the Service filter %q", ns, svc.Name, svcGlobs)
			continue
		}
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			logf("dast: Service %s/%s skipped: type ExternalName has no pods", ns, svc.Name)
			continue
		}
		var ports []corev1.ServicePort
		for _, p := range svc.Spec.Ports {
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				logf("dast: Service %s/%s port %s skipped: protocol %s", ns, svc.Name, portID(p), p.Protocol)
				continue
			}
			if !portSelected(portGlobs, p) {
				logf("dast: Service %s/%s port %s skipped: not selected by the port filter %q", ns, svc.Name, portID(p), portGlobs)
				continue
			}
			ports = append(ports, p)
		}
		if len(ports) == 0 {
			continue
		}
		cands, err := candidates(ctx, cs, svc)
		if err != nil {
			return nil, len(svcs), err
		}
		ep := Endpoint{Name: svc.Name}
		ep.Namespace, ep.Location = origin(svc, set)
		for _, p := range ports {
			ep.Port = portID(p)
			pod, podPort, ok := pick(cands, p)
			if !ok {
				errs = append(errs, fmt.Errorf("Service %s port %s: no Ready pod backs it (fail closed: a scan that reaches nothing is not a pass)", svc.Name, ep.Port))
				continue
			}
			targets = append(targets, target{endpoint: ep, pod: pod, podPort: podPort, scheme: scheme(p)})
		}
	}
	if len(errs) > 0 {
		return nil, len(svcs), errors.Join(errs...)
	}
	return targets, len(svcs), nil
}

// portID names a Service port in keys and messages: its name, else its
// number.
func portID(p corev1.ServicePort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Port))
}

func matchAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

func portSelected(globs []string, p corev1.ServicePort) bool {
	if len(globs) == 0 {
		return true
	}
	values := []string{strconv.Itoa(int(p.Port))}
	if p.Name != "" {
		values = append(values, p.Name)
	}
	if p.AppProtocol != nil && *p.AppProtocol != "" {
		values = append(values, *p.AppProtocol)
	}
	for _, v := range values {
		if matchAny(globs, v) {
			return true
		}
	}
	return false
}

// scheme is https for a port whose appProtocol or name says so, or port
// 443; http otherwise.
func scheme(p corev1.ServicePort) string {
	if p.AppProtocol != nil && strings.EqualFold(*p.AppProtocol, "https") {
		return "https"
	}
	if p.Name == "https" || strings.HasPrefix(p.Name, "https-") || p.Port == 443 {
		return "https"
	}
	return "http"
}

// candidate is a Ready pod that backs a Service, with the ports a Service
// port resolves to on it.
type candidate struct {
	pod string
	// slicePorts: from an EndpointSlice, name of the Service port -> the
	// pod's port (already resolved by the EndpointSlice controller).
	slicePorts map[string]int32
	// pod: from the selector; the Service's targetPort is resolved on it.
	podObj *corev1.Pod
}

// candidates lists the Ready pods behind a Service: from its
// EndpointSlices when it has any, else from its selector.
func candidates(ctx context.Context, cs kubernetes.Interface, svc *corev1.Service) ([]candidate, error) {
	slices, err := cs.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name,
	})
	if err != nil {
		return nil, fmt.Errorf("listing the EndpointSlices of Service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	var out []candidate
	for _, sl := range slices.Items {
		ports := map[string]int32{}
		for _, p := range sl.Ports {
			if p.Port == nil || (p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP) {
				continue
			}
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			ports[name] = *p.Port
		}
		for _, e := range sl.Endpoints {
			if e.TargetRef == nil || e.TargetRef.Kind != "Pod" || e.TargetRef.Name == "" {
				continue
			}
			// The API: a nil ready condition means ready; terminating
			// endpoints are not ready.
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			if e.Conditions.Terminating != nil && *e.Conditions.Terminating {
				continue
			}
			out = append(out, candidate{pod: e.TargetRef.Name, slicePorts: ports})
		}
	}
	if len(slices.Items) > 0 {
		sortCandidates(out)
		return out, nil
	}
	if len(svc.Spec.Selector) == 0 {
		return nil, nil
	}
	pods, err := cs.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of Service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && podReady(p) {
			out = append(out, candidate{pod: p.Name, podObj: p})
		}
	}
	sortCandidates(out)
	return out, nil
}

func sortCandidates(cs []candidate) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].pod < cs[j].pod })
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// pick returns the first candidate (by pod name, so a rerun picks the same
// one) on which the Service port resolves to a pod port.
func pick(cands []candidate, p corev1.ServicePort) (string, int32, bool) {
	for _, c := range cands {
		if c.podObj == nil {
			if port, ok := c.slicePorts[p.Name]; ok && port > 0 {
				return c.pod, port, true
			}
			continue
		}
		if port, ok := targetPort(c.podObj, p); ok {
			return c.pod, port, true
		}
	}
	return "", 0, false
}

// targetPort resolves a Service port's targetPort on a pod: a number is
// itself, a name is the pod's container port of that name (TCP), and an
// unset targetPort is the Service port's number.
func targetPort(pod *corev1.Pod, p corev1.ServicePort) (int32, bool) {
	tp := p.TargetPort
	switch {
	case tp.Type == intstr.String && tp.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == tp.StrVal && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	case tp.Type == intstr.Int && tp.IntVal > 0:
		return tp.IntVal, true
	}
	return p.Port, true
}

// origin is the namespace and source location of a Service in the rendered
// set: the shadow rewrite records the original namespace in an annotation
// (none when the object had no namespace).
func origin(svc *corev1.Service, set *manifest.Set) (string, report.Location) {
	ns := svc.Annotations[shadow.AnnotationOriginNS]
	if set == nil {
		return ns, report.Location{}
	}
	if o, ok := set.Find(manifest.Identity{Kind: "Service", Namespace: ns, Name: svc.Name}); ok {
		return ns, o.Origin.Location
	}
	// Not where the annotation says: the one Service of that name (the
	// shadow namespace holds only one of a name).
	for _, o := range set.Objects {
		id := o.ID()
		if id.Group == "" && id.Kind == "Service" && id.Name == svc.Name {
			return id.Namespace, o.Origin.Location
		}
	}
	return ns, report.Location{}
}
