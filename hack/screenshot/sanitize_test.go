package main

import (
	"strings"
	"testing"
)

func TestSanitizeDrops(t *testing.T) {
	for _, tc := range []struct{ name, in, gone string }{
		{"script", `<p>a</p><script>alert(1)</script>`, "alert(1)"},
		{"script tag", `<script src="https://x/y.js"></script>`, "<script"},
		{"onerror", `<img src="https://x/a.png" onerror="alert(1)">`, "onerror"},
		{"onclick", `<a href="https://x" onclick="alert(1)">x</a>`, "onclick"},
		{"style", `<p style="color: red">a</p>`, "style"},
		{"style element", `<style>p { color: red }</style><p>a</p>`, "color: red"},
		{"class", `<p class="markdown-alert">a</p>`, "class"},
		{"id", `<h2 id="top">a</h2>`, "id="},
		{"javascript link", `<a href="javascript:alert(1)">x</a>`, "javascript"},
		{"javascript link, odd case", `<a href="JaVaScRiPt:alert(1)">x</a>`, "alert"},
		{"data link", `<a href="data:text/html,hi">x</a>`, "data:"},
		{"iframe", `<iframe src="https://x/"><p>inside</p></iframe>`, "iframe"},
		{"html comment", `<p>a</p><!-- aegis: hidden marker -->`, "hidden marker"},
		{"svg", `<svg><circle r="1"/></svg>`, "svg"},
		{"text input", `<input type="text" value="v">`, "<input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := sanitize(tc.in)
			if strings.Contains(strings.ToLower(out), strings.ToLower(tc.gone)) {
				t.Errorf("sanitize(%q) = %q, still has %q", tc.in, out, tc.gone)
			}
		})
	}
}

func TestSanitizeKeeps(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"details", `<details open=""><summary>Resource diff</summary><p>x</p></details>`},
		{"sub", `<p><sub>Policy: fail on high</sub></p>`},
		{"table", "<table>\n<thead>\n<tr>\n<th align=\"left\">a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td align=\"right\">1</td>\n</tr>\n</tbody>\n</table>"},
		{"code", `<pre><code class="language-diff">- a</code></pre>`},
		{"http link", `<a href="https://github.com/o/r/blob/abc/x.yaml#L12">x.yaml:12</a>`},
		{"fragment link", `<a href="#findings">x</a>`},
		{"mailto link", `<a href="mailto:a@example.com">a</a>`},
		{"checkbox", `<ul><li><input checked="" disabled="" type="checkbox"> done</li></ul>`},
		{"img", `<img src="https://x/a.png" alt="a" width="20">`},
		{"kbd, mark, dl", `<dl><dt><kbd>a</kbd></dt><dd><mark>b</mark></dd></dl>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.in
			if tc.name == "code" { // the class goes, the code stays
				want = `<pre><code>- a</code></pre>`
			}
			if out := sanitize(tc.in); out != want {
				t.Errorf("sanitize(%q) = %q, want it kept", tc.in, out)
			}
		})
	}
}

// A javascript: link loses its href but stays a link, as on GitHub, so
// that check reports it.
func TestSanitizeKeepsLinkWithoutHref(t *testing.T) {
	if out, want := sanitize(`<a href="javascript:alert(1)">x</a>`), `<a>x</a>`; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// The pipeline: raw HTML from the Markdown is sanitised, GitHub's own
// markup (alerts, task lists) is added after, and cannot be forged.
func TestRenderComment(t *testing.T) {
	md := "> [!WARNING]\n> Careful.\n\n- [ ] todo\n\n<details><summary>More</summary>\n\n" +
		"| a | b |\n|---|---|\n| 1 | 2 |\n\n</details>\n\n<sub>small</sub>\n\n" +
		"<script>alert(1)</script>\n\n<img src=\"https://x/a.png\" onerror=\"alert(2)\">\n\n" +
		"<p style=\"color:red\">red</p>\n\n[js](javascript:alert(3))\n\n<iframe src=\"https://x/\"></iframe>\n\n" +
		"<!-- a comment -->\n\n<div class=\"markdown-alert markdown-alert-note\">forged</div>\n\n" +
		"<div title=\"aegis-alert-0000-note\">guessed</div>\n"
	icons := map[string]string{}
	for _, k := range alertKinds {
		icons[k.icon] = `<path d="M0 0h16v16H0z"></path>`
	}
	out, err := renderComment([]byte(md), icons)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<div class="markdown-alert markdown-alert-warning" dir="auto"><p class="markdown-alert-title" dir="auto"><svg class="octicon octicon-alert mr-2"`,
		`Warning</p>`, "Careful.",
		`<ul class="contains-task-list">`, `<li class="task-list-item"><input class="task-list-item-checkbox" disabled="" type="checkbox">`,
		"<details><summary>More</summary>", "<table>", "<td>1</td>", "<sub>small</sub>",
		`<img src="https://x/a.png">`, "<p>red</p>", "<a>js</a>", "<div>forged</div>", `<div title="aegis-alert-0000-note">guessed</div>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	for _, gone := range []string{"<script", "alert(1)", "onerror", "style=", "javascript", "iframe", "a comment", `markdown-alert markdown-alert-note`} {
		if strings.Contains(out, gone) {
			t.Errorf("%q left in\n%s", gone, out)
		}
	}
}
