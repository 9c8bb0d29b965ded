package action

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kube-sentient/aegis/report"
)

// writeKubeconfig writes the kubeconfig input's contents to a new file only
// its owner can read (0600), in the container's own temporary directory
// rather than the runner's shared one. The caller removes it.
func writeKubeconfig(contents string) (path string, remove func(), err error) {
	f, err := os.CreateTemp("", "aegis-kubeconfig-*")
	if err != nil {
		return "", nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	remove = func() { os.Remove(f.Name()) }
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		remove()
		return "", nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if _, err := f.WriteString(contents); err != nil {
		f.Close()
		remove()
		return "", nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if err := f.Close(); err != nil {
		remove()
		return "", nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return f.Name(), remove, nil
}

// relocate makes finding locations repository-relative when a side is a
// directory inside the workspace: verify reports paths relative to the
// side's directory, while annotations and code scanning need the path from
// the repository root (a git revision's paths already are). Head findings
// (new, unchanged) are under head, fixed ones under base. It reports
// whether it changed anything.
func relocate(r *report.Report, workspace, base, head string) bool {
	basePrefix, headPrefix := dirPrefix(workspace, base), dirPrefix(workspace, head)
	if basePrefix == "" && headPrefix == "" {
		return false
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		prefix := headPrefix
		if f.BaselineState == report.Absent {
			prefix = basePrefix
		}
		f.Location.Path = join(prefix, f.Location.Path)
	}
	if r.Shadow != nil {
		for side, prefix := range map[*report.ShadowSide]string{r.Shadow.Base: basePrefix, r.Shadow.Head: headPrefix} {
			if side == nil {
				continue
			}
			for i := range side.Objects {
				side.Objects[i].Location.Path = join(prefix, side.Objects[i].Location.Path)
			}
		}
	}
	return true
}

// dirPrefix is side's directory relative to the workspace, slash-separated,
// or "" when side is not a directory inside it.
func dirPrefix(workspace, side string) string {
	if workspace == "" || !isDir(side) {
		return ""
	}
	ws, err1 := filepath.Abs(workspace)
	abs, err2 := filepath.Abs(side)
	if err1 != nil || err2 != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(ws); err == nil {
		ws = r
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	rel, err := filepath.Rel(ws, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}

func join(prefix, p string) string {
	if prefix == "" || p == "" || filepath.IsAbs(p) {
		return p
	}
	return prefix + "/" + strings.TrimPrefix(filepath.ToSlash(p), "./")
}
