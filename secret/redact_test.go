package secret

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const canary = "hunter2-CANARY-41f0"

func TestRedactMasksEveryForm(t *testing.T) {
	var r Redactor
	r.Add(canary, "abc", "line-one-of-a-key\nline-two-of-a-key\n", "apiVersion: v1\nkind: Config\ntoken: config-token-12345\n")
	for _, form := range []string{
		canary,
		base64.StdEncoding.EncodeToString([]byte(canary)),
		base64.RawURLEncoding.EncodeToString([]byte(canary)),
		"line-two-of-a-key",
		"104 117 110 116 101 114 50 45 67 65 78 65 82 89 45 52 49 102 48", // as %v prints a []byte
	} {
		got := r.Redact("before " + form + " after")
		assert.Equal(t, "before "+Masked+" after", got, form)
	}
	assert.Equal(t, "abc stays", r.Redact("abc stays"), "values under MinRedactLen are not masked")
	assert.Equal(t, "apiVersion: v1 kind: Config "+Masked, r.Redact("apiVersion: v1 kind: Config config-token-12345"),
		"of a multi-line value, the lines that carry a value are masked, not its structure")
	var quoted Redactor
	quoted.Add("a\"quote\\d")
	assert.Equal(t, `{"v":"`+Masked+`"}`, quoted.Redact(`{"v":"a\"quote\\d"}`), "the JSON-escaped form")
}

func TestRedactLongestFirst(t *testing.T) {
	var r Redactor
	r.Add("secret-value", "secret-value-longer")
	assert.Equal(t, Masked+" "+Masked, r.Redact("secret-value-longer secret-value"))
}

func TestWriterMasksValuesAddedLater(t *testing.T) {
	var r Redactor
	var buf bytes.Buffer
	w := r.Writer(&buf)
	_, _ = w.Write([]byte("one " + canary + "\n"))
	r.Add(canary)
	n, err := w.Write([]byte("two " + canary + "\n"))
	require.NoError(t, err)
	assert.Equal(t, len("two "+canary+"\n"), n)
	assert.Equal(t, "one "+canary+"\ntwo "+Masked+"\n", buf.String())
	assert.Same(t, &buf, Unredacted(w))
}

func write(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// TestAddTreeFindsEverySource plants one value in each source a Secret's
// value can come from and checks each is registered.
func TestAddTreeFindsEverySource(t *testing.T) {
	root := t.TempDir()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	write(t, root, "plain/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\ndata:\n  k: "+b64("value-data-b64")+"\nstringData:\n  s: value-stringdata\n")
	write(t, root, "plain/odd.yaml", "apiVersion: 'v1 '\nkind: Secret\nmetadata:\n  name: b\nstringData:\n- value-in-a-list\ndata: value-data-as-string\n")
	write(t, root, "plain/crd.yaml", "apiVersion: example.com/v1\nkind: Secret\nmetadata:\n  name: c\nspec:\n  token: value-in-a-crd-secret\n")
	write(t, root, "plain/list.yaml", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: d\n  stringData:\n    x: value-in-a-list-item\n")
	write(t, root, "plain/broken.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: e\nstringData:\n  pw: value-in-broken-yaml\n  bad: [unclosed\n")
	write(t, root, "chart/templates/s.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\nstringData:\n  pw: value-in-a-template\n")
	write(t, root, "k/kustomization.yaml", `SecretGenerator:
- name: g
  Literals:
  - password=value-literal
  - value-literal-without-key
  fiLes:
  - tls.key=key.pem
  envs:
  - app.env
generators:
- gen.yaml
replacements:
- source: {kind: Secret, name: s, fieldPath: spec.containers.0}
  targets: [{select: {kind: ConfigMap}, fieldPaths: [data.a]}]
patches:
- target:
    kind: Secret
  patch: |-
    - op: add
      path: /data/x
      value: value-json6902
- patch: |-
    apiVersion: v1
    kind: Secret
    metadata:
      name: p
    stringData:
      y: value-strategic-merge
`)
	write(t, root, "k/key.pem", "-----BEGIN PRIVATE KEY-----\nvalue-file-line-1234567\n-----END PRIVATE KEY-----\n")
	write(t, root, "k/app.env", "A=value-env\nB=\xff\xfevalue-invalid-utf8\n")
	write(t, root, "k/gen.yaml", "apiVersion: builtin\nkind: SecretGenerator\nmetadata:\n  name: h\nliterals:\n- k=value-generator-config\n")
	write(t, root, "outside.env", "X=never-read-unnamed")

	var r Redactor
	r.AddTree(root)
	for _, v := range []string{
		"value-data-b64", b64("value-data-b64"), "value-stringdata", "value-in-a-list", "value-data-as-string",
		"value-in-a-crd-secret", "value-in-a-list-item", "value-in-broken-yaml", "value-in-a-template",
		"value-literal", "value-literal-without-key", "value-file-line-1234567", "value-env", "\xff\xfevalue-invalid-utf8",
		"value-json6902", "value-strategic-merge", "value-generator-config",
	} {
		assert.Equal(t, "<"+Masked+">", r.Redact("<"+v+">"), "not registered: %q", v)
	}
	assert.Equal(t, "never-read-unnamed", r.Redact("never-read-unnamed"), "a file no generator names is not a secret source")
	assert.Equal(t, "name: a", r.Redact("name: a"))
	assert.Equal(t, "fieldPath: spec.containers.0", r.Redact("fieldPath: spec.containers.0"), "a selector of kind Secret holds no value")
	assert.False(t, strings.Contains(r.Redact("Secret a"), Masked), "metadata and kind are not secret")
}

func TestAddTreeStaysInsideTheRoot(t *testing.T) {
	outside := t.TempDir()
	write(t, outside, "x.env", "X=outside-value\n")
	root := t.TempDir()
	write(t, root, "kustomization.yaml", "secretGenerator:\n- name: g\n  envs:\n  - ../"+filepath.Base(outside)+"/x.env\n  - "+filepath.Join(outside, "x.env")+"\n")
	var r Redactor
	r.AddTree(root)
	assert.Equal(t, "outside-value", r.Redact("outside-value"), "files outside the root are not read")
}

func TestAddObjectAnyGroup(t *testing.T) {
	var r Redactor
	r.AddObject(map[string]any{"apiVersion": "core/v1", "kind": "Secret", "metadata": map[string]any{"name": "meta-name"},
		"data": map[string]any{"k": base64.StdEncoding.EncodeToString([]byte("decoded-value"))}, "stringData": []any{"listed-value", 12345}})
	r.AddObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"k": "configmap-value"}})
	assert.Equal(t, Masked+" "+Masked+" "+Masked+" meta-name configmap-value", r.Redact("decoded-value listed-value 12345 meta-name configmap-value"))
}
