package semgrep

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// IsManifest is the default test for "this file is Kubernetes configuration,
// not application code". It is deliberately coarse and works on the name
// alone, so that it needs no parsing of pull-request content:
//
//   - .yaml, .yml and .json files (any case) are manifests: Kubernetes
//     objects, kustomizations, Helm charts and values, Chart.lock's YAML;
//   - "Kustomization" (kustomize's extension-less name) and Helm's ".tpl"
//     templates are manifests;
//   - except anything under ".github/": workflows are code that Semgrep has
//     rules for (script injection in run: steps), not cluster objects.
//
// The price: application YAML/JSON outside .github (an OpenAPI file, a
// package.json) is not scanned by Semgrep. The manifests themselves are the
// business of the posture and trivy scanners.
func IsManifest(p string) bool {
	p = filepath.ToSlash(p)
	if p == ".github" || strings.HasPrefix(p, ".github/") {
		return false
	}
	base := path.Base(p)
	switch strings.ToLower(path.Ext(base)) {
	case ".yaml", ".yml", ".json", ".tpl":
		return true
	}
	return base == "Kustomization" || base == "Chart.lock"
}

// fileEntry is what ChangedFiles knows of a regular file before reading it.
type fileEntry struct {
	abs  string
	size int64
}

// ChangedFiles compares the trees at baseRoot and headRoot and returns the
// slash-separated relative paths of the regular files that exist on one side
// only or whose content differs (by size, then by SHA-256), leaving out those
// isManifest accepts (nil means IsManifest). The result is sorted and never
// nil, so that "no changed files" stays distinguishable from "no list".
//
// Directories named .git are skipped (a worktree's metadata is not code), and
// so are symlinks and other non-regular files: the walk never follows a link,
// so a link in the pull request cannot make aegis read outside the tree.
func ChangedFiles(baseRoot, headRoot string, isManifest func(path string) bool) ([]string, error) {
	if isManifest == nil {
		isManifest = IsManifest
	}
	base, err := regularFiles(baseRoot)
	if err != nil {
		return nil, err
	}
	head, err := regularFiles(headRoot)
	if err != nil {
		return nil, err
	}
	changed := []string{}
	consider := func(rel string) error {
		if isManifest(rel) {
			return nil
		}
		b, inBase := base[rel]
		h, inHead := head[rel]
		if !inBase || !inHead || b.size != h.size {
			changed = append(changed, rel)
			return nil
		}
		same, err := sameContent(b.abs, h.abs)
		if err != nil {
			return err
		}
		if !same {
			changed = append(changed, rel)
		}
		return nil
	}
	for rel := range base {
		if err := consider(rel); err != nil {
			return nil, err
		}
	}
	for rel := range head {
		if _, done := base[rel]; done {
			continue
		}
		if err := consider(rel); err != nil {
			return nil, err
		}
	}
	slices.Sort(changed)
	return changed, nil
}

func regularFiles(root string) (map[string]fileEntry, error) {
	out := map[string]fileEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks, sockets, devices
		}
		if d.Name() == ".git" {
			return nil // a linked worktree's pointer to its repository
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fileEntry{abs: p, size: info.Size()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("semgrep: listing files under %s: %w", root, err)
	}
	return out, nil
}

func sameContent(a, b string) (bool, error) {
	ha, err := hashFile(a)
	if err != nil {
		return false, err
	}
	hb, err := hashFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ha, hb), nil
}

func hashFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("semgrep: comparing trees: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("semgrep: comparing trees: reading %s: %w", p, err)
	}
	return h.Sum(nil), nil
}
