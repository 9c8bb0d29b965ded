package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/sarif"
)

// committed is docs/rules as the repository holds it.
var committed = filepath.Join("..", "..", filepath.FromSlash(sarif.RulesDir))

const regenerate = "run `go run ./hack/rulesdoc` from the repository's root to regenerate docs/rules"

// The committed pages are what the generator writes, no more and no less.
func TestCommittedPagesAreGenerated(t *testing.T) {
	pages, err := generate()
	require.NoError(t, err)
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(committed, name))
		if !assert.NoError(t, err, "docs/rules/%s is missing: %s", name, regenerate) {
			continue
		}
		assert.Equal(t, string(want), string(got), "docs/rules/%s differs from what the generator writes: %s", name, regenerate)
	}
	files, err := filepath.Glob(filepath.Join(committed, "*.md"))
	require.NoError(t, err)
	for _, f := range files {
		_, ok := pages[filepath.Base(f)]
		assert.True(t, ok, "docs/rules/%s is no rule's page (a rule that is gone?): %s", filepath.Base(f), regenerate)
	}
}

// Every rule id of aegis's own scanners has its page, where the SARIF
// output's helpUri points; so has every scanner the SARIF output links to a
// scanner page, and the index lists every rule.
func TestEveryRuleHasAPage(t *testing.T) {
	rules := ownRules()
	require.NotEmpty(t, rules)
	scanners := map[string]bool{}
	index, err := os.ReadFile(filepath.Join(committed, "README.md"))
	require.NoError(t, err, regenerate)
	for _, rl := range rules {
		scanners[rl.Scanner] = true
		require.True(t, sarif.OwnRule(rl.ID), "rule %s", rl.ID)
		page := sarif.RulePage(rl.Scanner, rl.ID)
		assert.Equal(t, sarif.RulesDir+"/"+rl.ID+".md", page)
		_, err := os.Stat(filepath.Join("..", "..", filepath.FromSlash(page)))
		assert.NoError(t, err, "rule %s of %s has no page: %s", rl.ID, rl.Scanner, regenerate)
		assert.Contains(t, string(index), "[`"+rl.ID+"`]("+rl.ID+".md) | "+string(rl.Severity)+" |", "the index lacks %s: %s", rl.ID, regenerate)
	}
	var names []string
	for s := range scanners {
		names = append(names, s)
	}
	sort.Strings(names)
	assert.Equal(t, []string{"admission", "health", "posture"}, names)
	// The PSS checks come from the pod-security-admission library: at
	// least the 19 of its default checks that aegis documents.
	pss := 0
	for _, rl := range rules {
		if strings.HasPrefix(rl.ID, "pss.") {
			pss++
		}
	}
	assert.GreaterOrEqual(t, pss, 19)

	var written []string
	for _, sp := range scannerPages {
		written = append(written, sp.page)
	}
	assert.Equal(t, sarif.ScannerPages(), written, "a page per scanner the SARIF output links to, in order")
	for _, p := range sarif.ScannerPages() {
		_, err := os.Stat(filepath.Join(committed, p+".md"))
		assert.NoError(t, err, "docs/rules/%s.md: %s", p, regenerate)
	}
}

// A page holds what the rule says: title, severity, what it means, why it
// matters, how to fix, and the kind of resource where known.
func TestPageContent(t *testing.T) {
	for _, rl := range ownRules() {
		page := string(rulePage(rl))
		assert.Contains(t, page, "# `"+rl.ID+"`: "+rl.Title+"\n", rl.ID)
		assert.Contains(t, page, "| Severity | "+string(rl.Severity)+" |", rl.ID)
		for _, h := range []string{"## What it means\n", "## Why it matters\n", "## How to fix\n"} {
			assert.Equal(t, 1, strings.Count(page, h), "%s: %s", rl.ID, h)
		}
		assert.Contains(t, page, "| Applies to | ", rl.ID)
		what, fix := sections(rl)
		assert.NotEmpty(t, what, rl.ID)
		assert.NotEmpty(t, fix, rl.ID)
		assert.NotContains(t, what, howToFix, rl.ID)
	}
	// posture's help is split at its fix; the snippet stays with the fix.
	for _, rl := range ownRules() {
		if rl.ID == "pss.privileged" {
			what, fix := sections(rl)
			assert.True(t, strings.HasPrefix(what, "A privileged container has every capability"), what)
			assert.True(t, strings.HasPrefix(fix, "Remove securityContext.privileged"), fix)
			assert.Contains(t, fix, "```yaml\nsecurityContext:\n  privileged: false\n```")
			assert.Contains(t, string(rulePage(rl)), "baseline Pod Security Standard forbids it")
			return
		}
	}
	t.Fatal("no rule pss.privileged")
}

// write leaves exactly the generated pages in its directory.
func TestWriteRemovesStalePages(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "aegis.gone.md"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644))
	require.NoError(t, write(dir))
	pages, err := generate()
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	require.NoError(t, err)
	assert.Len(t, files, len(pages))
	assert.NoFileExists(t, filepath.Join(dir, "aegis.gone.md"))
	assert.FileExists(t, filepath.Join(dir, "notes.txt"))
}
