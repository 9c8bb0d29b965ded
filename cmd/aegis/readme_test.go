package main

// The console samples of the documentation are what the binary prints:
// every ```console block of README.md and docs/*.md is a sequence of
// "$ aegis ARGS" commands (run from the repository's root, stdout only,
// NO_COLOR) and "$ echo $?" (the previous command's exit code), each
// followed by its output. TestConsoleSamples runs them and fails when a
// block differs from what the binary prints; `make readme` (or this test
// with AEGIS_UPDATE_SAMPLES=1) writes the blocks anew.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// consoleBlockRe matches a console block: its fence, body and closing
// fence.
var consoleBlockRe = regexp.MustCompile("(?s)```console\n(.*?)```\n")

// sampleCommandRe is a command line of a block.
var sampleCommandRe = regexp.MustCompile(`^\$ (.*)$`)

// runSample runs a block's commands in root and returns the block as the
// binary prints it.
func runSample(t *testing.T, root, block string) string {
	t.Helper()
	var out strings.Builder
	last := -1
	for _, line := range strings.Split(block, "\n") {
		m := sampleCommandRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		out.WriteString(line + "\n")
		fields := strings.Fields(m[1])
		switch {
		case m[1] == "echo $?":
			require.GreaterOrEqual(t, last, 0, "echo $? before any command")
			fmt.Fprintf(&out, "%d\n", last)
		case len(fields) > 0 && fields[0] == "aegis":
			cmd := exec.Command(binary, fields[1:]...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatalf("running %s: %v", line, err)
			}
			last = cmd.ProcessState.ExitCode()
			out.WriteString(stdout.String())
		default:
			t.Fatalf("a console sample runs aegis or echo $? only, got %q", line)
		}
	}
	return out.String()
}

func TestConsoleSamples(t *testing.T) {
	requireTrivy(t) // the samples use the repository's policy, which runs Trivy
	root := repoRoot(t)
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	update := os.Getenv("AEGIS_UPDATE_SAMPLES") == "1"
	samples := 0
	for _, doc := range append([]string{filepath.Join(root, "README.md")}, docs...) {
		data, err := os.ReadFile(doc)
		require.NoError(t, err)
		text := string(data)
		var blocks []string
		updated := consoleBlockRe.ReplaceAllStringFunc(text, func(b string) string {
			body := consoleBlockRe.FindStringSubmatch(b)[1]
			got := runSample(t, root, body)
			blocks = append(blocks, body, got)
			return "```console\n" + got + "```\n"
		})
		name, _ := filepath.Rel(root, doc)
		for i := 0; i < len(blocks); i += 2 {
			samples++
			if !update {
				assert.Equal(t, blocks[i+1], blocks[i], "%s: a console sample is not what aegis prints (AEGIS_UPDATE_SAMPLES=1 go test ./cmd/aegis -run TestConsoleSamples, or make readme, writes it anew)", name)
			}
		}
		if update && updated != text {
			require.NoError(t, os.WriteFile(doc, []byte(updated), 0o644))
			t.Logf("updated %s", name)
		}
	}
	assert.GreaterOrEqual(t, samples, 2, "the README shows what aegis prints")
}
