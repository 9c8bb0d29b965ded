package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-jsonnet"

	"github.com/kube-sentient/aegis/manifest"
)

// Jsonnet files in a plain directory are evaluated as Argo CD's directory
// source evaluates them (reposerver/repository/repository.go, findManifests
// and makeJsonnetVM, Argo CD v3.6), with the same library,
// github.com/google/go-jsonnet: top-level arguments and external variables
// (strings, or Jsonnet code), and library directories searched by imports.
// The file evaluates to one object, or to a list of them (nested lists are
// flattened); each becomes one manifest, located at the .jsonnet file's
// line 1 (Jsonnet output carries no source positions).
//
// Imports (import, importstr, importbin, also from code arguments) go
// through confinedImporter: they resolve relative to the importing file,
// then to the library directories (the last given first) and the app
// directory, as go-jsonnet's FileImporter does, but an absolute path, a
// path that leaves the side's root, a symlink resolving outside it, or
// anything but a regular file is refused, and files are read with the
// manifest size limit. Time and memory are bounded by the render child
// (render/isolate); the output by the manifest limits.

// JsonnetConfig is Argo CD's spec.source.directory.jsonnet.
type JsonnetConfig struct {
	TLAs    []JsonnetVar `json:"tlas,omitempty"`
	ExtVars []JsonnetVar `json:"extVars,omitempty"`
	// Libs are library directories, relative to the side's root (Argo CD:
	// to the repository root).
	Libs []string `json:"libs,omitempty"`
}

// JsonnetVar is a top-level argument or external variable: Value is a
// string, or Jsonnet code when Code.
type JsonnetVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Code  bool   `json:"code,omitempty"`
}

// ParseJsonnetVar parses NAME=VALUE (a CLI flag or an Action input line).
func ParseJsonnetVar(s string, code bool) (JsonnetVar, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return JsonnetVar{}, fmt.Errorf("%q is not name=value", s)
	}
	return JsonnetVar{Name: strings.TrimSpace(name), Value: value, Code: code}, nil
}

// checkJsonnetOptions validates the settings without reading anything.
func checkJsonnetOptions(c JsonnetConfig) error {
	for _, set := range []struct {
		what string
		vars []JsonnetVar
	}{{"jsonnet tla", c.TLAs}, {"jsonnet extVar", c.ExtVars}} {
		for _, v := range set.vars {
			if v.Name == "" {
				return fmt.Errorf("%s with an empty name", set.what)
			}
		}
	}
	for _, l := range c.Libs {
		if _, err := cleanLib(l); err != nil {
			return err
		}
	}
	return nil
}

// cleanLib returns a library directory as a clean slash path relative to
// the side's root, refusing one that is absolute or leaves the root.
func cleanLib(l string) (string, error) {
	s := filepath.ToSlash(l)
	if s == "" {
		return "", errors.New("jsonnet libs: an empty directory name")
	}
	if path.IsAbs(s) || filepath.IsAbs(l) {
		return "", fmt.Errorf("jsonnet libs: %q is an absolute path; libraries are directories relative to the source root", l)
	}
	s = path.Clean(s)
	if s == ".." || strings.HasPrefix(s, "../") {
		return "", fmt.Errorf("jsonnet libs: %q leaves the source root", l)
	}
	return s, nil
}

// evalJsonnet evaluates the .jsonnet file p (its content data) of the app
// directory dir and decodes its objects.
func evalJsonnet(root, dir, p string, data []byte, opts Options, dec *manifest.Decoder) ([]manifest.Object, error) {
	relFile := rel(root, p)
	fail := func(format string, args ...any) error {
		return &manifest.SourceError{Location: manifest.Location{Path: relFile, Line: 1}, Msg: fmt.Sprintf(format, args...)}
	}
	imp := &confinedImporter{root: root, max: opts.limits().MaxFileBytes, cache: map[string]jsonnet.Contents{}}
	// As Argo CD: the app directory, then the libraries.
	imp.jpaths = []string{rel(root, dir)}
	for _, l := range opts.Jsonnet.Libs {
		c, err := cleanLib(l)
		if err != nil {
			return nil, fail("%v", err)
		}
		if err := checkResolvesInside(root, filepath.Join(root, filepath.FromSlash(c))); err != nil {
			return nil, fail("jsonnet libs: %q %v", l, err)
		}
		imp.jpaths = append(imp.jpaths, c)
	}
	vm := jsonnet.MakeVM()
	vm.SetTraceOut(io.Discard)
	vm.Importer(imp)
	for _, v := range opts.Jsonnet.TLAs {
		if v.Code {
			vm.TLACode(v.Name, v.Value)
		} else {
			vm.TLAVar(v.Name, v.Value)
		}
	}
	for _, v := range opts.Jsonnet.ExtVars {
		if v.Code {
			vm.ExtCode(v.Name, v.Value)
		} else {
			vm.ExtVar(v.Name, v.Value)
		}
	}
	out, err := vm.EvaluateAnonymousSnippet(relFile, string(data))
	if err != nil {
		return nil, fail("jsonnet: %s", strings.TrimSpace(err.Error()))
	}
	max := opts.limits().MaxFileBytes
	if int64(len(out)) > max {
		return nil, fail("jsonnet output is %d bytes, above the limit of %d", len(out), max)
	}
	jd := json.NewDecoder(strings.NewReader(out))
	jd.UseNumber()
	var v any
	if err := jd.Decode(&v); err != nil {
		return nil, fail("jsonnet output is not JSON: %v", err)
	}
	var docs []map[string]any
	if err := flattenJsonnet(v, &docs, 0, opts.limits().MaxDepth); err != nil {
		return nil, fail("%v", err)
	}
	var objs []manifest.Object
	for _, d := range docs {
		b, err := json.Marshal(d)
		if err != nil {
			return nil, fail("jsonnet output: %v", err)
		}
		got, err := dec.Decode(relFile, b)
		if err != nil {
			return nil, err
		}
		objs = append(objs, got...)
	}
	return objs, nil
}

// flattenJsonnet collects the objects of a Jsonnet result: an object, or a
// list of objects and lists.
func flattenJsonnet(v any, out *[]map[string]any, depth, maxDepth int) error {
	if depth > maxDepth {
		return fmt.Errorf("jsonnet output nests lists deeper than %d", maxDepth)
	}
	switch t := v.(type) {
	case map[string]any:
		*out = append(*out, t)
		return nil
	case []any:
		for _, e := range t {
			if err := flattenJsonnet(e, out, depth+1, maxDepth); err != nil {
				return err
			}
		}
		return nil
	case nil:
		return errors.New("jsonnet output holds null where a Kubernetes object or a list of them is expected")
	}
	return fmt.Errorf("jsonnet output is a %T, not a Kubernetes object or a list of them", v)
}

// confinedImporter resolves Jsonnet imports inside the side's root. Names
// (importedFrom, foundAt) are slash paths relative to root.
type confinedImporter struct {
	root   string
	jpaths []string // relative to root, in Argo CD's order (app dir, libs...)
	max    int64
	cache  map[string]jsonnet.Contents
}

// Import implements jsonnet.Importer.
func (i *confinedImporter) Import(importedFrom, importedPath string) (jsonnet.Contents, string, error) {
	if importedPath == "" {
		return jsonnet.Contents{}, "", errors.New("import of an empty path")
	}
	if path.IsAbs(importedPath) || filepath.IsAbs(importedPath) || strings.HasPrefix(importedPath, `\`) {
		return jsonnet.Contents{}, "", fmt.Errorf("import %q: absolute paths are refused; import files inside the source root by relative path", importedPath)
	}
	// The importing file's directory first; a code argument (importedFrom
	// such as "<top-level-arg:x>") imports from the root, as from a file
	// at the root.
	from := path.Dir(filepath.ToSlash(importedFrom))
	if strings.HasPrefix(importedFrom, "<") {
		from = "."
	}
	bases := []string{from}
	for _, j := range slices.Backward(i.jpaths) {
		bases = append(bases, j)
	}
	for _, base := range bases {
		cand := path.Join(base, filepath.ToSlash(importedPath))
		if cand == ".." || strings.HasPrefix(cand, "../") || path.IsAbs(cand) {
			return jsonnet.Contents{}, "", fmt.Errorf("import %q (from %s) leaves the source root", importedPath, importedFrom)
		}
		if c, ok := i.cache[cand]; ok {
			return c, cand, nil
		}
		abs := filepath.Join(i.root, filepath.FromSlash(cand))
		if _, err := os.Lstat(abs); err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrInvalid) || isNotDir(err) {
				continue
			}
			return jsonnet.Contents{}, "", fmt.Errorf("import %q: %v", importedPath, err)
		}
		if err := checkResolvesInside(i.root, abs); err != nil {
			return jsonnet.Contents{}, "", fmt.Errorf("import %q (%s) %v", importedPath, cand, err)
		}
		if link, _, loop := symlinkLoop(i.root, abs); loop {
			return jsonnet.Contents{}, "", fmt.Errorf("import %q: symlink loop at %s", importedPath, link)
		}
		data, err := readLimited(abs, i.max)
		if err != nil {
			return jsonnet.Contents{}, "", fmt.Errorf("import %q (%s): %v", importedPath, cand, err)
		}
		c := jsonnet.MakeContentsRaw(data)
		i.cache[cand] = c
		return c, cand, nil
	}
	return jsonnet.Contents{}, "", fmt.Errorf("couldn't open import %q: no match locally or in the Jsonnet library paths", importedPath)
}

// isNotDir: a path through a regular file (ENOTDIR) does not exist.
func isNotDir(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not a directory")
}
