// Package realworld gives tests the real-world corpus: public third-party
// apps and Helm charts (../shared/realworld/SOURCES.md lists them), read in
// place and never copied into this repository.
//
// Dir finds the corpus: $AEGIS_REALWORLD when set, else ../shared/realworld
// beside the module root (the directory holding go.mod). Without it a test
// skips with a message starting "realworld corpus not run:", unless
// AEGIS_REQUIRE_REALWORLD=1 (CI sets it) makes the absence a failure, so no
// skip can hide a missing corpus in CI.
//
// So that a skip is not silent under `go test ./...` (which prints no skip
// messages without -v), Dir also appends one line per test to the file named
// by $AEGIS_REALWORLD_STATUS, when set: "ran <test>", "not run <test>:
// <reason>" or "failed <test>: <reason>". hack/realworld-status.sh turns that file into one line of the
// `make test` output.
package realworld

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Environment variables Dir reads.
const (
	// EnvDir names the corpus directory, overriding the default.
	EnvDir = "AEGIS_REALWORLD"
	// EnvRequire=1 turns an absent corpus into a test failure.
	EnvRequire = "AEGIS_REQUIRE_REALWORLD"
	// EnvStatus names a file Dir appends one line per test to.
	EnvStatus = "AEGIS_REALWORLD_STATUS"
)

// SkipPrefix starts the message of every skip for an absent corpus.
const SkipPrefix = "realworld corpus not run:"

// marker is the file that tells the corpus from any other directory.
const marker = "SOURCES.md"

// Dir returns the absolute path of the corpus, or ends the test: a skip
// when the corpus is absent, a failure when AEGIS_REQUIRE_REALWORLD=1 or
// when AEGIS_REALWORLD names a directory that is not the corpus (someone
// asked for it: a typo must not pass as a skip).
func Dir(t testing.TB) string {
	t.Helper()
	dir, explicit, err := locate()
	if err == nil {
		record("ran " + t.Name())
		return dir
	}
	const how = "put the corpus at ../shared/realworld beside the repository (it holds SOURCES.md), or set " + EnvDir + " to its directory"
	switch {
	case explicit:
		record("failed " + t.Name() + ": " + EnvDir + " names no corpus")
		t.Fatalf("%s=%s: %v; %s", EnvDir, os.Getenv(EnvDir), err, how)
		return ""
	case os.Getenv(EnvRequire) == "1":
		record("failed " + t.Name() + ": corpus required and absent")
		t.Fatalf("%s=1 but the real-world corpus is absent: %v; %s", EnvRequire, err, how)
		return ""
	}
	msg := fmt.Sprintf("%s %v (%s; %s=1 makes this a failure)", SkipPrefix, err, how, EnvRequire)
	record("not run " + t.Name() + ": " + msg)
	t.Skip(msg)
	return ""
}

// locate finds the corpus; explicit says it was named by AEGIS_REALWORLD.
func locate() (dir string, explicit bool, err error) {
	if d := os.Getenv(EnvDir); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return "", true, err
		}
		return abs, true, check(abs)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", false, err
	}
	d := filepath.Join(filepath.Dir(root), "shared", "realworld")
	return d, false, check(d)
}

// check tells whether d is the corpus.
func check(d string) error {
	fi, err := os.Stat(filepath.Join(d, marker))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s has no %s", d, marker)
		}
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", filepath.Join(d, marker))
	}
	return nil
}

// moduleRoot walks up from the working directory (a test's package
// directory) to the directory that holds go.mod.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && fi.Mode().IsRegular() {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

var statusMu sync.Mutex

// record appends line to $AEGIS_REALWORLD_STATUS, if set. Test binaries of
// several packages append to it at once: each line is one write to a file
// opened with O_APPEND.
func record(line string) {
	p := os.Getenv(EnvStatus)
	if p == "" {
		return
	}
	statusMu.Lock()
	defer statusMu.Unlock()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "realworld: recording to %s: %v\n", p, err)
		return
	}
	defer f.Close()
	if _, err := f.Write([]byte(line + "\n")); err != nil {
		fmt.Fprintf(os.Stderr, "realworld: recording to %s: %v\n", p, err)
	}
}
