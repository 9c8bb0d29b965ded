package plugin

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kube-sentient/aegis/manifest"
)

// Argo CD's resource tracking (label tracking is v2's default, annotation
// tracking v3's).
const (
	AnnotationTrackingID = "argocd.argoproj.io/tracking-id"
	LabelInstance        = "app.kubernetes.io/instance"
)

// LiveOptions select the live baseline.
type LiveOptions struct {
	// App is the Application's instance name (ARGOCD_APP_NAME), as Argo CD
	// writes it into its tracking label or annotation.
	App string
	// Namespace is the destination namespace: where objects of the set
	// without a namespace go.
	Namespace string
	Progress  func(format string, args ...any)
}

type listKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

// ReadLive reads the baseline of a sync: the objects that run now, of the
// kinds the set holds, in the namespaces it deploys to. An object is part
// of the baseline when Argo CD tracks it for this app, or when the set holds
// an object of the same identity (it will be replaced). Objects a
// controller owns (ReplicaSets, Pods...), objects being deleted and Secrets
// (never read: aegis holds no right to) are left out. Cluster-scoped
// objects are read the same way (only read: the shadow deployment never
// applies one), so that a ClusterRole the app has always had is not a new
// finding at every sync. What the API server reports about the object (status,
// server-set metadata, allocated IPs and ports, bound volumes, controller
// selectors, finalizers) is stripped, so that the copy can be deployed in a
// shadow namespace and compared with the set as rendered.
//
// A live object in the destination namespace that replaces an object the
// set holds without a namespace is returned without one too, so that both
// sides name it alike (as the set rendered for the previous revision did):
// the set itself is verified as generate wrote it, digest and all.
//
// A kind the identity may not list is left out with a progress line: the
// baseline is then smaller and more of the head's findings count as new,
// which makes the gate stricter, never laxer.
func ReadLive(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, set *manifest.Set, o LiveOptions) (*manifest.Set, error) {
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	want := map[manifest.Identity]bool{}
	unnamespaced := map[manifest.Identity]bool{} // in the set without a namespace, by the namespace they go to
	lists := map[listKey]schema.GroupVersionKind{}
	for _, obj := range set.Objects {
		gvk := obj.GroupVersionKind()
		if manifest.IsSecret(gvk.Kind) {
			continue // aegis does not read Secret values
		}
		mp, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			continue // nothing of a kind the cluster does not serve can be live
		}
		if err != nil {
			return nil, fmt.Errorf("looking up %s in the cluster's API: %w", gvk, err)
		}
		ns := ""
		if mp.Scope.Name() == meta.RESTScopeNameNamespace {
			if ns = obj.GetNamespace(); ns == "" {
				ns = o.Namespace
			}
			if ns == "" {
				continue
			}
		}
		id := obj.ID()
		id.Namespace = ns
		want[id] = true
		if obj.GetNamespace() == "" {
			unnamespaced[id] = true
		}
		lists[listKey{mp.Resource, ns}] = gvk
	}
	keys := make([]listKey, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].namespace != keys[j].namespace {
			return keys[i].namespace < keys[j].namespace
		}
		return keys[i].gvr.String() < keys[j].gvr.String()
	})

	var objs []manifest.Object
	for _, k := range keys {
		var ri dynamic.ResourceInterface = dyn.Resource(k.gvr)
		where := "the cluster"
		if k.namespace != "" {
			ri, where = dyn.Resource(k.gvr).Namespace(k.namespace), "namespace "+k.namespace
		}
		items, err := listAll(ctx, ri)
		if err != nil {
			if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
				progress("live baseline: %s in %s not read (%v): they count as absent from the baseline", k.gvr.Resource, where, apiReason(err))
				continue
			}
			return nil, fmt.Errorf("reading the live %s of %s: %w", k.gvr.Resource, where, err)
		}
		for i := range items {
			u := &items[i]
			if u.GetDeletionTimestamp() != nil || metav1.GetControllerOf(u) != nil {
				continue
			}
			id := manifest.Identity{Group: k.gvr.Group, Kind: lists[k].Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
			if !want[id] && !Tracked(u, o.App) {
				continue
			}
			if u.GetKind() == "" {
				u.SetGroupVersionKind(lists[k])
			}
			SanitizeLive(u)
			origin := manifest.Origin{Location: manifest.Location{Path: "live:" + path.Join(u.GetNamespace(), strings.ToLower(u.GetKind()), u.GetName())}}
			if unnamespaced[id] {
				u.SetNamespace("")
			}
			objs = append(objs, manifest.Object{Unstructured: u, Origin: origin})
		}
	}
	progress("live baseline: %d objects of %d kinds in %d namespaces", len(objs), countKinds(keys), countNamespaces(keys))
	return manifest.NewSet(objs)
}

func listAll(ctx context.Context, ri dynamic.ResourceInterface) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := ri.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, l.Items...)
		if l.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = l.GetContinue()
	}
}

func apiReason(err error) string {
	if s, ok := err.(apierrors.APIStatus); ok {
		return string(s.Status().Reason)
	}
	return err.Error()
}

func countKinds(keys []listKey) int {
	m := map[schema.GroupVersionResource]bool{}
	for _, k := range keys {
		m[k.gvr] = true
	}
	return len(m)
}

func countNamespaces(keys []listKey) int {
	m := map[string]bool{}
	for _, k := range keys {
		if k.namespace != "" {
			m[k.namespace] = true
		}
	}
	return len(m)
}

// Tracked reports whether Argo CD tracks u as a resource of the app with
// this instance name: the tracking-id annotation ("<app>:<group>/<kind>:
// <namespace>/<name>") or the instance label.
func Tracked(u *unstructured.Unstructured, app string) bool {
	if app == "" {
		return false
	}
	if strings.HasPrefix(u.GetAnnotations()[AnnotationTrackingID], app+":") {
		return true
	}
	return u.GetLabels()[LabelInstance] == app
}

// Annotations the API server, controllers or client tools add, which say
// nothing about what the object asks for.
var serverAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	AnnotationTrackingID,
	"deployment.kubernetes.io/revision",
	"deprecated.daemonset.template.generation",
}

var serverAnnotationPrefixes = []string{"pv.kubernetes.io/", "volume.kubernetes.io/", "volume.beta.kubernetes.io/"}

// SanitizeLive strips from a live object what the cluster added or
// allocated, in place: server metadata, owner references and finalizers
// (a finalizer without its controller would keep a shadow namespace from
// ever being deleted), status, a Service's cluster IPs and node ports, a
// claim's bound volume, a Job's generated selector, a Pod's node.
func SanitizeLive(u *unstructured.Unstructured) {
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
		"deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(u.Object, "status")
	if a := u.GetAnnotations(); a != nil {
		for _, k := range serverAnnotations {
			delete(a, k)
		}
		for k := range a {
			for _, p := range serverAnnotationPrefixes {
				if strings.HasPrefix(k, p) {
					delete(a, k)
				}
			}
		}
		if len(a) == 0 {
			unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
		} else {
			u.SetAnnotations(a)
		}
	}
	gvk := u.GroupVersionKind()
	switch {
	case gvk.Group == "" && gvk.Kind == "Service":
		if ip, _, _ := unstructured.NestedString(u.Object, "spec", "clusterIP"); ip != "None" {
			unstructured.RemoveNestedField(u.Object, "spec", "clusterIP")
			unstructured.RemoveNestedField(u.Object, "spec", "clusterIPs")
		}
		unstructured.RemoveNestedField(u.Object, "spec", "healthCheckNodePort")
		if ports, ok, _ := unstructured.NestedSlice(u.Object, "spec", "ports"); ok {
			for _, p := range ports {
				if m, ok := p.(map[string]any); ok {
					delete(m, "nodePort")
				}
			}
			_ = unstructured.SetNestedSlice(u.Object, ports, "spec", "ports")
		}
	case gvk.Group == "" && gvk.Kind == "PersistentVolumeClaim":
		unstructured.RemoveNestedField(u.Object, "spec", "volumeName")
	case gvk.Group == "batch" && gvk.Kind == "Job":
		unstructured.RemoveNestedField(u.Object, "spec", "selector")
		unstructured.RemoveNestedField(u.Object, "spec", "manualSelector")
		for _, l := range []string{"controller-uid", "batch.kubernetes.io/controller-uid"} {
			unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "labels", l)
		}
	case gvk.Group == "" && gvk.Kind == "Pod":
		unstructured.RemoveNestedField(u.Object, "spec", "nodeName")
	}
}
