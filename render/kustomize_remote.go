package render

// This file holds the rule that no kustomization reaches the network or
// runs a program: aegis reads every kustomization exactly as kustomize
// will (its own types, its own decoder, its own fix-ups) and checks that
// reading, not the spelling of the file.
//
// kustomize decodes a kustomization with sigs.k8s.io/yaml into
// types.Kustomization: YAML becomes JSON and encoding/json matches keys to
// fields without regard to case (strings.EqualFold), so `Resources:`,
// `RESOURCES:` and even `reſources:` (U+017F folds to s) are all
// `resources`, at every level of the document (`patches: [{PATH: ...}]`).
// Two keys that differ only in case are both accepted and one silently
// wins (or, for lists of objects, they are merged element by element), so
// aegis refuses them outright. FixKustomization then moves bases into
// resources, env into envs and helmChartInflationGenerator into
// helmCharts.
//
// Every entry that kustomize hands to its loader is checked: Load fetches
// any http(s) URL, New clones anything its git URL parser accepts (and
// runs `git init`, `git fetch`), which is decided by kustomize's own
// parser (see isKustomizeRemote). Generator, transformer and validator
// configs reach the same loader through the builtin plugins, so they are
// decoded and checked too; helm charts run the helm binary and are
// refused.

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/builtins"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/manifest"
)

// isKustomizeRemote reports whether kustomize would fetch v rather than
// read a local file: its loader GETs what url.Parse gives an http(s)
// scheme (loader.IsRemoteFile) and clones what its git URL parser accepts
// (git.NewRepoSpecFromURL, reached through resource.Origin.Append, the
// one exported door to it). isRemoteRef adds the forms kustomize's
// history accepted, so a future parser change cannot open a hole.
func isKustomizeRemote(v string) (remote bool) {
	if isRemoteRef(v) {
		// Checked first: the git parser logs a warning for "git::".
		return true
	}
	if u, err := url.Parse(v); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return true
	}
	defer func() {
		if recover() != nil {
			remote = true // a parser that panics never decides for "local"
		}
	}()
	return (&resource.Origin{}).Append(v).Repo != ""
}

// jsonField is a struct field as encoding/json matches it.
type jsonField struct {
	name string
	typ  reflect.Type
}

var jsonFieldsCache sync.Map // reflect.Type -> []jsonField

// jsonFields lists the fields encoding/json decodes into a struct, in
// declaration order, with embedded structs without a name promoted (that
// is how `json:",inline"` behaves under encoding/json).
func jsonFields(rt reflect.Type) []jsonField {
	if v, ok := jsonFieldsCache.Load(rt); ok {
		return v.([]jsonField)
	}
	var out []jsonField
	var promoted [][]jsonField
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				promoted = append(promoted, jsonFields(ft))
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type})
	}
	// A field of the outer struct hides a promoted one of the same name.
	for _, fs := range promoted {
		for _, pf := range fs {
			if matchField(out, pf.name) < 0 {
				out = append(out, pf)
			}
		}
	}
	jsonFieldsCache.Store(rt, out)
	return out
}

// matchField finds the field a JSON key decodes into: the exact name, else
// the first field whose name equals it under case folding (encoding/json's
// v1 rule, identical to strings.EqualFold).
func matchField(fields []jsonField, key string) int {
	for i, f := range fields {
		if f.name == key {
			return i
		}
	}
	for i, f := range fields {
		if strings.EqualFold(f.name, key) {
			return i
		}
	}
	return -1
}

var kustomizationType = reflect.TypeOf(types.Kustomization{})

// normalizeKustomization rewrites every key of a kustomization that
// kustomize would match to a field into that field's own spelling, so
// that the rest of aegis (which looks keys up exactly) reads what kustomize
// reads. It refuses what kustomize would resolve silently in a way aegis
// could not follow: two keys for one field (same key twice, or spellings
// that differ only in case) and YAML merge keys.
func normalizeKustomization(path string, doc *yaml.Node) error {
	return normalizeKeys(path, doc, kustomizationType, map[normVisit]bool{})
}

type normVisit struct {
	n  *yaml.Node
	rt reflect.Type
}

func normalizeKeys(path string, n *yaml.Node, rt reflect.Type, seen map[normVisit]bool) error {
	if n == nil {
		return nil
	}
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	if n.Kind == yaml.AliasNode {
		if n = n.Alias; n == nil {
			return nil
		}
	}
	if seen[normVisit{n, rt}] {
		return nil
	}
	seen[normVisit{n, rt}] = true
	switch n.Kind {
	case yaml.SequenceNode:
		if rt.Kind() == reflect.Slice || rt.Kind() == reflect.Array {
			for _, it := range n.Content {
				if err := normalizeKeys(path, it, rt.Elem(), seen); err != nil {
					return err
				}
			}
		}
	case yaml.MappingNode:
		var fields []jsonField
		switch rt.Kind() {
		case reflect.Struct:
			fields = jsonFields(rt)
		case reflect.Map:
		default:
			return nil // kustomize's decoder refuses the type mismatch
		}
		byField := map[int]*yaml.Node{}
		byKey := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" || k.Value == "<<" {
				return manifest.Errorf(path, k.Line, "YAML merge key (<<) in a kustomization: aegis must read the kustomization exactly as kustomize does; write the keys out")
			}
			if rt.Kind() == reflect.Map {
				if prev := byKey[k.Value]; prev != nil {
					return manifest.Errorf(path, k.Line, "key %q appears twice (also line %d): kustomize would keep only one of them; keep one", k.Value, prev.Line)
				}
				byKey[k.Value] = k
				if err := normalizeKeys(path, v, rt.Elem(), seen); err != nil {
					return err
				}
				continue
			}
			fi := matchField(fields, k.Value)
			if fi < 0 {
				continue // unknown: kustomize refuses it, and so does aegis
			}
			if prev := byField[fi]; prev != nil {
				if prev.Value == k.Value {
					return manifest.Errorf(path, k.Line, "key %q appears twice (also line %d): kustomize would keep only one of them; keep one", k.Value, prev.Line)
				}
				return manifest.Errorf(path, k.Line, "key %q and key %q (line %d) are the same field %q to kustomize, which matches keys without regard to case and would use only one of them (or merge them); keep one, spelled %q",
					k.Value, prev.Value, prev.Line, fields[fi].name, fields[fi].name)
			}
			// Keep the file's spelling for the message above, then use
			// kustomize's.
			orig := *k
			byField[fi] = &orig
			k.Value = fields[fi].name
			if err := normalizeKeys(path, v, fields[fi].typ, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeKustomization decodes a kustomization file's bytes exactly as
// kustomize's KustTarget.Load does: Unmarshal (sigs.k8s.io/yaml into
// types.Kustomization, unknown fields refused) then FixKustomization.
func decodeKustomization(path string, data []byte) (*types.Kustomization, error) {
	return decodeKustomizationAt(path, nil, data)
}

// decodeKustomizationAt is decodeKustomization with the parsed document,
// to report a field kustomize refuses at its line.
func decodeKustomizationAt(path string, doc *yaml.Node, data []byte) (*types.Kustomization, error) {
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return nil, kustomizationDecodeError(path, doc, err)
	}
	k.FixKustomization()
	return &k, nil
}

// loadRef is one entry of a kustomization that kustomize hands to its
// loader.
type loadRef struct {
	field string // the kustomization field, as kustomize spells it
	value string
}

// kustomizationLoads lists every entry of a decoded (and fixed)
// kustomization that reaches kustomize's loader (Load reads or GETs a
// file, New reads a directory or clones a repository).
func kustomizationLoads(k *types.Kustomization) []loadRef {
	var refs []loadRef
	add := func(field string, vs ...string) {
		for _, v := range vs {
			refs = append(refs, loadRef{field, v})
		}
	}
	add("resources", k.Resources...) // bases were appended by FixKustomization
	add("components", k.Components...)
	add("crds", k.Crds...)
	add("configurations", k.Configurations...)
	add("generators", k.Generators...)
	add("transformers", k.Transformers...)
	add("validators", k.Validators...)
	for key, v := range k.OpenAPI {
		add("openapi "+key, v)
	}
	for _, p := range k.Patches {
		add("patches path", p.Path)
	}
	for _, p := range k.PatchesJson6902 {
		add("patchesJson6902 path", p.Path)
	}
	for _, p := range k.PatchesStrategicMerge {
		// An inline patch is tried as a file first.
		add("patchesStrategicMerge", string(p))
	}
	for _, r := range k.Replacements {
		add("replacements path", r.Path)
	}
	for _, g := range k.ConfigMapGenerator {
		refs = append(refs, kvLoads("configMapGenerator", g.KvPairSources)...)
	}
	for _, g := range k.SecretGenerator {
		refs = append(refs, kvLoads("secretGenerator", g.KvPairSources)...)
	}
	return refs
}

// kvLoads lists the files a generator reads: files entries are "path" or
// "key=path", envs and env are paths.
func kvLoads(field string, kv types.KvPairSources) []loadRef {
	var refs []loadRef
	for _, f := range kv.FileSources {
		refs = append(refs, loadRef{field + " files", f})
		if _, p, ok := strings.Cut(f, "="); ok {
			refs = append(refs, loadRef{field + " files", p})
		}
	}
	for _, e := range kv.EnvSources {
		refs = append(refs, loadRef{field + " envs", e})
	}
	if kv.EnvSource != "" {
		refs = append(refs, loadRef{field + " env", kv.EnvSource})
	}
	return refs
}

// helmRefusal is the message for kustomize's helm support, which runs the
// helm binary (and lets it pull charts from any repository).
func helmRefusal(what string) string {
	return what + " needs the helm binary, which aegis does not run inside kustomize; render the chart as a Helm source instead, or commit its rendered output"
}

// checkDecoded decodes kustomization n as kustomize will and refuses what
// would reach the network or run a program, and a reading that differs
// from aegis's own walk of the file.
func (t *kustTree) checkDecoded(n *kustNode, data []byte) error {
	k, err := decodeKustomizationAt(n.rel, n.doc, data)
	if err != nil {
		return err
	}
	if len(k.HelmCharts) > 0 || k.HelmGlobals != nil {
		key := "helmCharts"
		if k.HelmGlobals != nil && len(k.HelmCharts) == 0 {
			key = "helmGlobals"
		}
		return manifest.Errorf(n.rel, keyLine(n.doc, key, "helmChartInflationGenerator"), "%s", helmRefusal(key))
	}
	if !t.opts.AllowRemoteBases {
		for _, r := range kustomizationLoads(k) {
			if r.value != "" && isKustomizeRemote(r.value) {
				return manifest.Errorf(n.rel, valueLine(n.doc, r.value), "remote reference %q in %s refused: aegis does not fetch remote content by default (a PR could make the runner fetch anything, or run git); vendor it into the repository or pass --allow-remote-bases", r.value, r.field)
			}
		}
	}
	// The lists aegis walks must be the lists kustomize loads: aegis
	// checks every kustomization it walks, and only those.
	for _, c := range []struct {
		keys []string
		want []string
	}{
		{[]string{"resources", "bases"}, k.Resources},
		{[]string{"components"}, k.Components},
		{[]string{"generators"}, k.Generators},
		{[]string{"transformers"}, k.Transformers},
		{[]string{"validators"}, k.Validators},
	} {
		var got []string
		for _, key := range c.keys {
			for _, it := range listItems(n.doc, key) {
				got = append(got, it.Value)
			}
		}
		if !equalStrings(got, c.want) {
			return manifest.Errorf(n.rel, keyLine(n.doc, c.keys...), "aegis reads %s as %q but kustomize reads %q; write the list out plainly (no YAML tags, anchors or aliases)", strings.Join(c.keys, "/"), got, c.want)
		}
	}
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// listItems returns the items of the list under key, following aliases,
// as kustomize's decoder sees them.
func listItems(doc *yaml.Node, key string) []*yaml.Node {
	v := deref(manifest.MapValue(doc, key))
	if v == nil || v.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(v.Content))
	for _, it := range v.Content {
		if d := deref(it); d != nil {
			out = append(out, d)
		}
	}
	return out
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// keyLine is the line of the first of keys present in doc, else 1.
func keyLine(doc *yaml.Node, keys ...string) int {
	for _, key := range keys {
		if k := mapKeyNode(doc, key); k != nil {
			return k.Line
		}
	}
	return 1
}

// valueLine is the line of the first scalar in n that holds v (or, for a
// generator's files entry, "key=v"), else 0.
func valueLine(n *yaml.Node, v string) int {
	seen := map[*yaml.Node]bool{}
	var find func(*yaml.Node) int
	find = func(n *yaml.Node) int {
		if n == nil || seen[n] {
			return 0
		}
		seen[n] = true
		if n.Kind == yaml.ScalarNode && (n.Value == v || strings.HasSuffix(n.Value, "="+v)) {
			return n.Line
		}
		for _, c := range n.Content {
			if l := find(c); l > 0 {
				return l
			}
		}
		return 0
	}
	return find(n)
}

// Plugin configs: the entries of generators, transformers and validators.

// pluginResMaps is kustomize's own resource reader, as krusty makes it:
// what it accepts as an inline config kustomize takes inline, anything
// else is a path.
var pluginResMaps = resmap.NewFactory(provider.NewDepProvider().GetResourceFactory())

// pluginTreeKeys are the fields a kustomization may use when it is listed
// as a generator, transformer or validator: its resources are the plugin
// configs. Anything that transforms them (patches, replacements, name
// prefixes through custom configurations, ...) could turn a checked
// config into one that fetches a URL, so it is refused there.
var pluginTreeKeys = map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "resources": true, "bases": true, "buildMetadata": true}

// loadPluginEntries follows the generators, transformers and validators of
// n: an inline config and a config file are checked as kustomize's
// builtin plugins will read them; a directory is walked as a
// kustomization that may only list configs.
func (t *kustTree) loadPluginEntries(n *kustNode, stack map[string]bool) error {
	for _, key := range []string{"generators", "transformers", "validators"} {
		for _, it := range listItems(n.doc, key) {
			if it.Kind != yaml.ScalarNode {
				continue // kustomize's decoder refused it already
			}
			if err := t.checkInlineExpansion(n.rel, it); err != nil {
				return err
			}
			if rm, err := pluginResMaps.NewResMapFromBytes([]byte(it.Value)); err == nil {
				if err := t.checkPluginConfigs(n.rel, rm, func(string) int { return it.Line }); err != nil {
					return err
				}
				continue
			}
			if isKustomizeRemote(it.Value) {
				continue // allowed, else checkDecoded refused it already
			}
			abs, err := t.localPath(n, it)
			if err != nil {
				return err
			}
			if err := t.loadPluginPath(n, it, abs, key, stack, map[*kustNode]bool{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadPluginPath checks one local plugin entry: a config file, or a
// directory of configs.
func (t *kustTree) loadPluginPath(n *kustNode, it *yaml.Node, abs, key string, stack map[string]bool, done map[*kustNode]bool) error {
	if isDir(abs) {
		// No parent: the plugin kustomization's output is configs, not
		// objects that n's patches apply to.
		c, err := t.load(abs, nil, n.rel, it.Line, stack)
		if err != nil {
			return err
		}
		return t.checkPluginTree(c, n, key, done)
	}
	r := t.rel(abs)
	docs, err := t.readYAML(abs, r) // within the limits, before kustomize parses it
	if err != nil {
		return err
	}
	data, err := t.read(abs, r)
	if err != nil {
		return err
	}
	rm, err := pluginResMaps.NewResMapFromBytes(data)
	if err != nil {
		return nil // kustomize refuses the file the same way; nothing is loaded
	}
	return t.checkPluginConfigs(r, rm, func(v string) int {
		for _, d := range docs {
			if l := valueLine(d, v); l > 0 {
				return l
			}
		}
		return 1
	})
}

// checkInlineExpansion refuses an alias bomb in an entry that kustomize
// may parse as an inline config. Whether the entry is inline is decided by
// kustomize's own reader afterwards, not by this parse.
func (t *kustTree) checkInlineExpansion(path string, it *yaml.Node) error {
	dec := yaml.NewDecoder(strings.NewReader(it.Value))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return nil // the end, or not YAML this parser reads
		}
		if err := manifest.CheckExpansion(path, &doc, t.opts.limits()); err != nil {
			var se *manifest.SourceError
			if errors.As(err, &se) {
				return manifest.Errorf(path, it.Line, "inline plugin config: %s", se.Msg)
			}
			return err
		}
	}
}

// checkPluginTree refuses, in a kustomization listed as a plugin (and in
// everything it includes), any field but resources, and checks each
// config file it lists.
func (t *kustTree) checkPluginTree(c, from *kustNode, key string, done map[*kustNode]bool) error {
	if done[c] {
		return nil
	}
	done[c] = true
	for i := 0; i+1 < len(c.doc.Content); i += 2 {
		k := c.doc.Content[i]
		if !pluginTreeKeys[k.Value] {
			return manifest.Errorf(c.rel, k.Line, "%s is not allowed here: this kustomization is listed in %s of %s, so it only lists plugin configs, and %s could rewrite a checked config into one that fetches a URL; list the config files directly in %s instead",
				k.Value, key, from.rel, k.Value, from.rel)
		}
	}
	for _, lk := range []string{"resources", "bases"} {
		for _, it := range listItems(c.doc, lk) {
			if isKustomizeRemote(it.Value) {
				continue // allowed, else checkDecoded refused it already
			}
			abs := filepath.Join(c.dir, filepath.FromSlash(it.Value))
			if isDir(abs) {
				sub := t.nodes[nodeKey(abs)]
				if sub == nil {
					return manifest.Errorf(c.rel, it.Line, "internal error: %s was not walked", it.Value)
				}
				if err := t.checkPluginTree(sub, from, key, done); err != nil {
					return err
				}
				continue
			}
			if err := t.loadPluginPath(c, it, abs, key, nil, done); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPluginConfigs checks configs as kustomize's plugin loader will use
// them: only builtin plugins (kustomize refuses others with the options
// aegis gives it; aegis refuses them first, so that no exec or container
// function is ever configured), no helm, and no remote file in the fields
// the builtin plugins load.
func (t *kustTree) checkPluginConfigs(path string, rm resmap.ResMap, line func(string) int) error {
	for _, r := range rm.Resources() {
		gvk := r.GetGvk()
		if gvk.Group != "" || gvk.Version != "builtin" {
			return manifest.Errorf(path, line(gvk.Kind), "%s %q (apiVersion %s) is not a kustomize builtin plugin: aegis runs only builtin generators, transformers and validators (never exec or container plugins); use a builtin kind with apiVersion: builtin", gvk.Kind, r.GetName(), gvk.ApiVersion())
		}
		y, err := r.AsYAML()
		if err != nil {
			return manifest.Errorf(path, line(gvk.Kind), "plugin config %s: %v", r.GetName(), err)
		}
		paths, err := builtinPluginLoads(gvk.Kind, y)
		if err != nil {
			return manifest.Errorf(path, line(gvk.Kind), "%v", err)
		}
		if t.opts.AllowRemoteBases {
			continue
		}
		for _, p := range paths {
			if p != "" && isKustomizeRemote(p) {
				return manifest.Errorf(path, line(p), "remote reference %q in %s %q refused: aegis does not fetch remote content by default (a PR could make the runner fetch anything); vendor it into the repository or pass --allow-remote-bases", p, gvk.Kind, r.GetName())
			}
		}
	}
	return nil
}

// builtinPluginLoads decodes a builtin plugin's config into the plugin's
// own type with the decoder its Config method uses (sigs.k8s.io/yaml, so
// keys match without regard to case there too) and lists the paths it
// will hand to the loader.
func builtinPluginLoads(kind string, config []byte) ([]string, error) {
	var paths []string
	var err error
	switch kind {
	case "HelmChartInflationGenerator":
		return nil, errors.New(helmRefusal("the HelmChartInflationGenerator plugin"))
	case "PatchTransformer":
		var p builtins.PatchTransformerPlugin
		err = sigsyaml.Unmarshal(config, &p)
		paths = []string{p.Path}
	case "PatchJson6902Transformer":
		var p builtins.PatchJson6902TransformerPlugin
		err = sigsyaml.Unmarshal(config, &p)
		paths = []string{p.Path}
	case "PatchStrategicMergeTransformer":
		var p builtins.PatchStrategicMergeTransformerPlugin
		err = sigsyaml.Unmarshal(config, &p)
		for _, s := range p.Paths {
			paths = append(paths, string(s))
		}
	case "ReplacementTransformer":
		var p builtins.ReplacementTransformerPlugin
		err = sigsyaml.Unmarshal(config, &p)
		for _, r := range p.ReplacementList {
			paths = append(paths, r.Path)
		}
	case "ConfigMapGenerator":
		var p builtins.ConfigMapGeneratorPlugin
		err = sigsyaml.Unmarshal(config, &p)
		for _, r := range kvLoads("", p.KvPairSources) {
			paths = append(paths, r.value)
		}
	case "SecretGenerator":
		var p builtins.SecretGeneratorPlugin
		err = sigsyaml.Unmarshal(config, &p)
		for _, r := range kvLoads("", p.KvPairSources) {
			paths = append(paths, r.value)
		}
	default:
		if !builtinWithoutLoads[kind] {
			return nil, fmt.Errorf("%s is not a builtin plugin aegis knows; use one of kustomize's builtin kinds", kind)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("plugin config %s: %v", kind, err)
	}
	return paths, nil
}

// builtinWithoutLoads are the builtin plugins that read no file (checked
// against kustomize's list by TestBuiltinPluginsKnown, so that a new
// builtin is looked at before aegis lets it run).
var builtinWithoutLoads = map[string]bool{
	"AnnotationsTransformer": true, "HashTransformer": true, "IAMPolicyGenerator": true,
	"ImageTagTransformer": true, "LabelTransformer": true, "NamespaceTransformer": true,
	"PrefixTransformer": true, "SuffixTransformer": true, "PrefixSuffixTransformer": true,
	"ReplicaCountTransformer": true, "ValueAddTransformer": true,
}
