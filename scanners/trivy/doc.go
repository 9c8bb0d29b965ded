// Package trivy owns aegis's adapters for Aqua Security's Trivy: the scanner
// "trivy", which runs the real `trivy config` on each side's rendered
// manifests and turns its misconfigurations into report.Findings located at
// the source line a pull request changed, and the scanner "trivy-image"
// (ImageScanner), which runs the real `trivy image` on the images those
// manifests use.
//
// What the config scanner owns:
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
// The image scanner (trivy-image) collects the image of every container,
// init and ephemeral container of every pod template (Pod, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob)
// and reports one finding per vulnerability, package and container, at the
// container's `image:` line: rule id the vulnerability id, the message
// naming package, installed and fixed version and image, Trivy's severity
// (UNKNOWN, a CVE nobody has scored yet, becomes low). Its fingerprint
// keeps the image's repository, not its tag or digest, with the package,
// the vulnerability and the workload's kind, name and container: bumping
// nginx:1.25 to nginx:1.27 shows the CVEs the bump fixes as absent, those
// it keeps as unchanged and those it brings as new. Each distinct image is
// scanned once per ImageScanner, shared by the base and the head (which
// the runner scans concurrently): references are resolved to a digest (a
// registry HEAD, or the image ID of a tarball) and scans are keyed by it.
// ImageOptions.ResultCache keeps reports on disk by digest, Trivy release,
// database build time and extra arguments, so that a later run skips
// unchanged images; entries are written atomically, an entry that cannot
// be read is a miss, a failed scan is never stored. Images are pulled from
// their registry by Trivy itself (--image-src remote: never a Docker or
// containerd socket), or read from a tarball in ImageOptions.Archives that
// is tagged with their reference. With ImageOptions.UpdateDB, Trivy
// downloads or refreshes its vulnerability database once per scanner,
// before any scan, from ImageOptions.DBRepositories (OCI artifacts,
// default DefaultDBRepositories), tried one at a time in order until one
// serves it; failing from all of them is an error naming each, never
// missing. The scans themselves use the database as it is
// (--skip-db-update): a missing one is scanners.ErrNotInstalled with a
// message saying where Trivy looks and how to provide it, so a policy's
// allowMissing applies; an image that cannot be pulled, a timeout, a
// non-zero exit or a report that does not parse fail the side.
// Package trivytest builds the database and images its tests use.
package trivy
