package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kube-sentient/aegis/diff"
	"github.com/kube-sentient/aegis/verify"
)

func newDiffCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &sourceFlags{}
	var quiet bool
	c := &cobra.Command{
		Use:   "diff (--base REV | --base-dir DIR) (--head REV | --head-dir DIR) [PATH]",
		Short: "Print the resource-level diff of a change (Secret values masked)",
		Long: `diff renders PATH on the base and on the head and prints which objects the
change adds, removes or changes, with a unified YAML diff per object. Secret
values are never printed: a changed value shows as '*** (changed)'.`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			opts, err := f.options()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				opts.Path = args[0]
			}
			opts.Progress = newProgress(stderr, quiet)
			changes, err := verify.Diff(c.Context(), opts)
			if err != nil {
				return err
			}
			if _, err := io.WriteString(stdout, diff.Format(changes)); err != nil {
				return err
			}
			_, err = fmt.Fprintln(stderr, diff.Summary(changes))
			return err
		},
	}
	f.register(c)
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	return c
}
