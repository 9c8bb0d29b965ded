package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/manifest"
)

// A plain directory is read as Argo CD's directory source reads it
// (reposerver/repository/repository.go, findManifests and
// getPotentiallyValidManifestFile, Argo CD v3.6):
//
//   - only the directory's own files unless Recurse (Argo CD's
//     spec.source.directory.recurse, false by default);
//   - files named *.yaml, *.yml, *.json (decoded) and *.jsonnet
//     (evaluated: jsonnet.go);
//   - Exclude and Include (spec.source.directory.exclude and include) are
//     each one glob (argoGlob), matched against the file's path relative
//     to the directory, with no separator: '*' also matches '/', and
//     '{a,b}' lists alternatives. A file Exclude matches is skipped; with
//     Include set, a file it does not match is skipped;
//   - a file holding the marker +argocd:skip-file-rendering is skipped.
//
// aegis adds its own refusals, as before: symlinks out of the source root
// and directory symlink loops, anywhere under the directory (recurse or
// not); and skips dot-directories and its own policy file.

// skipRenderingMarker: Argo CD skips a file that contains it.
const skipRenderingMarker = "+argocd:skip-file-rendering"

// GlobError is an invalid include or exclude pattern: bad input.
type GlobError struct {
	Setting string // "include" or "exclude"
	Pattern string
	Err     error
}

func (e *GlobError) Error() string {
	return fmt.Sprintf("%s %q is not a valid glob (Argo CD's syntax: *, ?, [abc], [a-z], [!a], {a,b}, \\ escapes): %v", e.Setting, e.Pattern, e.Err)
}

// CompileGlob compiles an include or exclude pattern as Argo CD's
// util/glob.Match does (argoGlob). setting names it in the error.
func CompileGlob(setting, pattern string) (*regexp.Regexp, error) {
	re, err := argoGlob(pattern)
	if err != nil {
		return nil, &GlobError{Setting: setting, Pattern: pattern, Err: err}
	}
	return re, nil
}

// argoGlob compiles an Argo CD include/exclude glob (Argo CD v3.6's
// util/glob.Match: gobwas/glob v1.0.0, compiled with no separators) into
// an equivalent anchored regular expression (RE2: linear time, whatever
// the pattern). The syntax, as gobwas/glob v1.0.0's lexer and parser read
// it: '*' and '**' match any string ('/' included: there is no
// separator); '?' one character; '[abc]', '[a-z]', '[!abc]', '[!a-z]' one
// character in (or, with '!', not in) the class; '{a,b}' one of the
// alternatives (nestable); '\' makes the next character literal; ',' and
// '}' outside braces are literal. Errors are v1.0.0's: an unclosed '{' or
// '[', an empty class, a range whose high end is below its low end, a
// class mixing a range and characters, a trailing backslash, invalid
// UTF-8. (aegis does not link gobwas/glob v1.0.0: the Helm SDK is built
// with v0.2.3, for .Files.Glob, whose matching differs in rare patterns,
// e.g. "a*ant" matches "ant" there. This translation was checked against
// v1.0.0 itself on 300,000 random patterns and 4 million strings: same
// errors, same matches.)
func argoGlob(pattern string) (*regexp.Regexp, error) {
	if !utf8.ValidString(pattern) {
		return nil, errors.New("invalid UTF-8 sequence")
	}
	rs := []rune(pattern)
	var b strings.Builder
	depth := 0
	lit := func(r rune) { b.WriteString(regexp.QuoteMeta(string(r))) }
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '{':
			depth++
			b.WriteString("(?:")
		case r == ',' && depth > 0:
			b.WriteString("|")
		case r == '}' && depth > 0:
			depth--
			b.WriteString(")")
		case r == '?':
			b.WriteString(".")
		case r == '*':
			if i+1 < len(rs) && rs[i+1] == '*' {
				i++
			}
			b.WriteString(".*")
		case r == '\\':
			if i+1 == len(rs) {
				return nil, errors.New("trailing backslash")
			}
			i++
			lit(rs[i])
		case r == '[':
			class, next, err := argoGlobClass(rs, i+1)
			if err != nil {
				return nil, err
			}
			b.WriteString(class)
			i = next
		default:
			lit(r)
		}
	}
	if depth > 0 {
		return nil, errors.New("unclosed `{`")
	}
	return regexp.Compile(`^(?s:` + b.String() + `)$`)
}

// argoGlobClass reads a class from rs[i:], just after its '['; it returns
// the regular expression class and the index of the closing ']'.
func argoGlobClass(rs []rune, i int) (string, int, error) {
	end := errors.New("unexpected end of input")
	neg := ""
	if i < len(rs) && rs[i] == '!' {
		neg = "^"
		i++
	}
	if i == len(rs) {
		return "", 0, end
	}
	if i+1 < len(rs) && rs[i+1] == '-' {
		lo := rs[i]
		if i+2 == len(rs) {
			return "", 0, end
		}
		hi := rs[i+2]
		if i+3 == len(rs) {
			return "", 0, end
		}
		if rs[i+3] != ']' {
			return "", 0, errors.New("expected close range character")
		}
		if hi < lo {
			return "", 0, errors.New("range hi character is less than lo")
		}
		return fmt.Sprintf(`[%s\x{%x}-\x{%x}]`, neg, lo, hi), i + 3, nil
	}
	var set []rune
	for ; ; i++ {
		if i == len(rs) {
			return "", 0, end
		}
		r := rs[i]
		if r == ']' {
			break
		}
		if r == '\\' {
			i++
			if i == len(rs) {
				return "", 0, errors.New("trailing backslash")
			}
			r = rs[i]
		}
		set = append(set, r)
	}
	if len(set) == 0 {
		return "", 0, errors.New("could not parse range")
	}
	var b strings.Builder
	b.WriteString("[" + neg)
	for _, r := range set {
		fmt.Fprintf(&b, `\x{%x}`, r)
	}
	b.WriteString("]")
	return b.String(), i, nil
}

// CheckDirectory validates the directory settings of opts (the globs and
// the jsonnet settings) without reading anything: callers report the error
// as bad input before rendering.
func CheckDirectory(opts Options) error {
	if opts.Include != "" {
		if _, err := CompileGlob("include", opts.Include); err != nil {
			return err
		}
	}
	if opts.Exclude != "" {
		if _, err := CompileGlob("exclude", opts.Exclude); err != nil {
			return err
		}
	}
	return checkJsonnetOptions(opts.Jsonnet)
}

// dirFilter decides which files of the directory are read.
type dirFilter struct {
	include, exclude *regexp.Regexp
}

func newDirFilter(root, dir string, opts Options) (*dirFilter, error) {
	f := &dirFilter{}
	var err error
	if opts.Include != "" {
		if f.include, err = CompileGlob("include", opts.Include); err != nil {
			return nil, &manifest.SourceError{Location: manifest.Location{Path: rel(root, dir)}, Msg: err.Error()}
		}
	}
	if opts.Exclude != "" {
		if f.exclude, err = CompileGlob("exclude", opts.Exclude); err != nil {
			return nil, &manifest.SourceError{Location: manifest.Location{Path: rel(root, dir)}, Msg: err.Error()}
		}
	}
	return f, nil
}

// match reports whether the file at relPath (relative to the app
// directory, as filepath.Rel gives it) passes exclude and include.
func (f *dirFilter) match(relPath string) bool {
	if f.exclude != nil && f.exclude.MatchString(relPath) {
		return false
	}
	if f.include != nil && !f.include.MatchString(relPath) {
		return false
	}
	return true
}

// renderPlain reads dir as Argo CD's directory source (above).
func renderPlain(root, dir string, opts Options) ([]manifest.Object, error) {
	filter, err := newDirFilter(root, dir, opts)
	if err != nil {
		return nil, err
	}
	if err := checkJsonnetOptions(opts.Jsonnet); err != nil {
		return nil, &manifest.SourceError{Location: manifest.Location{Path: rel(root, dir)}, Msg: err.Error()}
	}
	dec := manifest.NewDecoder(opts.limits())
	var objs []manifest.Object
	var jsonnetFiles int
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == dir {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			// Walked even without recurse, for the symlink checks
			// below (Argo CD checks the whole repository for links out
			// of it); only the files of the directory itself are read.
			return nil
		}
		read := opts.Recurse || filepath.Dir(p) == dir
		if d.Type()&os.ModeSymlink != 0 {
			if strings.HasPrefix(d.Name(), ".") {
				return nil // as dot-directories: not part of the manifests
			}
			if _, err := os.Stat(p); err != nil && (!isDirectoryFile(d.Name()) || !read) {
				return nil // a broken link to something else than a manifest read
			}
			// Any link out of the root is refused (Argo CD refuses a
			// repository with out-of-bounds symlinks), manifest or not.
			if err := checkSymlink(root, p); err != nil {
				return err
			}
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				// Not followed (nor does Argo CD's directory source): a
				// loop is refused, as it can only be a trap.
				if err := checkDirSymlinkLoop(root, p); err != nil {
					return err
				}
				return nil
			}
		}
		if !read || !isDirectoryFile(d.Name()) || isPolicyFile(d.Name()) {
			return nil
		}
		relPath, err := filepath.Rel(dir, p)
		if err != nil || !filter.match(relPath) {
			return err
		}
		data, err := readLimited(p, opts.limits().MaxFileBytes)
		if err != nil {
			return &manifest.SourceError{Location: manifest.Location{Path: rel(root, p)}, Msg: err.Error()}
		}
		if bytes.Contains(data, []byte(skipRenderingMarker)) {
			return nil
		}
		var got []manifest.Object
		if isJsonnetFile(d.Name()) {
			jsonnetFiles++
			got, err = evalJsonnet(root, dir, p, data, opts, dec)
		} else {
			got, err = dec.Decode(rel(root, p), data)
		}
		if err != nil {
			return err
		}
		objs = append(objs, got...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		msg := "no Kubernetes objects found (no kustomization, no Chart.yaml, no YAML, JSON or Jsonnet manifests"
		if !opts.Recurse {
			msg += " at the top of the directory; subdirectories are read only with recurse, as Argo CD's directory source"
		}
		if opts.Include != "" || opts.Exclude != "" {
			msg += "; include/exclude may have left none"
		}
		if jsonnetFiles > 0 {
			msg += fmt.Sprintf("; %d Jsonnet file(s) evaluated to no objects", jsonnetFiles)
		}
		return nil, &manifest.SourceError{Location: manifest.Location{Path: rel(root, dir)}, Msg: msg + ")"}
	}
	return objs, nil
}

// isDirectoryFile: the files Argo CD's directory source reads, its
// manifestFile pattern ^.*\.(yaml|yml|json|jsonnet)$ (case-sensitive: a
// .YAML file is not read, by Argo CD nor by aegis).
func isDirectoryFile(name string) bool {
	for _, ext := range []string{".yaml", ".yml", ".json", ".jsonnet"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func isJsonnetFile(name string) bool {
	return strings.HasSuffix(name, ".jsonnet")
}
