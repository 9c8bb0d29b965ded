package main

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/action/fakegithub"
)

// trustAction2Cases are hostile-corpus cases of issue 14: nothing a pull
// request puts into a file name, a resource name, a message or a tool's
// output issues a workflow command in the Action's log, and the Action's
// own secrets (its token, its kubeconfig and the credentials in it) appear
// in nothing it prints, writes or sends to GitHub.
func trustAction2Cases() []hostileCase {
	return append(commandInjectionCases(), actionSecretCases()...)
}

// forgery follows a line break in a file name or a tool's output: a forged
// annotation, a mask that would hide the log, a stop-commands that would
// silence aegis's own annotations, and the legacy form, which the runner
// finds anywhere in a line.
const forgery = "x\n::warning file=forged.yaml,line=1::FORGED-warning\n::add-mask::aegis\n" +
	"::stop-commands::FORGED-stop\n##[error]FORGED-legacy\r::error::FORGED-cr\n.yaml"

// ghCommandLine is a workflow command as the runner reads it.
type ghCommandLine struct{ name, data, file, line string }

// ghRunnerCommands reads one output stream as the GitHub runner does
// (ActionCommandManager.TryProcessCommand): lines end at CR, LF or CRLF; a
// line is a command if, after white space, it starts with "::name::" or,
// in the legacy form, holds "##[name]" anywhere, and name is a command the
// runner knows; after "::stop-commands::TOKEN" only TOKEN is a command. It
// returns every command the runner would act on.
func ghRunnerCommands(stream string) []ghCommandLine {
	known := map[string]bool{
		"stop-commands": true, "error": true, "warning": true, "notice": true, "debug": true,
		"group": true, "endgroup": true, "add-mask": true, "echo": true, "add-matcher": true,
		"remove-matcher": true, "save-state": true, "set-output": true, "set-env": true, "add-path": true,
	}
	parse := func(line string) (ghCommandLine, bool) {
		c := ghCommandLine{line: line}
		var info string
		if msg := strings.TrimLeft(line, " \t\v\f\u00a0\u0085\u2028\u2029"); strings.HasPrefix(msg, "::") {
			if end := strings.Index(msg[2:], "::"); end >= 0 {
				info, c.data = msg[2:2+end], msg[2+end+2:]
			}
		}
		if info == "" {
			i := strings.Index(line, "##[")
			if i < 0 {
				return c, false
			}
			rb := strings.Index(line[i:], "]")
			if rb < 0 {
				return c, false
			}
			info, c.data = line[i+3:i+rb], line[i+rb+1:]
		}
		name, props, _ := strings.Cut(info, " ")
		c.name = strings.ToLower(name)
		for _, p := range strings.FieldsFunc(props, func(r rune) bool { return r == ',' || r == ';' }) {
			if k, v, ok := strings.Cut(p, "="); ok && k == "file" {
				c.file = v
			}
		}
		return c, true
	}
	var out []ghCommandLine
	stop := ""
	for _, line := range regexp.MustCompile(`\r\n|\r|\n`).Split(stream, -1) {
		c, ok := parse(line)
		if !ok || !(known[c.name] || (stop != "" && c.name == strings.ToLower(stop))) {
			continue
		}
		if stop != "" {
			if c.name == strings.ToLower(stop) {
				stop = ""
			}
			continue
		}
		if c.name == "stop-commands" {
			stop = c.data
		}
		out = append(out, c)
	}
	return out
}

// assertNoForgedCommands: on stdout and on stderr (the runner reads both),
// the only commands are aegis's annotations and its own stop-commands
// fences; none carries the forgery.
func assertNoForgedCommands(t *testing.T, r hostileResult) {
	t.Helper()
	fence := regexp.MustCompile(`^aegis-[0-9a-f]{32}$`)
	for stream, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		for _, c := range ghRunnerCommands(text) {
			switch c.name {
			case "error", "warning", "notice":
				assert.False(t, strings.HasPrefix(c.data, "FORGED"), "%s: forged annotation %q", stream, c.line)
				assert.NotEqual(t, "forged.yaml", c.file, "%s: forged annotation %q", stream, c.line)
			case "stop-commands":
				assert.Regexp(t, fence, c.data, "%s: forged stop-commands %q", stream, c.line)
			default:
				t.Errorf("%s: the runner would act on %q: %q", stream, c.name, c.line)
			}
		}
		for _, line := range regexp.MustCompile(`\r\n|\r|\n`).Split(text, -1) {
			assert.False(t, strings.HasPrefix(strings.TrimSpace(line), "::warning file=forged.yaml"), "%s: %q", stream, line)
			assert.False(t, strings.HasPrefix(strings.TrimSpace(line), "::add-mask::"), "%s: %q", stream, line)
			assert.False(t, strings.HasPrefix(strings.TrimSpace(line), "::stop-commands::FORGED"), "%s: %q", stream, line)
		}
	}
}

// dirsPR runs the action on a pull_request event with the case's base/
// and head/ directories as the sides and its .aegis.yaml as the policy.
func dirsPR(t *testing.T, dir string, inputs map[string]string) invocation {
	t.Helper()
	writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
	const sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	in := map[string]string{
		"shadow": "off", "path": ".", "config": filepath.Join(dir, ".aegis.yaml"),
		"base-dir": filepath.Join(dir, "base"), "head-dir": filepath.Join(dir, "head"),
	}
	for k, v := range inputs {
		in[k] = v
	}
	return invocation{cmd: "action", payload: eventPayload(t, dir, sha, sha), inputs: in}
}

func commandInjectionCases() []hostileCase {
	return []hostileCase{
		// The render error names the file: its line breaks must not start
		// lines of their own on either stream.
		{entry: entryEvent, name: "manifest file name with line breaks forging workflow commands", code: exitBadInput,
			want: `head/x\s.*\.yaml:3: invalid YAML`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{
					"app.yaml": goodDeployment,
					forgery:    "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n",
				})
				return dirsPR(t, dir, nil)
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assertNoForgedCommands(t, r)
				assert.Contains(t, r.stdout, "::error title=aegis%3A bad input::", "aegis's own annotation is issued")
				assert.Regexp(t, `(?m)^::stop-commands::aegis-[0-9a-f]{32}$`, r.stdout, "the multi-line error is fenced")
			}},
		// A manifest that renders, in a file whose name forges commands: the
		// finding's annotation names the file, escaped.
		{entry: entryEvent, name: "findings in a file whose name forges workflow commands", code: exitFail,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{
					"app.yaml": goodDeployment,
					forgery:    strings.Replace(goodDeployment, "name: web", "name: other", 1) + "      hostNetwork: true\n",
				})
				return dirsPR(t, dir, map[string]string{"comment": "false", "upload-sarif": "false"})
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assertNoForgedCommands(t, r)
				assert.Regexp(t, `::(error|warning) file=head/x%0A%3A%3Awarning file=forged\.yaml%2Cline=1%3A%3AFORGED-warning%0A`, r.stdout, "the annotation's file, escaped")
			}},
		// A scanner's stderr (what Trivy prints about the files it scans)
		// goes into the log: fenced, and each of its lines inert.
		{entry: entryEvent, name: "scanner stderr forging workflow commands", code: exitInfra,
			want: `scanner trivy on head: error`,
			prepare: func(t *testing.T, dir string) invocation {
				standInTrivy(t, dir, "printf '%s\\n' 'scan failed on "+strings.ReplaceAll(strings.ReplaceAll(forgery, "\r", ""), "'", "")+"' >&2; exit 1")
				return dirsPR(t, dir, map[string]string{"comment": "false", "upload-sarif": "false"})
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assertNoForgedCommands(t, r)
				assert.Equal(t, "error", r.files["output verdict"])
				assert.Contains(t, r.files["summary"], "exit status 1: scan failed on x", "the tool's stderr reached the report")
			}},
	}
}

// The Action's secrets: a kubeconfig whose server URL carries credentials
// (user and password) and whose user has a token, and the GitHub token.
const (
	kcURLUser  = "kcuser-5b7d9f1e"
	kcURLPass  = "kcpass-71d3c5e7a9b1"
	kcToken    = "kctok-8e2b4d6f0a1c3e59"
	ghPATToken = "tokn-4f9c2a7e1b3d5c6f"
)

// kubeconfigWith is a kubeconfig whose server is https://USER:PASS@server.
func kubeconfigWith(server string) string {
	return "apiVersion: v1\nkind: Config\nclusters:\n- name: shadow\n  cluster:\n    server: https://" + kcURLUser + ":" + kcURLPass + "@" + server + "\n" +
		"contexts:\n- name: shadow\n  context: {cluster: shadow, user: ci}\ncurrent-context: shadow\n" +
		"users:\n- name: ci\n  user:\n    token: " + kcToken + "\n"
}

// assertSecretsNowhere: none of the Action's secrets, in any form an output
// carries them, is in stdout, stderr, the files (outputs, summary, SARIF,
// JSON), or anything the fake GitHub received (comment bodies, the SARIF
// uploaded, every request body).
func assertSecretsNowhere(t *testing.T, r hostileResult) {
	t.Helper()
	where := map[string]string{"stdout": r.stdout, "stderr": r.stderr}
	for k, v := range r.files {
		where[k] = v
	}
	if r.github != nil {
		for _, c := range r.github.Comments(2) {
			where[fmt.Sprintf("comment %d", c.ID)] = c.Body
		}
		for _, u := range r.github.Uploads() {
			where["SARIF upload "+u.ID] = string(u.SARIF)
		}
		for i, q := range r.github.Requests() {
			where[fmt.Sprintf("request %d %s %s", i, q.Method, q.Path)] = string(q.Body)
		}
	}
	for _, s := range []string{kcURLUser, kcURLPass, kcToken, ghPATToken, actionToken} {
		for w, text := range where {
			assert.NotContains(t, text, s, "%s", w)
			assert.NotContains(t, text, base64.StdEncoding.EncodeToString([]byte(s)), "%s", w)
		}
	}
}

func actionSecretCases() []hostileCase {
	return []hostileCase{
		// The cluster does not answer: the errors (and the client's) quote
		// the server URL, credentials and all.
		{entry: entryEvent, name: "kubeconfig with credentials in an unreachable server URL", code: exitInfra,
			want: `cannot reach the cluster at https://\*\*\*@127\.0\.0\.1:1`,
			prepare: func(t *testing.T, dir string) invocation {
				return dirsPR(t, dir, map[string]string{"shadow": "head", "kubeconfig": kubeconfigWith("127.0.0.1:1")})
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assertSecretsNowhere(t, r)
				assert.Equal(t, "error", r.files["output verdict"])
			}},
		// A server URL that is not one: the loader's error quotes it.
		{entry: entryEvent, name: "kubeconfig with credentials in a malformed server URL", code: exitInfra,
			want: `https://\*\*\*@127\.0\.0\.1:port`,
			prepare: func(t *testing.T, dir string) invocation {
				return dirsPR(t, dir, map[string]string{"shadow": "head", "kubeconfig": kubeconfigWith("127.0.0.1:port")})
			},
			check: func(t *testing.T, dir string, r hostileResult) { assertSecretsNowhere(t, r) }},
		// Everything is published: the secrets' values also appear as
		// resource names in the pull request, and so in the findings, the
		// annotations, the summary, the comment and the SARIF. Each is
		// masked, in every channel.
		{entry: entryEvent, name: "the Action's secrets masked in every output and in what GitHub receives", code: exitFail,
			prepare: func(t *testing.T, dir string) invocation {
				head := map[string]string{"app.yaml": goodDeployment}
				for i, name := range []string{kcToken, kcURLPass, ghPATToken} {
					head[fmt.Sprintf("d%d.yaml", i)] = strings.Replace(goodDeployment, "name: web", "name: "+name, 1) + "      hostNetwork: true\n"
				}
				writeFiles(t, filepath.Join(dir, "head"), head)
				inv := dirsPR(t, dir, map[string]string{"kubeconfig": kubeconfigWith("shadow.example:6443"), "token": ghPATToken})
				inv.seed = func(s *fakegithub.Server) {
					s.AddToken(ghPATToken, fakegithub.Identity{Login: "octo-ops", Kind: fakegithub.KindPersonal, Write: true})
				}
				return inv
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assertSecretsNowhere(t, r)
				comments := r.github.Comments(2)
				require.Len(t, comments, 1, "the comment is posted")
				assert.Contains(t, comments[0].Body, "***", "masked, not dropped")
				uploads := r.github.Uploads()
				require.Len(t, uploads, 1, "the SARIF is uploaded")
				assert.Contains(t, string(uploads[0].SARIF), "***")
				assert.Contains(t, r.files["summary"], "***")
				assert.Contains(t, r.stdout, "::error file=", "the findings are annotated")
				assert.Equal(t, "fail", r.files["output verdict"])
			}},
	}
}
