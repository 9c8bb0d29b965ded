package podspec

import (
	"fmt"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/manifest"
)

// argoMain is the name Argo Workflows gives the container of a container
// or script template.
const argoMain = "main"

// workflowFinder reads an Argo WorkflowSpec at base (a Workflow's or a
// WorkflowTemplate's spec, a CronWorkflow's spec.workflowSpec). Argo
// templates are not PodSpecs: every template that runs a container
// (container, script or containerSet) becomes a pod of its own, built as
// Argo builds it (docs/scanners.md lists the fields read).
func workflowFinder(base manifest.FieldPath) func(map[string]any) ([]Pod, error) {
	return func(obj map[string]any) ([]Pod, error) {
		v, found, err := lookup(obj, base)
		if err != nil || !found || v == nil {
			return nil, err
		}
		ws, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: is %s, not a mapping", base, describe(v))
		}
		templates, err := listAt(ws, "templates", base)
		if err != nil {
			return nil, err
		}
		td, err := mapAt(ws, "templateDefaults", base)
		if err != nil {
			return nil, err
		}
		var out []Pod
		for i, it := range templates {
			tpath := base.Child("templates", itemSelector(templates, i))
			t, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: is %s, not a template", tpath, describe(it))
			}
			p, ok, err := argoPod(ws, td, t, base, tpath)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, p)
			}
		}
		return out, nil
	}
}

func listAt(m map[string]any, key string, at manifest.FieldPath) ([]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: is %s, not a list", at.Child(key), describe(v))
	}
	return l, nil
}

func mapAt(m map[string]any, key string, at manifest.FieldPath) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: is %s, not a mapping", at.Child(key), describe(v))
	}
	return mm, nil
}

// argoPod builds the pod of one template, or ok=false for a template that
// runs no container of the user's (steps, dag, resource, suspend, ...).
func argoPod(ws, td, t map[string]any, base, tpath manifest.FieldPath) (Pod, bool, error) {
	var mainKey string
	for _, k := range []string{"container", "script"} {
		if v, ok := t[k]; ok && v != nil {
			mainKey = k
		}
	}
	cset, err := mapAt(t, "containerSet", tpath)
	if err != nil {
		return Pod{}, false, err
	}
	if mainKey == "" && cset == nil {
		return Pod{}, false, nil
	}
	p := Pod{Path: tpath, Qualifier: tpath.String(), Template: map[string]any{}}
	spec := map[string]any{}
	view := func(segs ...string) manifest.FieldPath { return append(manifest.FieldPath{"spec"}, segs...) }

	var containers []any
	if mainKey != "" {
		c, err := mapAt(t, mainKey, tpath)
		if err != nil {
			return Pod{}, false, err
		}
		at := view("containers", manifest.ItemByName(argoMain))
		p.mapTo(at, tpath.Child(mainKey))
		main := map[string]any{}
		p.layer(main, at, c, tpath.Child(mainKey), true)
		if d, _ := td[mainKey].(map[string]any); d != nil {
			p.layer(main, at, d, base.Child("templateDefaults", mainKey), false)
		}
		main["name"] = argoMain
		containers = append(containers, main)
	}
	if cset != nil {
		cs, err := listAt(cset, "containers", tpath.Child("containerSet"))
		if err != nil {
			return Pod{}, false, err
		}
		containers = p.appendContainers(containers, cs, view("containers"), tpath.Child("containerSet", "containers"), "container")
	}
	sidecars, err := listAt(t, "sidecars", tpath)
	if err != nil {
		return Pod{}, false, err
	}
	containers = p.appendContainers(containers, sidecars, view("containers"), tpath.Child("sidecars"), "sidecar")
	spec["containers"] = containers
	inits, err := listAt(t, "initContainers", tpath)
	if err != nil {
		return Pod{}, false, err
	}
	if len(inits) > 0 {
		spec["initContainers"] = p.appendContainers(nil, inits, view("initContainers"), tpath.Child("initContainers"), "init")
	}

	// Volumes: the workflow's and the template's, all in the pod.
	var volumes []any
	for _, src := range []struct {
		m  map[string]any
		at manifest.FieldPath
	}{{ws, base}, {t, tpath}} {
		vs, err := listAt(src.m, "volumes", src.at)
		if err != nil {
			return Pod{}, false, err
		}
		volumes = p.appendContainers(volumes, vs, view("volumes"), src.at.Child("volumes"), "volume")
	}
	if len(volumes) > 0 {
		spec["volumes"] = volumes
	}

	// The pod's securityContext: the template's, else the template
	// defaults', else the workflow's (one replaces the other, not merged).
	for _, src := range []struct {
		m  map[string]any
		at manifest.FieldPath
	}{{t, tpath}, {td, base.Child("templateDefaults")}, {ws, base}} {
		if v, ok := src.m["securityContext"]; ok && v != nil {
			spec["securityContext"] = v
			p.mapTo(view("securityContext"), src.at.Child("securityContext"))
			break
		}
	}
	// hostNetwork is a workflow field; templates have none.
	if v, ok := ws["hostNetwork"]; ok && v != nil {
		spec["hostNetwork"] = v
		p.mapTo(view("hostNetwork"), base.Child("hostNetwork"))
	}

	meta := map[string]any{}
	if m, err := mapAt(t, "metadata", tpath); err != nil {
		return Pod{}, false, err
	} else if m != nil {
		p.layer(meta, manifest.FieldPath{"metadata"}, m, tpath.Child("metadata"), true)
	}
	if m, err := mapAt(ws, "podMetadata", base); err != nil {
		return Pod{}, false, err
	} else if m != nil {
		p.layer(meta, manifest.FieldPath{"metadata"}, m, base.Child("podMetadata"), false)
	}
	p.Template["metadata"] = meta
	p.Template["spec"] = spec

	// podSpecPatch, the workflow's then the template's: a patch of the
	// pod spec in a string, which can set anything (privileged included).
	for _, src := range []struct {
		m  map[string]any
		at manifest.FieldPath
	}{{ws, base}, {t, tpath}} {
		raw, ok := src.m["podSpecPatch"]
		if !ok || raw == nil {
			continue
		}
		at := src.at.Child("podSpecPatch")
		s, isString := raw.(string)
		patch, err := parsePatch(s)
		if !isString || err != nil {
			p.Unread = append(p.Unread, at)
			continue
		}
		p.applyPatch(spec, patch, at)
	}
	return p, true, nil
}

// appendContainers adds the named items of a list (containers, volumes) to
// the view's list at view, each mapped to its own item of the object. An
// item without a name gets one (kind-index), so that it can be addressed.
func (p *Pod) appendContainers(dst, items []any, view, src manifest.FieldPath, kind string) []any {
	for i, it := range items {
		c, ok := it.(map[string]any)
		if !ok {
			dst = append(dst, it) // the typed conversion refuses it
			continue
		}
		name, _ := c["name"].(string)
		if name == "" {
			name = fmt.Sprintf("%s-%d", kind, i)
			c = shallow(c)
			c["name"] = name
		}
		p.mapTo(view.Child(manifest.ItemByName(name)), src.Child(itemSelector(items, i)))
		dst = append(dst, c)
	}
	return dst
}

// layer copies src's keys into dst, the view's mapping at view, recording
// where each comes from. Mappings merge key by key; otherwise the value
// already there stays unless override. dst's nested mappings are copied
// before they change: the object's own maps are never written.
func (p *Pod) layer(dst map[string]any, view manifest.FieldPath, src map[string]any, at manifest.FieldPath, override bool) {
	for _, k := range sortedKeys(src) {
		v := src[k]
		old, has := dst[k]
		om, oldMap := old.(map[string]any)
		sm, srcMap := v.(map[string]any)
		if has && oldMap && srcMap {
			nm := shallow(om)
			dst[k] = nm
			p.layer(nm, view.Child(k), sm, at.Child(k), override)
			continue
		}
		if has && !override {
			continue
		}
		dst[k] = v
		p.mapTo(view.Child(k), at.Child(k))
	}
}

// parsePatch reads a podSpecPatch (JSON or YAML) as a mapping, with
// numbers as the decoder gives them for the typed conversion.
func parsePatch(s string) (map[string]any, error) {
	j, err := sigsyaml.YAMLToJSON([]byte(s))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := utiljson.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not a mapping")
	}
	return m, nil
}

// applyPatch merges a podSpecPatch into the view as a strategic merge
// patch would for the fields that matter here: containers, init
// containers and volumes by name, mappings key by key, anything else
// replaced. Every field the patch sets maps to the patch's own line.
func (p *Pod) applyPatch(spec, patch map[string]any, at manifest.FieldPath) {
	for _, k := range sortedKeys(patch) {
		v := patch[k]
		switch k {
		case "containers", "initContainers", "ephemeralContainers", "volumes":
			items, ok := v.([]any)
			if !ok {
				spec[k] = v
				p.mapTo(manifest.FieldPath{"spec", k}, at)
				continue
			}
			cur, _ := spec[k].([]any)
			cur = append([]any(nil), cur...)
			for _, it := range items {
				pm, ok := it.(map[string]any)
				name, _ := pm["name"].(string)
				if !ok || name == "" {
					cur = append(cur, it)
					p.mapTo(manifest.FieldPath{"spec", k}, at)
					continue
				}
				itemView := manifest.FieldPath{"spec", k, manifest.ItemByName(name)}
				merged := false
				for j, c := range cur {
					if cm, ok := c.(map[string]any); ok && cm["name"] == name {
						nm := shallow(cm)
						p.layer(nm, itemView, pm, at, true)
						cur[j] = nm
						merged = true
						break
					}
				}
				if !merged {
					cur = append(cur, pm)
					p.mapTo(itemView, at)
				}
			}
			spec[k] = cur
		default:
			p.layer(spec, manifest.FieldPath{"spec"}, map[string]any{k: v}, at, true)
		}
	}
}
