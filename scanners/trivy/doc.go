// Package trivy owns aegis's adapter for Aqua Security's Trivy: the scanner
// "trivy", which runs the real `trivy config` on each side's rendered
// manifests and turns its misconfigurations into report.Findings located at
// the source line a pull request changed.
//
// What it owns:
//
//   - finding the binary: Options.Binary, else `trivy` in PATH, else the copy
//     hack/tools/trivy.sh builds into aegis's tool cache; a missing binary is
//     scanners.ErrNotInstalled, so a policy's allowMissing can apply;
//   - writing one side's rendered Set into a private temporary directory,
//     one file per object (0001-deployment-web.yaml), so that each of
//     Trivy's results maps back to exactly one object;
//   - running Trivy offline and isolated: embedded checks only
//     (--skip-check-update), no version check, no telemetry, a throw-away
//     cache, no trivy.yaml and no TRIVY_* environment (either could
//     silently filter results), bounded output;
//   - parsing Trivy's JSON report (schema version 2) and mapping each FAIL to
//     a finding: the check id as Trivy prints it (KSV-0017), the severity,
//     the object, the container its message names, and the source line of
//     the field at fault through manifest.Object.Locate;
//   - the rules: a table of the Kubernetes checks Trivy v0.74.0 reports on
//     common workloads, plus any other check seen while scanning.
//
// It fails closed: a missing binary, a non-zero exit, a timeout, output that
// is not Trivy's JSON report, or a result that names a file aegis did not
// write is an error, never an empty pass.
//
// Secrets are left out of Trivy's input: none of Trivy's Kubernetes checks
// looks at a Secret, and a Secret's data has no business on disk outside
// the runner's memory. As a second guard, any Secret value of the side that
// still shows up in a message is redacted.
//
// `trivy image` (vulnerabilities) is not implemented here yet.
package trivy
