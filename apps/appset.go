package apps

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

// generator is one entry of spec.generators (or of a matrix's or a
// merge's generators), decoded from its documented schema. Only the
// generators aegis can evaluate from the repository are typed; the others
// are recognised by their key.
type generator struct {
	List   *listGenerator   `json:"list,omitempty"`
	Git    *gitGenerator    `json:"git,omitempty"`
	Matrix *nestedGenerator `json:"matrix,omitempty"`
	Merge  *nestedGenerator `json:"merge,omitempty"`
	// Selector filters the generator's parameter sets.
	Selector *selector `json:"selector,omitempty"`

	raw map[string]any
}

type listGenerator struct {
	Elements     []map[string]any `json:"elements,omitempty"`
	ElementsYaml string           `json:"elementsYaml,omitempty"`
}

type gitGenerator struct {
	RepoURL         string            `json:"repoURL"`
	Revision        string            `json:"revision,omitempty"`
	Directories     []pathPattern     `json:"directories,omitempty"`
	Files           []pathPattern     `json:"files,omitempty"`
	PathParamPrefix string            `json:"pathParamPrefix,omitempty"`
	Values          map[string]string `json:"values,omitempty"`
}

type pathPattern struct {
	Path    string `json:"path"`
	Exclude bool   `json:"exclude,omitempty"`
}

type nestedGenerator struct {
	Generators []generator `json:"generators"`
	MergeKeys  []string    `json:"mergeKeys,omitempty"`
}

// unverifiableGenerators are the generators whose parameters come from
// outside the repository (a cluster, a SCM provider, a plugin service).
var unverifiableGenerators = []string{"clusters", "clusterDecisionResource", "scmProvider", "pullRequest", "plugin"}

// errUnverifiable marks a generator aegis cannot evaluate.
type errUnverifiable struct{ why string }

func (e *errUnverifiable) Error() string { return e.why }

func (g *generator) UnmarshalJSON(data []byte) error {
	type plain generator
	if err := yaml.Unmarshal(data, (*plain)(g)); err != nil {
		return err
	}
	return yaml.Unmarshal(data, &g.raw)
}

// evaluator evaluates generators against one revision of the repository.
type evaluator struct {
	repo     fs.FS
	sameRepo func(url string) bool
	goTmpl   bool
	r        renderer
	dirs     []string // every directory of the repository, computed once
}

// params returns the parameter sets of g. Parameters are flat strings
// ("path.basename") for fasttemplate, nested maps for goTemplate.
func (e *evaluator) params(g generator) ([]map[string]any, error) {
	var out []map[string]any
	var err error
	switch {
	case g.List != nil:
		out, err = e.list(g.List)
	case g.Git != nil:
		out, err = e.git(g.Git)
	case g.Matrix != nil:
		out, err = e.matrix(g.Matrix)
	case g.Merge != nil:
		out, err = e.merge(g.Merge)
	default:
		for _, k := range unverifiableGenerators {
			if _, ok := g.raw[k]; ok {
				return nil, &errUnverifiable{fmt.Sprintf("the %s generator's parameters come from outside the repository", k)}
			}
		}
		keys := slices.Sorted(maps.Keys(g.raw))
		return nil, fmt.Errorf("unknown generator %v", keys)
	}
	if err != nil || g.Selector == nil {
		return out, err
	}
	var kept []map[string]any
	for _, p := range out {
		ok, err := g.Selector.matches(flattenParams(p))
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

// selector is a label selector over a parameter set, matched against its
// flat form (nested goTemplate parameters as "path.basename").
type selector struct {
	MatchLabels      map[string]string `json:"matchLabels,omitempty"`
	MatchExpressions []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values,omitempty"`
	} `json:"matchExpressions,omitempty"`
}

func (s *selector) matches(flat map[string]any) (bool, error) {
	for k, v := range s.MatchLabels {
		if got, ok := flat[k]; !ok || fmt.Sprint(got) != v {
			return false, nil
		}
	}
	for _, e := range s.MatchExpressions {
		got, has := flat[e.Key]
		val := fmt.Sprint(got)
		switch e.Operator {
		case "In":
			if !has || !slices.Contains(e.Values, val) {
				return false, nil
			}
		case "NotIn":
			if has && slices.Contains(e.Values, val) {
				return false, nil
			}
		case "Exists":
			if !has {
				return false, nil
			}
		case "DoesNotExist":
			if has {
				return false, nil
			}
		default:
			return false, fmt.Errorf("selector: unknown operator %q", e.Operator)
		}
	}
	return true, nil
}

// flattenParams is a parameter set with nested values flattened with dots
// (already flat for fasttemplate).
func flattenParams(p map[string]any) map[string]any {
	for _, v := range p {
		switch v.(type) {
		case map[string]any, []any:
			return flatten(p)
		}
	}
	return p
}

func (e *evaluator) list(l *listGenerator) ([]map[string]any, error) {
	elems := slices.Clone(l.Elements)
	if l.ElementsYaml != "" {
		var more []map[string]any
		if err := yaml.Unmarshal([]byte(l.ElementsYaml), &more); err != nil {
			return nil, fmt.Errorf("list generator's elementsYaml: %w", err)
		}
		elems = append(elems, more...) // after elements, as Argo CD adds them
	}
	out := make([]map[string]any, 0, len(elems))
	for i, el := range elems {
		if e.goTmpl {
			out = append(out, maps.Clone(el))
			continue
		}
		// fasttemplate: every value a string, but "values", a map of
		// strings that becomes values.KEY.
		p := map[string]any{}
		for k, v := range el {
			if k == "values" {
				vm, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("list element %d: values is not a map", i)
				}
				for vk, vv := range vm {
					s, ok := vv.(string)
					if !ok {
						return nil, fmt.Errorf("list element %d: values.%s is not a string (without goTemplate every value is)", i, vk)
					}
					p["values."+vk] = s
				}
				continue
			}
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("list element %d: %s is not a string (without goTemplate every value is)", i, k)
			}
			p[k] = s
		}
		out = append(out, p)
	}
	return out, nil
}

func (e *evaluator) git(g *gitGenerator) ([]map[string]any, error) {
	if !e.sameRepo(g.RepoURL) {
		return nil, &errUnverifiable{fmt.Sprintf("the git generator reads %s, another repository", g.RepoURL)}
	}
	var out []map[string]any
	switch {
	case len(g.Directories) > 0:
		dirs, err := e.allDirs()
		if err != nil {
			return nil, err
		}
		for _, d := range filterPaths(g.Directories, dirs, path.Match) {
			out = append(out, pathParams(d, "", g.PathParamPrefix, e.goTmpl))
		}
	case len(g.Files) > 0:
		files, err := e.matchFiles(g.Files)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			ps, err := e.fileParams(f, g.PathParamPrefix)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
	default:
		return nil, fmt.Errorf("git generator with neither directories nor files")
	}
	for _, p := range out {
		if err := e.addValues(p, g.Values); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// addValues renders the generator's values with the parameters and adds
// them as values.KEY (fasttemplate) or .values.KEY (goTemplate).
func (e *evaluator) addValues(p map[string]any, values map[string]string) error {
	if len(values) == 0 {
		return nil
	}
	rendered := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		v, err := e.r.render(values[k], p)
		if err != nil {
			return err
		}
		rendered[k] = v
	}
	if e.goTmpl {
		p["values"] = rendered
		return nil
	}
	for k, v := range rendered {
		p["values."+k] = v
	}
	return nil
}

// allDirs lists every directory of the repository ("." excluded), in
// lexical order, skipping hidden ones.
func (e *evaluator) allDirs() ([]string, error) {
	if e.dirs != nil {
		return e.dirs, nil
	}
	e.dirs = []string{}
	err := fs.WalkDir(e.repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." {
			// As Argo CD's repo server lists directories: hidden ones
			// (.git, .github, ...) are left out, with all below them.
			if strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			e.dirs = append(e.dirs, p)
		}
		return nil
	})
	return e.dirs, err
}

// matchFiles lists the repository's files that an include pattern
// matches and no exclude pattern does, as `git ls-files -- PATTERN`
// matches them (Argo CD's repo server): "*" and "?" also match "/", so
// "teams/*/app.yaml" matches "teams/a/b/app.yaml" and "**" is "*".
func (e *evaluator) matchFiles(patterns []pathPattern) ([]string, error) {
	var files []string
	err := fs.WalkDir(e.repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return filterPaths(patterns, files, pathspecMatch), nil
}

func filterPaths(patterns []pathPattern, paths []string, match func(pattern, name string) (bool, error)) []string {
	var out []string
	for _, p := range paths {
		in, out2 := false, false
		for _, pat := range patterns {
			ok, err := match(pat.Path, p)
			if err != nil || !ok {
				continue
			}
			if pat.Exclude {
				out2 = true
			} else {
				in = true
			}
		}
		if in && !out2 {
			out = append(out, p)
		}
	}
	return out
}

// pathspecMatch is git's pathspec match without magic: fnmatch(3)
// without FNM_PATHNAME ("*" and "?" match "/" too), and a pattern with no
// wildcard matches itself or what is below it.
func pathspecMatch(pattern, name string) (bool, error) {
	if !strings.ContainsAny(pattern, "*?[") {
		p := strings.TrimSuffix(pattern, "/")
		return name == p || strings.HasPrefix(name, p+"/"), nil
	}
	re, err := pathspecRegexp(pattern)
	if err != nil {
		return false, err
	}
	return re.MatchString(name), nil
}

var pathspecCache sync.Map // pattern -> *regexp.Regexp

func pathspecRegexp(pattern string) (*regexp.Regexp, error) {
	if re, ok := pathspecCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := strings.IndexByte(pattern[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("pattern %q: unclosed [", pattern)
			}
			class := pattern[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		case '\\':
			if i+1 < len(pattern) {
				i++
				b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	pathspecCache.Store(pattern, re)
	return re, nil
}

// pathParams are a directory's (or a file's) path parameters.
func pathParams(dir, file, prefix string, goTmpl bool) map[string]any {
	base := path.Base(dir)
	if goTmpl {
		pp := map[string]any{"path": dir, "basename": base, "basenameNormalized": normalizeName(base), "segments": strings.Split(dir, "/")}
		if file != "" {
			pp["filename"] = path.Base(file)
			pp["filenameNormalized"] = normalizeName(path.Base(file))
		}
		if prefix != "" {
			return map[string]any{prefix: map[string]any{"path": pp}}
		}
		return map[string]any{"path": pp}
	}
	name := "path"
	if prefix != "" {
		name = prefix + ".path"
	}
	p := map[string]any{name: dir, name + ".basename": base, name + ".basenameNormalized": normalizeName(base)}
	if file != "" {
		p[name+".filename"] = path.Base(file)
		p[name+".filenameNormalized"] = normalizeName(path.Base(file))
	}
	for i, seg := range strings.Split(dir, "/") {
		if seg != "" {
			p[name+"["+strconv.Itoa(i)+"]"] = seg
		}
	}
	return p
}

// fileParams reads a generator file: one object, or a list of objects,
// each a parameter set with the file's path parameters.
func (e *evaluator) fileParams(file, prefix string) ([]map[string]any, error) {
	data, err := fs.ReadFile(e.repo, file)
	if err != nil {
		return nil, err
	}
	var objs []map[string]any
	one := map[string]any{}
	if err := yaml.Unmarshal(data, &one); err == nil {
		objs = []map[string]any{one}
	} else if err := yaml.Unmarshal(data, &objs); err != nil {
		return nil, fmt.Errorf("%s: not an object or a list of objects: %w", file, err)
	}
	var out []map[string]any
	for _, o := range objs {
		p := map[string]any{}
		if e.goTmpl {
			maps.Copy(p, o)
		} else {
			maps.Copy(p, flatten(o))
		}
		maps.Copy(p, pathParams(path.Dir(file), file, prefix, e.goTmpl))
		p[genFileKey] = file
		out = append(out, p)
	}
	return out, nil
}

// flatten makes a nested object flat with dotted keys and string values
// (lists by index: "a.0").
func flatten(m map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(join(prefix, k), e)
			}
		case []any:
			for i, e := range v {
				walk(join(prefix, strconv.Itoa(i)), e)
			}
		default:
			out[prefix] = fmt.Sprint(v)
		}
	}
	for k, v := range m {
		walk(k, v)
	}
	return out
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// matrix is the cartesian product of two generators; the second may use
// the first's parameters in its own fields.
func (e *evaluator) matrix(m *nestedGenerator) ([]map[string]any, error) {
	if len(m.Generators) != 2 {
		return nil, fmt.Errorf("a matrix generator needs exactly 2 generators, has %d", len(m.Generators))
	}
	first, err := e.params(m.Generators[0])
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, a := range first {
		second, err := e.interpolated(m.Generators[1], a)
		if err != nil {
			return nil, err
		}
		for _, b := range second {
			merged, err := e.combine(a, b)
			if err != nil {
				return nil, err
			}
			out = append(out, merged)
		}
	}
	return out, nil
}

// interpolated evaluates g with params rendered into its fields.
func (e *evaluator) interpolated(g generator, params map[string]any) ([]map[string]any, error) {
	rendered, err := renderValue(e.r, g.raw, params)
	if err != nil {
		return nil, err
	}
	data, err := yaml.Marshal(rendered)
	if err != nil {
		return nil, err
	}
	var ng generator
	if err := yaml.Unmarshal(data, &ng); err != nil {
		return nil, err
	}
	return e.params(ng)
}

// combine merges two parameter sets: goTemplate deep-merges (the first's
// values win); fasttemplate refuses one key with two values.
func (e *evaluator) combine(a, b map[string]any) (map[string]any, error) {
	if e.goTmpl {
		out := deepCopy(b)
		deepMerge(out, a)
		out[genFileKey] = joinFiles(a[genFileKey], b[genFileKey])
		return out, nil
	}
	out := maps.Clone(a)
	for k, v := range b {
		if k == genFileKey {
			out[k] = joinFiles(out[k], v)
			continue
		}
		if old, ok := out[k]; ok && fmt.Sprint(old) != fmt.Sprint(v) {
			return nil, fmt.Errorf("the matrix's generators both set %q (%v and %v)", k, old, v)
		}
		out[k] = v
	}
	return out, nil
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopy(sub)
		}
		out[k] = v
	}
	return out
}

// deepMerge merges src into dst, src winning.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepMerge(dm, sm)
				continue
			}
			v = deepCopy(sm)
		}
		dst[k] = v
	}
}

// merge takes the first generator's parameter sets and, for each later
// generator, overrides the sets whose mergeKeys values match.
func (e *evaluator) merge(m *nestedGenerator) ([]map[string]any, error) {
	if len(m.Generators) < 2 || len(m.MergeKeys) == 0 {
		return nil, fmt.Errorf("a merge generator needs at least 2 generators and mergeKeys")
	}
	base, err := e.params(m.Generators[0])
	if err != nil {
		return nil, err
	}
	// Keys are the parameters' top-level names, as Argo CD reads them
	// (a nested goTemplate parameter is not a merge key).
	key := func(p map[string]any) string {
		parts := make([]string, len(m.MergeKeys))
		for i, k := range m.MergeKeys {
			parts[i] = fmt.Sprintf("%q", fmt.Sprint(p[k]))
		}
		return strings.Join(parts, ",")
	}
	unique := func(sets []map[string]any, which int) error {
		seen := map[string]bool{}
		for _, p := range sets {
			k := key(p)
			if seen[k] {
				return fmt.Errorf("merge generator: the parameter sets of generator %d are not unique by mergeKeys %v (duplicate %s)", which, m.MergeKeys, k)
			}
			seen[k] = true
		}
		return nil
	}
	if err := unique(base, 0); err != nil {
		return nil, err
	}
	for gi, g := range m.Generators[1:] {
		others, err := e.params(g)
		if err != nil {
			return nil, err
		}
		if err := unique(others, gi+1); err != nil {
			return nil, err
		}
		byKey := map[string]map[string]any{}
		for _, o := range others {
			byKey[key(o)] = o
		}
		for i, b := range base {
			if o, ok := byKey[key(b)]; ok {
				merged := deepCopy(b)
				deepMerge(merged, o)
				base[i] = merged
			}
		}
	}
	return base, nil
}

// genFileKey carries, in a parameter set, the generator files it came from
// (newline-separated), so that a change to one selects its apps. A template
// could name it, as it could name any parameter; nothing depends on that.
const genFileKey = "aegis.generatorFiles"

func joinFiles(a, b any) string {
	var parts []string
	for _, v := range []any{a, b} {
		if s, ok := v.(string); ok && s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n")
}
