// Package testcluster gives integration tests the project's local control
// plane (hack/cluster/up.sh): the kubeconfig named by AEGIS_KUBECONFIG.
// Without one a test skips, except where the environment demands the cluster
// (AEGIS_REQUIRE_CLUSTER=1, or AEGIS_REQUIRE_REAL_NODE=1 for a real node, as
// `make test`, `make test-real` and CI set): then the absence fails the test,
// so no skip can hide a missing cluster in CI.
package testcluster

import (
	"os"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Kubeconfig returns the path and REST config of the test cluster (either
// node mode).
func Kubeconfig(t testing.TB) (string, *rest.Config) {
	t.Helper()
	path := os.Getenv("AEGIS_KUBECONFIG")
	if path == "" {
		const msg = "no cluster: set AEGIS_KUBECONFIG to the kubeconfig printed by hack/cluster/up.sh (make test does)"
		if os.Getenv("AEGIS_REQUIRE_CLUSTER") == "1" {
			t.Fatal("AEGIS_REQUIRE_CLUSTER=1: " + msg)
		}
		t.Skip(msg)
	}
	return path, load(t, path)
}

// RealNode returns the path and REST config of a test cluster with a real
// node (NODE=real hack/cluster/up.sh), named by AEGIS_NODE=real and
// AEGIS_KUBECONFIG.
func RealNode(t testing.TB) (string, *rest.Config) {
	t.Helper()
	path := os.Getenv("AEGIS_KUBECONFIG")
	if os.Getenv("AEGIS_NODE") != "real" || path == "" {
		const msg = "no real node: start one with `make cluster-up NODE=real`, then set AEGIS_NODE=real and AEGIS_KUBECONFIG (make test-real does)"
		if os.Getenv("AEGIS_REQUIRE_REAL_NODE") == "1" {
			t.Fatal("AEGIS_REQUIRE_REAL_NODE=1: " + msg)
		}
		t.Skip(msg)
	}
	return path, load(t, path)
}

func load(t testing.TB, path string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return cfg
}
