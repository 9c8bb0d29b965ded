package isolate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
)

// The answer, written by encodeResponse and read by decodeResponse:
//
//	magic
//	0, result: type, objects (origin, value, locator table), locations
//	1, error: kind, whether the typed error is the error itself, message, fields
//	trailer
//
// Values keep their Go types (int64 stays int64, float64 float64), so the
// set and its digest are the child's. Integers are varints, strings are a
// length and bytes.
const (
	magic   = "aegis-render/1\n"
	trailer = "end\n"
)

// Value tags.
const (
	tagNil byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
	tagMap
	tagList
)

// Error kinds: the types verify.IsBadInput and the callers look for.
const (
	errPlain byte = iota
	errSource
	errDuplicate
	errConfig
)

// maxValueDepth bounds the decoder's recursion (manifest.Limits allows
// MaxDepth 100 by default).
const maxValueDepth = 10_000

type encoder struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func (e *encoder) flushBuf() {
	if e.err == nil && len(e.buf) > 0 {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

func (e *encoder) byte(b byte) { e.buf = append(e.buf, b) }
func (e *encoder) uint(n uint64) {
	e.buf = binary.AppendUvarint(e.buf, n)
}
func (e *encoder) int(n int64) { e.buf = binary.AppendVarint(e.buf, n) }
func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
	if len(e.buf) > 64<<10 {
		e.flushBuf()
	}
}

func (e *encoder) value(v any) {
	switch x := v.(type) {
	case nil:
		e.byte(tagNil)
	case bool:
		if x {
			e.byte(tagTrue)
		} else {
			e.byte(tagFalse)
		}
	case int64:
		e.byte(tagInt)
		e.int(x)
	case float64:
		e.byte(tagFloat)
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(x))
	case string:
		e.byte(tagString)
		e.str(x)
	case map[string]any:
		e.byte(tagMap)
		e.uint(uint64(len(x)))
		for _, k := range sortedKeys(x) {
			e.str(k)
			e.value(x[k])
		}
	case []any:
		e.byte(tagList)
		e.uint(uint64(len(x)))
		for _, it := range x {
			e.value(it)
		}
	default:
		if e.err == nil {
			e.err = fmt.Errorf("isolate: cannot carry a value of type %T", v)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// encodeResponse writes the answer for a render's result or error.
func encodeResponse(w *bufio.Writer, res *render.Result, rerr error) error {
	e := &encoder{w: w}
	e.buf = append(e.buf, magic...)
	if rerr != nil {
		e.byte(1)
		encodeError(e, rerr)
	} else {
		e.byte(0)
		e.str(string(res.Type))
		tb := newTableBuilder()
		e.uint(uint64(len(res.Set.Objects)))
		for _, o := range res.Set.Objects {
			e.str(o.Origin.Path)
			e.int(int64(o.Origin.Line))
			e.str(o.Origin.Template)
			e.value(o.Object)
			if o.Locator == nil {
				e.byte(0)
				continue
			}
			e.byte(1)
			ids := tb.build(o)
			e.uint(uint64(len(ids)))
			for _, id := range ids {
				e.uint(uint64(id))
			}
			e.flushBuf()
		}
		e.uint(uint64(len(tb.locs)))
		for _, l := range tb.locs {
			e.str(l.Path)
			e.int(int64(l.Line))
			approx := byte(0)
			if l.Approximate {
				approx = 1
			}
			e.byte(approx)
		}
		// The Helm dependencies downloaded (render/helm_deps.go).
		e.uint(uint64(len(res.Dependencies)))
		for _, dep := range res.Dependencies {
			e.str(dep.Name)
			e.str(dep.Version)
			e.str(dep.Repository)
			e.str(dep.URL)
			e.str(dep.SHA256)
			e.byte(boolByte(dep.Cached))
		}
	}
	e.buf = append(e.buf, trailer...)
	e.flushBuf()
	return e.err
}

func encodeError(e *encoder, err error) {
	var se *manifest.SourceError
	var de *manifest.DuplicateError
	var ce *config.Error
	switch {
	case errors.As(err, &se):
		e.byte(errSource)
		e.byte(boolByte(error(se) == err))
		e.str(err.Error())
		e.str(se.Path)
		e.int(int64(se.Line))
		e.str(se.Msg)
	case errors.As(err, &de):
		e.byte(errDuplicate)
		e.byte(boolByte(error(de) == err))
		e.str(err.Error())
		e.str(de.ID.Group)
		e.str(de.ID.Kind)
		e.str(de.ID.Namespace)
		e.str(de.ID.Name)
		e.str(de.First.Path)
		e.int(int64(de.First.Line))
		e.str(de.Second.Path)
		e.int(int64(de.Second.Line))
	case errors.As(err, &ce):
		e.byte(errConfig)
		e.byte(boolByte(error(ce) == err))
		e.str(err.Error())
		e.str(ce.Path)
		e.int(int64(ce.Line))
		e.str(ce.Msg)
	default:
		e.byte(errPlain)
		e.byte(0)
		e.str(err.Error())
	}
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// wrapped is an error the child had wrapped around a typed one: the same
// message, and the typed error for errors.As.
type wrapped struct {
	msg   string
	inner error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.inner }

type decoder struct {
	data []byte
	pos  int
	err  error
}

var errCorrupt = errors.New("isolate: the render process's answer is cut short or corrupt")

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || d.pos >= len(d.data) {
		d.fail()
		return 0
	}
	b := d.data[d.pos]
	d.pos++
	return b
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.data[d.pos:])
	if k <= 0 {
		d.fail()
		return 0
	}
	d.pos += k
	return n
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	n, k := binary.Varint(d.data[d.pos:])
	if k <= 0 {
		d.fail()
		return 0
	}
	d.pos += k
	return n
}

// count reads a length that cannot exceed the bytes left (each element
// takes at least one).
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.data)-d.pos) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.data[d.pos : d.pos+n])
	d.pos += n
	return s
}

func (d *decoder) value(depth int) any {
	if depth > maxValueDepth {
		d.fail()
		return nil
	}
	switch d.byte() {
	case tagNil:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagInt:
		return d.int()
	case tagFloat:
		if d.err != nil || d.pos+8 > len(d.data) {
			d.fail()
			return nil
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.data[d.pos:]))
		d.pos += 8
		return f
	case tagString:
		return d.str()
	case tagMap:
		n := d.count()
		m := make(map[string]any, n)
		for range n {
			k := d.str()
			m[k] = d.value(depth + 1)
			if d.err != nil {
				return nil
			}
		}
		return m
	case tagList:
		n := d.count()
		l := make([]any, 0, n)
		for range n {
			l = append(l, d.value(depth+1))
			if d.err != nil {
				return nil
			}
		}
		return l
	}
	d.fail()
	return nil
}

type response struct {
	result *render.Result
	err    error
}

// decodeResponse reads an answer; an error return means the answer itself
// is broken, resp.err the render's own error.
func decodeResponse(data []byte) (*response, error) {
	if len(data) < len(magic)+len(trailer) || string(data[:len(magic)]) != magic || string(data[len(data)-len(trailer):]) != trailer {
		return nil, errCorrupt
	}
	d := &decoder{data: data[:len(data)-len(trailer)], pos: len(magic)}
	switch d.byte() {
	case 0:
		res, err := decodeResult(d)
		if err != nil {
			return nil, err
		}
		return &response{result: res}, nil
	case 1:
		rerr := decodeError(d)
		if d.err != nil || d.pos != len(d.data) {
			return nil, errCorrupt
		}
		return &response{err: rerr}, nil
	}
	return nil, errCorrupt
}

func decodeResult(d *decoder) (*render.Result, error) {
	typ := render.Type(d.str())
	n := d.count()
	objs := make([]manifest.Object, 0, n)
	locs := new([]manifest.Location)
	for range n {
		var o manifest.Object
		o.Origin.Path = d.str()
		o.Origin.Line = int(d.int())
		o.Origin.Template = d.str()
		m, ok := d.value(0).(map[string]any)
		if d.err != nil || !ok {
			return nil, errCorrupt
		}
		o.Unstructured = &unstructured.Unstructured{Object: m}
		if d.byte() == 1 {
			ids := make([]uint32, d.count())
			for i := range ids {
				ids[i] = uint32(d.uint())
			}
			if d.err != nil {
				return nil, errCorrupt
			}
			t, err := newTable(m, ids, locs)
			if err != nil {
				return nil, err
			}
			o.Locator = t
		}
		objs = append(objs, o)
	}
	nl := d.count()
	*locs = make([]manifest.Location, 0, nl)
	for range nl {
		l := manifest.Location{Path: d.str(), Line: int(d.int())}
		l.Approximate = d.byte() == 1
		*locs = append(*locs, l)
	}
	var deps []render.Dependency
	for range d.count() {
		dep := render.Dependency{Name: d.str(), Version: d.str(), Repository: d.str(), URL: d.str(), SHA256: d.str()}
		dep.Cached = d.byte() == 1
		deps = append(deps, dep)
	}
	if d.err != nil || d.pos != len(d.data) {
		return nil, errCorrupt
	}
	for _, o := range objs {
		if t, ok := o.Locator.(*table); ok && t.maxID > uint32(nl) {
			return nil, errCorrupt
		}
	}
	// Already in canonical order and without duplicates: NewSet checks.
	set, err := manifest.NewSet(objs)
	if err != nil {
		return nil, err
	}
	return &render.Result{Type: typ, Set: set, Dependencies: deps}, nil
}

func decodeError(d *decoder) error {
	kind := d.byte()
	top := d.byte() == 1
	msg := d.str()
	var typed error
	switch kind {
	case errPlain:
		return errors.New(msg)
	case errSource:
		se := &manifest.SourceError{}
		se.Path = d.str()
		se.Line = int(d.int())
		se.Msg = d.str()
		typed = se
	case errDuplicate:
		de := &manifest.DuplicateError{}
		de.ID.Group, de.ID.Kind, de.ID.Namespace, de.ID.Name = d.str(), d.str(), d.str(), d.str()
		de.First.Path = d.str()
		de.First.Line = int(d.int())
		de.Second.Path = d.str()
		de.Second.Line = int(d.int())
		typed = de
	case errConfig:
		ce := &config.Error{}
		ce.Path = d.str()
		ce.Line = int(d.int())
		ce.Msg = d.str()
		typed = ce
	default:
		d.fail()
		return nil
	}
	if top {
		return typed
	}
	return &wrapped{msg: msg, inner: typed}
}
