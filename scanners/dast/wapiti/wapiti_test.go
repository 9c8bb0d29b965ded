package wapiti

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/scanners"
)

// fakeWapiti writes an executable stand-in for wapiti that records its
// arguments and environment (and whether the Wappalyzer database was
// seeded in --store-config when it ran), then runs body, a bash snippet
// where $out is the -o report path.
func fakeWapiti(t *testing.T, body string) (bin, record string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "record")
	script := fmt.Sprintf(`#!/bin/bash
rec=%q
printf '%%s\n' "$@" > "$rec.args"
env > "$rec.env"
pwd > "$rec.pwd"
out=""; cfg=""; ses=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift;;
    --store-config) cfg="$2"; shift;;
    --store-session) ses="$2"; shift;;
  esac
  shift
done
[ -f "$cfg/apps.json" ] && cat "$cfg/apps.json" > "$rec.apps"
[ -d "$ses" ] && echo "$ses" > "$rec.session"
%s
`, record, body)
	bin = filepath.Join(dir, "wapiti")
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	return bin, record
}

func testdataPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	require.NoError(t, err)
	return p
}

func readRecord(t *testing.T, record, ext string) string {
	t.Helper()
	b, err := os.ReadFile(record + "." + ext)
	require.NoError(t, err, "the fake wapiti did not record %s", ext)
	return string(b)
}

// The command line and environment aegis gives Wapiti: bounded modules,
// depth and times, a fresh session and configuration in a temporary
// directory (flushed), no bug report, JSON to a file, and an environment
// of its own: HOME in the temporary directory, English, proxies pointing
// at the black hole except for the target. The temporary directory is gone
// afterwards.
func TestScanCommandLineAndEnvironment(t *testing.T) {
	bin, rec := fakeWapiti(t, `cat `+testdataPath(t, "web-1.0.log")+`; cp `+testdataPath(t, "web-1.0.json")+` "$out"`)
	tmp := t.TempDir()
	b := New(Options{Binary: bin, TempDir: tmp})
	alerts, err := b.Scan(context.Background(), "http://127.0.0.1:18081/")
	require.NoError(t, err)
	assert.Len(t, alerts, 6)

	args := strings.Split(strings.TrimSpace(readRecord(t, rec, "args")), "\n")
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		t.Errorf("no %s in %q", name, args)
		return ""
	}
	assert.Equal(t, "http://127.0.0.1:18081/", flag("-u"))
	assert.Equal(t, "folder", flag("--scope"))
	assert.Equal(t, "xss,http_headers,csp", flag("-m"))
	assert.Equal(t, "2", flag("-d"))
	assert.Equal(t, "30", flag("--max-scan-time"))
	assert.Equal(t, "20", flag("--max-attack-time"))
	assert.Equal(t, "5", flag("-t"))
	assert.Equal(t, "json", flag("-f"))
	assert.Contains(t, args, "--flush-session")
	assert.Contains(t, args, "--no-bugreport")
	for _, f := range []string{"--store-session", "--store-config", "-o"} {
		assert.True(t, strings.HasPrefix(flag(f), tmp+string(os.PathSeparator)), "%s %s is not in the run's temporary directory", f, flag(f))
	}
	assert.Equal(t, "{}\n", readRecord(t, rec, "apps"), "an empty Wappalyzer database is seeded before Wapiti starts")
	assert.NotEmpty(t, readRecord(t, rec, "session"))

	env := map[string]string{}
	for _, kv := range strings.Split(readRecord(t, rec, "env"), "\n") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	assert.True(t, strings.HasPrefix(env["HOME"], tmp+string(os.PathSeparator)), "HOME=%s", env["HOME"])
	assert.NotEqual(t, os.Getenv("HOME"), env["HOME"])
	assert.Equal(t, "en_US.UTF-8", env["LC_ALL"])
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, env["HTTPS_PROXY"])
	assert.Equal(t, env["HTTPS_PROXY"], env["HTTP_PROXY"])
	assert.Equal(t, "127.0.0.1", env["NO_PROXY"])
	assert.Empty(t, env["PYTHONPATH"])

	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the run's temporary directory is removed")
}

func TestScanOptionsReachTheCommandLine(t *testing.T) {
	bin, rec := fakeWapiti(t, `cat `+testdataPath(t, "web-1.0.log")+`; cp `+testdataPath(t, "web-1.0.json")+` "$out"`)
	b := New(Options{Binary: bin, Modules: []string{"xss"}, Depth: 1, MaxScanTime: 1500 * time.Millisecond, MaxAttackTime: 3 * time.Second,
		RequestTimeout: 2 * time.Second, Scope: "page", ExtraArgs: []string{"--max-parameters", "5"}})
	_, err := b.Scan(context.Background(), "http://127.0.0.1:18081/")
	require.NoError(t, err)
	args := readRecord(t, rec, "args")
	for _, want := range []string{"-m\nxss\n", "-d\n1\n", "--max-scan-time\n1.5\n", "--max-attack-time\n3\n", "-t\n2\n", "--scope\npage\n", "--max-parameters\n5\n"} {
		assert.Contains(t, args, want)
	}
}

func TestScanFailsClosed(t *testing.T) {
	report := testdataPath(t, "web-1.0.json")
	log := testdataPath(t, "web-1.0.log")
	cases := map[string]struct {
		body, want string
	}{
		"non-zero exit":       {`echo "Traceback (most recent call last): boom" >&2; exit 3`, "exit status 3"},
		"traceback quoted":    {`echo "[*] Launching module xss"; echo "Traceback (most recent call last): boom" >&2; exit 3`, "Traceback (most recent call last): boom"},
		"log over its cap":    {`head -c 20000000 /dev/zero | tr '\0' x; cp ` + report + ` "$out"`, "cap of 16 MiB"},
		"unknown module":      {`echo "[!] Unable to find a module named xsss"; cat ` + log + `; cp ` + report + ` "$out"`, `unknown module "xsss"`},
		"no report":           {`cat ` + log, "wrote no report"},
		"report not JSON":     {`cat ` + log + `; echo "<html>" > "$out"`, "not Wapiti's JSON"},
		"reached nothing":     {`cat ` + testdataPath(t, "unreachable.log") + `; cp ` + testdataPath(t, "unreachable.json") + ` "$out"`, "found 0 URLs"},
		"another tool's JSON": {`cat ` + log + `; cp ` + testdataPath(t, filepath.Join("..", "..", "zap", "testdata", "alert_view_alerts_base.json")) + ` "$out"`, "not Wapiti's JSON"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			bin, _ := fakeWapiti(t, c.body)
			alerts, err := New(Options{Binary: bin}).Scan(context.Background(), "http://127.0.0.1:18081/")
			require.Error(t, err)
			assert.Nil(t, alerts)
			assert.Contains(t, err.Error(), c.want)
			assert.False(t, errors.Is(err, scanners.ErrNotInstalled))
		})
	}
}

func TestMissingBinaryIsNotInstalled(t *testing.T) {
	b := New(Options{Binary: filepath.Join(t.TempDir(), "no-wapiti")})
	_, err := b.Version(context.Background())
	assert.ErrorIs(t, err, scanners.ErrNotInstalled)
	_, err = b.Scan(context.Background(), "http://127.0.0.1:1/")
	assert.ErrorIs(t, err, scanners.ErrNotInstalled)
	_, err = New(Options{Binary: "aegis-no-such-wapiti"}).Version(context.Background())
	assert.ErrorIs(t, err, scanners.ErrNotInstalled)
}

func TestScanRefusesATargetThatIsNotHTTP(t *testing.T) {
	bin, _ := fakeWapiti(t, `exit 0`)
	for _, u := range []string{"", "127.0.0.1:80", "ftp://127.0.0.1/", "http:///"} {
		_, err := New(Options{Binary: bin}).Scan(context.Background(), u)
		assert.Error(t, err, u)
	}
}

// A Wapiti that outlives the context is killed (with its process group),
// and the scan is an error naming the deadline.
func TestScanStopsWithTheContext(t *testing.T) {
	bin, _ := fakeWapiti(t, `sleep 30 & wait`)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := New(Options{Binary: bin}).Scan(ctx, "http://127.0.0.1:18081/")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 10*time.Second, "the scan returns soon after the deadline")
}

// What Wapiti tries to reach beyond the target goes to the black hole: it
// is refused and logged.
func TestAttemptsBeyondTheTargetAreBlockedAndLogged(t *testing.T) {
	bin, _ := fakeWapiti(t, `p=${HTTPS_PROXY#http://}
exec 3<>/dev/tcp/${p%:*}/${p#*:}
printf 'CONNECT raw.githubusercontent.com:443 HTTP/1.0\r\n\r\n' >&3
cat <&3 >/dev/null
cat `+testdataPath(t, "web-1.0.log")+`; cp `+testdataPath(t, "web-1.0.json")+` "$out"`)
	var mu sync.Mutex
	var logs []string
	b := New(Options{Binary: bin, Logf: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(f, a...))
	}})
	_, err := b.Scan(context.Background(), "http://127.0.0.1:18081/")
	require.NoError(t, err)
	assert.Contains(t, strings.Join(logs, "\n"), "blocked 1 attempts to reach beyond the target: CONNECT raw.githubusercontent.com:443 HTTP/1.0")
}

func TestVersionParsesWapitisOutput(t *testing.T) {
	// The end of `wapiti --version` of Debian's 3.0.4: the banner, then the
	// version line.
	bin, _ := fakeWapiti(t, `printf '  banner\nWapiti-3.0.4 (wapiti.sourceforge.io)\nWapiti 3.0.4\n'`)
	v, err := New(Options{Binary: bin}).Version(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "3.0.4", v)

	bin, _ = fakeWapiti(t, `echo "usage: something else"`)
	_, err = New(Options{Binary: bin}).Version(context.Background())
	assert.ErrorContains(t, err, "no version")
}
