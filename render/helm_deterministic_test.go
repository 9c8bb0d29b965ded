package render

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"

	"github.com/kube-sentient/aegis/internal/realworld"
	"github.com/kube-sentient/aegis/manifest"
)

// randomChart calls every function Options.Deterministic replaces.
var randomChart = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: rnd\nversion: 0.1.0\n",
	"values.yaml": "image: busybox:1.36\nprivileged: false\nm: {zeta: 1, alpha: 2, mike: 3, bravo: 4, yankee: 5, charlie: 6, xray: 7, delta: 8}\n",
	"templates/_helpers.tpl": `{{- define "rnd.password" -}}
{{- randAlphaNum 20 -}}
{{- end -}}
`,
	"templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-secret
stringData:
  alnum: {{ randAlphaNum 16 | quote }}
  alnum2: {{ randAlphaNum 16 | quote }}
  alpha: {{ randAlpha 16 | quote }}
  numeric: {{ randNumeric 16 | quote }}
  ascii: {{ randAscii 16 | b64enc | quote }}
  bytes: {{ randBytes 12 | quote }}
  int: {{ randInt 1000 1000000 | quote }}
  uuid: {{ uuidv4 | quote }}
  shuffled: {{ shuffle "abcdefghijklmnopqrstuvwxyz" | quote }}
  helper: {{ include "rnd.password" . | quote }}
  bcrypt: {{ bcrypt "s3cret" | quote }}
  htpasswd: {{ htpasswd "admin" "s3cret" | quote }}
  aes: {{ encryptAES "k3y" "plain text" | quote }}
  now: {{ dateInZone "2006-01-02T15:04:05Z07:00" now "UTC" | quote }}
  epoch: {{ now | unixEpoch | quote }}
  ago: {{ ago (now | dateModify "-90s") | quote }}
  keys: {{ keys .Values.m | join "," | quote }}
  values: {{ values .Values.m | join "," | quote }}
`,
	"templates/other.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-other
data:
  alnum: {{ randAlphaNum 16 | quote }}
`,
	// A test hook named as many charts name theirs.
	"templates/test-pod.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test-{{ randAlphaNum 5 | lower }}
  annotations:
    helm.sh/hook: test
spec:
  containers:
    - name: test
      image: {{ .Values.image }}
      securityContext:
        privileged: {{ .Values.privileged }}
`,
}

func renderRandom(t *testing.T, files map[string]string, opts Options) *manifest.Set {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	res, err := Render(context.Background(), root, ".", opts)
	require.NoError(t, err)
	return res.Set
}

func stringData(t *testing.T, set *manifest.Set, id string) map[string]any {
	t.Helper()
	for _, o := range set.Objects {
		if o.ID().String() == id {
			for _, f := range []string{"stringData", "data"} {
				if m, ok := o.Object[f].(map[string]any); ok {
					return m
				}
			}
		}
	}
	require.Failf(t, "no such object", "%s in %v", id, ids(set))
	return nil
}

func ids(set *manifest.Set) []string {
	var out []string
	for _, o := range set.Objects {
		out = append(out, o.ID().String())
	}
	return out
}

// podName is the name of the one Pod of the set.
func podName(t *testing.T, set *manifest.Set) string {
	t.Helper()
	var names []string
	for _, o := range set.Objects {
		if o.GetKind() == "Pod" {
			names = append(names, o.GetName())
		}
	}
	require.Len(t, names, 1)
	return names[0]
}

func TestHelmDeterministicSameEveryTime(t *testing.T) {
	det := Options{Deterministic: true}
	a, b := renderRandom(t, randomChart, det), renderRandom(t, randomChart, det)
	assert.Equal(t, a.Digest(), b.Digest(), "the same chart twice: the same set")
	assert.Equal(t, ids(a), ids(b))

	// Helm's own functions, as argocd generate keeps them: the same chart
	// twice differs (the premise of this whole mode).
	x, y := renderRandom(t, randomChart, Options{}), renderRandom(t, randomChart, Options{})
	assert.NotEqual(t, x.Digest(), y.Digest())
	assert.NotEqual(t, podName(t, x), podName(t, y), "a random test hook name is a new object each time")
	assert.NotEqual(t, stringData(t, x, "Secret/release-secret")["alnum"], stringData(t, y, "Secret/release-secret")["alnum"])
}

func TestHelmDeterministicValues(t *testing.T) {
	set := renderRandom(t, randomChart, Options{Deterministic: true})
	s := stringData(t, set, "Secret/release-secret")
	str := func(k string) string {
		v, ok := s[k].(string)
		require.True(t, ok, "%s: %v", k, s[k])
		return v
	}
	// What Helm's functions return, in kind and length.
	assert.Regexp(t, `^[A-Za-z0-9]{16}$`, str("alnum"))
	assert.Regexp(t, `^[A-Za-z]{16}$`, str("alpha"))
	assert.Regexp(t, `^[0-9]{16}$`, str("numeric"))
	ascii, err := base64.StdEncoding.DecodeString(str("ascii"))
	require.NoError(t, err)
	assert.Regexp(t, `^[ -~]{16}$`, string(ascii))
	raw, err := base64.StdEncoding.DecodeString(str("bytes"))
	require.NoError(t, err)
	assert.Len(t, raw, 12)
	assert.Regexp(t, `^[0-9]{4,6}$`, str("int"))
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, str("uuid"))
	assert.NotEqual(t, "abcdefghijklmnopqrstuvwxyz", str("shuffled"))
	assert.ElementsMatch(t, strings.Split("abcdefghijklmnopqrstuvwxyz", ""), strings.Split(str("shuffled"), ""))
	assert.Regexp(t, `^[A-Za-z0-9]{20}$`, str("helper"))
	// bcrypt and htpasswd: real bcrypt hashes of the password.
	assert.Regexp(t, `^\$2a\$10\$`, str("bcrypt"))
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(str("bcrypt")), []byte("s3cret")))
	user, hash, ok := strings.Cut(str("htpasswd"), ":")
	require.True(t, ok)
	assert.Equal(t, "admin", user)
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret")))
	// The clock is detEpoch; keys and values in key order.
	assert.Equal(t, "2025-01-01T00:00:00Z", str("now"))
	assert.Equal(t, "1735689600", str("epoch"))
	assert.Equal(t, "1m30s", str("ago"))
	assert.Equal(t, "alpha,bravo,charlie,delta,mike,xray,yankee,zeta", str("keys"))
	assert.Equal(t, "2,4,6,8,3,7,5,1", str("values"))

	// Two calls differ, as in Helm; so do the same call in two templates.
	assert.NotEqual(t, str("alnum"), str("alnum2"))
	other := stringData(t, set, "ConfigMap/release-other")
	assert.NotEqual(t, str("alnum"), other["alnum"])

	// Another release or namespace: other values.
	rel := stringData(t, renderRandom(t, randomChart, Options{Deterministic: true, ReleaseName: "other"}), "Secret/other-secret")
	assert.NotEqual(t, str("alnum"), rel["alnum"])
	ns := stringData(t, renderRandom(t, randomChart, Options{Deterministic: true, Namespace: "prod"}), "Secret/release-secret")
	assert.NotEqual(t, str("alnum"), ns["alnum"])
}

// encryptAES's output decrypts with Helm's own decryptAES.
func TestHelmDeterministicEncryptAES(t *testing.T) {
	files := map[string]string{
		"Chart.yaml": miniChart,
		"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: aes
data:
  back: {{ encryptAES "k3y" "plain text" | decryptAES "k3y" | quote }}
  empty: {{ encryptAES "k3y" "" | quote }}
`,
	}
	d := stringData(t, renderRandom(t, files, Options{Deterministic: true}), "ConfigMap/aes")
	assert.Equal(t, "plain text", d["back"])
	assert.Equal(t, "", d["empty"])
}

func TestHelmDeterministicCertificates(t *testing.T) {
	files := map[string]string{
		"Chart.yaml": miniChart,
		"templates/tls.yaml": `{{- $ca := genCA "test-ca" 365 }}
{{- $cert := genSignedCert "web" (list "10.0.0.1") (list "web.example") 30 $ca }}
{{- $self := genSelfSignedCert "self" nil (list "self.example") 10 }}
{{- $eckey := genPrivateKey "ecdsa" }}
{{- $ecca := genCAWithKey "ec-ca" 365 $eckey }}
{{- $ecleaf := genSignedCertWithKey "ec-leaf" nil nil 30 $ecca (genPrivateKey "ed25519") }}
{{- $selfkey := genSelfSignedCertWithKey "self-ec" nil nil 10 $eckey }}
apiVersion: v1
kind: Secret
metadata:
  name: tls
stringData:
  ca.crt: {{ $ca.Cert | quote }}
  ca.key: {{ $ca.Key | quote }}
  tls.crt: {{ $cert.Cert | quote }}
  tls.key: {{ $cert.Key | quote }}
  self.crt: {{ $self.Cert | quote }}
  ec-ca.crt: {{ $ecca.Cert | quote }}
  ec-leaf.crt: {{ $ecleaf.Cert | quote }}
  ec-leaf.key: {{ $ecleaf.Key | quote }}
  self-ec.crt: {{ $selfkey.Cert | quote }}
  rsa.key: {{ genPrivateKey "rsa" | quote }}
  unknown: {{ genPrivateKey "nope" | quote }}
`,
	}
	det := Options{Deterministic: true}
	set := renderRandom(t, files, det)
	again := renderRandom(t, files, det)
	assert.Equal(t, set.Digest(), again.Digest(), "keys, serials, dates and signatures: all the same twice")
	d := stringData(t, set, "Secret/tls")

	cert := func(k string) *x509.Certificate {
		t.Helper()
		b, _ := pem.Decode([]byte(d[k].(string)))
		require.NotNil(t, b, k)
		c, err := x509.ParseCertificate(b.Bytes)
		require.NoError(t, err, k)
		return c
	}
	key := func(k string) any {
		t.Helper()
		b, _ := pem.Decode([]byte(d[k].(string)))
		require.NotNil(t, b, k)
		p, err := parsePrivateKeyPEM(d[k].(string))
		require.NoError(t, err, k)
		return p
	}

	ca, leaf := cert("ca.crt"), cert("tls.crt")
	assert.True(t, ca.IsCA)
	assert.Equal(t, "test-ca", ca.Subject.CommonName)
	assert.Equal(t, detEpoch, ca.NotBefore.UTC())
	assert.Equal(t, detEpoch.Add(365*24*time.Hour), ca.NotAfter.UTC())
	assert.Equal(t, 2048, ca.PublicKey.(*rsa.PublicKey).N.BitLen())
	caKey := key("ca.key").(*rsa.PrivateKey)
	require.NoError(t, caKey.Validate())
	assert.True(t, caKey.PublicKey.Equal(ca.PublicKey), "ca.key is the CA's key")
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	at := detEpoch.Add(24 * time.Hour)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "web.example", CurrentTime: at})
	require.NoError(t, err, "the signed certificate chains to the CA")
	assert.Equal(t, "10.0.0.1", leaf.IPAddresses[0].String())
	leafKey := key("tls.key").(*rsa.PrivateKey)
	assert.True(t, leafKey.PublicKey.Equal(leaf.PublicKey))
	assert.NotEqual(t, ca.SerialNumber, leaf.SerialNumber)

	self := cert("self.crt")
	selfSigned := func(c *x509.Certificate) error {
		return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	}
	require.NoError(t, selfSigned(self))
	assert.Equal(t, []string{"self.example"}, self.DNSNames)

	// An ECDSA CA signs deterministically (RFC 6979) and verifies.
	ecca := cert("ec-ca.crt")
	_, ok := ecca.PublicKey.(*ecdsa.PublicKey)
	assert.True(t, ok)
	require.NoError(t, ecca.CheckSignatureFrom(ecca))
	ecleaf := cert("ec-leaf.crt")
	require.NoError(t, ecleaf.CheckSignatureFrom(ecca))
	_, ok = key("ec-leaf.key").(ed25519.PrivateKey)
	assert.True(t, ok, "genPrivateKey ed25519")
	require.NoError(t, selfSigned(cert("self-ec.crt")))

	rsaKey := key("rsa.key").(*rsa.PrivateKey)
	require.NoError(t, rsaKey.Validate())
	assert.Equal(t, 4096, rsaKey.N.BitLen(), "genPrivateKey's RSA keys are 4096 bits, as sprig's")
	assert.Equal(t, "Unknown type nope", d["unknown"])
}

// An edit elsewhere changes nothing of a template that did not change, and
// an edited object keeps its generated name: it is reported as changed.
func TestHelmDeterministicEdits(t *testing.T) {
	det := Options{Deterministic: true}
	base := renderRandom(t, randomChart, det)

	head := map[string]string{}
	for k, v := range randomChart {
		head[k] = v
	}
	// other.yaml calls randAlphaNum 16 once more, before its call.
	head["templates/other.yaml"] = strings.Replace(randomChart["templates/other.yaml"], "data:\n", "data:\n  first: {{ randAlphaNum 16 | quote }}\n", 1)
	// The test hook runs another image, privileged.
	head["values.yaml"] = strings.Replace(strings.Replace(randomChart["values.yaml"], "busybox:1.36", "busybox:1.37", 1), "privileged: false", "privileged: true", 1)
	h := renderRandom(t, head, det)

	assert.Equal(t, stringData(t, base, "Secret/release-secret"), stringData(t, h, "Secret/release-secret"), "secret.yaml did not change")
	assert.NotEqual(t, stringData(t, base, "ConfigMap/release-other")["alnum"], stringData(t, h, "ConfigMap/release-other")["alnum"],
		"the first randAlphaNum 16 of other.yaml is now another call")
	assert.Equal(t, podName(t, base), podName(t, h), "the edited test hook keeps its name: one object, changed")
	for _, o := range h.Objects {
		if o.GetKind() == "Pod" {
			c := o.Object["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
			assert.Equal(t, "busybox:1.37", c["image"])
			assert.Equal(t, true, c["securityContext"].(map[string]any)["privileged"])
		}
	}
	assert.NotEqual(t, base.Digest(), h.Digest())
}

// A template that includes another template file by name: the included
// template's calls count as the includer's, and the includer's calls after
// it stay its own (the markers nest).
func TestHelmDeterministicIncludedTemplate(t *testing.T) {
	det := Options{Deterministic: true}
	cm := func(name, body string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n" + body
	}
	with := map[string]string{
		"Chart.yaml":          miniChart,
		"templates/a-y.yaml":  cm("y", "  y: {{ randAlphaNum 8 | quote }}\n"),
		"templates/b-x.yaml":  cm("x", "  sum: {{ include \"mini/templates/a-y.yaml\" . | sha256sum | quote }}\n  x: {{ randAlphaNum 8 | quote }}\n"),
		"templates/c-z.yaml":  cm("z", "  z: {{ randAlphaNum 8 | quote }}\n"),
		"templates/_help.tpl": "",
	}
	// The same calls in b-x.yaml, without the include.
	without := map[string]string{}
	for k, v := range with {
		without[k] = v
	}
	without["templates/b-x.yaml"] = cm("x", "  sum: {{ randAlphaNum 8 | sha256sum | quote }}\n  x: {{ randAlphaNum 8 | quote }}\n")

	w, wo := renderRandom(t, with, det), renderRandom(t, without, det)
	assert.Equal(t, stringData(t, wo, "ConfigMap/x")["x"], stringData(t, w, "ConfigMap/x")["x"])
	assert.Equal(t, stringData(t, wo, "ConfigMap/y"), stringData(t, w, "ConfigMap/y"))
	assert.Equal(t, stringData(t, wo, "ConfigMap/z"), stringData(t, w, "ConfigMap/z"))
	assert.NotEqual(t, stringData(t, w, "ConfigMap/y")["y"], stringData(t, w, "ConfigMap/x")["x"])
}

// Subcharts, an alias of one twice, and a library chart.
func TestHelmDeterministicSubcharts(t *testing.T) {
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: parent\nversion: 0.1.0\ndependencies:\n" +
			"  - {name: sub, version: 0.1.0, alias: one}\n  - {name: sub, version: 0.1.0, alias: two}\n  - {name: lib, version: 0.1.0}\n",
		"charts/sub/Chart.yaml":          "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
		"charts/sub/templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\ndata:\n  v: {{ include \"lib.rand\" . | quote }}\n",
		"charts/lib/Chart.yaml":          "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
		"charts/lib/templates/_lib.tpl":  "{{- define \"lib.rand\" -}}{{ randAlphaNum 12 }}{{- end -}}\n",
		"templates/cm.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: parent\ndata:\n  v: {{ include \"lib.rand\" . | quote }}\n",
		"charts/lib/templates/_more.tpl": "",
	}
	det := Options{Deterministic: true}
	a, b := renderRandom(t, files, det), renderRandom(t, files, det)
	assert.Equal(t, a.Digest(), b.Digest())
	vals := map[string]bool{}
	for _, n := range []string{"one", "two", "parent"} {
		v, ok := stringData(t, a, "ConfigMap/"+n)["v"].(string)
		require.True(t, ok)
		assert.Regexp(t, `^[A-Za-z0-9]{12}$`, v)
		vals[v] = true
	}
	assert.Len(t, vals, 3, "each chart's template, each alias: its own value")
}

// The markers write nothing and move no line: a chart without random
// functions renders the same either way, and errors keep their lines.
func TestHelmDeterministicMarkersInvisible(t *testing.T) {
	plain := map[string]string{
		"Chart.yaml":  miniChart,
		"values.yaml": "n: 3\n",
		"templates/cm.yaml": `{{- /* leading comment */ -}}
  
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  n: {{ .Values.n | quote }}
  trailing: "x"   `,
		"templates/empty.yaml": "",
		"templates/NOTES.txt":  "{{ .Release.Name }}\n",
	}
	a := renderRandom(t, plain, Options{})
	b := renderRandom(t, plain, Options{Deterministic: true})
	assert.Equal(t, a.Digest(), b.Digest())
	assert.Equal(t, ids(a), ids(b))
	for _, o := range b.Objects {
		assert.Equal(t, 3, o.Origin.Line, "the object starts on line 3 of cm.yaml")
	}

	for name, tc := range map[string]struct {
		body string
		line int
	}{
		"fail on line 3":            {"apiVersion: v1\nkind: ConfigMap\n{{ fail \"boom\" }}\n", 3},
		"fail on line 1":            {"{{ fail \"boom\" }}\napiVersion: v1\n", 1},
		"unclosed action on line 2": {"apiVersion: v1\nkind: {{ .Values.n\n", 2},
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"Chart.yaml": miniChart, "values.yaml": "n: 3\n", "templates/bad.yaml": tc.body}
			var msgs []string
			for _, det := range []bool{false, true} {
				root := t.TempDir()
				writeFiles(t, root, files)
				_, err := Render(context.Background(), root, ".", Options{Deterministic: det})
				se := asSourceError(t, err)
				assert.Equal(t, manifest.Location{Path: "templates/bad.yaml", Line: tc.line}, se.Location, "deterministic %v: %s", det, se.Msg)
				assert.NotRegexp(t, regexp.MustCompile(`aegis(Enter|Leave)`), se.Msg)
				msgs = append(msgs, regexp.MustCompile(`:\d+:\d+`).ReplaceAllString(se.Msg, ""))
			}
			assert.Equal(t, msgs[0], msgs[1], "the same error either way (columns aside)")
		})
	}
}

func asSourceError(t *testing.T, err error) *manifest.SourceError {
	t.Helper()
	require.Error(t, err)
	se, ok := err.(*manifest.SourceError)
	require.True(t, ok, "%T: %v", err, err)
	return se
}

// deterministic puts the chart's templates back, and marks only what the
// engine executes on its own.
func TestHelmDeterministicRestoresTheChart(t *testing.T) {
	tpl := &common.File{Name: "templates/a.yaml", Data: []byte("a: 1\n")}
	partial := &common.File{Name: "templates/_h.tpl", Data: []byte("{{ define \"x\" }}{{ end }}")}
	c := &chart.Chart{Metadata: &chart.Metadata{Name: "c", APIVersion: "v2", Version: "0.1.0"}, Templates: []*common.File{tpl, partial}}
	orig := c.Templates
	var e engine.Engine
	restore := deterministic(&e, c, common.Values{"Release": map[string]any{"Name": "r", "Namespace": "n"}})
	require.Len(t, c.Templates, 2)
	assert.Regexp(t, `^\{\{aegisEnter[0-9a-f]{16} 0\}\}a: 1\n\{\{aegisLeave[0-9a-f]{16}\}\}$`, string(c.Templates[0].Data))
	assert.Same(t, partial, c.Templates[1], "partials are not executed on their own: not marked")
	assert.Equal(t, "a: 1\n", string(tpl.Data), "the original file is not touched")
	assert.Contains(t, e.CustomTemplateFuncs, "randAlphaNum")
	restore()
	assert.Equal(t, orig, c.Templates)
	assert.Same(t, tpl, c.Templates[0])
}

// The corpus's generated secrets, deterministic: what the charts make, and
// valid.
func TestRealworldDeterministicSecrets(t *testing.T) {
	rw := realworld.Dir(t)
	opts := Options{KubeVersion: rwKubeVersion, Deterministic: true}

	// charts/grafana/templates/_helpers.tpl:136: (randAlphaNum 40) |
	// b64enc, the Secret's admin-password (_config.tpl:178).
	t.Run("grafana", func(t *testing.T) {
		set := rwRender(t, rw, "charts/grafana", opts).Set
		pw, err := base64.StdEncoding.DecodeString(rwString(t, rwObject(t, set, "Secret/default/release-grafana"), "data", "admin-password"))
		require.NoError(t, err)
		assert.Regexp(t, `^[A-Za-z0-9]{40}$`, string(pw))
	})

	// charts/nginx/templates/tls-secret.yaml:7 genCA "nginx-ca" 365, :20
	// genSignedCert for the fullname and its .<ns>, .svc and
	// .svc.<clusterDomain> names (values.yaml:50 clusterDomain:
	// cluster.local), 365 days; :21-23 the data keys tls.crt, tls.key,
	// ca.crt (values.yaml:256,259,262), through common.secrets.lookup,
	// which base64-encodes them (charts/common/templates/_secrets.tpl:170).
	// nginx needs common in its charts/: a temporary copy, as in
	// realworld_test.go.
	t.Run("nginx", func(t *testing.T) {
		tmp := t.TempDir()
		rwCopyTree(t, filepath.Join(rw, "charts", "nginx"), filepath.Join(tmp, "nginx"))
		rwCopyTree(t, filepath.Join(rw, "charts", "common"), filepath.Join(tmp, "nginx", "charts", "common"))
		set := rwRender(t, tmp, "nginx", opts).Set
		sec := rwObject(t, set, "Secret/default/release-nginx-tls")
		data := func(k string) []byte {
			b, err := base64.StdEncoding.DecodeString(rwString(t, sec, "data", k))
			require.NoError(t, err)
			return b
		}
		parse := func(k string) *x509.Certificate {
			b, _ := pem.Decode(data(k))
			require.NotNil(t, b, k)
			c, err := x509.ParseCertificate(b.Bytes)
			require.NoError(t, err)
			return c
		}
		ca, leaf := parse("ca.crt"), parse("tls.crt")
		assert.Equal(t, "nginx-ca", ca.Subject.CommonName)
		assert.True(t, ca.IsCA)
		assert.Equal(t, "release-nginx", leaf.Subject.CommonName)
		assert.Equal(t, []string{"release-nginx", "release-nginx.default", "release-nginx.default.svc", "release-nginx.default.svc.cluster.local"}, leaf.DNSNames)
		assert.Equal(t, detEpoch.Add(365*24*time.Hour), leaf.NotAfter.UTC())
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "release-nginx.default.svc", CurrentTime: detEpoch.Add(time.Hour)})
		require.NoError(t, err)
		key, err := parsePrivateKeyPEM(string(data("tls.key")))
		require.NoError(t, err)
		assert.True(t, key.(*rsa.PrivateKey).PublicKey.Equal(leaf.PublicKey))
	})
}

// Bad arguments fail as they do with Helm's own functions.
func TestHelmDeterministicBadArguments(t *testing.T) {
	for name, call := range map[string]string{
		"randInt empty range":   "randInt 5 5",
		"randInt reversed":      "randInt 9 1",
		"randInt overflow":      "randInt -9223372036854775808 9223372036854775807",
		"genCAWithKey bad key":  `genCAWithKey "x" 1 "not a key"`,
		"genSelfSignedCert ip":  `genSelfSignedCert "x" (list "not-an-ip") nil 1`,
		"genPrivateKey unknown": `genPrivateKey "rsa2"`,
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{
				"Chart.yaml":        miniChart,
				"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  v: {{ " + call + " | toString | quote }}\n",
			}
			var outs []string
			for _, det := range []bool{false, true} {
				root := t.TempDir()
				writeFiles(t, root, files)
				res, err := Render(context.Background(), root, ".", Options{Deterministic: det})
				if err != nil {
					outs = append(outs, "error: "+regexp.MustCompile(`:\d+:\d+`).ReplaceAllString(err.Error(), ""))
					continue
				}
				outs = append(outs, "ok: "+stringData(t, res.Set, "ConfigMap/cm")["v"].(string))
			}
			assert.Equal(t, outs[0], outs[1], "Helm's functions, then the deterministic ones")
		})
	}

	// A CA that is not a certificate: an error either way (the message
	// differs: sprig's parameter has its own type, ours reads any).
	files := map[string]string{
		"Chart.yaml":        miniChart,
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  v: {{ (genSignedCert \"x\" nil nil 1 (genPrivateKey \"ecdsa\")).Cert | quote }}\n",
	}
	for _, det := range []bool{false, true} {
		root := t.TempDir()
		writeFiles(t, root, files)
		_, err := Render(context.Background(), root, ".", Options{Deterministic: det})
		se := asSourceError(t, err)
		assert.Equal(t, manifest.Location{Path: "templates/cm.yaml", Line: 6}, se.Location)
	}
}
