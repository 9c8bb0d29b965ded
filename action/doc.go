// Package action is the GitHub Action adapter: it reads the step's inputs
// (INPUT_*) and event payload (GITHUB_EVENT_PATH), runs one verification
// through the verify pipeline, and publishes the result the ways GitHub
// shows it: outputs (GITHUB_OUTPUT), a job summary with a Mermaid chart of
// the delta (GITHUB_STEP_SUMMARY), annotations on the source lines of new
// findings, one sticky pull-request comment, and a SARIF upload to code
// scanning.
//
// It knows GitHub but no scanner: the command layer hands Run the
// verification and the scanners as dependencies (Deps). The gate decides
// the exit code; a comment or an upload that GitHub refuses because the
// token is read-only (a pull request from a fork) is reported, never
// turned into a pass or a failure.
package action
