package action

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/action/fakegithub"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/verify"
)

// ghCommand is a workflow command as the runner reads it from a step's
// output.
type ghCommand struct {
	name  string
	props map[string]string
	data  string
	line  string
}

// runnerCommands reads one output stream as the runner does
// (ActionCommandManager.TryProcessCommand): lines end at CR, LF or CRLF; a
// line is a command if, after leading white space, it starts with
// "::name props::data", or, in the legacy form, holds "##[name props]data"
// anywhere; "stop-commands" ignores every command until its token comes
// back as a command. It returns every command the runner would act on.
func runnerCommands(stream string) []ghCommand {
	var out []ghCommand
	stop := ""
	for _, line := range regexp.MustCompile(`\r\n|\r|\n`).Split(stream, -1) {
		c, ok := parseV2(line)
		if !ok || !registered(c.name, stop) {
			c, ok = parseV1(line)
		}
		if !ok || !registered(c.name, stop) {
			continue
		}
		if stop != "" {
			if strings.EqualFold(c.name, stop) {
				stop = ""
			}
			continue
		}
		if strings.EqualFold(c.name, "stop-commands") {
			stop = c.data
		}
		out = append(out, c)
	}
	return out
}

// runnerCommandNames are the commands the runner registers (a name it does
// not know is no command: the line is printed as it is).
var runnerCommandNames = map[string]bool{
	"stop-commands": true, "error": true, "warning": true, "notice": true, "debug": true,
	"group": true, "endgroup": true, "add-mask": true, "echo": true, "add-matcher": true,
	"remove-matcher": true, "save-state": true, "set-output": true, "set-env": true, "add-path": true,
}

// registered: the runner knows the command name, or it is the token that
// resumes commands after stop-commands.
func registered(name, stop string) bool {
	return runnerCommandNames[strings.ToLower(name)] || (stop != "" && strings.EqualFold(name, stop))
}

func parseV2(line string) (ghCommand, bool) {
	msg := strings.TrimLeft(line, " \t\v\f\u00a0\u0085\u2028\u2029")
	if !strings.HasPrefix(msg, "::") {
		return ghCommand{}, false
	}
	end := strings.Index(msg[2:], "::")
	if end < 0 {
		return ghCommand{}, false
	}
	info := msg[2 : 2+end]
	c := ghCommand{props: map[string]string{}, data: msg[2+end+2:], line: line}
	name, props, _ := strings.Cut(info, " ")
	c.name = name
	for _, p := range strings.Split(props, ",") {
		if k, v, ok := strings.Cut(p, "="); ok {
			c.props[k] = v
		}
	}
	return c, name != ""
}

func parseV1(line string) (ghCommand, bool) {
	i := strings.Index(line, "##[")
	if i < 0 {
		return ghCommand{}, false
	}
	rb := strings.Index(line[i:], "]")
	if rb < 0 {
		return ghCommand{}, false
	}
	info := line[i+3 : i+rb]
	c := ghCommand{props: map[string]string{}, data: line[i+rb+1:], line: line}
	name, props, _ := strings.Cut(info, " ")
	c.name = name
	for _, p := range strings.Split(props, ";") {
		if k, v, ok := strings.Cut(p, "="); ok {
			c.props[k] = v
		}
	}
	return c, name != ""
}

// hostile is what a pull request puts into file names, resource names,
// rule ids and messages: line breaks (LF, CR, CRLF, Unicode's) followed by
// forged commands in both syntaxes.
const hostile = "x\n::warning file=forged.yaml::FORGED-lf\r::add-mask::FORGED-cr\r\n" +
	"::stop-commands::FORGED-stop\n##[error]FORGED-legacy\u2028::error::FORGED-ls\n" +
	"  ::notice::FORGED-indented\x1b[2K"

// assertNoForged fails if the runner would act on a command aegis did not
// issue: every command must be an annotation of aegis's or a fence of the
// run's token, and none may be one of the forged ones.
func assertNoForged(t *testing.T, stream string) {
	t.Helper()
	for _, c := range runnerCommands(stream) {
		switch c.name {
		case "error", "warning", "notice":
			assert.False(t, strings.HasPrefix(c.data, "FORGED"), "forged annotation: %q", c.line)
			assert.NotEqual(t, "forged.yaml", c.props["file"], "forged annotation: %q", c.line)
		case "stop-commands":
			assert.Regexp(t, `^aegis-[0-9a-f]{32}$`, c.data, "forged fence: %q", c.line)
		default:
			if !regexp.MustCompile(`^aegis-[0-9a-f]{32}$`).MatchString(c.name) {
				t.Errorf("the runner would act on %q: %q", c.name, c.line)
			}
		}
	}
}

func TestRunnerCommandsSeesForgery(t *testing.T) {
	// The test's runner does see what the console must prevent.
	cmds := runnerCommands("aegis: " + hostile + "\n")
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	assert.Equal(t, []string{"warning", "add-mask", "stop-commands"}, names, "stop-commands swallows the rest")
	cmds = runnerCommands("aegis: a ##[error]FORGED in a line\n")
	require.Len(t, cmds, 1)
	assert.Equal(t, "error", cmds[0].name)
}

// A message of one line stays one line on stderr, whatever it holds: line
// breaks and control characters escaped, "##[" broken up, secrets masked.
func TestConsoleOneLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	red := &secret.Redactor{}
	red.Add("s3cr3t-value")
	c := newConsole(&stdout, &stderr, red)
	c.logf("rendered %s: ##[warning]FORGED (token s3cr3t-value)\x1b[8m", "a.yaml")
	assert.Empty(t, stdout.String())
	assert.Equal(t, "aegis: rendered a.yaml: ##\\[warning]FORGED (token ***)\\x1b[8m\n", stderr.String())
	assertNoForged(t, stderr.String())

	stderr.Reset()
	c.print("::warning::FORGED")
	assert.Equal(t, "aegis: ::warning::FORGED\n", stderr.String(), "no line starts a command")
	assertNoForged(t, stderr.String())

	stderr.Reset()
	c.print("aegis: bad \xff byte\u0085next")
	assert.Equal(t, "aegis: bad \\xff byte\\u0085next\n", stderr.String(), "a single line with a NEL is escaped, on stderr")
}

// A message of several lines is one fenced block on stdout: stop-commands
// with a random token, every line after the first indented, the token back.
func TestConsoleBlock(t *testing.T) {
	var stdout, stderr bytes.Buffer
	c := newConsole(&stdout, &stderr, &secret.Redactor{})
	c.logf("kustomize: accumulating resources:\n%s", hostile)
	assert.Empty(t, stderr.String())
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 4, stdout.String())
	assert.Regexp(t, `^::stop-commands::aegis-[0-9a-f]{32}$`, lines[0])
	token := strings.TrimPrefix(lines[0], "::stop-commands::")
	assert.Equal(t, "::"+token+"::", lines[len(lines)-1])
	assert.Equal(t, "aegis: kustomize: accumulating resources:", lines[1])
	for _, l := range lines[2 : len(lines)-1] {
		assert.True(t, strings.HasPrefix(l, "  | "), "%q", l)
		assert.NotContains(t, l, "##[")
	}
	assert.Contains(t, stdout.String(), "  | ##\\[error]FORGED-legacy")
	assertNoForged(t, stdout.String())
	// Each line stays inert without the fence too.
	assertNoForged(t, strings.Join(lines[1:len(lines)-1], "\n"))

	// The token is random per run.
	var other bytes.Buffer
	newConsole(&other, &stderr, &secret.Redactor{}).logf("a\nb")
	assert.NotEqual(t, lines[0], strings.SplitN(other.String(), "\n", 2)[0])

	// A block that holds the token is printed as one escaped line instead.
	stdout.Reset()
	c.logf("a\n::%s::\n::warning::FORGED", token)
	assert.Empty(t, stdout.String())
	assert.Equal(t, 1, strings.Count(stderr.String(), "\n"))
	assertNoForged(t, stderr.String())
}

// Secret values a pull request registers (a Secret's data) can mask parts
// of the fence ("stop-commands") or of the prefix: the lines stay inert.
func TestConsoleFenceMaskedByHostileSecrets(t *testing.T) {
	var stdout, stderr bytes.Buffer
	red := &secret.Redactor{}
	red.Add("stop-commands", "aegis: ", "  | ")
	c := newConsole(&stdout, &stderr, red)
	c.logf("one\n%s", hostile)
	// What a redacting writer after the console (cmd/aegis's) would make of it.
	out := red.Redact(stdout.String())
	assert.NotContains(t, out, "::stop-commands::")
	assertNoForged(t, out)
}

// The workflow commands go-githubactions writes go through the console:
// masked, and one line each.
func TestConsoleCommands(t *testing.T) {
	var stdout, stderr bytes.Buffer
	red := &secret.Redactor{}
	red.Add("ghs_tokenInAnAnnotation0123")
	c := newConsole(&stdout, &stderr, red)
	_, err := c.commands().Write([]byte("::error title=x::a ghs_tokenInAnAnnotation0123 b\n::warning::FORGED\n"))
	require.NoError(t, err)
	assert.Equal(t, "::error title=x::a *** b%0A::warning::FORGED\n", stdout.String())
	assertNoForged(t, stdout.String())
}

// A run fed hostile strings everywhere a pull request reaches (progress
// lines, finding paths, titles, messages, rule ids, resource names, a
// multi-line error) prints no command that aegis did not issue, on either
// stream.
func TestActionNoForgedCommands(t *testing.T) {
	f := finding("rule"+hostile, report.High, report.New, "deploy/"+hostile+".yaml", 3, "web"+hostile)
	f.Title = "title" + hostile
	f.Message = "message" + hostile
	w := finding("low"+hostile, report.Low, report.New, hostile, 1, hostile)
	progress := func(_ context.Context, o verify.Options) {
		o.Progress("rendered head (%s, plain): 1 objects", "deploy/"+hostile)
		o.Progress("scanner trivy on head: error: %s", "stderr:\n"+hostile)
	}

	t.Run("verdict", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		e := newEnv(t, srv)
		fv := &fakeVerify{rep: sampleReport(f, w)}
		res := runAction(t, e, fv, func(d *Deps) {
			d.Verify = func(ctx context.Context, o verify.Options) (*verify.Result, error) {
				progress(ctx, o)
				return fv.run(ctx, o)
			}
		})
		require.Equal(t, ExitFail, res.code, res.stderr)
		assertNoForged(t, res.stdout)
		assertNoForged(t, res.stderr)
		assert.Contains(t, res.stdout, "::stop-commands::aegis-", "the multi-line progress line is fenced")
		assert.Contains(t, res.stdout, "::error file=after/deploy/x%0A%3A%3Awarning file=forged.yaml%3A%3AFORGED-lf%0D", "the finding's annotation, escaped")
	})

	t.Run("error", func(t *testing.T) {
		e := newEnv(t, nil)
		res := runAction(t, e, &fakeVerify{rep: sampleReport(), err: &verify.InputError{Msg: "head: deploy/" + hostile + ".yaml:3: invalid YAML"}})
		require.Equal(t, ExitBadInput, res.code, res.stderr)
		assertNoForged(t, res.stdout)
		assertNoForged(t, res.stderr)
		assert.Contains(t, res.stdout, "::error title=aegis%3A bad input::aegis could not verify (bad input): head: deploy/x ::warning")
		assert.Contains(t, res.stdout, "  | ::add-mask::FORGED-cr", "the error's lines, fenced and indented")
	})
}

// kubeconfigTest is a kubeconfig with every kind of credential.
const kubeconfigTest = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://kc-user-41:kc-pass%2F41x@prod.example:6443
    proxy-url: http://proxy-user-9:proxy-pass-9@proxy.example:3128
contexts:
- name: prod
  context: {cluster: prod, user: prod}
current-context: prod
users:
- name: prod
  user:
    token: kc-token-0c1d2e3f
    username: basic-user-7
    password: "basic-pass-7"
    client-key-data: ` + "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmtleS1saW5lLW9uZS1zZWNyZXQtYWJjZGVmCi0tLS0tRU5EIFBSSVZBVEUgS0VZLS0tLS0K" + `
- name: oidc
  user:
    auth-provider:
      name: oidc
      config:
        client-id: oidc-client-id-5
        client-secret: oidc-client-secret-5
        id-token: oidc-id-token-5
        refresh-token: oidc-refresh-token-5
- name: exec
  user:
    exec:
      command: get-token
      env:
      - name: API_KEY
        value: exec-env-secret-3
`

func TestKubeconfigSecrets(t *testing.T) {
	got := kubeconfigSecrets(kubeconfigTest)
	for _, want := range []string{
		"kc-user-41:kc-pass%2F41x", "kc-pass%2F41x", "kc-pass/41x", "kc-user-41",
		"proxy-user-9:proxy-pass-9", "proxy-pass-9",
		"kc-token-0c1d2e3f", "basic-pass-7",
		"LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmtleS1saW5lLW9uZS1zZWNyZXQtYWJjZGVmCi0tLS0tRU5EIFBSSVZBVEUgS0VZLS0tLS0K",
		"-----BEGIN PRIVATE KEY-----\nkey-line-one-secret-abcdef\n-----END PRIVATE KEY-----\n",
		"oidc-client-id-5", "oidc-client-secret-5", "oidc-id-token-5", "oidc-refresh-token-5",
		"exec-env-secret-3",
	} {
		assert.Contains(t, got, want)
	}
	assert.NotContains(t, got, "API_KEY", "an env entry's name is not a secret")
	assert.NotContains(t, got, "prod.example:6443")

	// A kubeconfig that does not parse still gives its credentials.
	broken := "users: [\n  token: broken-token-1\n  \"password\": 'broken-pass-1',\nclusters:\n  server: https://u1:p/ss-1@h:port\n"
	got = kubeconfigSecrets(broken)
	for _, want := range []string{"broken-token-1", "broken-pass-1", "u1:p/ss-1", "p/ss-1"} {
		assert.Contains(t, got, want)
	}
}

// The token and the kubeconfig's credentials appear in none of what the
// Action prints, writes or sends to GitHub, even when the verification's
// report, progress lines and errors carry them.
func TestActionSecretsNeverLeave(t *testing.T) {
	secrets := []string{
		testToken, "kc-user-41:kc-pass%2F41x", "kc-pass/41x", "kc-token-0c1d2e3f", "basic-pass-7",
		"key-line-one-secret-abcdef", "oidc-refresh-token-5", "exec-env-secret-3", "proxy-pass-9",
	}
	leak := strings.Join(secrets, " | ")
	check := func(t *testing.T, res result, srv *fakegithub.Server, files ...string) {
		t.Helper()
		outputs, _ := json.Marshal(res.outputs)
		where := map[string]string{"stdout": res.stdout, "stderr": res.stderr, "summary": res.summary, "outputs": string(outputs)}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err == nil {
				where[f] = string(data)
				assert.True(t, json.Valid(data), "%s stays JSON", f)
			}
		}
		if srv != nil {
			for i, c := range srv.Comments(2) {
				where["comment "+string(rune('0'+i))] = c.Body
			}
			for i, u := range srv.Uploads() {
				where["upload "+string(rune('0'+i))] = string(u.SARIF)
			}
			for _, r := range srv.Requests() {
				where[r.Method+" "+r.Path] += string(r.Body)
			}
		}
		for _, s := range secrets {
			for w, text := range where {
				assert.NotContains(t, text, s, w)
				assert.NotContains(t, text, base64.StdEncoding.EncodeToString([]byte(s)), w)
			}
		}
	}

	t.Run("published", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		e := newEnv(t, srv)
		e[inputEnv(InputKubeconfig)] = kubeconfigTest // shadow off: not used, still a secret
		f := finding("aegis.leak", report.Medium, report.New, "deploy/a.yaml", 3, "web")
		f.Message = "the value " + leak + " is in use"
		f.Title = "leak " + leak
		fv := &fakeVerify{rep: sampleReport(f)}
		res := runAction(t, e, fv, func(d *Deps) {
			d.Verify = func(ctx context.Context, o verify.Options) (*verify.Result, error) {
				o.Progress("progress with %s", leak)
				o.Progress("progress over lines:\n%s\n%s", leak, kubeconfigTest)
				return fv.run(ctx, o)
			}
		})
		require.Equal(t, ExitPass, res.code, res.stderr)
		require.Len(t, srv.Comments(2), 1)
		require.Len(t, srv.Uploads(), 1)
		assert.Contains(t, srv.Comments(2)[0].Body, "***", "masked, not dropped")
		assert.Contains(t, string(srv.Uploads()[0].SARIF), "***")
		assert.Contains(t, res.stdout, "::warning", "the finding is annotated")
		check(t, res, srv, e[inputEnv(InputSarifFile)], e[inputEnv(InputReportJSON)])
	})

	t.Run("the kubeconfig does not load", func(t *testing.T) {
		e := newEnv(t, nil)
		e[inputEnv(InputShadow)] = verify.ShadowHead
		e[inputEnv(InputKubeconfig)] = kubeconfigTest
		res := runAction(t, e, &fakeVerify{rep: sampleReport()}, func(d *Deps) {
			d.RestConfig = func(p string) (*rest.Config, error) {
				data, err := os.ReadFile(p)
				require.NoError(t, err)
				// A loader that quotes what it read, as clientcmd quotes a
				// server URL it cannot use.
				return nil, errors.New("host must be a URL: \"https://kc-user-41:kc-pass%2F41x@prod.example:6443\"; read:\n" + string(data))
			}
		})
		require.Equal(t, ExitBadInput, res.code, res.stderr)
		assert.Contains(t, res.stderr+res.stdout, `host must be a URL: "https://***@prod.example:6443"`)
		check(t, res, nil)
	})

	t.Run("the cluster does not answer", func(t *testing.T) {
		srv := fakegithub.New(testToken)
		defer srv.Close()
		e := newEnv(t, srv)
		e[inputEnv(InputShadow)] = verify.ShadowHead
		e[inputEnv(InputKubeconfig)] = kubeconfigTest
		res := runAction(t, e, &fakeVerify{rep: sampleReport(), err: errors.New(`shadow: Post "https://kc-user-41:kc-pass%2F41x@prod.example:6443/api": connection refused (token kc-token-0c1d2e3f)`)},
			func(d *Deps) {
				d.RestConfig = func(string) (*rest.Config, error) { return &rest.Config{Host: "https://prod.example:6443"}, nil }
			})
		require.Equal(t, ExitInfra, res.code, res.stderr)
		assert.Contains(t, res.stderr, `Post "https://***@prod.example:6443/api"`)
		check(t, res, srv)
	})

	t.Run("an invalid input", func(t *testing.T) {
		e := newEnv(t, nil)
		e[inputEnv(InputShadow)] = "sometimes " + testToken
		res := runAction(t, e, &fakeVerify{rep: sampleReport()})
		require.Equal(t, ExitBadInput, res.code)
		assert.Contains(t, res.stderr, `input shadow: "sometimes ***"`, "registered before the inputs are checked")
		check(t, res, nil)
	})
}
