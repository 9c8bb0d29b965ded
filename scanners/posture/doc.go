// Package posture owns aegis's built-in static posture scanner: it reads the
// pod template of every pod-bearing object of a rendered Set (Pod, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob) and
// reports
//
//   - Pod Security Standards violations (rule ids "pss.<check id>"), judged by
//     the official evaluator k8s.io/pod-security-admission/policy at the
//     baseline and restricted levels of the latest policy version, so aegis
//     says exactly what a PSA-enforcing namespace would reject;
//   - best-practice problems the Pod Security Standards leave out (rule ids
//     "aegis.<name>"): missing resource limits, mutable image tags, missing
//     probes on long-running workloads, and secret-looking literal env values.
//
// Every finding names the object and, where it applies, the container, the
// volume or the pod field at fault, and points at the source line that sets
// that field (through manifest.Object.Locate), so that a code-scanning alert
// lands on the line a pull request changed.
//
// The scanner is pure and offline: it never touches a cluster, and it never
// copies an env var's value or a Secret's data into a finding.
package posture
