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

	"github.com/kube-sentient/aegis/manifest"
)

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

// resolveSide turns --base/--head into a directory on disk. A directory is
// used as it is (PATH is relative to it); anything else must be a git
// revision of the repository that holds PATH, materialised with
// `git archive` into a temporary directory that the caller removes.
// git archive writes nothing into the user's repository, so a killed run
// leaves no worktree behind in it.
func resolveSide(ctx context.Context, name, spec, path string, maxBytes int64) (*side, error) {
	if spec == "" {
		return nil, &InputError{Msg: fmt.Sprintf("--%s is required: a directory or a git revision", name)}
	}
	if fi, err := os.Stat(spec); err == nil {
		if !fi.IsDir() {
			return nil, &InputError{Msg: fmt.Sprintf("--%s %s is a file; give a directory or a git revision", name, spec)}
		}
		return &side{name: name, spec: spec, root: spec, path: path, isDir: true, cleanup: func() {}}, nil
	}
	return materialise(ctx, name, spec, path, maxBytes)
}

func materialise(ctx context.Context, name, rev, path string, maxBytes int64) (*side, error) {
	pathAbs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	repoDir := pathAbs
	for repoDir != "/" {
		if _, err := os.Stat(repoDir); err == nil {
			break
		}
		repoDir = filepath.Dir(repoDir)
	}
	top, err := git(ctx, repoDir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, &InputError{Msg: fmt.Sprintf("--%s %q is neither a directory nor a git revision: %s is not inside a git repository", name, rev, path)}
	}
	top = strings.TrimSpace(top)
	commit, err := git(ctx, top, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return nil, &InputError{Msg: fmt.Sprintf("--%s %q is neither a directory nor a revision of the repository at %s (try `git fetch` or a full sha)", name, rev, top)}
	}
	commit = strings.TrimSpace(commit)
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
func archive(ctx context.Context, repo, commit, dir string, maxBytes int64) error {
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "archive", "--format=tar", commit)
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
