// Package report owns the model of what aegis concludes: the Finding and
// its fingerprint, the delta between base and head (new, unchanged,
// absent, updated), problems (findings grouped for people), the summary
// counts, and the JSON report document with its untrusted-input validation.
//
// It does not judge (package judge applies the policy and decides the
// verdict, once) and does not render for people (package output does). It
// knows nothing of GitHub's API, of clusters or of how findings are found.
package report
