package main

import (
	"sort"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kube-sentient/aegis/report"
)

// flagValues are the values a flag takes, by flag name, the same wherever
// the flag appears: shell completion offers them (`aegis completion bash`).
var flagValues = map[string][]string{
	"shadow":         {"off", "head", "both"},
	"output":         {"text", "json"},
	"color":          {"auto", "always", "never"},
	"shadow-enforce": {"privileged", "baseline", "restricted"},
}

// registerCompletions gives every command under c value completion for the
// flags it has: the fixed vocabularies above, severities for --fail-on and
// the kubeconfig's contexts for --context.
func registerCompletions(c *cobra.Command) {
	for name, values := range flagValues {
		if c.Flags().Lookup(name) != nil {
			_ = c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	if c.Flags().Lookup("fail-on") != nil {
		var sevs []string
		for _, s := range report.Severities {
			sevs = append(sevs, string(s))
		}
		_ = c.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions(sevs, cobra.ShellCompDirectiveNoFileComp))
	}
	if c.Flags().Lookup("context") != nil {
		_ = c.RegisterFlagCompletionFunc("context", completeContexts)
	}
	for _, sub := range c.Commands() {
		registerCompletions(sub)
	}
}

// completeContexts lists the contexts of the kubeconfig the command would
// load ($KUBECONFIG, then ~/.kube/config).
func completeContexts(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	cfg, err := clientcmd.NewDefaultClientConfigLoadingRules().Load()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(cfg.Contexts))
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}
