// Command screenshot turns aegis's PR comment (Markdown) into a page that
// looks like the comment on GitHub, trims Chromium's screenshot of that
// page, and checks in a real browser what a reviewer sees of the comment.
// hack/browser-check.sh (run by hack/comment-check.sh) drives it; it is
// not part of aegis.
//
//	screenshot html -in comment.md -css github-markdown-light.css -octicons DIR -out page.html
//	screenshot crop -in raw.png -out comment.png
//	screenshot check -cases DIR -css github-markdown-light.css -octicons DIR -shots OUTDIR
//
// html renders the Markdown as GitHub renders a comment: goldmark with the
// GFM extensions (tables, strikethrough, autolinks, task lists), raw HTML
// kept (<details>, <summary>, <sub>, ...), then sanitised with GitHub's
// allowlist (sanitize.go: no style, class, id, script, iframe, on*
// handlers, javascript: links or HTML comments), then decorated as GitHub
// decorates a comment: its alerts (> [!NOTE], [!TIP], [!IMPORTANT],
// [!WARNING], [!CAUTION]) become the markup GitHub emits for them
// (div.markdown-alert with a title line and the alert's octicon), which
// github-markdown-css colours, and task lists get GitHub's classes. The
// page inlines the stylesheet and frames the body as a timeline comment
// about 900 px wide. Folds stay closed, as a reviewer first sees them
// (-open opens them).
//
// crop cuts the empty bottom of a screenshot taken with a generous window
// height, keeps a margin, and re-encodes the PNG at the best compression.
//
// check (check.go) loads every case of -cases into one headless Chromium
// (-chromium, default: chromium on PATH), a tab per case, viewport
// 1280x800, the comment framed as in a pull request's conversation at that
// width with the top of the comment at the top of the viewport: what the
// reviewer sees once scrolled to the comment. A case is a file NAME.json:
//
//	{
//	  "name": "kustomize-overlay comment",
//	  "markdown": "kustomize-overlay.comment.md",
//	  "verdict": "aegis: FAIL",
//	  "named": [{"all": ["pss.hostPathVolumes", "Deployment shop/api"]}],
//	  "links": [{"text": "overlays/prod/patch-api.yaml:12", "href": "https://github.com/o/r/blob/abc/x/patch-api.yaml#L12"}],
//	  "screenshot": "kustomize-overlay-comment.png"
//	}
//
// The fields (unknown ones are an error):
//   - name: printed in the report (default: the file name without .json).
//   - markdown: the comment, relative to the case file's directory.
//   - verdict (optional): text that an h1-h4 heading must contain, the
//     heading fully inside the first screen (0 <= top, bottom <= 800).
//   - named (optional): for each entry, some <li> or <p> whose text
//     contains every fragment of "all" must be fully inside the first
//     screen and not inside a closed <details>.
//   - links (optional): some <a> whose text is "text" must have exactly
//     "href" (after sanitising). Besides, every <a> whose href is not
//     http(s) or a #fragment (or that has none, e.g. javascript: removed
//     by the sanitiser) is reported.
//   - screenshot (optional): file name in -shots of a PNG of the whole
//     comment, folds closed, trimmed as crop does.
//
// Texts are compared with runs of white space collapsed to one space. With
// every fold opened, no element of the Markdown body may stick out of the
// body's content box (1 px tolerance; what is inside a scrolling box such
// as a <pre> is that box's business, the box itself must fit), and no
// <table> may scroll (scrollWidth > clientWidth + 1: its text is cut).
// check prints a line per case (OK or FAIL, the bottom of the lowest named
// item, the page height, the time), each failure under it, and exits 1 if
// any case failed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "html":
		err = cmdHTML(os.Args[2:])
	case "crop":
		err = cmdCrop(os.Args[2:])
	case "check":
		err = cmdCheck(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "screenshot:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: screenshot html -in FILE.md -css FILE.css -octicons DIR -out FILE.html [-open] [-width 900]\n"+
		"       screenshot crop -in RAW.png -out FILE.png [-margin 16]\n"+
		"       screenshot check -cases DIR -css FILE.css -octicons DIR [-shots DIR] [-chromium PATH]")
	os.Exit(2)
}

// ---- html ----

func cmdHTML(args []string) error {
	fs := flag.NewFlagSet("html", flag.ExitOnError)
	in := fs.String("in", "", "the comment's Markdown")
	out := fs.String("out", "", "the page to write")
	css := fs.String("css", "", "github-markdown-css's light theme (github-markdown-light.css)")
	octicons := fs.String("octicons", "", "@primer/octicons' build/svg directory (the alerts' icons)")
	open := fs.Bool("open", false, "open every <details> fold")
	width := fs.Int("width", 900, "width of the comment frame in CSS pixels")
	author := fs.String("author", "github-actions", "login in the comment's header")
	fs.Parse(args)
	if *in == "" || *out == "" || *css == "" || *octicons == "" {
		usage()
	}
	md, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	style, err := os.ReadFile(*css)
	if err != nil {
		return err
	}
	icons, err := loadIcons(*octicons)
	if err != nil {
		return err
	}
	body, err := renderComment(md, icons)
	if err != nil {
		return err
	}
	if *open {
		body = openFolds(body)
	}
	page := framePage(pageFrame{Style: string(style), Width: *width, Author: *author, Body: body})
	return os.WriteFile(*out, []byte(page), 0o644)
}

// renderComment renders a comment as GitHub shows it: Markdown to HTML
// (render), sanitised with GitHub's allowlist (sanitize), then GitHub's own
// decoration: alerts and task-list classes.
func renderComment(md []byte, icons map[string]string) (string, error) {
	nonce := newNonce()
	body, err := render(md, nonce)
	if err != nil {
		return "", err
	}
	body = sanitize(body)
	body = decorateAlerts(body, nonce, icons)
	// GitHub's classes for task lists, which github-markdown-css styles
	// (no bullet, the checkbox in the margin).
	body = strings.ReplaceAll(body, "<li><input ", `<li class="task-list-item"><input class="task-list-item-checkbox" `)
	body = strings.ReplaceAll(body, "<ul>\n<li class=\"task-list-item\">", "<ul class=\"contains-task-list\">\n<li class=\"task-list-item\">")
	return body, nil
}

var detailsTag = regexp.MustCompile(`<details(\s|>)`)

// openFolds opens every <details>.
func openFolds(body string) string {
	return detailsTag.ReplaceAllString(body, "<details open$1")
}

// pageFrame is what framePage needs.
type pageFrame struct {
	Style  string // github-markdown-css
	Width  int    // width of the comment box (border included), CSS px
	Author string // login in the comment's header
	Body   string // the rendered comment

	// Timeline places the comment as in a pull request's conversation
	// (see check.go): the box at the timeline column's left edge, the top
	// of the box at y=0, a 1280 px wide page, and a Content-Security-Policy
	// that loads nothing from outside (no network in the check; GitHub
	// would proxy images anyway). Without it: the framing of
	// `screenshot html`, the box at (16, 16) in a page 32 px wider.
	Timeline bool
}

func framePage(f pageFrame) string {
	csp, layout := "", fmt.Sprintf(`body { padding: 16px; }
html { width: %dpx; }`, f.Width+32)
	if f.Timeline {
		csp = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">` + "\n"
		layout = fmt.Sprintf(`html { width: %dpx; }
body { padding: 0 0 0 %dpx; position: relative; }
.avatar { position: absolute; left: %dpx; top: 0; width: 40px; height: 40px; border-radius: 50%%; background: #d1d9e0; }`,
			timelineViewportWidth, timelineCommentLeft, timelineAvatarLeft)
	}
	avatar := ""
	if f.Timeline {
		avatar = `<div class="avatar"></div>` + "\n"
	}
	return fmt.Sprintf(pageTemplate, csp, f.Style, f.Width, layout, avatar, html.EscapeString(f.Author), f.Body)
}

// pageTemplate: %s CSP meta (or nothing), %s stylesheet, %d frame width,
// %s page layout CSS, %s avatar (or nothing), %s author, %s rendered body. The frame copies the look of a GitHub timeline comment
// (grey header with the author and a "bot" label, 1 px border, 6 px radius);
// the body is 14 px as in comments (github-markdown-css defaults to 16 px,
// a README's size).
const pageTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>aegis PR comment</title>
%s<style>
%s
</style>
<style>
html, body { margin: 0; background: #ffffff; }
.comment { width: %dpx; box-sizing: border-box; border: 1px solid #d1d9e0; border-radius: 6px; overflow: hidden;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif, "Apple Color Emoji", "Segoe UI Emoji"; }
.comment-header { display: flex; align-items: center; gap: 6px; padding: 8px 16px; background: #f6f8fa;
  border-bottom: 1px solid #d1d9e0; font-size: 14px; line-height: 20px; color: #59636e; }
.comment-header .author { color: #1f2328; font-weight: 600; }
.comment-header .label { border: 1px solid #d1d9e0; border-radius: 2em; padding: 0 7px; font-size: 12px;
  font-weight: 500; line-height: 18px; color: #59636e; }
.comment .markdown-body { padding: 16px; font-size: 14px; }
.markdown-body .markdown-alert .markdown-alert-title .octicon { margin-right: 8px; }
</style>
<style>
%s
</style>
</head><body>
%s<div class="comment">
<div class="comment-header"><span class="author">%s</span><span class="label">bot</span><span>commented</span></div>
<div class="markdown-body">
%s</div>
</div>
</body></html>
`

// render converts Markdown to HTML as GitHub does for a comment.
// Alerts come out as placeholders marked with nonce (see alertRenderer),
// for decorateAlerts to replace after sanitising.
func render(md []byte, nonce string) (string, error) {
	m := goldmark.New(
		// GFM (linkify, tables, strikethrough, task lists), with the
		// columns' alignment as align attributes, as cmark-gfm writes it
		// for GitHub (goldmark's default, style="text-align:…", would not
		// survive the sanitiser).
		goldmark.WithExtensions(
			extension.Linkify,
			extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
			extension.Strikethrough,
			extension.TaskList,
		),
		goldmark.WithParserOptions(
			parser.WithASTTransformers(util.Prioritized(alertTransformer{}, 100)),
		),
		goldmark.WithRendererOptions(
			gmhtml.WithUnsafe(), // raw HTML: <details>, <summary>, <sub>, comments
			renderer.WithNodeRenderers(util.Prioritized(alertRenderer{nonce: nonce}, 100)),
		),
	)
	var buf bytes.Buffer
	if err := m.Convert(md, &buf); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// ---- GitHub alerts ----

// alertKinds: marker -> title and octicon, as GitHub renders them.
var alertKinds = map[string]struct{ title, icon string }{
	"note":      {"Note", "info"},
	"tip":       {"Tip", "light-bulb"},
	"important": {"Important", "report"},
	"warning":   {"Warning", "alert"},
	"caution":   {"Caution", "stop"},
}

var alertMarker = regexp.MustCompile(`(?i)^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]$`)

// KindAlert is the AST kind of a GitHub alert.
var KindAlert = ast.NewNodeKind("Alert")

// Alert is a blockquote whose first line is an alert marker.
type Alert struct {
	ast.BaseBlock
	AlertType string // note, tip, important, warning, caution
}

func (n *Alert) Kind() ast.NodeKind { return KindAlert }

func (n *Alert) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"AlertType": n.AlertType}, nil)
}

// alertTransformer replaces each top-level blockquote whose first line is
// just `[!TYPE]` (GitHub renders alerts only there, not nested) by an
// Alert holding the blockquote's content without that line.
type alertTransformer struct{}

func (alertTransformer) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	src := reader.Source()
	for n := doc.FirstChild(); n != nil; {
		next := n.NextSibling()
		bq, ok := n.(*ast.Blockquote)
		if !ok {
			n = next
			continue
		}
		p, ok := bq.FirstChild().(*ast.Paragraph)
		if !ok || p.Lines().Len() == 0 {
			n = next
			continue
		}
		first := p.Lines().At(0)
		m := alertMarker.FindSubmatch(bytes.TrimSpace(first.Value(src)))
		if m == nil {
			n = next
			continue
		}
		// Drop the marker line's inline nodes (the link parser leaves
		// `[`, `!NOTE`, `]` as text), up to its line break.
		for c := p.FirstChild(); c != nil; {
			cn := c.NextSibling()
			t, ok := c.(*ast.Text)
			if !ok || t.Segment.Start >= first.Stop {
				break
			}
			p.RemoveChild(p, c)
			if t.SoftLineBreak() || t.HardLineBreak() {
				break
			}
			c = cn
		}
		if p.ChildCount() == 0 {
			bq.RemoveChild(bq, p)
		}
		alert := &Alert{AlertType: strings.ToLower(string(m[1]))}
		for c := bq.FirstChild(); c != nil; {
			cn := c.NextSibling()
			alert.AppendChild(alert, c)
			c = cn
		}
		doc.ReplaceChild(doc, bq, alert)
		n = next
	}
}

// alertRenderer writes an Alert as a placeholder that GitHub's sanitiser
// keeps (a div and an empty p whose title holds the nonce and the type);
// decorateAlerts turns it into GitHub's markup:
// <div class="markdown-alert markdown-alert-TYPE"><p class="markdown-alert-title"><svg …/>Title</p>…</div>
type alertRenderer struct{ nonce string }

func (r alertRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(KindAlert, r.renderAlert)
}

func (r alertRenderer) renderAlert(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	a := node.(*Alert)
	if !entering {
		_, _ = w.WriteString("</div>\n")
		return ast.WalkContinue, nil
	}
	fmt.Fprintf(w, `<div title="aegis-alert-%s-%s"><p title="aegis-alert-title-%s-%s"></p>`+"\n", r.nonce, a.AlertType, r.nonce, a.AlertType)
	return ast.WalkContinue, nil
}

// decorateAlerts replaces alertRenderer's placeholders (after sanitising)
// by GitHub's alert markup.
func decorateAlerts(body, nonce string, icons map[string]string) string {
	for typ, k := range alertKinds {
		body = strings.ReplaceAll(body, fmt.Sprintf(`<div title="aegis-alert-%s-%s">`, nonce, typ),
			fmt.Sprintf(`<div class="markdown-alert markdown-alert-%s" dir="auto">`, typ))
		body = strings.ReplaceAll(body, fmt.Sprintf(`<p title="aegis-alert-title-%s-%s"></p>`, nonce, typ),
			fmt.Sprintf(`<p class="markdown-alert-title" dir="auto">`+
				`<svg class="octicon octicon-%s mr-2" viewBox="0 0 16 16" version="1.1" width="16" height="16" aria-hidden="true">%s</svg>%s</p>`,
				k.icon, icons[k.icon], k.title))
	}
	return body
}

var svgInner = regexp.MustCompile(`(?s)<svg[^>]*>(.*)</svg>`)

// loadIcons reads the alerts' 16 px octicons (their inner markup) from
// @primer/octicons' build/svg directory.
func loadIcons(dir string) (map[string]string, error) {
	icons := map[string]string{}
	for _, k := range alertKinds {
		b, err := os.ReadFile(filepath.Join(dir, k.icon+"-16.svg"))
		if err != nil {
			return nil, err
		}
		m := svgInner.FindSubmatch(b)
		if m == nil {
			return nil, fmt.Errorf("%s-16.svg: no <svg> element", k.icon)
		}
		icons[k.icon] = string(m[1])
	}
	return icons, nil
}

// ---- crop ----

func cmdCrop(args []string) error {
	fs := flag.NewFlagSet("crop", flag.ExitOnError)
	in := fs.String("in", "", "Chromium's screenshot")
	out := fs.String("out", "", "the trimmed PNG")
	margin := fs.Int("margin", 16, "blank pixels kept below the content")
	fs.Parse(args)
	if *in == "" || *out == "" {
		usage()
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		return err
	}
	r, err := writeCropped(img, *margin, *out)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	fmt.Fprintf(os.Stderr, "screenshot: %s: %dx%d\n", *out, r.Dx(), r.Dy())
	return nil
}

// writeCropped cuts the rows of img below its content (the colour of the
// bottom-left pixel), keeps margin blank rows, and writes the PNG at the
// best compression.
func writeCropped(img image.Image, margin int, out string) (image.Rectangle, error) {
	b := img.Bounds()
	bg := img.At(b.Min.X, b.Max.Y-1)
	last := -1 // last row holding anything but the background
	for y := b.Max.Y - 1; y >= b.Min.Y && last < 0; y-- {
		for x := b.Min.X; x < b.Max.X; x++ {
			if !sameColor(img.At(x, y), bg) {
				last = y
				break
			}
		}
	}
	if last < 0 {
		return image.Rectangle{}, fmt.Errorf("the image is blank")
	}
	if b.Max.Y-1-last < margin {
		return image.Rectangle{}, fmt.Errorf("the content reaches the bottom (row %d of %d): take the screenshot with a taller window", last, b.Dy())
	}
	r := image.Rect(b.Min.X, b.Min.Y, b.Max.X, last+1+margin)
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		return image.Rectangle{}, fmt.Errorf("cannot crop a %T", img)
	}
	o, err := os.Create(out)
	if err != nil {
		return image.Rectangle{}, err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(o, sub.SubImage(r)); err != nil {
		o.Close()
		return image.Rectangle{}, err
	}
	return r, o.Close()
}

func sameColor(a, b color.Color) bool {
	ar, ag, ab, aa := a.RGBA()
	br, bg, bb, ba := b.RGBA()
	return ar == br && ag == bg && ab == bb && aa == ba
}
