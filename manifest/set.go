package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Set is the rendered output of one side: objects in canonical order.
type Set struct {
	Objects []Object
}

// NewSet sorts objects canonically and rejects duplicate identities, naming
// both origins so the user can find the clash.
func NewSet(objects []Object) (*Set, error) {
	sorted := make([]Object, len(objects))
	copy(sorted, objects)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID().Less(sorted[j].ID()) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].ID() == sorted[i-1].ID() {
			return nil, &DuplicateError{ID: sorted[i].ID(), First: sorted[i-1].Origin.Location, Second: sorted[i].Origin.Location}
		}
	}
	return &Set{Objects: sorted}, nil
}

// DuplicateError reports two objects with one identity.
type DuplicateError struct {
	ID            Identity
	First, Second Location
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s: duplicate object %s (also defined at %s)", e.Second, e.ID, e.First)
}

// Find returns the object with the given identity.
func (s *Set) Find(id Identity) (Object, bool) {
	i := sort.Search(len(s.Objects), func(i int) bool { return !s.Objects[i].ID().Less(id) })
	if i < len(s.Objects) && s.Objects[i].ID() == id {
		return s.Objects[i], true
	}
	return Object{}, false
}

// Len returns the number of objects.
func (s *Set) Len() int { return len(s.Objects) }

// Digest is the sha256 of the canonical stream: objects in canonical order,
// each as JSON with sorted keys, so identical renders give identical digests
// whatever their source layout.
func (s *Set) Digest() string {
	h := sha256.New()
	for _, o := range s.Objects {
		b, err := json.Marshal(o.Object) // encoding/json sorts map keys
		if err != nil {
			// Decoded objects hold only JSON values; failing here is a bug.
			panic(fmt.Sprintf("manifest: object %s is not JSON: %v", o.ID(), err))
		}
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// YAML renders the set as a multi-document YAML stream.
func (s *Set) YAML() ([]byte, error) {
	var b strings.Builder
	for i, o := range s.Objects {
		if i > 0 {
			b.WriteString("---\n")
		}
		y, err := MarshalYAML(o.Object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.ID(), err)
		}
		b.Write(y)
	}
	return []byte(b.String()), nil
}
