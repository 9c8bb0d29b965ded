// Package report owns what aegis concludes: the Finding and its fingerprint,
// the delta between base and head (new, unchanged, absent), waivers, the gate
// verdict, and the two human and machine renderings of it that are not SARIF:
// the JSON report and the Markdown comment (within GitHub's size budget).
//
// It knows nothing of GitHub's API, of clusters or of how findings are found.
package report
