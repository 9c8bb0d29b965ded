// Package render turns a source directory into a manifest.Set: it detects the
// source type as Argo CD does (kustomize, Helm, plain YAML), renders it with
// the real libraries (kustomize's krusty, the Helm v4 SDK) and records where
// every object, and where it can every field, comes from in the source.
//
// It never touches a cluster.
package render

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/kube-sentient/aegis/manifest"
)

// Type is a source type.
type Type string

// Source types, named as Argo CD names them.
const (
	Kustomize Type = "kustomize"
	Helm      Type = "helm"
	Plain     Type = "plain"
	// Absent is a side the app is not on (verify: the change adds or
	// removes it); nothing is rendered.
	Absent Type = "absent"
)

// Options tune rendering. The zero value renders with defaults.
type Options struct {
	// AllowRemoteBases lets kustomize fetch remote bases (off by default:
	// a PR could make the runner fetch anything).
	AllowRemoteBases bool

	// Helm settings.
	ReleaseName string   // default "release"
	Namespace   string   // release namespace; default "default"
	ValuesFiles []string // relative to the chart directory, or absolute
	Set         []string // --set key=value
	// The rest of Helm's --set family, merged in Helm's order: values
	// files, --set-json, --set, --set-string, --set-file, --set-literal.
	SetJSON     []string // --set-json key=JSON, or a JSON object
	SetString   []string // --set-string key=value (always a string)
	SetFile     []string // --set-file key=path (relative to the chart, as values files; the file's content)
	SetLiteral  []string // --set-literal key=value (the value as is, no commas or escapes parsed)
	KubeVersion string   // e.g. "v1.37.2" for .Capabilities.KubeVersion
	APIVersions []string // extra .Capabilities.APIVersions

	// Deterministic replaces Helm's random, key-generating and clock
	// functions (randAlphaNum, genCA, now...) with ones seeded by the
	// release, namespace and template, so that a chart renders the same
	// every time: for comparisons (verify and diff set it on both sides).
	// Never for what is applied (argocd generate): the values are
	// predictable. See helm_deterministic.go.
	Deterministic bool

	// HelmDependencies lets the dependencies a chart's Chart.yaml lists
	// and charts/ lacks be downloaded, from allowed hosts only (off when
	// AllowHosts is empty): see helm_deps.go.
	HelmDependencies HelmDependencies

	// Plain-directory settings, named as Argo CD's
	// spec.source.directory (directory.go): Recurse reads subdirectories
	// too (off, as Argo CD's default); Include and Exclude are Argo CD
	// globs ('{a,b}' lists) matched against a file's path relative to the
	// directory; Jsonnet sets how .jsonnet files evaluate (jsonnet.go).
	Recurse bool          `json:",omitempty"`
	Include string        `json:",omitempty"`
	Exclude string        `json:",omitempty"`
	Jsonnet JsonnetConfig `json:",omitzero"`

	Limits manifest.Limits // zero means manifest.DefaultLimits
}

func (o Options) limits() manifest.Limits {
	if o.Limits == (manifest.Limits{}) {
		return manifest.DefaultLimits
	}
	return o.Limits
}

// Result is one rendered side.
type Result struct {
	Type Type
	Set  *manifest.Set
	// Dependencies are the Helm chart dependencies downloaded to render
	// it, with their archives' sha256.
	Dependencies []Dependency
}

// Render renders the source at root/path. root is the side's root (the
// directory given, or a git worktree's top); origins are relative to it so
// the same file has the same path on both sides.
func Render(ctx context.Context, root, path string, opts Options) (*Result, error) {
	dir, err := resolveDir(root, path)
	if err != nil {
		return nil, err
	}
	t, err := Detect(dir)
	if err != nil {
		return nil, err
	}
	var objs []manifest.Object
	var deps []Dependency
	switch t {
	case Kustomize:
		objs, err = renderKustomize(ctx, root, dir, opts)
	case Helm:
		objs, deps, err = renderHelmDeps(ctx, root, dir, opts)
	default:
		objs, err = renderPlain(root, dir, opts)
	}
	if err != nil {
		return nil, loopError(root, dir, err)
	}
	set, err := manifest.NewSet(objs)
	if err != nil {
		return nil, err
	}
	return &Result{Type: t, Set: set, Dependencies: deps}, nil
}

// resolveDir joins root and path and refuses paths that leave root.
func resolveDir(root, path string) (string, error) {
	if path == "" {
		path = "."
	}
	if filepath.IsAbs(path) {
		return "", &manifest.SourceError{Location: manifest.Location{Path: path}, Msg: "PATH must be relative to the repository root (or to --base/--head)"}
	}
	dir := filepath.Join(root, path)
	if !within(root, dir) {
		return "", &manifest.SourceError{Location: manifest.Location{Path: path}, Msg: "PATH leaves the source root"}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", &manifest.SourceError{Location: manifest.Location{Path: rel(root, dir)}, Msg: "no such directory in " + root}
		}
		return "", err
	}
	if !fi.IsDir() {
		return "", &manifest.SourceError{Location: manifest.Location{Path: rel(root, dir)}, Msg: "PATH is not a directory"}
	}
	return dir, nil
}

// Detect tells the source type of dir the way Argo CD's repo-server does:
// a kustomization file means kustomize, a Chart.yaml means Helm, anything
// else is a directory of plain manifests.
func Detect(dir string) (Type, error) {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if exists(filepath.Join(dir, name)) {
			return Kustomize, nil
		}
	}
	if exists(filepath.Join(dir, "Chart.yaml")) {
		return Helm, nil
	}
	return Plain, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// rel returns p relative to root with slashes, for origins and messages.
func rel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

// renderPlain, the plain-directory reader: directory.go.

// isPolicyFile is aegis's own policy (.aegis.yaml), which may sit in a
// plain directory and is no Kubernetes object.
func isPolicyFile(name string) bool {
	return name == ".aegis.yaml" || name == ".aegis.yml"
}

// checkSymlink refuses a symlink whose target leaves the source root: a PR
// must not make aegis read the runner's files.
func checkSymlink(root, p string) error {
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return &manifest.SourceError{Location: manifest.Location{Path: rel(root, p)}, Msg: "broken symlink"}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	if !within(realRoot, target) {
		return &manifest.SourceError{Location: manifest.Location{Path: rel(root, p)}, Msg: "symlink points outside the source root"}
	}
	return nil
}

// checkDirSymlinkLoop refuses a directory symlink that points at itself or
// at a directory above it: a loop for any walker that follows links.
func checkDirSymlinkLoop(root, p string) error {
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return nil
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	if within(target, parent) {
		name := rel(realRoot, target)
		if name == "." {
			name = "the source root"
		}
		return &manifest.SourceError{Location: manifest.Location{Path: rel(root, p)}, Msg: "directory symlink loop: it points at " + name + ", a directory that contains it; remove the symlink"}
	}
	return nil
}

// symlinkLoop reports the first symlink on the way from root down to p
// that leads back to a directory the way has already passed through (root
// included), or that never resolves (it points at itself, or at another link
// that points back): following it would go round for ever. link is the
// symlink relative to root; target is where it points, relative to the
// resolved root, or "" for a link that never resolves. A part of the way
// that does not exist ends the search: reading it reports that.
func symlinkLoop(root, p string) (link, target string, ok bool) {
	root, err := filepath.Abs(root)
	if err != nil {
		return "", "", false
	}
	if p, err = filepath.Abs(p); err != nil || !within(root, p) {
		return "", "", false
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", "", false
	}
	r, err := filepath.Rel(root, p)
	if err != nil {
		return "", "", false
	}
	seen := map[string]bool{realRoot: true}
	cur := root
	for _, part := range strings.Split(r, string(filepath.Separator)) {
		if part == "" || part == "." {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", "", false
		}
		real, err := filepath.EvalSymlinks(cur)
		if err != nil {
			if fi.Mode()&os.ModeSymlink != 0 && isLoopErr(err) {
				return rel(root, cur), "", true
			}
			return "", "", false
		}
		if fi.Mode()&os.ModeSymlink != 0 && seen[real] {
			// Name the link where it is, not by the way the loop
			// made to it.
			link := rel(root, cur)
			if parent, err := filepath.EvalSymlinks(filepath.Dir(cur)); err == nil {
				link = rel(realRoot, filepath.Join(parent, filepath.Base(cur)))
			}
			return link, dirName(realRoot, real), true
		}
		seen[real] = true
	}
	return "", "", false
}

// symlinkLoopMsg words what symlinkLoop found; link "" is the error's own
// location.
func symlinkLoopMsg(link, target string) string {
	if link == "" {
		link = "it"
	}
	if target == "" {
		return "symlink loop: " + link + " never resolves (it points at itself, or at a link that points back); remove the symlink"
	}
	return "symlink loop: " + link + " points at " + target + ", a directory that contains it or leads back to it; remove the symlink"
}

// dirName names a resolved directory for messages: relative to the
// resolved root, or "the source root".
func dirName(realRoot, real string) string {
	if n := rel(realRoot, real); n != "." {
		return n
	}
	return "the source root"
}

// isLoopErr reports an error of following symlinks that go round: the
// system's ELOOP, or filepath.EvalSymlinks's own count.
func isLoopErr(err error) bool {
	return errors.Is(err, syscall.ELOOP) || strings.Contains(err.Error(), "too many links")
}

// loopError is the last guard against symlink loops a renderer did not
// catch itself: the system's "too many levels of symbolic links", with
// the looping path spelt out forty times, becomes bad input naming the
// symlink once.
func loopError(root, dir string, err error) error {
	var se *manifest.SourceError
	if err == nil || errors.As(err, &se) || !isLoopErr(err) {
		return err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		abs := pe.Path
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(dir, abs)
		}
		if link, target, ok := symlinkLoop(root, abs); ok {
			return &manifest.SourceError{Location: manifest.Location{Path: link}, Msg: symlinkLoopMsg("", target)}
		}
	}
	return &manifest.SourceError{Location: manifest.Location{Path: rel(root, dir)}, Msg: "a symlink loop: a path of the source goes round through symlinks; remove the symlink that points back at a directory containing it"}
}

// checkResolvesInside refuses p when, its symlinks resolved (the file's
// own and any directory's on the way), it lies outside root. A path that
// does not exist passes: reading it reports that.
func checkResolvesInside(root, p string) error {
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	if !within(realRoot, target) {
		return errors.New("resolves (through a symlink) outside the source root; use files inside the source")
	}
	return nil
}

// within reports whether p is root or below it (lexically: resolve
// symlinks first where they matter).
func within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}

// readLimited reads a regular file, refusing it when larger than max
// bytes, and anything else (a FIFO, a device such as /dev/zero behind a
// symlink, a directory) without reading it: see manifest.ReadFile.
func readLimited(p string, max int64) ([]byte, error) {
	return manifest.ReadFile(p, max)
}
