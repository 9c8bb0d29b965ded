package verify

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/manifest"
)

// Source is one side of a verification: a git revision of the repository
// that holds PATH, or a directory. Exactly one is set. The two never share
// a flag: a pull request's checkout is hostile, and a directory it adds
// named like a revision (HEAD/, origin/main/, a sha) must not stand in for
// that revision, so a revision is never looked up on disk.
type Source struct {
	Revision string
	Dir      string
}

// Describe is what the user passed, for messages and the report.
func (s Source) Describe() string {
	if s.Dir != "" {
		return s.Dir
	}
	return s.Revision
}

// IsDir reports whether the side is a directory.
func (s Source) IsDir() bool { return s.Dir != "" }

// side is one side's source on disk: root is what origins are relative to,
// path the directory to render below it.
type side struct {
	name    string
	spec    string // what the user passed: a directory or a git revision
	root    string
	path    string
	isDir   bool
	cleanup func()
}

// CheckSource refuses a side that is missing, names both a revision and a
// directory, or holds a revision git could read as something else (see
// CheckRevision). name is "base" or "head"; flags name the flags (or
// inputs) for the message, e.g. "--base" and "--base-dir".
func CheckSource(name string, s Source, revFlag, dirFlag string) error {
	switch {
	case s.Revision != "" && s.Dir != "":
		return &InputError{Msg: fmt.Sprintf("%s and %s both set: give the %s as a git revision (%s) or as a directory (%s), not both", revFlag, dirFlag, name, revFlag, dirFlag)}
	case s.Revision == "" && s.Dir == "":
		return &InputError{Msg: fmt.Sprintf("the %s is required: %s REVISION (a sha, branch or tag) or %s DIRECTORY", name, revFlag, dirFlag)}
	case s.Dir != "":
		if strings.TrimSpace(s.Dir) == "" {
			return &InputError{Msg: fmt.Sprintf("%s is blank: give a directory", dirFlag)}
		}
		return nil
	}
	return CheckRevision(revFlag, s.Revision)
}

// CheckRevision refuses a revision that would reach git as something other
// than a revision: blank, starting with '-' (git would read an option:
// --output=FILE, --upload-pack=CMD), or holding control characters. from
// names where the value came from, for the message.
func CheckRevision(from, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return &InputError{Msg: fmt.Sprintf("%s is blank: give a git revision (a sha, branch or tag)", from)}
	case strings.HasPrefix(strings.TrimSpace(v), "-"):
		return &InputError{Msg: fmt.Sprintf("%s %q starts with '-': aegis never passes git a revision that it could read as an option; give a sha, branch or tag", from, v)}
	case !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0:
		return &InputError{Msg: fmt.Sprintf("%s %q holds control characters or invalid UTF-8: not a git revision", from, v)}
	}
	return nil
}

// resolveSide turns a Source into a directory on disk. A directory is used
// as it is (PATH is relative to it); a revision of the repository that
// holds PATH is materialised with `git archive` into a temporary directory
// that the caller removes. git archive writes nothing into the user's
// repository, so a killed run leaves no worktree behind in it.
func resolveSide(ctx context.Context, name string, src Source, path string, maxBytes int64) (*side, error) {
	if err := CheckSource(name, src, "--"+name, "--"+name+"-dir"); err != nil {
		return nil, err
	}
	if src.Dir != "" {
		fi, err := os.Stat(src.Dir)
		switch {
		case err != nil:
			return nil, &InputError{Msg: fmt.Sprintf("--%s-dir %s: %v", name, src.Dir, unwrapPathError(err))}
		case !fi.IsDir():
			return nil, &InputError{Msg: fmt.Sprintf("--%s-dir %s is a file; give a directory", name, src.Dir)}
		}
		return &side{name: name, spec: src.Dir, root: src.Dir, path: path, isDir: true, cleanup: func() {}}, nil
	}
	return materialise(ctx, name, src.Revision, path, maxBytes)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func materialise(ctx context.Context, name, rev, path string, maxBytes int64) (*side, error) {
	pathAbs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	top, err := repoTop(ctx, path)
	if err != nil {
		return nil, &InputError{Msg: fmt.Sprintf("--%s %q is a git revision, but %v (for a directory, use --%s-dir)", name, rev, err, name)}
	}
	commit, err := resolveCommit(ctx, top, rev)
	if err != nil {
		return nil, &InputError{Msg: fmt.Sprintf("--%s: %v", name, err)}
	}
	realTop, err := filepath.EvalSymlinks(top)
	if err != nil {
		return nil, err
	}
	realPath, err := evalExisting(pathAbs)
	if err != nil {
		return nil, err
	}
	relPath, err := filepath.Rel(realTop, realPath)
	if err != nil || strings.HasPrefix(relPath, "..") {
		return nil, &InputError{Msg: fmt.Sprintf("PATH %s is outside the repository %s", path, top)}
	}
	dir, err := os.MkdirTemp("", "aegis-"+name+"-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := archive(ctx, top, commit, dir, maxBytes); err != nil {
		cleanup()
		return nil, err
	}
	return &side{name: name, spec: rev, root: dir, path: relPath, cleanup: cleanup}, nil
}

// resolveCommit resolves rev to a commit of the repository at top. A
// revision git finds ambiguous (a branch and a tag of one name) is refused:
// which one it picks is not what the user should have to guess.
func resolveCommit(ctx context.Context, top, rev string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", top, "rev-parse", "--verify", "--end-of-options", rev+"^{commit}")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		hint := "try `git fetch`, or a full sha; in GitHub Actions, give actions/checkout fetch-depth: 0"
		if fi, serr := os.Stat(rev); serr == nil && fi.IsDir() {
			hint = fmt.Sprintf("%s is a directory: revisions and directories have separate flags, give a directory with the -dir flag", rev)
		}
		return "", fmt.Errorf("%q is not a revision of the repository at %s (%s)", rev, top, hint)
	}
	if msg := stderr.String(); strings.Contains(msg, "ambiguous") {
		return "", fmt.Errorf("%q is ambiguous in the repository at %s (%s): give a full sha, or refs/heads/NAME or refs/tags/NAME", rev, top, strings.TrimSpace(msg))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// evalExisting resolves symlinks of the longest existing prefix of p (the
// PATH may not exist in the working tree, only in a revision).
func evalExisting(p string) (string, error) {
	var tail []string
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(append([]string{r}, tail...)...), nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", fmt.Errorf("cannot resolve %s", p)
		}
		tail = append([]string{filepath.Base(p)}, tail...)
		p = parent
	}
}

// archive extracts commit's tree into dir, refusing entries that would land
// outside it and stopping at maxBytes in total.
func archive(ctx context.Context, repo, commit, dir string, maxBytes int64, paths ...string) error {
	args := []string{"-C", repo, "archive", "--format=tar", commit}
	if len(paths) > 0 {
		args = append(append(args, "--"), paths...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git archive: %w", err)
	}
	extractErr := untar(out, dir, maxBytes)
	if extractErr != nil {
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	if extractErr != nil {
		return extractErr
	}
	if waitErr != nil {
		return fmt.Errorf("git archive %s: %v: %s", commit, waitErr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func untar(r io.Reader, dir string, maxBytes int64) error {
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading git archive: %w", err)
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("git archive entry %q leaves the tree", h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			total += h.Size
			if total > maxBytes {
				return &InputError{Msg: fmt.Sprintf("the revision's tree is larger than %d bytes", maxBytes)}
			}
			if err := writeFile(target, tr, h.Size); err != nil {
				return err
			}
		case tar.TypeSymlink:
			// Kept as a link; render refuses links that leave the root.
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
}

func writeFile(target string, r io.Reader, size int64) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// openable rewrites a source error's path so that the user can open it: a
// directory side's paths are relative to that directory, a revision's are
// repository paths already.
func (s *side) openable(err error) error {
	var se *manifest.SourceError
	if s.isDir && errors.As(err, &se) && se.Path != "" && !filepath.IsAbs(se.Path) {
		se.Path = filepath.ToSlash(filepath.Join(s.root, se.Path))
	}
	return err
}

// Checkout gives the repository's tree at src, for a caller that reads the
// whole repository (`aegis apps`): a directory as it is, or a revision of
// the repository at the working directory extracted with `git archive`
// into a temporary directory that cleanup removes. name ("base", "head")
// names the flags in messages.
func Checkout(ctx context.Context, name string, src Source, maxBytes int64) (root string, cleanup func(), err error) {
	s, err := resolveSide(ctx, name, src, ".", maxBytes)
	if err != nil {
		return "", nil, err
	}
	return s.root, s.cleanup, nil
}
