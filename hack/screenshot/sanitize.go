package main

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
)

// GitHub renders a comment's Markdown, then sanitises the HTML with an
// allowlist (html-pipeline's SanitizationFilter, which GitHub published:
// lib/html/pipeline/sanitization_filter.rb, WHITELIST), then decorates the
// result: alerts (div.markdown-alert with an octicon), task-list classes,
// heading anchors. The decoration is GitHub's own markup, so it is added
// after sanitising; an author cannot write it (class, svg are stripped).

// ghElements are the elements GitHub keeps. The html-pipeline list (h1-h8
// to strike, summary, details) plus the elements GitHub allows in comments
// today (caption ... wbr; input only as a task-list checkbox).
var ghElements = []string{
	"h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "br", "b", "i", "strong", "em", "a", "pre", "code", "img", "tt",
	"div", "ins", "del", "sup", "sub", "p", "ol", "ul", "table", "thead", "tbody", "tfoot", "blockquote",
	"dl", "dt", "dd", "kbd", "q", "samp", "var", "hr", "ruby", "rt", "rp", "li", "tr", "td", "th", "s", "strike",
	"summary", "details",
	"caption", "figure", "figcaption", "abbr", "bdo", "cite", "dfn", "mark", "small", "span", "time", "wbr",
	"input",
}

// ghGlobalAttrs are allowed on every kept element (WHITELIST[:attributes][:all];
// html-pipeline's older lists also had accept-charset, accesskey and action,
// left out here). "type" is handled apart: on <input> only type="checkbox".
var ghGlobalAttrs = []string{
	"abbr", "accept", "align", "alt", "axis", "border", "cellpadding", "cellspacing", "char", "charoff",
	"charset", "checked", "clear", "cols", "colspan", "color", "compact", "coords", "datetime", "dir",
	"disabled", "enctype", "for", "frame", "headers", "height", "hreflang", "hspace", "ismap", "label",
	"lang", "maxlength", "media", "method", "multiple", "name", "nohref", "noshade", "nowrap", "open",
	"prompt", "readonly", "rel", "rev", "rows", "rowspan", "rules", "scope", "selected", "shape", "size",
	"span", "start", "summary", "tabindex", "target", "title", "usemap", "valign", "value", "vspace",
	"width", "itemprop",
}

// githubPolicy models GitHub's comment sanitisation. Everything not listed
// goes: style, class, id, on* handlers, <script>/<style>/<iframe> with their
// content, <svg>, HTML comments; hrefs other than http, https, mailto and
// relative ones are removed (the <a> stays, without href, as on GitHub).
//
// Known differences, none of which changes the layout: bluemonday checks
// URL schemes for every URL attribute alike (GitHub allows mailto only on
// a[href]); GitHub also rewrites image URLs through its camo proxy and adds
// rel="nofollow"; it drops table rows outside a <table> and <li> outside a
// list, bluemonday keeps them.
func githubPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements(ghElements...)
	p.AllowAttrs(ghGlobalAttrs...).Globally()
	var typed []string
	for _, e := range ghElements {
		if e != "input" {
			typed = append(typed, e)
		}
	}
	p.AllowAttrs("type").OnElements(typed...)
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^checkbox$`)).OnElements("input")
	p.AllowAttrs("href").OnElements("a")
	p.AllowNoAttrs().OnElements("a") // an <a> whose href was refused stays, as on GitHub
	p.AllowAttrs("src", "longdesc").OnElements("img")
	p.AllowAttrs("itemscope", "itemtype").OnElements("div")
	p.AllowAttrs("cite").OnElements("blockquote", "del", "ins", "q")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(true)
	p.AllowURLSchemes("http", "https", "mailto")
	return p
}

var (
	policy = githubPolicy()
	// an <input> that is not a checkbox after sanitising (bluemonday cannot
	// require an attribute): GitHub keeps none.
	inputTag = regexp.MustCompile(`<input\b[^>]*>`)
)

// sanitize applies githubPolicy to rendered HTML.
func sanitize(h string) string {
	out := policy.Sanitize(h)
	return inputTag.ReplaceAllStringFunc(out, func(tag string) string {
		if strings.Contains(tag, `type="checkbox"`) {
			return tag
		}
		return ""
	})
}

// newNonce returns a random token that marks the renderer's own markup
// (alerts) through sanitisation: the author of the Markdown cannot guess it.
func newNonce() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
