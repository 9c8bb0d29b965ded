// Command aegis verifies a Kubernetes change before it merges or syncs: it
// renders the base and the head, scans both, and gates on what the change
// introduces. This package holds only the CLI: flags, configuration loading,
// exit codes and wiring; the pipeline is package verify.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/verify"
)

// Exit codes, documented in README.md.
const (
	exitPass     = 0
	exitFail     = 1
	exitBadInput = 2
	exitInfra    = 3
)

// version and commit are set at build time with -ldflags "-X main.version=...
// -X main.commit=..." (commit falls back to the Go toolchain's VCS stamp).
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code up to run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// run executes the CLI and returns its exit code, so tests reach every
// path without building the binary.
//
// Everything printed goes through secret.Default, which masks every secret
// value registered by its source (a Secret of either side, a generator's
// literals and files, the Action's token and kubeconfig, scanner API keys)
// however a message came to carry it. The one exception is the stream of
// manifests `aegis argocd generate` hands Argo CD to apply (see
// secret.Unredacted).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stdout, stderr = secret.Default.Writer(stdout), secret.Default.Writer(stderr)
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitPass
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "aegis:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "aegis:", err)
	if ctx.Err() != nil {
		return exitInfra
	}
	if verify.IsBadInput(err) || isUsageError(err) {
		return exitBadInput
	}
	return exitInfra
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "aegis",
		Short: "Verify a Kubernetes change before it merges or syncs",
		Long: `aegis renders the base and the head of a Kubernetes change (kustomize, Helm or
plain YAML), runs the same security scanners on both, and reports what the
change introduces, fixes and leaves unchanged. A policy (.aegis.yaml) turns
that delta into a verdict.

Exit codes: 0 pass, 1 gate failed, 2 bad input or configuration,
3 infrastructure error (a scanner, git or the cluster failed).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetVersionTemplate("aegis {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{err: fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
	})
	root.AddCommand(newVerifyCommand(stdout, stderr), newDiffCommand(stdout, stderr), newGCCommand(stdout, stderr), newVersionCommand(stdout))
	root.AddCommand(newActionCommand(stdout, stderr), newPublishCommand(stdout, stderr))
	root.AddCommand(newArgoCDCommand(stdout, stderr), newAppsCommand(stdout, stderr))
	root.AddCommand(newRenderChildCommand())
	registerCompletions(root)
	return root
}

// usageError is a wrong flag or argument: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func isUsageError(err error) bool {
	var ue *usageError
	return errors.As(err, &ue)
}
