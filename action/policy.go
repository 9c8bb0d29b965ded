package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/verify"
)

// defaultConfig is the policy file looked for when the config input is empty.
const defaultConfig = ".aegis.yaml"

// loadPolicy reads the policy (.aegis.yaml, or the config input).
//
// On a pull request actions/checkout checks out the PR's merge commit, so a
// policy read from the workspace would be the one the PR proposes: a change
// could then relax the gate or waive its own findings. When the base is a
// git revision, aegis therefore reads the policy from the BASE revision
// (git show BASE:./FILE); a PR that changes the policy is judged by the
// policy it changes, and its own version applies once it is merged. When
// the base is a directory, or the config input is an absolute path, the
// file is read from disk as the CLI does.
func loadPolicy(ctx context.Context, configInput, base string, log func(string, ...any)) (*config.Config, error) {
	path, explicit := configInput, configInput != ""
	if !explicit {
		path = defaultConfig
	}
	if filepath.IsAbs(path) || isDir(base) {
		if !explicit {
			if _, err := os.Stat(path); err != nil {
				return config.Default(), nil
			}
		}
		return config.Load(path)
	}
	if err := gitHasCommit(ctx, base); err != nil {
		return nil, err
	}
	rel := "./" + filepath.ToSlash(filepath.Clean(path))
	data, err := gitShow(ctx, base+":"+rel)
	if errors.Is(err, errNotInRevision) {
		if explicit {
			return nil, &verify.InputError{Msg: fmt.Sprintf("input config: %s does not exist in the base revision %s: aegis reads the policy from the base, so that a pull request cannot change the policy it is judged by", path, short(base))}
		}
		log("no %s in the base revision %s: the default policy applies", path, short(base))
		return config.Default(), nil
	}
	if err != nil {
		return nil, err
	}
	log("policy: %s from the base revision %s", path, short(base))
	return config.Parse(path+"@"+short(base), data)
}

var errNotInRevision = errors.New("not in the revision")

// gitHasCommit checks that rev is a commit of the repository of the working
// directory: git show would otherwise say that the policy "does not exist"
// in a revision that was never fetched.
func gitHasCommit(ctx context.Context, rev string) error {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return &verify.InputError{Msg: fmt.Sprintf("base %q is neither a directory nor a commit of the repository in %s (actions/checkout fetches only one commit by default: give it fetch-depth: 0)", rev, workdir())}
	}
	return nil
}

func workdir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "the working directory"
	}
	return wd
}

// gitShow reads a blob (REV:./PATH) of the repository of the working
// directory.
func gitShow(ctx context.Context, object string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", "show", object)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "does not exist in") || strings.Contains(msg, "exists on disk, but not in") {
			return nil, errNotInRevision
		}
		hint := ""
		if strings.Contains(msg, "invalid object name") || strings.Contains(msg, "bad revision") {
			hint = " (actions/checkout fetches only one commit by default: give it fetch-depth: 0)"
		}
		return nil, &verify.InputError{Msg: fmt.Sprintf("reading the policy with git show %s: %s%s", object, firstNonEmpty(msg, err.Error()), hint)}
	}
	if stdout.Len() > config.MaxBytes {
		return nil, &verify.InputError{Msg: fmt.Sprintf("the policy %s is larger than %d bytes", object, config.MaxBytes)}
	}
	return stdout.Bytes(), nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
