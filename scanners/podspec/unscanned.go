package podspec

import (
	"cmp"
	"slices"
	"strings"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
)

// Unscanned lists, by apiVersion and kind, the objects of set that hold
// container-like data no pod covers, so that the scanners did not see
// what they run:
//
//   - an object of a kind aegis does not know (neither a Kubernetes kind
//     nor a well-known custom resource) with, outside its metadata, its
//     status and the pod-shaped fields aegis read, a non-empty list under
//     containers, initContainers, ephemeralContainers or sidecars, or an
//     image (a non-empty string, or a mapping with a repository);
//   - a pod found by its shape that does not convert to the typed API (a
//     string where a bool belongs);
//   - a field that changes a known pod but could not be read (an Argo
//     podSpecPatch that is not YAML).
//
// Objects of the Kubernetes API groups (the core group, apps, batch, and
// every *.k8s.io group) are never listed: a CustomResourceDefinition's
// schema describes containers without running any. A custom resource
// without container-like data (a Certificate) has nothing to scan and is
// not listed either. An object whose known pod is malformed is not listed:
// the scanners fail on it.
func Unscanned(set *manifest.Set) []report.Unscanned {
	if set == nil {
		return nil
	}
	type key struct{ apiVersion, kind string }
	by := map[key]*report.Unscanned{}
	var order []key
	for _, obj := range set.Objects {
		field, ok := unscannedField(obj)
		if !ok {
			continue
		}
		k := key{obj.GetAPIVersion(), obj.GetKind()}
		u := by[k]
		if u == nil {
			u = &report.Unscanned{APIVersion: k.apiVersion, Kind: k.kind, Name: obj.GetName(), Field: field}
			by[k] = u
			order = append(order, k)
		}
		u.Count++
	}
	out := make([]report.Unscanned, 0, len(order))
	for _, k := range order {
		out = append(out, *by[k])
	}
	slices.SortFunc(out, func(a, b report.Unscanned) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.APIVersion, b.APIVersion))
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// unscannedField returns the first field that makes obj unscanned.
func unscannedField(obj manifest.Object) (string, bool) {
	pods, kind, err := Find(obj)
	if err != nil {
		return "", false // the scanners report it, as an error
	}
	for i := range pods {
		if len(pods[i].Unread) > 0 {
			return pods[i].Unread[0].String(), true
		}
		if kind == ByShape {
			if _, err := pods[i].Typed(); err != nil {
				return pods[i].Path.String(), true
			}
		}
	}
	if kind != ByShape || kubernetesGroup(obj.GroupVersionKind().Group) {
		return "", false
	}
	// Container-like data outside the pods found: beside them, or in a
	// pod nested deeper than the shape walk looks.
	skip := map[string]bool{}
	for _, p := range pods {
		skip[p.Path.String()] = true
	}
	if p := containerLike(obj.Object, nil, 0, skip); p != nil {
		return p.String(), true
	}
	return "", false
}

// kubernetesGroup reports whether group is one of Kubernetes' own.
func kubernetesGroup(group string) bool {
	return !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io")
}

var containerListKeys = map[string]bool{"containers": true, "initContainers": true, "ephemeralContainers": true, "sidecars": true}

// maxScanDepth bounds the search for container-like data: beyond the
// decoder's nesting limit (manifest.DefaultLimits.MaxDepth), so that no
// decoded object hides any.
const maxScanDepth = 128

// containerLike returns the path of the first container-like field under
// v, in key order, outside the object's metadata and status and the pods
// at the paths in skip.
func containerLike(v any, path manifest.FieldPath, depth int, skip map[string]bool) manifest.FieldPath {
	if depth > maxScanDepth || (depth > 0 && skip[path.String()]) {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if depth == 0 && (k == "metadata" || k == "status") {
				continue
			}
			val := x[k]
			if containerListKeys[k] {
				if l, ok := val.([]any); ok && len(l) > 0 {
					return path.Child(k)
				}
			}
			if k == "image" {
				switch iv := val.(type) {
				case string:
					if strings.TrimSpace(iv) != "" {
						return path.Child(k)
					}
				case map[string]any:
					if r, _ := iv["repository"].(string); r != "" {
						return path.Child(k)
					}
				}
			}
			if p := containerLike(val, path.Child(k), depth+1, skip); p != nil {
				return p
			}
		}
	case []any:
		for i := range x {
			if p := containerLike(x[i], path.Child(itemSelector(x, i)), depth+1, skip); p != nil {
				return p
			}
		}
	}
	return nil
}
