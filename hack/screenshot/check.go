package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The frame of a pull request's conversation at a 1280x800 viewport, as
// GitHub lays it out (Primer CSS; a desktop browser with overlay scroll
// bars, so the page is the full 1280 px wide):
//
//	1280  viewport
//	 -64  .container-xl's padding at >= 1012 px (px-lg-5: 32 px each side)
//	= 1216
//	-296  the sidebar (Primer Layout's sidebar width at >= 1280 px)
//	 -24  the gutter between the timeline and the sidebar
//	= 896 the timeline column
//	 -56  the avatar's gutter on the left of every timeline item (40 px
//	      avatar + 16 px)
//	= 840 the comment box, border included
//	  -2  its 1 px borders
//	 -32  .comment-body's 16 px padding
//	= 806 the Markdown body's content width
//
// Measured boxes on github.com fall within about 20 px of these figures
// (depending on the layout's version and a classic scroll bar's 15 px);
// 806 px is at the narrow end of that range, so that a comment that fits
// here fits on GitHub.
const (
	timelineViewportWidth  = 1280
	timelineViewportHeight = 800
	timelineAvatarLeft     = 32      // the avatar, in the container's padding
	timelineCommentLeft    = 32 + 56 // the comment box's left edge
	timelineCommentWidth   = 840     // the comment box, border included
)

// Case is one case file of check (the format is in the package comment).
type Case struct {
	Name       string  `json:"name"`
	Markdown   string  `json:"markdown"`
	Verdict    string  `json:"verdict,omitempty"`
	Named      []Named `json:"named,omitempty"`
	Links      []Link  `json:"links,omitempty"`
	Screenshot string  `json:"screenshot,omitempty"`

	dir string // the case file's directory
}

// Named is an item that must be visible in the first screen: some <li> or
// <p> whose text contains every fragment.
type Named struct {
	All []string `json:"all"`
}

// Link is a link that must be there, with exactly that href.
type Link struct {
	Text string `json:"text"`
	Href string `json:"href"`
}

// Failure is one failed assertion. Kind is one of verdict, named, link,
// href (an <a> whose href is not http(s) or #fragment), overflow (an
// element beyond the body's content box), table (a table that scrolls),
// error (the case could not be checked).
type Failure struct {
	Kind string
	Msg  string
}

// Result is the outcome of a case.
type Result struct {
	Case       *Case
	Failures   []Failure
	LastNamed  float64 // bottom of the lowest named item found (CSS px from the comment's top), -1 if none
	PageHeight int     // the page's height, folds closed
	Elapsed    time.Duration
}

// loadCases reads every *.json of dir, in name order.
func loadCases(dir string) ([]*Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no case (*.json)", dir)
	}
	var cases []*Case
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		c := &Case{dir: filepath.Dir(f)}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if c.Name == "" {
			c.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		}
		if c.Markdown == "" {
			return nil, fmt.Errorf("%s: no \"markdown\"", f)
		}
		for i, n := range c.Named {
			if len(n.All) == 0 {
				return nil, fmt.Errorf("%s: named[%d] has no fragment", f, i)
			}
		}
		if c.Screenshot != "" && filepath.Base(c.Screenshot) != c.Screenshot {
			return nil, fmt.Errorf("%s: screenshot %q: a file name, not a path", f, c.Screenshot)
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// findChromium returns the browser to run: path if given, else chromium
// (Debian's package) or chromium-browser on PATH.
func findChromium(path string) (string, error) {
	if path != "" {
		return exec.LookPath(path)
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found on PATH: install the Debian package chromium (apt-get install chromium)")
}

// checker holds one Chromium for all cases.
type checker struct {
	browser    context.Context
	stop       func()
	tmp        string
	style      string
	icons      map[string]string
	shots      string
	StartupDur time.Duration
}

// newChecker starts Chromium (headless, scale factor 1, a throw-away
// profile) and waits until it answers.
func newChecker(chromium, css, octicons, shots string) (*checker, error) {
	style, err := os.ReadFile(css)
	if err != nil {
		return nil, err
	}
	icons, err := loadIcons(octicons)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "aegis-browser-check-")
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.UserDataDir(filepath.Join(tmp, "profile")),
		chromedp.WindowSize(timelineViewportWidth, timelineViewportHeight),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	c := &checker{
		browser: bctx,
		stop: func() {
			bcancel()
			acancel()
		},
		tmp: tmp, style: string(style), icons: icons, shots: shots,
	}
	t0 := time.Now()
	// The first Run starts the browser (and a first, blank tab); the
	// browser lives as long as the context of that Run, so no timeout on
	// it: Close on timeout instead.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(bctx) }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		err = errors.New("no answer in 60 s")
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("starting %s: %w", chromium, err)
	}
	c.StartupDur = time.Since(t0)
	return c, nil
}

// Close stops Chromium and removes the profile and pages.
func (c *checker) Close() {
	c.stop()
	os.RemoveAll(c.tmp)
}

// Check runs one case in a new tab.
func (c *checker) Check(cs *Case) Result {
	t0 := time.Now()
	r := Result{Case: cs, LastNamed: -1}
	fail := func(kind, format string, a ...any) {
		r.Failures = append(r.Failures, Failure{kind, fmt.Sprintf(format, a...)})
	}
	if err := c.check(cs, &r, fail); err != nil {
		fail("error", "%v", err)
	}
	r.Elapsed = time.Since(t0)
	return r
}

// measure is what measureJS returns.
type measure struct {
	PageHeight int `json:"pageHeight"`
	Comment    struct {
		Right, Bottom float64
	} `json:"comment"`
	Verdict struct {
		Found   bool    `json:"found"`
		Visible bool    `json:"visible"`
		Folded  bool    `json:"folded"`
		Top     float64 `json:"top"`
		Bottom  float64 `json:"bottom"`
		Text    string  `json:"text"`
	} `json:"verdict"`
	Named []struct {
		Count   int     `json:"count"`
		Visible bool    `json:"visible"`
		Folded  bool    `json:"folded"`
		Top     float64 `json:"top"`
		Bottom  float64 `json:"bottom"`
		Tag     string  `json:"tag"`
	} `json:"named"`
	Links []struct {
		Hrefs []*string `json:"hrefs"`
	} `json:"links"`
	BadHrefs []struct {
		Text string  `json:"text"`
		Href *string `json:"href"`
	} `json:"badHrefs"`
}

// widths is what widthJS returns.
type widths struct {
	Box struct {
		Left, Right float64
	} `json:"box"`
	Overflow []struct {
		Path  string  `json:"path"`
		Text  string  `json:"text"`
		Left  float64 `json:"left"`
		Right float64 `json:"right"`
	} `json:"overflow"`
	Tables []struct {
		Text         string `json:"text"`
		ScrollWidth  int    `json:"scrollWidth"`
		ClientWidth  int    `json:"clientWidth"`
		WidestColumn string `json:"widest"`
	} `json:"tables"`
}

func (c *checker) check(cs *Case, r *Result, fail func(kind, format string, a ...any)) error {
	md, err := os.ReadFile(filepath.Join(cs.dir, cs.Markdown))
	if err != nil {
		return err
	}
	body, err := renderComment(md, c.icons)
	if err != nil {
		return err
	}
	pageFile := filepath.Join(c.tmp, fmt.Sprintf("case-%d.html", time.Now().UnixNano()))
	html := framePage(pageFrame{Style: c.style, Width: timelineCommentWidth, Author: "github-actions", Body: body, Timeline: true})
	if err := os.WriteFile(pageFile, []byte(html), 0o644); err != nil {
		return err
	}
	defer os.Remove(pageFile)

	tab, closeTab := chromedp.NewContext(c.browser)
	defer closeTab()
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()

	args, err := json.Marshal(map[string]any{"verdict": cs.Verdict, "named": cs.Named, "links": cs.Links, "vh": timelineViewportHeight})
	if err != nil {
		return err
	}
	var m measure
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(timelineViewportWidth, timelineViewportHeight),
		chromedp.Navigate("file://"+pageFile),
		chromedp.Evaluate[chromedp.Void](`document.fonts.ready.then(() => true)`, chromedp.EvalAwaitPromise),
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			var err error
			m, err = chromedp.Evaluate[measure]("("+measureJS+")("+string(args)+")")(ctx, t)
			return chromedp.Void{}, err
		},
	)
	if err != nil {
		return err
	}
	r.PageHeight = m.PageHeight

	if cs.Verdict != "" {
		v := m.Verdict
		switch {
		case !v.Found:
			fail("verdict", "no h1-h4 heading contains %q", cs.Verdict)
		case v.Folded:
			fail("verdict", "heading %q is inside a closed <details>", v.Text)
		case !v.Visible:
			fail("verdict", "heading %q is not fully in the first screen: top %.0f, bottom %.0f (screen 0-%d)",
				v.Text, v.Top, v.Bottom, timelineViewportHeight)
		}
	}
	for i, n := range cs.Named {
		got := m.Named[i]
		what := strings.Join(quoteAll(n.All), " + ")
		switch {
		case got.Count == 0:
			fail("named", "%s: no <li> or <p> contains all of it", what)
		case got.Folded:
			fail("named", "%s: the <%s> is inside a closed <details>", what, got.Tag)
		case !got.Visible:
			fail("named", "%s: the <%s> is not fully in the first screen: top %.0f, bottom %.0f (screen 0-%d)",
				what, got.Tag, got.Top, got.Bottom, timelineViewportHeight)
		}
		if got.Count > 0 && !got.Folded {
			r.LastNamed = math.Max(r.LastNamed, got.Bottom)
		}
	}
	for i, l := range cs.Links {
		hrefs := m.Links[i].Hrefs
		ok := false
		var seen []string
		for _, h := range hrefs {
			if h != nil && *h == l.Href {
				ok = true
			}
			seen = append(seen, hrefString(h))
		}
		switch {
		case len(hrefs) == 0:
			fail("link", "no <a> with the text %q", l.Text)
		case !ok:
			fail("link", "<a> %q: href %s, want %q", l.Text, strings.Join(seen, ", "), l.Href)
		}
	}
	for _, b := range m.BadHrefs {
		fail("href", "<a> %q: href %s is neither http(s) nor a #fragment", b.Text, hrefString(b.Href))
	}

	if cs.Screenshot != "" {
		if err := c.screenshot(ctx, cs, m); err != nil {
			fail("error", "screenshot: %v", err)
		}
	}

	w, err := chromedp.Run(ctx, chromedp.Evaluate[widths]("("+widthJS+")()"))
	if err != nil {
		return err
	}
	for _, o := range w.Overflow {
		var side []string
		if o.Left < w.Box.Left-1 {
			side = append(side, fmt.Sprintf("left %.0f < %.0f", o.Left, w.Box.Left))
		}
		if o.Right > w.Box.Right+1 {
			side = append(side, fmt.Sprintf("right %.0f > %.0f", o.Right, w.Box.Right))
		}
		fail("overflow", "%s %q sticks out of the body (%s)", o.Path, o.Text, strings.Join(side, ", "))
	}
	for _, t := range w.Tables {
		fail("table", "table %q scrolls: %d px of content in %d px (widest cell %q)", t.Text, t.ScrollWidth, t.ClientWidth, t.WidestColumn)
	}
	return nil
}

// screenshot writes the whole comment, folds closed, into -shots.
func (c *checker) screenshot(ctx context.Context, cs *Case, m measure) error {
	const margin = 16
	clip := page.Viewport{
		X: 0, Y: 0,
		Width:  math.Ceil(m.Comment.Right) + margin,
		Height: math.Ceil(m.Comment.Bottom) + 2*margin,
		Scale:  1,
	}
	data, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			CaptureBeyondViewport: ptrTo(true),
			FromSurface:           ptrTo(true),
			Clip:                  &clip,
		})
		return res.Data, err
	})
	if err != nil {
		return err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return err
	}
	_, err = writeCropped(img, margin, filepath.Join(c.shots, cs.Screenshot))
	return err
}

func ptrTo[T any](v T) *T { return &v }

func hrefString(h *string) string {
	if h == nil {
		return "(none)"
	}
	return fmt.Sprintf("%q", *h)
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return q
}

// measureJS measures the page as first shown (folds closed). Its argument:
// {verdict, named, links, vh}. Positions are CSS px from the viewport's
// top, which is the comment's top.
const measureJS = `function(a) {
  const body = document.querySelector('.comment .markdown-body');
  const norm = s => (s || '').replace(/\s+/g, ' ').trim();
  // folded: inside a closed <details> and not in its <summary>.
  const folded = el => {
    for (let n = el; n && n !== body; n = n.parentElement) {
      const p = n.parentElement;
      if (p && p.tagName === 'DETAILS' && !p.open && n.tagName !== 'SUMMARY') return true;
    }
    return false;
  };
  const box = el => {
    const r = el.getBoundingClientRect(), f = folded(el);
    return {folded: f, top: r.top, bottom: r.bottom,
            visible: !f && r.height > 0 && r.top >= 0 && r.bottom <= a.vh};
  };
  // Of the candidates, a visible one if any, the one with the least text
  // (the innermost) first.
  const pick = els => {
    const bs = els.map(el => Object.assign(box(el), {tag: el.tagName.toLowerCase(), text: norm(el.textContent).slice(0, 80),
                                                     len: norm(el.textContent).length}))
      .sort((x, y) => (y.visible - x.visible) || (x.len - y.len));
    return bs.length ? bs[0] : null;
  };
  const out = {pageHeight: Math.ceil(document.body.getBoundingClientRect().bottom)};
  const c = document.querySelector('.comment').getBoundingClientRect();
  out.comment = {right: c.right, bottom: c.bottom};

  const want = norm(a.verdict);
  const heads = [...body.querySelectorAll('h1, h2, h3, h4')].filter(h => norm(h.textContent).includes(want));
  const v = pick(heads);
  out.verdict = v ? Object.assign(v, {found: true}) : {found: false};

  const items = [...body.querySelectorAll('li, p')];
  out.named = (a.named || []).map(n => {
    const frags = n.all.map(norm);
    const els = items.filter(el => { const t = norm(el.textContent); return frags.every(f => t.includes(f)); });
    const b = pick(els);
    return b ? Object.assign(b, {count: els.length}) : {count: 0};
  });

  const anchors = [...body.querySelectorAll('a')];
  out.links = (a.links || []).map(l => ({
    hrefs: anchors.filter(x => norm(x.textContent) === norm(l.text)).map(x => x.getAttribute('href')),
  }));
  out.badHrefs = anchors.filter(x => {
    const h = x.getAttribute('href');
    return h === null || !(/^https?:\/\//i.test(h) || h.startsWith('#'));
  }).map(x => ({text: norm(x.textContent).slice(0, 80), href: x.getAttribute('href')}));
  return out;
}`

// widthJS opens every fold and lists what does not fit the body's content
// box: the outermost elements that stick out (not looking inside boxes
// that scroll or clip, like <pre>), and the tables that scroll.
const widthJS = `function() {
  const body = document.querySelector('.comment .markdown-body');
  const norm = s => (s || '').replace(/\s+/g, ' ').trim();
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const cs = getComputedStyle(body), br = body.getBoundingClientRect();
  const left = br.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft);
  const right = br.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight);
  const path = el => {
    const p = [];
    for (let n = el; n && n !== body; n = n.parentElement) p.unshift(n.tagName.toLowerCase());
    return p.join(' > ');
  };
  const skip = new Set(); // elements whose descendants are not looked at
  const overflow = [];
  for (const el of body.querySelectorAll('*')) {
    const parent = el.parentElement;
    if (parent !== body && skip.has(parent)) { skip.add(el); continue; }
    const r = el.getBoundingClientRect();
    if (r.width > 0 || r.height > 0) {
      if (r.left < left - 1 || r.right > right + 1) {
        overflow.push({path: path(el), text: norm(el.textContent).slice(0, 60), left: r.left, right: r.right});
        skip.add(el);
        continue;
      }
    }
    if (getComputedStyle(el).overflowX !== 'visible') skip.add(el);
  }
  const tables = [...body.querySelectorAll('table')].filter(t => t.scrollWidth > t.clientWidth + 1).map(t => {
    let widest = null;
    let best = -1;
    for (const c of t.querySelectorAll('td, th')) {
      // the widest column, and in it the cell with the most text
      const score = Math.round(c.getBoundingClientRect().width) * 1e6 + norm(c.textContent).length;
      if (score > best) { best = score; widest = c; }
    }
    return {text: norm(t.textContent).slice(0, 60), scrollWidth: t.scrollWidth, clientWidth: t.clientWidth,
            widest: widest ? norm(widest.textContent).slice(0, 60) : ''};
  });
  return {box: {left: left, right: right}, overflow: overflow, tables: tables};
}`

// errFailed: some case failed (exit 1 without more words).
var errFailed = errors.New("some cases failed")

func cmdCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	casesDir := fs.String("cases", "", "directory of case files NAME.json")
	css := fs.String("css", "", "github-markdown-css's light theme (github-markdown-light.css)")
	octicons := fs.String("octicons", "", "@primer/octicons' build/svg directory (the alerts' icons)")
	shots := fs.String("shots", "", "directory for the cases' screenshots")
	chromium := fs.String("chromium", "", "the browser (default: chromium on PATH)")
	fs.Parse(args)
	if *casesDir == "" || *css == "" || *octicons == "" {
		usage()
	}
	results, err := runCheck(*casesDir, *css, *octicons, *shots, *chromium, os.Stdout)
	if err != nil {
		return err
	}
	for _, r := range results {
		if len(r.Failures) > 0 {
			return errFailed
		}
	}
	return nil
}

// runCheck checks every case of dir in one browser, writing the report to w.
func runCheck(dir, css, octicons, shots, chromium string, w io.Writer) ([]Result, error) {
	cases, err := loadCases(dir)
	if err != nil {
		return nil, err
	}
	for _, c := range cases {
		if c.Screenshot != "" && shots == "" {
			return nil, fmt.Errorf("case %q wants a screenshot: give -shots", c.Name)
		}
	}
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			return nil, err
		}
	}
	bin, err := findChromium(chromium)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	ch, err := newChecker(bin, css, octicons, shots)
	if err != nil {
		return nil, err
	}
	defer ch.Close()
	fmt.Fprintf(w, "chromium started in %d ms\n", ch.StartupDur.Milliseconds())
	var results []Result
	failed := 0
	for _, c := range cases {
		r := ch.Check(c)
		results = append(results, r)
		status := "OK"
		if len(r.Failures) > 0 {
			status = "FAIL"
			failed++
		}
		last := "-"
		if r.LastNamed >= 0 {
			last = fmt.Sprintf("%.0f", r.LastNamed)
		}
		fmt.Fprintf(w, "%s: %s  last-named-bottom=%s page-height=%d (%d ms)\n", c.Name, status, last, r.PageHeight, r.Elapsed.Milliseconds())
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  %s: %s: %s\n", c.Name, f.Kind, f.Msg)
		}
	}
	fmt.Fprintf(w, "%d cases, %d failed, %d ms\n", len(cases), failed, time.Since(t0).Milliseconds())
	return results, nil
}
