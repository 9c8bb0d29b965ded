package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/strvals"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/manifest"
)

// Fuzz targets of the two readers of PR-controlled configuration in this
// package: the kustomization reader (aegis's walk of a kustomization and
// its check of kustomize's own decoding) and Helm's values (a values file
// and --set). Run them with hack/fuzz.sh, or one with
// `go test -run '^$' -fuzz FuzzKustomization ./render/`. Without -fuzz,
// `go test` runs their seeds and every input kept under testdata/fuzz/ as
// regression tests.

// fuzzLimits are small enough for the fuzzer to cross every limit with a
// short input (the same figures as the manifest package's fuzz targets).
var fuzzLimits = manifest.Limits{MaxFileBytes: 64 << 10, MaxTotalBytes: 96 << 10, MaxDocuments: 8, MaxNodes: 2000, MaxDepth: 16}

// fuzzAllocBound is what one reading of a fuzzed input may allocate. Inputs
// are at most fuzzLimits.MaxFileBytes, and reading a kustomization or a
// values file of that size takes a few MB: a reading that allocates more
// is expanding the input (aliases of long scalars, say), which with the
// default limits (8 MB files, a million nodes) exhausts the machine.
const fuzzAllocBound = 64 << 20

// allocated is the number of bytes this process has allocated so far.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// hostileYAMLSeeds are inputs no repository should hold, in the shape of a
// mapping whose keys the caller chooses (the first key is where the bombs
// go): alias bombs, deep nesting, NUL bytes, invalid UTF-8, merge keys.
func hostileYAMLSeeds(key string) []string {
	bomb := key + ": &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i <= 6; i++ {
		prev := "*a" + strconv.Itoa(i-1)
		bomb += "b" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n"
	}
	return []string{
		bomb,
		key + ": " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n",
		key + ": " + strings.Repeat("{a: ", 100) + "x" + strings.Repeat("}", 100) + "\n",
		key + ":\n" + strings.Repeat("- ", 200) + "x\n",
		key + ": &r [*r]\n",
		key + ": *missing\n",
		"<<: {" + key + ": [a]}\n",
		key + ": [a]\n<<: *x\n",
		key + ": [\"a\\0b\"]\n",
		key + ": [a]\x00\n",
		"\x00",
		key + ": [\xff]\n",
		"\xef\xbb\xbf" + key + ": [a]\n",
		key + ": !!binary aGVsbG8=\n",
		key + ": !custom [a]\n",
		"? [" + key + "]\n: [a]\n",
		"--- \n" + key + ": [a]\n---\n" + key + ": [b]\n",
		key + ": 'unterminated\n",
		"\t" + key + ": [a]\n",
		"[1, 2]\n",
		"~\n",
	}
}

// repoFiles returns the files under the repository's dirs whose base
// name satisfies match (the examples and the testdata: what real charts
// and kustomizations look like).
func repoFiles(f *testing.F, match func(name string) bool, dirs ...string) [][]byte {
	var out [][]byte
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !match(e.Name()) {
				return err
			}
			data, err := os.ReadFile(p)
			out = append(out, data)
			return err
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	if len(out) == 0 {
		f.Fatalf("no seed files under %v", dirs)
	}
	return out
}

// fuzzKustFiles is the tree around the fuzzed app/kustomization.yaml: the
// files its entries may name, a base and a component.
var fuzzKustFiles = map[string]string{
	"app/cm.yaml":         hostileCM,
	"app/service.yaml":    "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
	"app/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: nginx}]\n",
	"app/patch.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
	"app/json6902.yaml":   "- {op: add, path: /data, value: {a: b}}\n",
	"app/app.env":         "A=b\n",
	"app/config.txt":      "text\n",
	"app/labels.yaml":     "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {a: b}\nfieldSpecs: [{path: metadata/labels, create: true}]\n",
	"app/comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n" +
		"patches:\n- target: {kind: ConfigMap}\n  patch: '[{\"op\": \"add\", \"path\": \"/data/c\", \"value\": \"d\"}]'\n",
	"base/kustomization.yaml": "resources:\n- deployment.yaml\n",
	"base/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
}

// FuzzKustomization feeds the kustomization reader (newKustTree: aegis's
// parse within the limits, the key spellings folded as kustomize folds
// them, unknown and refused keys, kustomize's own decoding checked for
// remote and helm entries and against aegis's walk) arbitrary bytes as a
// kustomization.
//
// Invariants: no panic; a reading allocates at most fuzzAllocBound; every
// error is a *manifest.SourceError naming a file of the tree (the
// kustomization itself with a line inside it); a kustomization aegis
// accepts is decoded by kustomize, aegis's normalised reading of it
// decodes to the same kustomization, and that kustomization written out
// canonically is accepted again and decodes to itself.
func FuzzKustomization(f *testing.F) {
	for _, data := range repoFiles(f, isKustomizationName, "testdata/kustomize", "../examples") {
		f.Add(data)
	}
	const ok = "resources:\n- cm.yaml\n"
	for _, s := range []string{
		ok,
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml, ../base]\ncomponents: [comp]\nnamePrefix: p-\n",
		// Every field that reaches kustomize's loader.
		ok + "crds: []\nconfigurations: []\ngenerators: []\ntransformers: [labels.yaml]\nvalidators: []\n",
		ok + "patches:\n- path: patch.yaml\n- target: {kind: ConfigMap, name: c}\n  path: json6902.yaml\n",
		ok + "patchesStrategicMerge:\n- patch.yaml\n- |\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n  data: {x: y}\n",
		ok + "patchesJson6902:\n- target: {version: v1, kind: ConfigMap, name: c}\n  path: json6902.yaml\n",
		ok + "configMapGenerator:\n- name: g\n  files: [config.txt, k=config.txt]\n  envs: [app.env]\n  literals: [a=b]\nsecretGenerator:\n- name: s\n  env: app.env\n",
		ok + "images:\n- {name: nginx, newTag: '1.27'}\nreplicas:\n- {name: web, count: 3}\n",
		ok + "transformers:\n- |\n  apiVersion: builtin\n  kind: PrefixTransformer\n  metadata: {name: p}\n  prefix: x-\n",
		ok + "replacements:\n- path: patch.yaml\n",
		ok + "openapi:\n  path: config.txt\n",
		ok + "buildMetadata: [originAnnotations]\n",
		// Keys as kustomize folds them: case, U+017F (folds to s), U+212A
		// (Kelvin sign, folds to k), the same field twice.
		"Resources:\n- cm.yaml\n",
		"RESOURCES: [cm.yaml]\nNAMEPREFIX: a-\n",
		"reſources: [cm.yaml]\n",
		"resources: [cm.yaml]\nnamespace: a\nNamespace: b\n",
		"resources: [cm.yaml]\nresources: [service.yaml]\n",
		ok + "patches:\n- PATH: patch.yaml\n  Path: json6902.yaml\n",
		ok + "configMapGenerator:\n- NAME: g\n  LITERALS: [a=b]\n  \u212aind: x\n",
		"bases: [../base]\nresources: [cm.yaml]\n",
		ok + "helmCharts:\n- name: x\n",
		ok + "HelmChartInflationGenerator:\n- chartName: x\n",
		ok + "commonLabels: &l {a: b}\ncommonAnnotations: *l\n",
		ok + "patches:\n- &p {path: patch.yaml}\nreplacements:\n- *p\n",
		// Remote forms.
		"resources:\n- github.com/example/repo//base?ref=v1\n",
		"resources:\n- https://example.com/cm.yaml\n",
		"resources:\n- git@github.com:org/repo.git\n",
		ok + "components:\n- ssh://git@example.com/org/repo\n",
		"resources: [/etc/passwd]\n",
		"resources: [../../outside]\n",
		"resources: [.]\n",
		"resources: [kustomization.yaml]\n",
		"namePrefx: oops\n",
		"",
	} {
		f.Add([]byte(s))
	}
	for _, s := range hostileYAMLSeeds("resources") {
		f.Add([]byte(s))
	}
	for _, s := range hostileYAMLSeeds("commonLabels") {
		f.Add([]byte(s))
	}
	// Deeply nested flow sequences where kustomize expects a list.
	f.Add([]byte("resources: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"))
	f.Add([]byte(ok + "patches:\n- patch: \"" + strings.Repeat("[", 3000) + "\"\n"))

	root := f.TempDir()
	writeFiles(f, root, fuzzKustFiles)
	dir := filepath.Join(root, "app")
	kust := filepath.Join(dir, "kustomization.yaml")
	const rel = "app/kustomization.yaml"
	// The canonical form of an accepted kustomization may be bigger than
	// the fuzzed input (aliases are written out): it is read again with
	// room for that.
	recheck := manifest.Limits{MaxFileBytes: 1 << 20, MaxTotalBytes: 2 << 20, MaxDocuments: 8, MaxNodes: 100_000, MaxDepth: 100}

	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(kust, data, 0o644); err != nil {
			t.Fatal(err)
		}
		before := allocated()
		tree, err := newKustTree(root, dir, Options{Limits: fuzzLimits})
		if a := allocated() - before; a > fuzzAllocBound {
			t.Fatalf("reading a %d-byte kustomization allocated %d MB (bound %d MB): the reading expands its input (err: %v)", len(data), a>>20, fuzzAllocBound>>20, err)
		}
		if err != nil {
			checkSourceError(t, err, root, rel, data)
			return
		}
		k1, err := decodeKustomization(rel, data)
		if err != nil {
			t.Fatalf("aegis accepted a kustomization that kustomize does not decode: %v", err)
		}
		canon, err := sigsyaml.Marshal(k1)
		if err != nil {
			t.Fatalf("kustomization does not marshal: %v", err)
		}
		// aegis looks keys up in its normalised document: that document
		// must mean to kustomize what the file means.
		// Through a plain value and JSON-based YAML: yaml.v3's own encoder
		// writes a literal block that starts with an empty line as "|4"
		// plus the empty line, which it cannot read back (a fuzzer find,
		// kept in testdata/fuzz): aegis never encodes the node, it only
		// looks keys up in it, so that is no finding about aegis.
		var plain any
		if err := tree.top.doc.Decode(&plain); err != nil {
			t.Fatalf("normalised kustomization does not decode to a value: %v", err)
		}
		norm, err := sigsyaml.Marshal(plain)
		if err != nil {
			t.Fatalf("normalised kustomization does not marshal: %v", err)
		}
		kn, err := decodeKustomization(rel, norm)
		if err != nil {
			t.Fatalf("normalised kustomization does not decode: %v\n%s", err, norm)
		}
		if got, _ := sigsyaml.Marshal(kn); !bytes.Equal(got, canon) {
			t.Fatalf("aegis's normalised reading differs from kustomize's:\nkustomize reads:\n%s\naegis reads:\n%s", canon, got)
		}
		if int64(len(canon)) > recheck.MaxFileBytes {
			return
		}
		// The same kustomization, as kustomize reads it, read again.
		if err := os.WriteFile(kust, canon, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := newKustTree(root, dir, Options{Limits: recheck}); err != nil {
			t.Fatalf("the canonical form of an accepted kustomization is refused: %v\n%s", err, canon)
		}
		k2, err := decodeKustomization(rel, canon)
		if err != nil {
			t.Fatalf("canonical kustomization does not decode: %v\n%s", err, canon)
		}
		if got, _ := sigsyaml.Marshal(k2); !bytes.Equal(got, canon) {
			t.Fatalf("the canonical kustomization is not stable:\nfirst:\n%s\nthen:\n%s", canon, got)
		}
	})
}

// checkSourceError holds err to what a reader's error must be: a
// *manifest.SourceError with a message, naming a file or directory of the
// tree under root by a relative path; when it names file (whose content
// is data), its line lies inside it (or at its end).
func checkSourceError(t *testing.T, err error, root, file string, data []byte) *manifest.SourceError {
	t.Helper()
	var se *manifest.SourceError
	if !errors.As(err, &se) {
		t.Fatalf("error is %T, not a *manifest.SourceError: %v", err, err)
	}
	if se.Msg == "" {
		t.Fatalf("error without a message: %#v", se)
	}
	if se.Path == "" || filepath.IsAbs(se.Path) || strings.HasPrefix(se.Path, "..") {
		t.Fatalf("error does not name a file of the tree (path %q): %v", se.Path, err)
	}
	if _, serr := os.Stat(filepath.Join(root, filepath.FromSlash(se.Path))); serr != nil {
		t.Fatalf("error names %q, which is not in the tree: %v", se.Path, err)
	}
	if se.Path == file {
		// The YAML parsers place an error at the end of the input on the
		// line after the last one.
		if lines := yamlLines(data); se.Line < 0 || se.Line > lines+1 {
			t.Fatalf("error names line %d of a %d-line file: %v", se.Line, lines, err)
		}
	}
	return se
}

// yamlLines counts the lines of data as the YAML parser numbers them: it
// breaks lines at CR LF, CR, LF, and NEL, LS and PS.
func yamlLines(data []byte) int {
	s := strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n").Replace(string(data))
	return strings.Count(s, "\n") + 1
}

// fuzzChart is the chart around the fuzzed values: its one template writes
// the length of the values as JSON (what the values expand to) and nothing
// that depends on them.
var fuzzChart = map[string]string{
	"c/Chart.yaml":        miniChart,
	"c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: v}\ndata:\n  n: {{ .Values | toJson | len | quote }}\n",
}

// FuzzHelmValues feeds Helm's values path (renderHelm: the chart's
// values.yaml, or a user values file given like `helm template -f`, each
// checked against the limits then read by Helm's loader, and --set values
// parsed by Helm's strvals and merged over them) arbitrary values and
// --set arguments (one per line of set).
//
// Invariants: no panic (renderHelm turns one into "helm: rendering
// failed", which counts as one here); a rendering allocates at most
// fuzzAllocBound and the merged values are at most a few times the
// limits' size, plus what the --set list indexes (Helm's MaxIndex)
// may add; an error is a *manifest.SourceError naming the values file
// with a line inside it, or, only with --set arguments, one that quotes
// the --set argument.
func FuzzHelmValues(f *testing.F) {
	for _, data := range repoFiles(f, func(name string) bool {
		return strings.HasPrefix(name, "values") && strings.HasSuffix(name, ".yaml")
	}, "testdata/helm", "../examples") {
		f.Add(data, "", false)
		f.Add(data, "", true)
		f.Add(data, "image.tag=1.2.3,replicas=3", false)
	}
	for _, set := range []string{
		"a=b",
		"a.b.c=1\nd[0].e=f",
		"a[0]=x,a[1]=y",
		"a={x,y,z}",
		"a\\.b=1",
		"a=null",
		"a=",
		"noequals",
		"=",
		",,,",
		"a[65536]=1",
		"a[65537]=1",
		"a[-1]=1",
		"a[0][0][0][0]=1",
		"a[99999999999999999999]=1",
		strings.Repeat("a.", 2000) + "b=1",
		strings.Repeat("a[0]", 500) + "=1",
		"a=\x00",
		"a\x00b=1",
		"a=b\\",
		"{a}=1",
		"a[=1",
	} {
		f.Add([]byte("a: 1\n"), set, false)
	}
	for _, s := range hostileYAMLSeeds("a") {
		f.Add([]byte(s), "", false)
		f.Add([]byte(s), "", true)
	}
	f.Add([]byte("a: "+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+"\n"), "a=1", false)
	f.Add([]byte("A: 1\na: 2\nA: 3\n"), "A=4", false)

	root := f.TempDir()
	writeFiles(f, root, fuzzChart)
	dir := filepath.Join(root, "c")
	maxValues := int(4*fuzzLimits.MaxTotalBytes) + 64<<10

	f.Fuzz(func(t *testing.T, values []byte, set string, chartValues bool) {
		file, other := "c/fuzz.yaml", "c/values.yaml"
		opts := Options{Limits: fuzzLimits, ValuesFiles: []string{"fuzz.yaml"}}
		if chartValues {
			file, other = other, file
			opts.ValuesFiles = nil
		}
		if err := os.WriteFile(filepath.Join(root, file), values, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, other), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		indexes := 0
		for _, s := range strings.Split(set, "\n") {
			if s != "" {
				opts.Set = append(opts.Set, s)
				indexes += strings.Count(s, "[")
			}
		}
		before := allocated()
		objs, err := renderHelm(context.Background(), root, dir, opts)
		if a := allocated() - before; a > fuzzAllocBound {
			t.Fatalf("rendering %d bytes of values allocated %d MB (bound %d MB): the reading expands its input (err: %v)", len(values), a>>20, fuzzAllocBound>>20, err)
		}
		if err != nil {
			if strings.Contains(err.Error(), "rendering failed") {
				t.Fatalf("Helm panicked: %v", err)
			}
			var se *manifest.SourceError
			if len(opts.Set) > 0 && errors.As(err, &se) && se.Path == "" && strings.HasPrefix(se.Msg, "invalid --set ") {
				return
			}
			if se := checkSourceError(t, err, root, file, values); se.Path != file {
				t.Fatalf("error names %s, not the values file %s: %v", se.Path, file, err)
			}
			return
		}
		if len(objs) != 1 {
			t.Fatalf("rendered %d objects, want the chart's one ConfigMap", len(objs))
		}
		data, _ := objs[0].Object["data"].(map[string]any)
		n, err := strconv.Atoi(fmt.Sprint(data["n"]))
		if err != nil {
			t.Fatalf("rendered ConfigMap data: %v (%v)", data, err)
		}
		// Helm's strvals fills a list up to the index given, with nulls.
		if bound := maxValues + len(set) + indexes*(strvals.MaxIndex+1)*len("null,"); n > bound {
			t.Fatalf("%d bytes of values and %d of --set merge into %d bytes of values (bound %d): the reading expands its input", len(values), len(set), n, bound)
		}
	})
}
