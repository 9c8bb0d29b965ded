package isolate

import (
	"slices"
	"strconv"
	"strings"

	"github.com/kube-sentient/aegis/manifest"
)

// A renderer's Locator holds closures over the source (YAML nodes,
// template text, patches) that cannot cross a process boundary. The child
// asks it, for every field of the object, where that field is set, and
// sends the answers; the parent answers Locate from that table.
//
// Each field is asked twice when the two differ: with list items selected
// by name ("containers[name=app]", as scanners write paths) and by index
// ("containers[0]", as the API server writes them). Fields are visited in
// pre-order, map keys sorted, so that both sides number them alike.
//
// A path that goes below what the object holds (a field a scanner says
// should be set) gets the answer of its deepest part the object holds.

// tableBuilder asks locators in the child and numbers the locations.
type tableBuilder struct {
	ids  map[manifest.Location]uint32
	locs []manifest.Location
}

func newTableBuilder() *tableBuilder {
	return &tableBuilder{ids: map[manifest.Location]uint32{}}
}

// id numbers a locator's answer: 0 for none.
func (b *tableBuilder) id(l manifest.Locator, p manifest.FieldPath) uint32 {
	loc, ok := l.Locate(p)
	if !ok {
		return 0
	}
	if id, seen := b.ids[loc]; seen {
		return id
	}
	b.locs = append(b.locs, loc)
	id := uint32(len(b.locs))
	b.ids[loc] = id
	return id
}

// build returns the two answers (by name, by index) for every field of o
// below its top, in pre-order.
func (b *tableBuilder) build(o manifest.Object) []uint32 {
	var ids []uint32
	var walk func(v any, byName, byIndex manifest.FieldPath, differ bool)
	visit := func(v any, byName, byIndex manifest.FieldPath, differ bool) {
		n := b.id(o.Locator, byName)
		i := n
		if differ {
			i = b.id(o.Locator, byIndex)
		}
		ids = append(ids, n, i)
		walk(v, byName, byIndex, differ)
	}
	walk = func(v any, byName, byIndex manifest.FieldPath, differ bool) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				visit(x[k], append(byName, k), append(byIndex, k), differ)
			}
		case []any:
			for i, it := range x {
				idx := "[" + strconv.Itoa(i) + "]"
				sel, named := idx, false
				if name := itemName(it); name != "" {
					sel, named = manifest.ItemByName(name), true
				}
				visit(it, append(byName, sel), append(byIndex, idx), differ || named)
			}
		}
	}
	walk(o.Object, make(manifest.FieldPath, 0, 16), make(manifest.FieldPath, 0, 16), false)
	return ids
}

// itemName is a list item's name, "" when it has none.
func itemName(v any) string {
	if m, ok := v.(map[string]any); ok {
		if s, ok := m["name"].(string); ok {
			return s
		}
	}
	return ""
}

// table is the Locator the parent rebuilds: the shape of the object (its
// own copy, so that a later change to the object does not shift it) and
// the two answers of each field.
type table struct {
	obj   map[string]any // to resolve a list selector by another key than name
	nodes []tnode        // pre-order; nodes[0] is the object itself
	keys  []string       // a map node's sorted keys, a list node's item names
	kids  []int32
	locs  *[]manifest.Location
	maxID uint32
}

type tnode struct {
	first, n        int32 // children: keys[first:first+n], kids[first:first+n]
	kind            uint8
	byName, byIndex uint32
}

const (
	kindScalar uint8 = iota
	kindMap
	kindList
)

func newTable(obj map[string]any, ids []uint32, locs *[]manifest.Location) (*table, error) {
	t := &table{obj: obj, locs: locs}
	var build func(v any) int32
	build = func(v any) int32 {
		at := int32(len(t.nodes))
		t.nodes = append(t.nodes, tnode{})
		switch x := v.(type) {
		case map[string]any:
			keys := sortedKeys(x)
			first := int32(len(t.keys))
			t.keys = append(t.keys, keys...)
			t.kids = append(t.kids, make([]int32, len(keys))...)
			t.nodes[at] = tnode{first: first, n: int32(len(keys)), kind: kindMap}
			for i, k := range keys {
				t.kids[first+int32(i)] = build(x[k])
			}
		case []any:
			first := int32(len(t.keys))
			for _, it := range x {
				t.keys = append(t.keys, itemName(it))
			}
			t.kids = append(t.kids, make([]int32, len(x))...)
			t.nodes[at] = tnode{first: first, n: int32(len(x)), kind: kindList}
			for i, it := range x {
				t.kids[first+int32(i)] = build(it)
			}
		}
		return at
	}
	build(obj)
	if len(ids) != 2*(len(t.nodes)-1) {
		return nil, errCorrupt
	}
	for i := 1; i < len(t.nodes); i++ {
		t.nodes[i].byName, t.nodes[i].byIndex = ids[2*(i-1)], ids[2*(i-1)+1]
		t.maxID = max(t.maxID, t.nodes[i].byName, t.nodes[i].byIndex)
	}
	t.nodes = slices.Clip(t.nodes)
	return t, nil
}

// Locate implements manifest.Locator.
func (t *table) Locate(p manifest.FieldPath) (manifest.Location, bool) {
	if len(p) == 0 {
		return manifest.Location{}, false
	}
	cur := int32(0)
	var live any = t.obj
	byIndex := false
	trail := make([]int32, 0, len(p))
	for _, seg := range p {
		next, idx, indexed := t.child(cur, seg, live)
		if next < 0 {
			break
		}
		byIndex = byIndex || indexed
		live = liveChild(live, seg, idx)
		cur = next
		trail = append(trail, cur)
	}
	// The whole path, else its deepest part the object holds that has an
	// answer.
	for i := len(trail) - 1; i >= 0; i-- {
		n := t.nodes[trail[i]]
		id := n.byName
		if byIndex {
			id = n.byIndex
		}
		if id != 0 {
			return (*t.locs)[id-1], true
		}
		if i == len(p)-1 {
			return manifest.Location{}, false // the field is there; its locator knew nothing
		}
	}
	return manifest.Location{}, false
}

// child returns the node seg selects below node at, the item index for a
// list, and whether it selects a named item by its index; -1 when there is
// none.
func (t *table) child(at int32, seg string, live any) (int32, int, bool) {
	n := t.nodes[at]
	keys := t.keys[n.first : n.first+n.n]
	kids := t.kids[n.first : n.first+n.n]
	switch n.kind {
	case kindMap:
		if i, ok := slices.BinarySearch(keys, seg); ok {
			return kids[i], -1, false
		}
	case kindList:
		if !strings.HasPrefix(seg, "[") || !strings.HasSuffix(seg, "]") {
			return -1, -1, false
		}
		sel := seg[1 : len(seg)-1]
		if k, v, ok := strings.Cut(sel, "="); ok {
			if k == "name" {
				if i := slices.Index(keys, v); i >= 0 {
					return kids[i], i, false
				}
				return -1, -1, false
			}
			// Another key: the live object's items say which.
			items, _ := live.([]any)
			for i, it := range items {
				if m, ok := it.(map[string]any); ok && i < len(kids) && scalarText(m[k]) == v {
					return kids[i], i, false
				}
			}
			return -1, -1, false
		}
		if i, err := strconv.Atoi(sel); err == nil && i >= 0 && i < len(kids) {
			return kids[i], i, keys[i] != ""
		}
	}
	return -1, -1, false
}

func liveChild(live any, seg string, idx int) any {
	switch x := live.(type) {
	case map[string]any:
		return x[seg]
	case []any:
		if idx >= 0 && idx < len(x) {
			return x[idx]
		}
	}
	return nil
}

// scalarText writes a scalar as YAML does, for selectors such as
// "[containerPort=80]".
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	}
	return ""
}
