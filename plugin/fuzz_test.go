package plugin

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/kube-sentient/aegis/manifest"
)

// FuzzDecodeSet: whatever the gate's ConfigMaps and Secret hold, decoding
// returns a set whose digest is what its header says, or an error; it
// never panics and never inflates past its limit.
func FuzzDecodeSet(f *testing.F) {
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("x.yaml", []byte(codecYAML+"---\n"+secretYAML))
	if err != nil {
		f.Fatal(err)
	}
	set, err := manifest.NewSet(objs)
	if err != nil {
		f.Fatal(err)
	}
	enc, err := EncodeSet(set, Policy{Path: "p", Data: []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\n")})
	if err != nil {
		f.Fatal(err)
	}
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return b.Bytes()
	}
	f.Add(enc.Public, enc.Secrets)
	f.Add(gz(`{"apiVersion":"aegis.dev/v1alpha1","kind":"RenderedSet","digest":"x","objects":1}`+"\n"+`{"object":{"apiVersion":"v1","kind":"List","items":[]}}`), []byte(nil))
	f.Add(gz(`{"apiVersion":"aegis.dev/v1alpha1","kind":"RenderedSet","secrets":1}`), gz(`{"object":null}`))
	f.Add([]byte{0x1f, 0x8b}, []byte{})
	f.Fuzz(func(t *testing.T, public, secrets []byte) {
		if len(secrets) == 0 {
			secrets = nil
		}
		d, err := DecodeSet(Encoded{Public: public, Secrets: secrets}, 1<<20)
		if err != nil {
			return
		}
		if d.Set.Digest() != d.Digest {
			t.Fatalf("digest %s, set %s", d.Digest, d.Set.Digest())
		}
		_, _ = PeekSecrets(public)
	})
}
