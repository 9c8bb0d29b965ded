package plugin

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/verify"
)

// ChunkBytes is the most compressed bytes one ConfigMap carries. Argo CD
// applies hooks with client-side apply by default, which copies the whole
// object, base64 binaryData included (4/3 of the bytes), into the
// last-applied-configuration annotation, and all annotations of an object
// must fit in 256 KiB: 128 KiB of data leaves room for both, far under the
// 1 MiB ConfigMap limit.
const ChunkBytes = 128 << 10

// MaxChunks bounds the ConfigMaps of one set (8 MiB compressed).
const MaxChunks = 64

// chunkKey is the binaryData key of each chunk, secretsKey the data key of
// the Secret hook holding the set's Secrets.
const (
	chunkKey   = "set.jsonl.gz"
	secretsKey = "secrets.jsonl.gz"
)

// MaxSecretsBytes bounds the compressed Secrets of one set: one Secret,
// with room for client-side apply's copy of it in an annotation.
const MaxSecretsBytes = 96 << 10

// Stream format of a rendered set: gzip of JSON lines, a header line and
// then one line per object in canonical order.
const (
	streamAPIVersion = "aegis.dev/v1alpha1"
	streamKind       = "RenderedSet"
)

type streamHeader struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Digest     string `json:"digest"`
	Objects    int    `json:"objects"`
	// Secrets is how many of the objects are Secrets, carried apart.
	Secrets      int    `json:"secrets,omitempty"`
	PolicyDigest string `json:"policyDigest,omitempty"`
	// Policy is the app's .aegis.yaml, verbatim ("" for none).
	Policy     string `json:"policy,omitempty"`
	PolicyPath string `json:"policyPath,omitempty"`
}

type streamObject struct {
	Origin manifest.Origin `json:"origin"`
	Object map[string]any  `json:"object"`
}

// Policy is the app's policy file as generate found it.
type Policy struct {
	Path string // relative to the repository root, for messages
	Data []byte
}

// Digest is "sha256:<hex>" of the policy's bytes, "" without a policy.
func (p Policy) Digest() string {
	if len(p.Data) == 0 {
		return ""
	}
	sum := sha256.Sum256(p.Data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Encoded is a rendered set as the gate stores it. Public goes into the
// ConfigMaps: the header and every object but the Secrets. Secrets holds
// the set's Secrets for one Secret hook (nil when the set has none): a
// Secret's values never go into a ConfigMap, which more people may read
// than Secrets and whose content Argo CD's UI shows (it masks Secrets').
type Encoded struct {
	Public  []byte
	Secrets []byte
}

// isSecret tells the objects whose content goes into Encoded.Secrets, by
// manifest.IsSecret's rule (the kind, whatever the group), so that what
// aegis masks elsewhere is what Argo CD's UI masks here.
func isSecret(o manifest.Object) bool { return manifest.IsSecret(o.GetKind()) }

// EncodeSet writes set and policy as the gzip-compressed streams the gate's
// hooks carry.
func EncodeSet(set *manifest.Set, policy Policy) (Encoded, error) {
	var public, secrets []manifest.Object
	for _, o := range set.Objects {
		if isSecret(o) {
			secrets = append(secrets, o)
		} else {
			public = append(public, o)
		}
	}
	h := streamHeader{APIVersion: streamAPIVersion, Kind: streamKind, Digest: set.Digest(), Objects: set.Len(), Secrets: len(secrets),
		PolicyDigest: policy.Digest(), Policy: string(policy.Data), PolicyPath: policy.Path}
	var e Encoded
	var err error
	if e.Public, err = encodeLines(&h, public); err != nil {
		return Encoded{}, err
	}
	if len(secrets) > 0 {
		if e.Secrets, err = encodeLines(nil, secrets); err != nil {
			return Encoded{}, err
		}
	}
	return e, nil
}

func encodeLines(h *streamHeader, objs []manifest.Object) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	enc := json.NewEncoder(zw)
	if h != nil {
		if err := enc.Encode(h); err != nil {
			return nil, err
		}
	}
	for _, o := range objs {
		if err := enc.Encode(streamObject{Origin: o.Origin, Object: o.Object}); err != nil {
			return nil, fmt.Errorf("%s: %w", o.ID(), err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodedSet is a set read back from its streams.
type DecodedSet struct {
	Set    *manifest.Set
	Policy Policy
	// Digest and PolicyDigest are computed from what was read, not taken
	// from the stream's header.
	Digest, PolicyDigest string
}

// PeekSecrets reads only the header of a public stream: how many Secrets
// the set holds (so that the gate reads the Secret hook only when there is
// one).
func PeekSecrets(public []byte) (int, error) {
	zr, err := gzip.NewReader(bytes.NewReader(public))
	if err != nil {
		return 0, fmt.Errorf("the rendered set is not gzip data: %w", err)
	}
	sc := bufio.NewScanner(io.LimitReader(zr, config.MaxBytes*4))
	sc.Buffer(make([]byte, 0, 64<<10), config.MaxBytes*4)
	if !sc.Scan() {
		return 0, errors.New("the rendered set has no valid header")
	}
	var h streamHeader
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.APIVersion != streamAPIVersion || h.Kind != streamKind {
		return 0, errors.New("the rendered set has no valid header")
	}
	return h.Secrets, nil
}

// DecodeSet reads streams EncodeSet wrote, inflating at most maxBytes in
// all. The digests it returns are recomputed from the objects and the
// policy; a header that disagrees with them is an error, so that a stream
// is either what its header says or refused.
func DecodeSet(e Encoded, maxBytes int64) (*DecodedSet, error) {
	budget := maxBytes
	lines, err := decodeLines(e.Public, &budget, maxBytes)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errors.New("the rendered set is empty")
	}
	var h streamHeader
	if err := json.Unmarshal(lines[0], &h); err != nil || h.APIVersion != streamAPIVersion || h.Kind != streamKind {
		return nil, errors.New("the rendered set has no valid header")
	}
	objs, err := decodeObjects(lines[1:], 0)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if isSecret(o) {
			return nil, errors.New("the rendered set's ConfigMaps hold a Secret")
		}
	}
	switch {
	case h.Secrets > 0 && e.Secrets == nil:
		return nil, fmt.Errorf("the rendered set's %d Secret(s) are missing", h.Secrets)
	case h.Secrets == 0 && e.Secrets != nil:
		return nil, errors.New("the rendered set has Secrets its header does not announce")
	case h.Secrets > 0:
		slines, err := decodeLines(e.Secrets, &budget, maxBytes)
		if err != nil {
			return nil, err
		}
		secrets, err := decodeObjects(slines, len(objs))
		if err != nil {
			return nil, err
		}
		for _, o := range secrets {
			if !isSecret(o) {
				return nil, errors.New("the rendered set's Secret hook holds an object that is not a Secret")
			}
		}
		if len(secrets) != h.Secrets {
			return nil, errors.New("the rendered set's header does not match its content")
		}
		objs = append(objs, secrets...)
	}
	set, err := manifest.NewSet(objs)
	if err != nil {
		return nil, fmt.Errorf("the rendered set: %w", err)
	}
	d := &DecodedSet{Set: set, Policy: Policy{Path: h.PolicyPath, Data: []byte(h.Policy)}}
	d.Digest, d.PolicyDigest = set.Digest(), d.Policy.Digest()
	if h.Digest != d.Digest || h.PolicyDigest != d.PolicyDigest || h.Objects != set.Len() {
		return nil, errors.New("the rendered set's header does not match its content")
	}
	return d, nil
}

// decodeLines inflates a gzip stream of JSON lines, counting the inflated
// bytes against *budget.
func decodeLines(data []byte, budget *int64, maxBytes int64) ([][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the rendered set is not gzip data: %w", err)
	}
	lr := &io.LimitedReader{R: zr, N: *budget + 1}
	tooBig := fmt.Errorf("the rendered set inflates to more than %d bytes", maxBytes)
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), int(min(maxBytes+1, manifest.DefaultLimits.MaxFileBytes*4)))
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
		if len(lines) > manifest.DefaultLimits.MaxDocuments+1 {
			return nil, fmt.Errorf("the rendered set holds more than %d objects", manifest.DefaultLimits.MaxDocuments)
		}
	}
	if lr.N <= 0 {
		return nil, tooBig // a line cut at the limit is not what is wrong
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the rendered set: %w", err)
	}
	*budget -= (*budget + 1) - lr.N
	return lines, nil
}

// decodeObjects decodes object lines; n is how many objects came before,
// for messages.
func decodeObjects(lines [][]byte, n int) ([]manifest.Object, error) {
	objs := make([]manifest.Object, 0, len(lines))
	for i, line := range lines {
		var so struct {
			Origin manifest.Origin  `json:"origin"`
			Object *json.RawMessage `json:"object"`
		}
		if err := json.Unmarshal(line, &so); err != nil || so.Object == nil {
			return nil, fmt.Errorf("the rendered set's object %d is not valid", n+i+1)
		}
		// Kubernetes' own JSON decoding: integers as int64, as the YAML
		// decoder of package manifest gives them, so the digest is the same.
		var m map[string]any
		if err := utiljson.Unmarshal(*so.Object, &m); err != nil || m == nil {
			return nil, fmt.Errorf("the rendered set's object %d is not valid", n+i+1)
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("the rendered set's object %d has no apiVersion or kind", n+i+1)
		}
		objs = append(objs, manifest.Object{Unstructured: u, Origin: so.Origin})
	}
	return objs, nil
}

// Chunks splits data into ChunkBytes pieces.
func Chunks(data []byte) [][]byte {
	var out [][]byte
	for len(data) > ChunkBytes {
		out = append(out, data[:ChunkBytes])
		data = data[ChunkBytes:]
	}
	return append(out, data)
}

// IntegrityError is a rendered set in the cluster that is not the one the
// gate was generated for: missing, incomplete, forged or stale. The gate
// fails closed on it. It is bad input (verify.IsBadInput).
type IntegrityError struct{ Msg string }

func (e *IntegrityError) Error() string { return e.Msg }

// Unwrap makes the error bad input for verify.IsBadInput.
func (e *IntegrityError) Unwrap() error { return &verify.InputError{Msg: e.Msg} }

// parseChunk reads the "<i>/<n>" annotation.
func parseChunk(v string) (i, n int, ok bool) {
	a, b, found := strings.Cut(v, "/")
	if !found {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	return i, n, err1 == nil && err2 == nil && i >= 0 && n > 0 && i < n
}
