package shadow

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-sentient/aegis/manifest"
)

// Additional refusal reasons.
const (
	// ReasonNameCollision: the set holds two objects of one kind and name in
	// different namespaces; the shadow namespace can hold only the first.
	ReasonNameCollision = "NameCollision"
	// ReasonIsolation: the object would weaken the shadow namespace's
	// isolation (a NetworkPolicy of the set could only widen aegis's
	// default deny, because policies are additive).
	ReasonIsolation = "Isolation"
)

// planned is one object of the set as it will be applied.
type planned struct {
	src     manifest.Object            // as rendered
	obj     *unstructured.Unstructured // rewritten into the shadow namespace
	mapping *meta.RESTMapping
	stage   int
}

// plan maps every object of the set, refuses what must not be applied and
// rewrites the rest into namespace ns. Its error is a discovery failure.
func plan(set *manifest.Set, mapper meta.RESTMapper, ns string) ([]planned, []Refusal, error) {
	var out []planned
	var refused []Refusal
	// Namespaces of the set's namespaced objects: all of them collapse into
	// the shadow namespace, so subjects pointing at any of them follow.
	setNamespaces := map[string]bool{}
	mappings := make([]*meta.RESTMapping, len(set.Objects))
	for i, o := range set.Objects {
		gvk := o.GroupVersionKind()
		mp, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			if meta.IsNoMatchError(err) {
				refused = append(refused, Refusal{ID: o.ID(), Origin: o.Origin, Reason: ReasonMissingCRD,
					Message: fmt.Sprintf("the cluster does not serve %s: its CustomResourceDefinition is not installed, so it cannot be deployed", gvk.GroupVersion().WithKind(gvk.Kind))})
				continue
			}
			return nil, nil, fmt.Errorf("shadow: looking up %s in the cluster's API: %w", gvk, err)
		}
		if mp.Scope.Name() == meta.RESTScopeNameRoot {
			refused = append(refused, Refusal{ID: o.ID(), Origin: o.Origin, Reason: ReasonClusterScoped,
				Message: fmt.Sprintf("%s is cluster-scoped: shadow deployments apply only namespaced objects, so it was not applied", gvk.Kind)})
			continue
		}
		if gvk.Group == "networking.k8s.io" && gvk.Kind == "NetworkPolicy" {
			refused = append(refused, Refusal{ID: o.ID(), Origin: o.Origin, Reason: ReasonIsolation,
				Message: "NetworkPolicies of the change are not applied: they could only widen the shadow namespace's default-deny isolation"})
			continue
		}
		mappings[i] = mp
		setNamespaces[o.GetNamespace()] = true
	}
	seen := map[schema.GroupKind]map[string]manifest.Identity{}
	for i, o := range set.Objects {
		mp := mappings[i]
		if mp == nil {
			continue
		}
		gk := o.GroupVersionKind().GroupKind()
		if seen[gk] == nil {
			seen[gk] = map[string]manifest.Identity{}
		}
		if first, ok := seen[gk][o.GetName()]; ok {
			refused = append(refused, Refusal{ID: o.ID(), Origin: o.Origin, Reason: ReasonNameCollision,
				Message: fmt.Sprintf("%s has the name of %s: both would land in the one shadow namespace, so only the first was applied", o.ID(), first)})
			continue
		}
		seen[gk][o.GetName()] = o.ID()
		out = append(out, planned{src: o, obj: rewrite(o, ns, setNamespaces), mapping: mp, stage: stageOf(gk)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].stage < out[j].stage })
	return out, refused, nil
}

// rewrite returns a copy of o in namespace ns, without server-owned
// metadata, with the original namespace recorded in an annotation, and with
// RoleBinding subjects that named one of the set's namespaces (or none, for
// ServiceAccounts) pointing at ns.
func rewrite(o manifest.Object, ns string, setNamespaces map[string]bool) *unstructured.Unstructured {
	u := o.DeepCopy()
	orig := u.GetNamespace()
	u.SetNamespace(ns)
	for _, f := range []string{"resourceVersion", "uid", "selfLink", "creationTimestamp", "generation", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(u.Object, "status")
	if orig != "" {
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[AnnotationOriginNS] = orig
		u.SetAnnotations(a)
	}
	gvk := u.GroupVersionKind()
	if gvk.Group == "rbac.authorization.k8s.io" && gvk.Kind == "RoleBinding" {
		subjects, found, err := unstructured.NestedSlice(u.Object, "subjects")
		if found && err == nil {
			for i, s := range subjects {
				m, ok := s.(map[string]any)
				if !ok || m["kind"] != "ServiceAccount" {
					continue
				}
				sns, _ := m["namespace"].(string)
				if sns == "" || sns == orig || setNamespaces[sns] {
					m["namespace"] = ns
					subjects[i] = m
				}
			}
			_ = unstructured.SetNestedSlice(u.Object, subjects, "subjects")
		}
	}
	return u
}

// Apply stages: what others refer to comes first, workloads after, the
// rest last.
const (
	stageIdentity = iota // ServiceAccounts
	stageRoles
	stageBindings
	stageConfig // ConfigMaps, Secrets
	stageStorage
	stageServices
	stageWorkloads
	stageRest
)

func stageOf(gk schema.GroupKind) int {
	switch gk {
	case schema.GroupKind{Kind: "ServiceAccount"}:
		return stageIdentity
	case schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "Role"}:
		return stageRoles
	case schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:
		return stageBindings
	case schema.GroupKind{Kind: "ConfigMap"}, schema.GroupKind{Kind: "Secret"}:
		return stageConfig
	case schema.GroupKind{Kind: "PersistentVolumeClaim"}:
		return stageStorage
	case schema.GroupKind{Kind: "Service"}:
		return stageServices
	}
	if isWorkload(gk) {
		return stageWorkloads
	}
	return stageRest
}

func isWorkload(gk schema.GroupKind) bool {
	switch gk {
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}, schema.GroupKind{Group: "apps", Kind: "StatefulSet"},
		schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, schema.GroupKind{Group: "apps", Kind: "ReplicaSet"},
		schema.GroupKind{Group: "batch", Kind: "Job"}, schema.GroupKind{Group: "batch", Kind: "CronJob"},
		schema.GroupKind{Kind: "Pod"}, schema.GroupKind{Kind: "ReplicationController"}:
		return true
	}
	return false
}
