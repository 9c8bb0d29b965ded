// Package dasttest holds what the DAST tests share: the guard of the tests
// that run the real Wapiti, and the example web app (apps/web) built and
// started on 127.0.0.1 in its vulnerable (1.0) and hardened (1.1) builds.
package dasttest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"
)

// RequireWapiti returns the path of the wapiti binary, or skips the test
// when there is none, unless AEGIS_REQUIRE_WAPITI=1 (CI) or one of the
// extra variables given is "1": then a missing wapiti fails the test.
func RequireWapiti(t testing.TB, alsoRequiredBy ...string) string {
	t.Helper()
	p, err := exec.LookPath("wapiti")
	if err == nil {
		return p
	}
	for _, v := range append([]string{"AEGIS_REQUIRE_WAPITI"}, alsoRequiredBy...) {
		if os.Getenv(v) == "1" {
			t.Fatalf("%s=1 but wapiti is not in PATH (apt-get install -y wapiti): %v", v, err)
		}
	}
	t.Skipf("wapiti is not in PATH (apt-get install -y wapiti; AEGIS_REQUIRE_WAPITI=1 makes this a failure): %v", err)
	return ""
}

// RepoRoot is the module root, found from this file's directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "apps", "web", "main.go")); err != nil {
		t.Fatalf("not the repository root (%s): %v", root, err)
	}
	return root
}

// WebBuilds are the two builds of apps/web, as hack/build-images.sh makes
// the images aegis.local/web:1.0 and :1.1.
type WebBuilds struct {
	Vulnerable string // 1.0: reflected XSS in ?q=, no security headers
	Hardened   string // 1.1: escapes the query, sends the security headers
}

// BuildWeb builds both builds of apps/web into a temporary directory, with
// the ldflags of hack/build-images.sh.
func BuildWeb(t testing.TB) WebBuilds {
	t.Helper()
	root := RepoRoot(t)
	dir := t.TempDir()
	b := WebBuilds{Vulnerable: filepath.Join(dir, "web-1.0"), Hardened: filepath.Join(dir, "web-1.1")}
	for _, v := range []struct{ out, ldflags string }{
		{b.Vulnerable, "-X main.version=1.0"},
		{b.Hardened, "-X main.version=1.1 -X main.hardened=true"},
	} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", v.ldflags, "-o", v.out, "./apps/web")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./apps/web (%s): %v\n%s", v.ldflags, err, out)
		}
	}
	return b
}

var listening = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// StartWeb runs a build of apps/web on 127.0.0.1, on a port the OS picks,
// until the test ends, and returns its base URL (http://127.0.0.1:<port>/).
func StartWeb(t testing.TB, bin string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	addr := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	select {
	case a := <-addr:
		return fmt.Sprintf("http://%s/", a)
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not say where it listens", bin)
	}
	return ""
}
