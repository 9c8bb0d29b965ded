// Package realnode holds the smoke test of the local cluster's real node
// (NODE=real hack/cluster/up.sh: kubelet + containerd + runc + bridge CNI):
// an image built from this repository runs as a Deployment with an HTTP
// readiness probe, and answers through a port-forward made with client-go.
//
// The test runs when AEGIS_NODE=real and AEGIS_KUBECONFIG point at such a
// cluster; otherwise it skips, unless AEGIS_REQUIRE_REAL_NODE=1 makes the
// absence a failure.
package realnode
