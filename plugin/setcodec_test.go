package plugin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/verify"
)

func decodeYAMLSet(t *testing.T, y string) *manifest.Set {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("app/x.yaml", []byte(y))
	require.NoError(t, err)
	set, err := manifest.NewSet(objs)
	require.NoError(t, err)
	return set
}

const codecYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  template:
    spec:
      terminationGracePeriodSeconds: 9007199254740993
      containers: [{name: web, image: "web:1.1", resources: {limits: {cpu: 0.5}}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {html: "<b>&amp;</b>", n: "1"}
`

// Integers (even beyond float64's precision), floats, escaped characters:
// the set read back has the digest it was written with.
func TestSetCodecRoundTrip(t *testing.T) {
	set := decodeYAMLSet(t, codecYAML)
	data, err := EncodeSet(set, Policy{Path: "app/.aegis.yaml", Data: []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\n")})
	require.NoError(t, err)
	assert.Nil(t, data.Secrets, "no Secret, no Secret hook")
	d, err := DecodeSet(data, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, set.Digest(), d.Digest)
	assert.Equal(t, "app/.aegis.yaml", d.Policy.Path)
	assert.Equal(t, set.Objects[0].Origin, d.Set.Objects[0].Origin)
	v, _, _ := unstructuredInt(d.Set.Objects[1].Object, "spec", "template", "spec", "terminationGracePeriodSeconds")
	assert.Equal(t, int64(9007199254740993), v)
}

func unstructuredInt(m map[string]any, path ...string) (int64, bool, error) {
	var cur any = m
	for _, p := range path {
		cur = cur.(map[string]any)[p]
	}
	i, ok := cur.(int64)
	return i, ok, nil
}

// rewriteStream decodes a stream's lines, lets edit change them, and
// compresses the result again.
func rewriteStream(t *testing.T, data []byte, edit func(lines []map[string]any) []map[string]any) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	var lines []map[string]any
	dec := json.NewDecoder(zr)
	dec.UseNumber()
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		lines = append(lines, m)
	}
	lines = edit(lines)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	for _, l := range lines {
		require.NoError(t, enc.Encode(l))
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// A stream is what its header says or it is refused: an object changed, added
// or removed behind the header's digest, a policy swapped, garbage, a bomb.
func TestSetCodecRefusesTampering(t *testing.T) {
	set := decodeYAMLSet(t, codecYAML)
	enc, err := EncodeSet(set, Policy{Data: []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\n")})
	require.NoError(t, err)
	data := enc.Public
	cases := map[string][]byte{
		"object changed": rewriteStream(t, data, func(l []map[string]any) []map[string]any {
			l[2]["object"].(map[string]any)["spec"].(map[string]any)["replicas"] = 1
			return l
		}),
		"object removed": rewriteStream(t, data, func(l []map[string]any) []map[string]any { return l[:2] }),
		"object added": rewriteStream(t, data, func(l []map[string]any) []map[string]any {
			return append(l, map[string]any{"object": map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "evil"}}})
		}),
		"policy swapped": rewriteStream(t, data, func(l []map[string]any) []map[string]any {
			l[0]["policy"] = "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn: {severity: critical}\n"
			return l
		}),
		"no header": rewriteStream(t, data, func(l []map[string]any) []map[string]any { return l[1:] }),
		"no kind": rewriteStream(t, data, func(l []map[string]any) []map[string]any {
			delete(l[1]["object"].(map[string]any), "kind")
			return l
		}),
		"not gzip":  []byte("apiVersion: v1\nkind: ConfigMap\n"),
		"truncated": data[:len(data)/2],
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeSet(Encoded{Public: d}, 1<<20)
			require.Error(t, err)
		})
	}
	_, err = DecodeSet(enc, 64)
	require.Error(t, err, "inflating beyond the limit")
	assert.Contains(t, err.Error(), "more than 64 bytes")
}

// The verdict cache is keyed on the policy the gate applied: a stricter
// policy or another shadow mode is another key; a revision policy whose
// only difference the gate ignored (a waiver) is the same key, as it was
// the same verdict.
func TestPolicyKey(t *testing.T) {
	key := func(cp ClusterPolicy, rev, failOn, shadowMode string) string {
		t.Helper()
		a, err := cp.Apply(Policy{Path: "app/.aegis.yaml", Data: []byte(rev)}, failOn)
		require.NoError(t, err)
		k, err := PolicyKey(a.Config, shadowMode)
		require.NoError(t, err)
		return k
	}
	builtin := BuiltinClusterPolicy("test")
	lax, err := ParseClusterPolicy("test", map[string]string{ClusterPolicyKey: "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn: {severity: critical}\n"})
	require.NoError(t, err)
	const none = ""
	const rev = "apiVersion: aegis.dev/v1alpha1\nkind: Config\n"
	base := key(builtin, none, "", "both")
	assert.Equal(t, base, key(builtin, none, "", "both"))
	assert.Equal(t, base, key(builtin, rev, "", "both"), "a revision policy that changes nothing")
	assert.Equal(t, base, key(builtin, rev+"waivers: [{ruleId: x, reason: r, owner: o, expires: 2999-01-01}]\n", "", "both"),
		"a waiver the gate did not honour")
	assert.Equal(t, base, key(builtin, none, "high", "both"), "fail-on equal to the policy's")
	for name, other := range map[string]string{
		"stricter revision":  key(builtin, rev+"failOn: {severity: low}\n", "", "both"),
		"stricter fail-on":   key(builtin, none, "low", "both"),
		"shadow head":        key(builtin, none, "", "head"),
		"other cluster rule": key(lax, none, "", "both"),
	} {
		assert.NotEqual(t, base, other, name)
	}
}

func TestVerdictStore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cs := fake.NewClientset()
	s := &VerdictStore{Client: cs, Namespace: "aegis-system", Name: VerdictsConfigMap}
	d := "sha256:" + strings.Repeat("1", 64)

	rec, err := s.Lookup(ctx, "web", d, "", now)
	require.NoError(t, err)
	assert.Nil(t, rec, "no ConfigMap, no verdict")

	pass := VerdictRecord{App: "web", Digest: d, Verdict: report.Pass, RecordedAt: now, ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, s.Record(ctx, pass), "creates the ConfigMap when it is missing")
	rec, err = s.Lookup(ctx, "web", d, "", now.Add(time.Minute))
	require.NoError(t, err)
	require.NotNil(t, rec)
	assert.Equal(t, report.Pass, rec.Verdict)

	for name, lookup := range map[string]func() (*VerdictRecord, error){
		"expired":     func() (*VerdictRecord, error) { return s.Lookup(ctx, "web", d, "", now.Add(time.Hour)) },
		"another app": func() (*VerdictRecord, error) { return s.Lookup(ctx, "api", d, "", now) },
		"another digest": func() (*VerdictRecord, error) {
			return s.Lookup(ctx, "web", "sha256:"+strings.Repeat("2", 64), "", now)
		},
		"another policy": func() (*VerdictRecord, error) { return s.Lookup(ctx, "web", d, "sha256:"+strings.Repeat("3", 64), now) },
	} {
		rec, err := lookup()
		require.NoError(t, err, name)
		assert.Nil(t, rec, name)
	}

	// A record under the right key that names another digest (forged by
	// hand, or a hash collision) is not taken.
	cm, err := cs.CoreV1().ConfigMaps("aegis-system").Get(ctx, VerdictsConfigMap, metav1.GetOptions{})
	require.NoError(t, err)
	forged, _ := json.Marshal(VerdictRecord{App: "web", Digest: "sha256:" + strings.Repeat("9", 64), Verdict: report.Pass, ExpiresAt: now.Add(time.Hour)})
	cm.Data[VerdictKey("web", "sha256:"+strings.Repeat("4", 64))] = string(forged)
	cm.Data["README"] = "not a verdict"
	_, err = cs.CoreV1().ConfigMaps("aegis-system").Update(ctx, cm, metav1.UpdateOptions{})
	require.NoError(t, err)
	rec, err = s.Lookup(ctx, "web", "sha256:"+strings.Repeat("4", 64), "", now)
	require.NoError(t, err)
	assert.Nil(t, rec)

	// A failing verdict replaces the pass: no fast path any more.
	fail := pass
	fail.Verdict, fail.RecordedAt = report.Fail, now.Add(2*time.Minute)
	require.NoError(t, s.Record(ctx, fail))
	rec, err = s.Lookup(ctx, "web", d, "", now.Add(3*time.Minute))
	require.NoError(t, err)
	assert.Nil(t, rec)

	// Recording prunes expired records and leaves other keys alone.
	later := VerdictRecord{App: "api", Digest: d, Verdict: report.Pass, RecordedAt: now.Add(2 * time.Hour), ExpiresAt: now.Add(3 * time.Hour)}
	require.NoError(t, s.Record(ctx, later))
	cm, err = cs.CoreV1().ConfigMaps("aegis-system").Get(ctx, VerdictsConfigMap, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Len(t, cm.Data, 2, "%v", cm.Data)
	assert.Contains(t, cm.Data, "README")
	assert.Contains(t, cm.Data, VerdictKey("api", d))
}

// ReadSet fails closed on chunks that are missing, misnumbered, for another
// digest or forged.
func TestReadSetIntegrity(t *testing.T) {
	ctx := context.Background()
	set := decodeYAMLSet(t, codecYAML)
	enc, err := EncodeSet(set, Policy{})
	require.NoError(t, err)
	data := enc.Public
	digest := set.Digest()
	name := SetName("web", digest)
	mk := func(i, n int, d string, payload []byte) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: chunkName(name, i), Namespace: "g",
			Annotations: map[string]string{AnnotationChunk: strconv.Itoa(i) + "/" + strconv.Itoa(n), AnnotationDigest: d}},
			BinaryData: map[string][]byte{chunkKey: payload}}
	}
	ok := fake.NewClientset(mk(0, 2, digest, data[:10]), mk(1, 2, digest, data[10:]))
	got, err := ReadSet(ctx, ok, "g", name, 2, digest, "")
	require.NoError(t, err)
	assert.Equal(t, digest, got.Digest)

	other := decodeYAMLSet(t, strings.Replace(codecYAML, "replicas: 3", "replicas: 30", 1))
	otherEnc, err := EncodeSet(other, Policy{})
	require.NoError(t, err)
	otherData := otherEnc.Public
	for name2, c := range map[string]struct {
		client *fake.Clientset
		chunks int
		policy string
		want   string
	}{
		"missing chunk":   {fake.NewClientset(mk(0, 2, digest, data[:10])), 2, "", "is missing"},
		"wrong numbering": {fake.NewClientset(mk(0, 1, digest, data)), 2, "", "is not chunk 0/2"},
		"other digest":    {fake.NewClientset(mk(0, 1, "sha256:"+strings.Repeat("0", 64), data)), 1, "", "is not chunk"},
		// The annotations are right, the content is another set.
		"forged content":  {fake.NewClientset(mk(0, 1, digest, otherData)), 1, "", "it is not the set this gate was generated for"},
		"policy expected": {fake.NewClientset(mk(0, 1, digest, data)), 1, "sha256:" + strings.Repeat("5", 64), "policy"},
	} {
		t.Run(name2, func(t *testing.T) {
			_, err := ReadSet(ctx, c.client, "g", name, c.chunks, digest, c.policy)
			require.Error(t, err)
			var ie *IntegrityError
			assert.ErrorAs(t, err, &ie)
			assert.True(t, verify.IsBadInput(err), "exit 2")
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

const secretYAML = `apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
stringData: {password: hunter2-do-not-leak}
`

// A Secret's values never go into the ConfigMaps: the set's Secrets travel
// in their own stream (the Secret hook), and the two must come back together
// to give the digest.
func TestSetCodecKeepsSecretsApart(t *testing.T) {
	set := decodeYAMLSet(t, codecYAML+"---\n"+secretYAML)
	enc, err := EncodeSet(set, Policy{})
	require.NoError(t, err)
	require.NotNil(t, enc.Secrets)
	public := inflate(t, enc.Public)
	assert.NotContains(t, public, "hunter2-do-not-leak")
	assert.NotContains(t, public, `"kind":"Secret"`)
	assert.Contains(t, inflate(t, enc.Secrets), "hunter2-do-not-leak")

	d, err := DecodeSet(enc, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, set.Digest(), d.Digest)
	n, err := PeekSecrets(enc.Public)
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	_, err = DecodeSet(Encoded{Public: enc.Public}, 1<<20)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Secret(s) are missing")
	plain, err := EncodeSet(decodeYAMLSet(t, codecYAML), Policy{})
	require.NoError(t, err)
	_, err = DecodeSet(Encoded{Public: plain.Public, Secrets: enc.Secrets}, 1<<20)
	require.Error(t, err, "Secrets the header does not announce")
	// A Secret hook smuggling another kind of object.
	smuggled, err := EncodeSet(decodeYAMLSet(t, codecYAML+"---\n"+strings.Replace(secretYAML, "kind: Secret", "kind: ConfigMap", 1)), Policy{})
	require.NoError(t, err)
	_, err = DecodeSet(Encoded{Public: enc.Public, Secrets: rewriteStream(t, enc.Secrets, func(l []map[string]any) []map[string]any {
		l[0]["object"].(map[string]any)["kind"] = "ConfigMap"
		return l
	})}, 1<<20)
	require.Error(t, err)
	assert.Nil(t, smuggled.Secrets)
}

func inflate(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	var b bytes.Buffer
	_, err = b.ReadFrom(zr)
	require.NoError(t, err)
	return b.String()
}
