// Command dockerfilelint checks aegis's Dockerfile with BuildKit's own
// Dockerfile parser and linter, offline, and with the project's rules for
// its image; it can also print a stage's build commands for
// hack/check-dockerfile.sh to run on the host.
//
//	dockerfilelint [-context DIR] Dockerfile
//	    lint: every BuildKit rule (experimental ones too, with the file's
//	    own "# check=" directive), then aegis's rules (multi-stage, static
//	    aegis, Trivy built at the pinned version, non-root runtime,
//	    .dockerignore keeps what COPY needs). Exit 1 on any problem.
//	dockerfilelint -emit STAGE -out DIR Dockerfile
//	    print the stage's WORKDIR and RUN commands as a shell script, with
//	    the ARG defaults exported and /out replaced by DIR.
//	dockerfilelint -copy-context DEST [-context DIR] Dockerfile
//	    copy the build context (DIR less what .dockerignore excludes) to DEST.
//
// It lives in its own module because BuildKit brings dependencies the main
// module does not want.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	emit := flag.String("emit", "", "print the build commands of this stage")
	out := flag.String("out", "", "with -emit: the directory that replaces /out")
	contextDir := flag.String("context", "", "the build context (default: the Dockerfile's directory)")
	copyTo := flag.String("copy-context", "", "copy the build context, less .dockerignore, to this directory")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: dockerfilelint [-emit STAGE -out DIR | -copy-context DEST] [-context DIR] Dockerfile")
		os.Exit(2)
	}
	path := flag.Arg(0)
	if *contextDir == "" {
		*contextDir = filepath.Dir(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dockerfilelint:", err)
		os.Exit(2)
	}
	switch {
	case *emit != "":
		script, err := EmitStage(data, *emit, *out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dockerfilelint:", err)
			os.Exit(1)
		}
		fmt.Print(script)
	case *copyTo != "":
		n, err := CopyContext(*contextDir, *copyTo)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dockerfilelint:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "dockerfilelint: copied %d files of the build context\n", n)
	default:
		problems, err := Check(path, data, *contextDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dockerfilelint:", err)
			os.Exit(1)
		}
		for _, p := range problems {
			fmt.Println(p)
		}
		if len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "dockerfilelint: %d problem(s) in %s\n", len(problems), path)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "dockerfilelint: %s: BuildKit lint (all rules) and aegis's image rules pass\n", path)
	}
}
