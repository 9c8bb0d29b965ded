package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kube-sentient/aegis/shadow"
)

// kubeFlags select the cluster for shadow namespaces.
type kubeFlags struct {
	kubeconfig string
	context    string
}

func (k *kubeFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster for shadow namespaces (default: $KUBECONFIG, then ~/.kube/config)")
	c.Flags().StringVar(&k.context, "context", "", "kubeconfig context to use")
}

// restConfig loads the kubeconfig the way kubectl does. A missing or broken
// kubeconfig is bad input (exit 2), with what to do next.
func (k *kubeFlags) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.kubeconfig != "" {
		rules.ExplicitPath = k.kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.context}).ClientConfig()
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("no usable kubeconfig (%v): pass --kubeconfig, set KUBECONFIG, or start the local cluster with `make cluster-up`", err)}
	}
	cfg.UserAgent = "aegis/" + version
	return cfg, nil
}

func newGCCommand(stdout, stderr io.Writer) *cobra.Command {
	var k kubeFlags
	var runID string
	c := &cobra.Command{
		Use:   "gc",
		Short: "Delete shadow namespaces left behind by killed runs",
		Long: `gc deletes every namespace aegis created (label app.kubernetes.io/managed-by=aegis)
whose aegis.dev/expires-at annotation has passed, or, with --run, every
namespace of that run whatever its expiry. It prints the namespaces deleted.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := k.restConfig()
			if err != nil {
				return err
			}
			deleted, err := shadow.GC(c.Context(), cfg, runID, time.Now())
			for _, ns := range deleted {
				fmt.Fprintln(stdout, ns)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "aegis: gc deleted %d namespace(s)\n", len(deleted))
			return nil
		},
	}
	k.register(c)
	c.Flags().StringVar(&runID, "run", "", "delete every namespace of this run id, expired or not")
	return c
}
