// Package semgrep owns aegis's Semgrep scanner: it runs the external
// `semgrep scan --json` on the application files a change touches (source
// code, Dockerfiles: everything that differs between base and head and is
// not a Kubernetes manifest), on each side's copy of those files, and turns
// Semgrep's JSON output (the semgrep_output_v1 cli_output schema) into
// report.Findings so that the delta says which code findings the change
// introduces, fixes or leaves.
//
// What to scan: ChangedFiles compares the base and head trees and returns
// the differing paths minus manifests (IsManifest). The caller hands that
// list to the scanner through Options.Files; each side scans the files of
// the list it has. An empty list is a clean, successful scan; a missing list
// (Options.Files nil) is an error, so a wiring mistake cannot pass as clean.
//
// Rules: Semgrep's default (--config auto, or the registry's p/default) needs
// the network, so the rules are configuration (Options.Configs, or --config
// in Options.ExtraArgs) and a scanner without any is an error. Local rule
// paths are made absolute when the scanner is built, because Semgrep runs
// with each side's root as its working directory and a relative path would
// otherwise read rules out of the pull request's own tree.
//
// Each finding is located at its file and start line (relative to the side
// root, which is the repository-relative path), names the file as its
// resource (Kind "File") and carries as Key a hash of the matched source
// lines with whitespace normalised: the fingerprint then survives line moves
// and re-indentation, while a change to the matched code makes the finding
// new. The lines are read from the side's own tree, because Semgrep since
// 1.98 prints "requires login" instead of them when not logged in.
//
// Fail closed: a missing binary wraps scanners.ErrNotInstalled; a timeout, a
// crash, an exit code other than 0 (or 1 with results, Semgrep's --error
// convention), output that is not Semgrep's JSON, an errors[] entry of level
// "error" (or of any unknown level) and a requested file Semgrep reports as
// skipped for a reason that hides code (ignore files, size limits, parse
// failure) are errors, never an empty pass.
package semgrep
