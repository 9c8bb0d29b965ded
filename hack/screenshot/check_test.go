package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// npmAsset finds a file of the npm packages that hack/browser-check.sh
// unpacks into aegis's tool cache: $env if set
// (browser-check.sh sets it), else the cache's path for the pinned version.
func npmAsset(t *testing.T, env, rel string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	cache := os.Getenv("AEGIS_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatal(err)
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "aegis")
	}
	p := filepath.Join(cache, "tools", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v: run hack/browser-check.sh once (it installs it), or set %s", err, env)
	}
	return p
}

// TestCheck runs check end to end, one Chromium for both cases of
// testdata: good passes, bad fails exactly on its too-wide table and its
// item below the first screen.
func TestCheck(t *testing.T) {
	if _, err := findChromium(os.Getenv("CHROMIUM")); err != nil {
		t.Fatalf("%v; or set CHROMIUM to the browser", err) // no skip: the check is what this module is for
	}
	css := npmAsset(t, "SCREENSHOT_CSS", "npm-github-markdown-css-5.9.0/package/github-markdown-light.css")
	octicons := npmAsset(t, "SCREENSHOT_OCTICONS", "npm-_primer_octicons-19.42.0/package/build/svg")
	shots := t.TempDir()
	var report bytes.Buffer
	results, err := runCheck("testdata", css, octicons, shots, os.Getenv("CHROMIUM"), &report)
	t.Logf("report:\n%s", report.String())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Result{}
	for _, r := range results {
		byName[r.Case.Name] = r
	}

	good, ok := byName["good"]
	if !ok {
		t.Fatal("no result for the case good")
	}
	for _, f := range good.Failures {
		t.Errorf("good: unexpected failure: %s: %s", f.Kind, f.Msg)
	}
	if good.LastNamed <= 0 || good.LastNamed > timelineViewportHeight {
		t.Errorf("good: last named item's bottom = %v, want in (0, %d]", good.LastNamed, timelineViewportHeight)
	}
	if good.PageHeight <= 0 {
		t.Errorf("good: page height = %d", good.PageHeight)
	}
	b, err := os.ReadFile(filepath.Join(shots, "good.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("good.png: %v", err)
	}
	if w := img.Bounds().Dx(); w != timelineCommentLeft+timelineCommentWidth+16 {
		t.Errorf("good.png is %d px wide, want the comment and a 16 px margin: %d", w, timelineCommentLeft+timelineCommentWidth+16)
	}
	if h := img.Bounds().Dy(); h < 200 || h > good.PageHeight+16 {
		t.Errorf("good.png is %d px high, want the comment's height (page: %d)", h, good.PageHeight)
	}

	bad, ok := byName["bad"]
	if !ok {
		t.Fatal("no result for the case bad")
	}
	want := []struct{ kind, has string }{
		{"named", `"far below" + "first screen": the <li> is not fully in the first screen`},
		{"table", "table \"Resource Finding Deployment shop/api xxxx"},
	}
	if len(bad.Failures) != len(want) {
		t.Errorf("bad: %d failures, want %d:", len(bad.Failures), len(want))
		for _, f := range bad.Failures {
			t.Errorf("  %s: %s", f.Kind, f.Msg)
		}
	} else {
		for i, w := range want {
			if f := bad.Failures[i]; f.Kind != w.kind || !strings.Contains(f.Msg, w.has) {
				t.Errorf("bad: failure %d = %s: %s, want %s: …%s…", i, f.Kind, f.Msg, w.kind, w.has)
			}
		}
	}
	if !strings.Contains(report.String(), "bad: FAIL") || !strings.Contains(report.String(), "good: OK") {
		t.Errorf("the report lacks a line per case")
	}
}
