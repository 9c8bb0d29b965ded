// Command fakesemgrep stands in for the semgrep CLI in the semgrep scanner's
// tests (semgrep itself is a Python package that cannot be installed where
// they run). It checks the command line aegis builds, then replays a
// recorded `semgrep scan --json` output. Any argument it did not expect ends
// it with exit code 2 and a message on stderr, like a semgrep usage error, so
// a test sees a wrong command line as a failed scan.
//
// Environment:
//
//	FAKESEMGREP_VERSION          what --version prints (default 1.161.0)
//	FAKESEMGREP_EXPECT_CONFIGS   the --config values, in order, one per line
//	FAKESEMGREP_EXPECT_FILES     the target paths, in order, one per line;
//	                             FAKESEMGREP_EXPECT_FILES_<DIR> (DIR: the
//	                             upper-cased base name of the working
//	                             directory) takes precedence, so one
//	                             environment serves base and head
//	FAKESEMGREP_EXPECT_BATCHES   instead of the above: one line per allowed
//	                             target list, paths separated by spaces
//	FAKESEMGREP_EXPECT_FLAGS     flags that must be present, one per line
//	FAKESEMGREP_FIXTURE          the output file to print; "%s" is replaced
//	                             by the working directory's base name
//	FAKESEMGREP_EXIT             exit code after printing (default 0)
//	FAKESEMGREP_SLEEP            a Go duration to sleep before printing
//	FAKESEMGREP_MODE             "garbage" prints a non-JSON line, "crash"
//	                             prints half the fixture and exits 139,
//	                             "kill" kills itself with SIGKILL
//	FAKESEMGREP_LOG              a file to append one line per run to
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// valued are the semgrep flags that take a separate value.
var valued = map[string]bool{
	"--config": true, "-c": true, "-f": true, "--timeout": true, "--jobs": true, "-j": true,
	"--include": true, "--exclude": true, "--severity": true, "--max-target-bytes": true,
}

func main() {
	args := os.Args[1:]
	if slices.Equal(args, []string{"--version"}) {
		fmt.Println(env("FAKESEMGREP_VERSION", "1.161.0"))
		return
	}
	if len(args) == 0 || args[0] != "scan" {
		fail("expected the scan subcommand, got %q", args)
	}
	var configs, flags, targets []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config":
			if i+1 >= len(args) {
				fail("--config without a value")
			}
			configs = append(configs, args[i+1])
			i++
		case valued[a]:
			if i+1 >= len(args) {
				fail("%s without a value", a)
			}
			flags = append(flags, a+"="+args[i+1])
			i++
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "./"):
			flags = append(flags, a)
		default:
			targets = append(targets, a)
		}
	}
	for _, f := range []string{"--json", "--metrics=off"} {
		if !slices.Contains(flags, f) {
			fail("missing %s in %q", f, args)
		}
	}
	for _, f := range lines(os.Getenv("FAKESEMGREP_EXPECT_FLAGS")) {
		if !slices.Contains(flags, f) {
			fail("missing flag %s in %q", f, args)
		}
	}
	if want := lines(os.Getenv("FAKESEMGREP_EXPECT_CONFIGS")); !slices.Equal(configs, want) {
		fail("--config values %q, want %q", configs, want)
	}
	cwd, err := os.Getwd()
	if err != nil {
		fail("getwd: %v", err)
	}
	dir := filepath.Base(cwd)
	want := lines(os.Getenv("FAKESEMGREP_EXPECT_FILES"))
	if v, ok := os.LookupEnv("FAKESEMGREP_EXPECT_FILES_" + strings.ToUpper(dir)); ok {
		want = lines(v)
	}
	if batches, ok := os.LookupEnv("FAKESEMGREP_EXPECT_BATCHES"); ok {
		if !slices.ContainsFunc(lines(batches), func(b string) bool { return slices.Equal(targets, strings.Fields(b)) }) {
			fail("targets %q are none of the batches %q", targets, lines(batches))
		}
	} else if !slices.Equal(targets, want) {
		fail("targets %q, want %q", targets, want)
	}
	// The targets are relative to the working directory: each must be a
	// file there, which proves semgrep runs in the side's root.
	for _, t := range targets {
		if info, err := os.Stat(t); err != nil || !info.Mode().IsRegular() {
			fail("target %s is not a file under %s", t, cwd)
		}
	}
	if log := os.Getenv("FAKESEMGREP_LOG"); log != "" {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fail("log: %v", err)
		}
		fmt.Fprintf(f, "%s %s\n", dir, strings.Join(targets, " "))
		f.Close()
	}

	if d := os.Getenv("FAKESEMGREP_SLEEP"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			fail("FAKESEMGREP_SLEEP: %v", err)
		}
		time.Sleep(dur)
	}
	var out []byte
	if fx := os.Getenv("FAKESEMGREP_FIXTURE"); fx != "" {
		if strings.Contains(fx, "%s") {
			fx = strings.ReplaceAll(fx, "%s", dir)
		}
		if out, err = os.ReadFile(fx); err != nil {
			fail("fixture: %v", err)
		}
	}
	switch os.Getenv("FAKESEMGREP_MODE") {
	case "garbage":
		fmt.Println("Traceback (most recent call last):\n  File \"semgrep\", line 1\nKeyError: 'results'")
		return
	case "crash":
		os.Stdout.Write(out[:len(out)/2])
		fmt.Fprintln(os.Stderr, "Segmentation fault (core dumped)")
		os.Exit(139)
	case "kill":
		os.Stdout.Write(out[:len(out)/2])
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	}
	os.Stdout.Write(out)
	if c := os.Getenv("FAKESEMGREP_EXIT"); c != "" {
		code, err := strconv.Atoi(c)
		if err != nil {
			fail("FAKESEMGREP_EXIT: %v", err)
		}
		os.Exit(code)
	}
}

func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fakesemgrep: "+format+"\n", args...)
	os.Exit(2)
}
