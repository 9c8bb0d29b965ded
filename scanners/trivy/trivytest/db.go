package trivytest

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// vulnList holds the advisory records BuildDB builds the database from, in
// the layout trivy-db's builder reads (vuln-list/, vuln-list-nvd/).
//
//go:embed vulnlist
var vulnList embed.FS

// ToolDir is the DB builder's module, relative to the repository root.
const ToolDir = "hack/tools/trivydb"

// BuildTool builds the DB builder (hack/tools/trivydb, a module of its own)
// into out. repoRoot is the aegis repository's root. The Go build cache
// makes a second build quick.
func BuildTool(ctx context.Context, repoRoot, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", abs, ".")
	cmd.Dir = filepath.Join(repoRoot, ToolDir)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", ToolDir, err, b)
	}
	return nil
}

// BuildDB writes a Trivy vulnerability database built from the embedded
// advisories into cacheDir/db (trivy.db and metadata.json), replacing any
// there, with tool (see BuildTool). updatedAt is the database's build time,
// which `trivy version` reports and aegis's result cache keys on.
func BuildDB(ctx context.Context, tool, cacheDir string, updatedAt time.Time) error {
	src, err := os.MkdirTemp("", "aegis-vulnlist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	sub, err := fs.Sub(vulnList, "vulnlist")
	if err != nil {
		return err
	}
	if err := os.CopyFS(src, sub); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, tool, "-vuln-list", src, "-cache-dir", cacheDir, "-updated-at", updatedAt.UTC().Format(time.RFC3339))
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the vulnerability database: %v\n%s", err, b)
	}
	return nil
}
