package verify

import (
	"path/filepath"
	"strings"

	"github.com/kube-sentient/aegis/report"
)

// relocate makes finding locations relative to root (the repository's
// top: GITHUB_WORKSPACE in the Action) when a side is a directory inside
// it: a directory side's paths are relative to that directory, while
// annotations and code scanning need the path from the repository root (a
// git revision's paths already are). Head findings (new, unchanged) are
// under head, fixed ones under base. It runs before the gate, whose reasons
// name locations, so that the verdict is decided once.
func relocate(r *report.Report, root string, base, head Source) {
	basePrefix, headPrefix := dirPrefix(root, base.Dir), dirPrefix(root, head.Dir)
	if basePrefix == "" && headPrefix == "" {
		return
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
}

// dirPrefix is side's directory relative to the workspace, slash-separated,
// or "" when side is not a directory inside it.
func dirPrefix(workspace, side string) string {
	if workspace == "" || side == "" {
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
