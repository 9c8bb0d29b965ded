// Command faketrivy stands in for Trivy in the fail-closed tests. What it
// does is set by FAKETRIVY_MODE:
//
//	replay   print the file FAKETRIVY_OUTPUT (a real Trivy report)
//	garbage  print something that is not JSON
//	exit     complain on stderr and exit 3
//	sleep    sleep for a minute (the test's timeout must end it)
//	badver   print an unexpected --version line
//
// `trivy version --format json` (the image scanner's question) answers with
// a release and a vulnerability database, none with FAKETRIVY_NODB=1; it
// prints garbage in mode badver.
//
// With FAKETRIVY_ARGS set it writes its arguments there, one a line, and
// with FAKETRIVY_LIST the names of the files in the scanned directory (its
// last argument). It lives under testdata so that `go build ./...` and
// `go vet ./...` leave it alone.
package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	args := os.Args[1:]
	mode := os.Getenv("FAKETRIVY_MODE")
	if p := os.Getenv("FAKETRIVY_ARGS"); p != "" {
		must(os.WriteFile(p, []byte(strings.Join(args, "\n")+"\n"), 0o600))
	}
	if len(args) == 1 && args[0] == "--version" {
		if mode == "badver" {
			fmt.Println("trivy, some version")
			return
		}
		fmt.Println("Version: 0.74.0")
		fmt.Println("Check Bundle:")
		fmt.Println("  Digest: sha256:0000")
		return
	}
	if len(args) > 0 && args[0] == "version" {
		switch {
		case mode == "badver":
			fmt.Println("trivy, some version")
		case os.Getenv("FAKETRIVY_NODB") == "1":
			fmt.Println(`{"Version":"0.74.0"}`)
		default:
			fmt.Println(`{"Version":"0.74.0","VulnerabilityDB":{"Version":2,"NextUpdate":"2026-11-02T00:00:00Z","UpdatedAt":"2026-11-01T00:00:00Z","DownloadedAt":"2026-11-01T00:00:00Z"}}`)
		}
		return
	}
	if p := os.Getenv("FAKETRIVY_LIST"); p != "" && len(args) > 0 {
		entries, err := os.ReadDir(args[len(args)-1])
		must(err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		must(os.WriteFile(p, []byte(strings.Join(names, "\n")+"\n"), 0o600))
	}
	switch mode {
	case "replay":
		data, err := os.ReadFile(os.Getenv("FAKETRIVY_OUTPUT"))
		must(err)
		os.Stdout.Write(data)
	case "garbage":
		fmt.Println("2026-11-27T18:30:00Z\tINFO\tMisconfiguration scanning is enabled")
		fmt.Println("{not json")
	case "exit":
		fmt.Fprintln(os.Stderr, "2026-11-27T18:30:00Z\tFATAL\tFatal error\tcheck bundle: unable to load")
		os.Exit(3)
	case "sleep":
		time.Sleep(time.Minute)
	default:
		fmt.Fprintf(os.Stderr, "faketrivy: unknown FAKETRIVY_MODE %q\n", mode)
		os.Exit(2)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "faketrivy:", err)
		os.Exit(2)
	}
}
