package manifest

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Location is a place in a source file: a slash-separated path relative to the
// side's root and a 1-based line (0 when unknown).
//
// Approximate marks a location that is not proven to be where the value is
// set: for Helm output, the template line that emits a field whose value
// could not be traced to a single values key (see docs/rendering.md, "Where
// a finding points"). It is near the cause, not necessarily the line a pull
// request changed.
type Location struct {
	Path        string `json:"path"`
	Line        int    `json:"line"`
	Approximate bool   `json:"approximate,omitempty"`
}

func (l Location) String() string {
	if l.Line > 0 {
		return fmt.Sprintf("%s:%d", l.Path, l.Line)
	}
	return l.Path
}

// Origin says where an object came from.
type Origin struct {
	// Location is the source file and the line where the object starts.
	Location
	// Template is the chart-relative template path for Helm output.
	Template string `json:"template,omitempty"`
}

// Locator finds the source line that sets a field of an object. Renderers
// attach one per object; it may consult patches, values files or templates.
type Locator interface {
	Locate(path FieldPath) (Location, bool)
}

// Object is one rendered Kubernetes object and where it came from.
type Object struct {
	*unstructured.Unstructured
	Origin  Origin
	Locator Locator
}

// Locate returns the source location of a field of the object, falling back to
// the object's own start line when no renderer knows better.
func (o Object) Locate(path FieldPath) Location {
	if o.Locator != nil && len(path) > 0 {
		if loc, ok := o.Locator.Locate(path); ok {
			return loc
		}
	}
	return o.Origin.Location
}

// ID returns the identity of the object.
func (o Object) ID() Identity {
	gvk := o.GroupVersionKind()
	return Identity{Group: gvk.Group, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName()}
}

// Identity names an object regardless of its API version.
type Identity struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (id Identity) String() string {
	var b strings.Builder
	b.WriteString(id.Kind)
	if id.Group != "" {
		b.WriteString("." + id.Group)
	}
	b.WriteString("/")
	if id.Namespace != "" {
		b.WriteString(id.Namespace + "/")
	}
	b.WriteString(id.Name)
	return b.String()
}

// Less orders identities canonically: group, kind, namespace, name.
func (id Identity) Less(other Identity) bool {
	if id.Group != other.Group {
		return id.Group < other.Group
	}
	if id.Kind != other.Kind {
		return id.Kind < other.Kind
	}
	if id.Namespace != other.Namespace {
		return id.Namespace < other.Namespace
	}
	return id.Name < other.Name
}

// GroupKind returns the identity's group and kind.
func (id Identity) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: id.Group, Kind: id.Kind}
}
