// Package diff owns the resource-level comparison of two rendered Sets: which
// objects the change adds, removes or changes, with a unified YAML diff per
// changed object in which Secret values, and literals that look like
// credentials (package secret), are masked.
package diff

import (
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/secret"
)

// Type of a change to one object.
type Type string

// Change types.
const (
	Added   Type = "added"
	Removed Type = "removed"
	Changed Type = "changed"
)

// Change is one object that differs between base and head.
type Change struct {
	Type Type
	ID   manifest.Identity
	// Base and Head are nil for an added or a removed object respectively.
	Base, Head *manifest.Object
	// Unified is a unified diff of the object's YAML (Secret values masked).
	Unified string
}

// Path returns the source file of the change's newest side.
func (c Change) Path() string {
	if c.Head != nil {
		return c.Head.Origin.Path
	}
	return c.Base.Origin.Path
}

// Compute compares two sets in one merge pass over their canonical order.
// Unchanged objects are left out.
func Compute(base, head *manifest.Set) ([]Change, error) {
	var out []Change
	b, h := base.Objects, head.Objects
	i, j := 0, 0
	for i < len(b) || j < len(h) {
		switch {
		case j >= len(h) || (i < len(b) && b[i].ID().Less(h[j].ID())):
			c, err := change(Removed, &b[i], nil)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
			i++
		case i >= len(b) || h[j].ID().Less(b[i].ID()):
			c, err := change(Added, nil, &h[j])
			if err != nil {
				return nil, err
			}
			out = append(out, c)
			j++
		default:
			c, err := change(Changed, &b[i], &h[j])
			if err != nil {
				return nil, err
			}
			if c.Unified != "" {
				out = append(out, c)
			}
			i++
			j++
		}
	}
	return out, nil
}

func change(t Type, base, head *manifest.Object) (Change, error) {
	c := Change{Type: t, Base: base, Head: head}
	if head != nil {
		c.ID = head.ID()
	} else {
		c.ID = base.ID()
	}
	before, after, err := maskedPair(base, head)
	if err != nil {
		return Change{}, err
	}
	if before == after {
		return c, nil
	}
	name := c.ID.String()
	c.Unified, err = difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(before), B: difflib.SplitLines(after),
		FromFile: "base/" + name, ToFile: "head/" + name, Context: 3,
	})
	if err != nil {
		return Change{}, fmt.Errorf("diff %s: %w", name, err)
	}
	return c, nil
}

// maskedPair renders both sides as YAML with Secret values masked. A value
// that differs between the sides is marked changed, so the reader learns
// that a secret changed without learning either value.
func maskedPair(base, head *manifest.Object) (string, string, error) {
	var bm, hm map[string]any
	if base != nil {
		bm = base.Object
	}
	if head != nil {
		hm = head.Object
	}
	if isSecret(base) || isSecret(head) {
		bm, hm = maskSecret(bm, nil), maskSecret(hm, bm)
	} else {
		bm, hm = maskLiterals(bm, nil), maskLiterals(hm, bm)
	}
	before, err := yamlOf(bm)
	if err != nil {
		return "", "", err
	}
	after, err := yamlOf(hm)
	return before, after, err
}

// isSecret says whether o is a Secret by manifest.IsSecret's rule (kind
// Secret in any group or version); a missing side is none.
func isSecret(o *manifest.Object) bool {
	return o != nil && manifest.IsSecretObject(o.Unstructured)
}

// Masked is what a Secret value is shown as.
const Masked = secret.Masked

// maskLiterals copies obj with every secret-looking literal masked: a
// {name, value} pair (env vars) or a ConfigMap data entry whose name or
// format says it holds a credential. other is the base side of the same
// object when obj is the head, to flag changed values.
func maskLiterals(obj, other map[string]any) map[string]any {
	if obj == nil {
		return nil
	}
	out, _ := maskValue(obj, other, obj["kind"] == "ConfigMap").(map[string]any)
	return out
}

func maskValue(v, other any, configMap bool) any {
	switch x := v.(type) {
	case map[string]any:
		om, _ := other.(map[string]any)
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = maskValue(val, om[k], configMap)
		}
		if name, ok := x["name"].(string); ok {
			if value, ok := x["value"].(string); ok {
				if _, looks := secret.Looking(name, value); looks {
					out["value"] = maskedLiteral(value, om["value"])
				}
			}
		}
		if configMap {
			if data, ok := x["data"].(map[string]any); ok {
				od, _ := om["data"].(map[string]any)
				masked := make(map[string]any, len(data))
				for k, val := range data {
					masked[k] = val
					if s, ok := val.(string); ok {
						if _, looks := secret.Looking(k, s); looks {
							masked[k] = maskedLiteral(s, od[k])
						}
					}
				}
				out["data"] = masked
			}
		}
		return out
	case []any:
		ol, _ := other.([]any)
		out := make([]any, len(x))
		for i, item := range x {
			var o any
			if i < len(ol) {
				o = ol[i]
			}
			out[i] = maskValue(item, o, configMap)
		}
		return out
	}
	return v
}

func maskedLiteral(value string, other any) string {
	if o, ok := other.(string); ok && o != value {
		return Masked + " (changed)"
	}
	return Masked
}

// maskSecret copies obj with every value masked but its apiVersion, kind,
// type, immutable and metadata, whatever their shape (stringData as a list,
// data as a string), and the last-applied annotation (which embeds the
// values) removed; other is the base side of the same Secret when obj is
// the head (nil otherwise), used to flag the head's changed values.
func maskSecret(obj, other map[string]any) map[string]any {
	if obj == nil {
		return nil
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		switch k {
		case "apiVersion", "kind", "type", "immutable", "metadata":
			out[k] = v
		default:
			var ov any
			if other != nil {
				ov = other[k]
			}
			out[k] = maskAll(v, ov, other != nil)
		}
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		if ann, ok := md["annotations"].(map[string]any); ok {
			if _, has := ann["kubectl.kubernetes.io/last-applied-configuration"]; has {
				mdCopy := make(map[string]any, len(md))
				for k, v := range md {
					mdCopy[k] = v
				}
				annCopy := make(map[string]any, len(ann))
				for k, v := range ann {
					annCopy[k] = v
				}
				annCopy["kubectl.kubernetes.io/last-applied-configuration"] = Masked
				mdCopy["annotations"] = annCopy
				out["metadata"] = mdCopy
			}
		}
	}
	return out
}

// maskAll masks every leaf of v, keeping the keys of maps (a key names a
// value, it is not one) and the length of lists. A leaf that differs from
// the same leaf of other is marked changed when compare is set.
func maskAll(v, other any, compare bool) any {
	switch x := v.(type) {
	case map[string]any:
		om, _ := other.(map[string]any)
		out := make(map[string]any, len(x))
		for k, val := range x {
			var ov any
			if om != nil {
				ov = om[k]
			}
			out[k] = maskAll(val, ov, compare && om != nil && om[k] != nil)
		}
		return out
	case []any:
		ol, _ := other.([]any)
		out := make([]any, len(x))
		for i, item := range x {
			var o any
			if i < len(ol) {
				o = ol[i]
			}
			out[i] = maskAll(item, o, compare && i < len(ol))
		}
		return out
	}
	if compare && fmt.Sprint(other) != fmt.Sprint(v) {
		return Masked + " (changed)"
	}
	return Masked
}

func yamlOf(m map[string]any) (string, error) {
	if m == nil {
		return "", nil
	}
	b, err := manifest.MarshalYAML(m)
	return string(b), err
}

// Summary counts changes by type.
func Summary(changes []Change) string {
	var a, r, c int
	for _, ch := range changes {
		switch ch.Type {
		case Added:
			a++
		case Removed:
			r++
		case Changed:
			c++
		}
	}
	return fmt.Sprintf("%d added, %d removed, %d changed", a, r, c)
}

// Format writes every change as a unified diff, for `aegis diff`.
func Format(changes []Change) string {
	var b strings.Builder
	for _, c := range changes {
		fmt.Fprintf(&b, "# %s %s (%s)\n", c.Type, c.ID, c.Path())
		b.WriteString(c.Unified)
		if !strings.HasSuffix(c.Unified, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
