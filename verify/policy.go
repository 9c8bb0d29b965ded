package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
)

// DefaultPolicy is the policy file looked for when none is named.
const DefaultPolicy = ".aegis.yaml"

// PolicySource says where the policy of a verification comes from.
//
// The change under review must not choose the policy it is judged by, nor
// the rules that policy names: a pull request's checkout is hostile. So,
// unless the user names a file on disk, the policy is the BASE side's: read
// from the base revision (git show, never the working tree), or from the
// base directory. A pull request that changes the policy is judged by the
// policy it changes; its own version applies once it is merged.
type PolicySource struct {
	// File is the policy file: "" means DefaultPolicy, which may be absent
	// (the built-in default applies); a named file must exist.
	File string
	// OnDisk reads File from disk as given (the CLI's -c, an absolute
	// config input): the user named it, so it is trusted as it is.
	OnDisk bool
	// Base is the base side. A revision's File is relative to the top of
	// the repository that holds Path; a directory's File is relative to
	// the directory.
	Base Source
	// Path is the source PATH of the verification, which locates the
	// repository of a base revision.
	Path string
	// From names the flag or input that named File, and BaseFrom the one
	// that named the base revision, for messages.
	From, BaseFrom string
}

// Policy is a loaded policy and what it took from disk: the local rule
// files it names, extracted from the base revision into a temporary
// directory that Close removes.
type Policy struct {
	Config *config.Config
	tmp    string
}

// Close removes what loading the policy extracted.
func (p *Policy) Close() {
	if p != nil && p.tmp != "" {
		os.RemoveAll(p.tmp)
	}
}

// LoadPolicy reads the policy of a verification from where PolicySource
// says, and makes the local files it names (Semgrep rules) resolve on the
// same side: a revision's rule files are read from that revision.
func LoadPolicy(ctx context.Context, ps PolicySource, log func(string, ...any)) (*Policy, error) {
	if log == nil {
		log = func(string, ...any) {}
	}
	file, explicit := ps.File, ps.File != ""
	if !explicit {
		file = DefaultPolicy
	}
	from := ps.From
	if from == "" {
		from = "the policy"
	}
	switch {
	case ps.OnDisk || filepath.IsAbs(file):
		cfg, err := loadConfigFile(file)
		if err != nil {
			return nil, err
		}
		log("policy: %s", file)
		return &Policy{Config: cfg}, nil
	case ps.Base.IsDir():
		p := filepath.Join(ps.Base.Dir, file)
		if _, err := os.Stat(p); err != nil && !explicit && errors.Is(err, os.ErrNotExist) {
			log("no %s in the base directory %s: the default policy applies", file, ps.Base.Dir)
			return &Policy{Config: config.Default()}, nil
		}
		cfg, err := loadConfigFile(p)
		if err != nil {
			return nil, err
		}
		log("policy: %s from the base directory", p)
		return &Policy{Config: cfg}, nil
	case ps.Base.Revision == "":
		return &Policy{Config: config.Default()}, nil
	}
	return loadRevisionPolicy(ctx, ps, file, explicit, from, log)
}

// loadConfigFile reads a policy file from disk: a regular file of at most
// config.MaxBytes (a FIFO must not block the run, a symlink to /dev/zero
// must not fill the memory), checked on the opened file and read with a
// bound (manifest.ReadFile), then parsed as config.Load would.
func loadConfigFile(file string) (*config.Config, error) {
	data, err := manifest.ReadFile(file, config.MaxBytes)
	var tooLarge *manifest.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &config.Error{Path: file, Msg: fmt.Sprintf("config is larger than %d bytes", config.MaxBytes)}
	case err != nil:
		return nil, &config.Error{Path: file, Msg: fmt.Sprintf("cannot read config: %v", err)}
	}
	return config.Parse(file, data)
}

func loadRevisionPolicy(ctx context.Context, ps PolicySource, file string, explicit bool, from string, log func(string, ...any)) (*Policy, error) {
	rev, baseFrom := ps.Base.Revision, ps.BaseFrom
	if baseFrom == "" {
		baseFrom = "the base"
	}
	if err := CheckRevision(baseFrom, rev); err != nil {
		return nil, err
	}
	top, err := repoTop(ctx, ps.Path)
	if err != nil {
		return nil, &InputError{Msg: fmt.Sprintf("%s %q is a git revision, but %v: aegis reads the policy from the base revision", baseFrom, rev, err)}
	}
	commit, err := resolveCommit(ctx, top, rev)
	if err != nil {
		return nil, &InputError{Msg: fmt.Sprintf("%s: %v", baseFrom, err)}
	}
	rel := path.Clean(filepath.ToSlash(file))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, &InputError{Msg: fmt.Sprintf("%s %s leaves the repository: it is a path from the repository's top", from, file)}
	}
	data, err := showBlob(ctx, top, commit, rel)
	if errors.Is(err, errNotInRevision) {
		if explicit {
			return nil, &InputError{Msg: fmt.Sprintf("%s %s does not exist in the base revision %s: aegis reads the policy from the base, so that a change cannot choose the policy it is judged by", from, file, short(rev))}
		}
		log("no %s in the base revision %s: the default policy applies", file, short(rev))
		return &Policy{Config: config.Default()}, nil
	}
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(file+"@"+short(rev), data)
	if err != nil {
		return nil, err
	}
	log("policy: %s from the base revision %s", file, short(rev))
	p := &Policy{Config: cfg}
	if err := p.extractRules(ctx, top, commit, path.Dir(rel), rev); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// extractRules makes the policy's local Semgrep rule paths point into a
// copy of the base revision, so that the change under review cannot empty
// or rewrite the rules that judge it. Paths are relative to the policy
// file's directory in the revision and may not leave the repository.
func (p *Policy) extractRules(ctx context.Context, top, commit, policyDir, rev string) error {
	sc, ok := p.Config.Scanners["semgrep"]
	if !ok || len(sc.Rules) == 0 {
		return nil
	}
	rules := make([]string, len(sc.Rules))
	for i, r := range sc.Rules {
		rules[i] = r
		if !IsLocalRulePath(r) || filepath.IsAbs(r) {
			continue
		}
		rel := path.Clean(path.Join(policyDir, filepath.ToSlash(r)))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return &config.Error{Path: p.Config.Path, Msg: fmt.Sprintf("scanners.semgrep.rules: %s leaves the repository", r)}
		}
		if p.tmp == "" {
			dir, err := os.MkdirTemp("", "aegis-policy-")
			if err != nil {
				return err
			}
			p.tmp = dir
		}
		if err := archivePaths(ctx, top, commit, p.tmp, rel); err != nil {
			if errors.Is(err, errNotInRevision) {
				return &config.Error{Path: p.Config.Path, Msg: fmt.Sprintf("scanners.semgrep.rules: %s does not exist in the base revision %s (rule files are read from the revision the policy comes from)", r, short(rev))}
			}
			return err
		}
		rules[i] = filepath.Join(p.tmp, filepath.FromSlash(rel))
	}
	sc.Rules = rules
	p.Config.Scanners["semgrep"] = sc
	return nil
}

// IsLocalRulePath tells a Semgrep rules path from a registry reference or
// URL (p/..., r/..., s/..., http(s)://, auto).
func IsLocalRulePath(p string) bool {
	for _, prefix := range []string{"p/", "r/", "s/", "http://", "https://"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return p != "auto"
}

var errNotInRevision = errors.New("not in the revision")

// repoTop is the top of the git repository that holds p (or its longest
// existing prefix: PATH may exist only in a revision).
func repoTop(ctx context.Context, p string) (string, error) {
	if p == "" {
		p = "."
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	dir := abs
	for dir != "/" {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("%s is not inside a git repository", p)
	}
	return strings.TrimSpace(top), nil
}

// showBlob reads one file of commit (git cat-file, bounded).
func showBlob(ctx context.Context, top, commit, rel string) ([]byte, error) {
	object := commit + ":" + rel
	if _, err := git(ctx, top, "cat-file", "-e", object); err != nil {
		return nil, errNotInRevision
	}
	kind, err := git(ctx, top, "cat-file", "-t", object)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(kind) != "blob" {
		return nil, &InputError{Msg: fmt.Sprintf("the policy %s in revision %s is a %s, not a file", rel, short(commit), strings.TrimSpace(kind))}
	}
	size, err := git(ctx, top, "cat-file", "-s", object)
	if err != nil {
		return nil, err
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64); err != nil || n > config.MaxBytes {
		return nil, &InputError{Msg: fmt.Sprintf("the policy %s in revision %s is larger than %d bytes", rel, short(commit), config.MaxBytes)}
	}
	cmd := exec.CommandContext(ctx, "git", "-C", top, "cat-file", "blob", object)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git cat-file %s: %v: %s", object, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// archivePaths extracts the given repository paths of commit into dir.
func archivePaths(ctx context.Context, top, commit, dir string, paths ...string) error {
	for _, p := range paths {
		if _, err := git(ctx, top, "cat-file", "-e", commit+":"+p); err != nil {
			return errNotInRevision
		}
	}
	return archive(ctx, top, commit, dir, config.MaxBytes*16, paths...)
}

// short is a revision as people read it: a sha's first 12 characters.
func short(rev string) string {
	if len(rev) == 40 && strings.Trim(rev, "0123456789abcdef") == "" {
		return rev[:12]
	}
	return rev
}
