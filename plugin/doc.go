// Package plugin is aegis's Argo CD adapter: the config management plugin
// (CMP) that renders an Application and appends a PreSync gate to it, and
// the gate itself, which runs in the cluster before Argo CD applies
// anything.
//
// # The plugin contract, natively
//
// Argo CD's CMP contract is an environment, a working directory and a YAML
// stream on stdout (Argo CD's "Config Management Plugins" documentation). The argo-cd/v2 Go
// module cannot live beside Helm 4 and k8s.io 0.37 and argo-cd/v3 needs a
// newer Go, so this package implements the contract itself: Env reads the
// build environment (ARGOCD_APP_*, KUBE_VERSION, KUBE_API_VERSIONS,
// ARGOCD_ENV_*, ARGOCD_APP_PARAMETERS and PARAM_*), Settings turns the
// announced parameters (plugin.yaml, Parameters) into render and gate
// options, and Applications are read as unstructured objects. A separate
// tool module (hack/tools/argocde2e) drives the real argocd-cmp-server.
//
// # Who decides how strict the gate is
//
// The revision being synced and the Application's parameters and plugin env
// are controlled, in an app-of-apps repository, by the same pull request.
// So the gate's policy is the cluster's (ClusterPolicy): the ConfigMap
// aegis-policy that the platform team installs with the plugin, mounted
// into the sidecar at a path of the sidecar's own spec and read again by
// the gate from the API. The revision's .aegis.yaml may only tighten it
// (ClusterPolicy.Apply); a parameter that would loosen the gate is refused
// unless the ConfigMap's gate.yaml allows it (ClusterPolicy.Judge, and
// ClusterPolicy.CheckGate in the gate). docs/argocd.md is the user's guide.
//
// # generate
//
// Generate renders the app path exactly as `aegis verify` renders a side
// (package render), then appends the gate (Gate):
//
//   - ConfigMap hooks holding the rendered set, gzip-compressed and split
//     into chunks (ChunkBytes) well under both the 1 MiB object limit and
//     the 256 KiB annotation limit that client-side apply's
//     last-applied-configuration would hit, at an earlier sync wave; the
//     set's Secrets travel apart in one Secret hook (Encoded), so that no
//     Secret value lands in a ConfigMap or in Argo CD's UI;
//   - a PreSync hook Job (BeforeHookCreation, bounded activeDeadlineSeconds,
//     service account aegis-gate, the cluster policy's image) running
//     `aegis argocd presync` for exactly that set: its digest, the
//     revision policy's digest and the cluster policy's namespace are in
//     the Job's arguments, so the Job cannot be pointed at another set.
//
// A set that writes into the gate's namespace, or writes the cluster
// policy's ConfigMap, is refused: it could bring its own verdicts or its
// own policy.
//
// The gate's waves are below every PreSync hook of the set, so that nothing
// of the change runs before the gate has decided.
//
// # presync
//
// Presync runs in the cluster. It reads the set back and checks its digest
// (a forged or stale ConfigMap fails closed), reads the cluster policy and
// applies it as the revision may tighten it, returns at once when a passing
// verdict for this digest and applied policy is recorded and not expired, and
// otherwise verifies the set (the head) against the live objects of the
// destination namespace (the base, ReadLive: what Argo CD tracks for the
// app and what the set replaces, never Secrets) with verify.RunSets: shadow
// namespaces, health, scanners, delta and gate, always torn down. It records
// the verdict (VerdictStore) and emits an Event on the Application. A failed
// gate fails the Job, which fails the sync.
//
// It knows neither GitHub nor any scanner: the CLI passes the scanners in.
package plugin
