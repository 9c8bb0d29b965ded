package apps

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/gosimple/slug"
	"sigs.k8s.io/yaml"
)

// An ApplicationSet's template is rendered once per parameter set, in every
// string of the template, as Argo CD documents: with goTemplate, each
// string is a Go template (sprig's functions without env, expandenv and
// getHostByName, plus normalize, slugify, toYaml, fromYaml, fromYamlArray)
// over the parameters; without, "{{ name }}" is replaced by the flat
// parameter of that name and anything else is left as it is.

// renderer renders one string with one parameter set.
type renderer interface {
	render(s string, params map[string]any) (string, error)
}

// fastRenderer is the default (fasttemplate) rendering.
type fastRenderer struct{}

var fastTag = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

func (fastRenderer) render(s string, params map[string]any) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	return fastTag.ReplaceAllStringFunc(s, func(tag string) string {
		name := strings.TrimSpace(tag[2 : len(tag)-2])
		if v, ok := params[name]; ok {
			return fmt.Sprint(v)
		}
		return tag
	}), nil
}

// goRenderer renders with text/template and the options of
// spec.goTemplateOptions (e.g. "missingkey=error").
type goRenderer struct {
	options []string
	cache   map[string]*template.Template
}

var goFuncs = func() template.FuncMap {
	f := sprig.TxtFuncMap()
	for _, unsafe := range []string{"env", "expandenv", "getHostByName"} {
		delete(f, unsafe)
	}
	f["normalize"] = normalizeName
	f["slugify"] = slugifyArgs
	f["toYaml"] = func(v any) (string, error) {
		b, err := yaml.Marshal(v)
		return strings.TrimSuffix(string(b), "\n"), err
	}
	f["fromYaml"] = func(s string) (map[string]any, error) {
		m := map[string]any{}
		return m, yaml.Unmarshal([]byte(s), &m)
	}
	f["fromYamlArray"] = func(s string) ([]any, error) {
		var a []any
		return a, yaml.Unmarshal([]byte(s), &a)
	}
	return f
}()

func (g *goRenderer) render(s string, params map[string]any) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	t, ok := g.cache[s]
	if !ok {
		var err error
		t, err = template.New("").Funcs(goFuncs).Option(g.options...).Parse(s)
		if err != nil {
			return "", fmt.Errorf("template %q: %w", s, err)
		}
		if g.cache == nil {
			g.cache = map[string]*template.Template{}
		}
		g.cache[s] = t
	}
	var b bytes.Buffer
	if err := t.Execute(&b, params); err != nil {
		return "", fmt.Errorf("template %q: %w", s, err)
	}
	return b.String(), nil
}

// renderValue renders every string of a decoded YAML value (keys too, as
// a template's labels can be templated).
func renderValue(r renderer, v any, params map[string]any) (any, error) {
	switch v := v.(type) {
	case string:
		return r.render(v, params)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			rk, err := r.render(k, params)
			if err != nil {
				return nil, err
			}
			if out[rk], err = renderValue(r, e, params); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = renderValue(r, e, params); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

var invalidDNSChars = regexp.MustCompile(`[^-a-z0-9.]`)

// normalizeName makes a DNS-1123 subdomain of s: lower case, invalid
// characters as "-", at most 253 characters, no leading or trailing "-"
// or ".". (Argo CD's basenameNormalized and normalize.)
func normalizeName(s string) string {
	s = invalidDNSChars.ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > 253 {
		s = s[:253]
	}
	return strings.Trim(s, "-.")
}

// slugMu guards gosimple/slug's settings, which are package variables.
var slugMu sync.Mutex

// slugifyArgs is Argo CD's slugify: [maxSize [smartTruncate]] name, with
// gosimple/slug (the library Argo CD uses) after normalizing the name;
// defaults 50 and true (cut at a word boundary).
func slugifyArgs(args ...any) string {
	maxSize, smart, name := 50, true, ""
	for i, a := range args {
		switch i {
		case len(args) - 1:
			name = fmt.Sprint(a)
		case 0:
			if n, ok := a.(int); ok {
				maxSize = n
			}
		case 1:
			if b, ok := a.(bool); ok {
				smart = b
			}
		}
	}
	slugMu.Lock()
	defer slugMu.Unlock()
	slug.EnableSmartTruncate, slug.MaxLength = smart, maxSize
	return slug.Make(normalizeName(name))
}
