package action

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/scanners/trivy"
)

// TrivyCacheDirName is the directory under the runner's temporary
// directory that holds Trivy's cache (its vulnerability database), one
// subdirectory per day: what a workflow's actions/cache step keeps.
const TrivyCacheDirName = "aegis-trivy"

// useRunnerTrivyCache points trivy-image's cache directory, when the
// policy names none, at $RUNNER_TEMP/aegis-trivy/<YYYY-MM-DD> (now's UTC
// date): the runner's temporary directory, which the pull request cannot
// write, never the workspace, which holds its checkout; a new directory
// each day, so that the database is downloaded at most once a day per
// runner (more often only when Trivy itself finds it due), and a workflow
// can keep it across jobs with actions/cache keyed by the date. It does
// nothing outside Actions (no RUNNER_TEMP), when the directory is not
// there (a Docker action on a runner that does not mount it into the
// container) or when it lies inside GITHUB_WORKSPACE. It returns the
// directory it set ("" for none) and, when it set none under Actions, why.
// Whether the database is downloaded is still the policy's offline.
func useRunnerTrivyCache(cfg *config.Config, getenv func(string) string, now time.Time) (dir, why string) {
	if cfg == nil || !cfg.Enabled(trivy.ImageName) || cfg.Scanner(trivy.ImageName).CacheDir != "" {
		return "", ""
	}
	tmp := getenv("RUNNER_TEMP")
	if tmp == "" {
		return "", ""
	}
	if !filepath.IsAbs(tmp) {
		return "", fmt.Sprintf("RUNNER_TEMP %q is not an absolute path", tmp)
	}
	tmp = filepath.Clean(tmp)
	if fi, err := os.Stat(tmp); err != nil || !fi.IsDir() {
		return "", fmt.Sprintf("RUNNER_TEMP %s is not a directory here (not mounted into the action's container)", tmp)
	}
	if ws := getenv("GITHUB_WORKSPACE"); ws != "" && within(realPath(tmp), realPath(filepath.Clean(ws))) {
		return "", fmt.Sprintf("RUNNER_TEMP %s is inside the workspace %s, which the pull request controls", tmp, ws)
	}
	dir = filepath.Join(tmp, TrivyCacheDirName, now.UTC().Format(time.DateOnly))
	s := cfg.Scanners[trivy.ImageName]
	s.CacheDir = dir
	if cfg.Scanners == nil {
		cfg.Scanners = map[string]config.ScannerSettings{}
	}
	cfg.Scanners[trivy.ImageName] = s
	return dir, ""
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// realPath is p with its symbolic links resolved, else p.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
