package main

import (
	"github.com/spf13/cobra"

	"github.com/kube-sentient/aegis/render/isolate"
)

// newRenderChildCommand is the hidden subcommand a render child runs:
// aegis renders each side in a child process of its own, bounded in time
// and memory (package render/isolate), by starting itself with it.
func newRenderChildCommand() *cobra.Command {
	return &cobra.Command{
		Use:                isolate.ChildCommand + " MEMORY",
		Short:              "Internal: render one side for a parent aegis (request on stdin, answer on fd 3)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := isolate.ChildMain(args); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}
