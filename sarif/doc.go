// Package sarif owns aegis's SARIF 2.1.0 output: it turns a report.Report
// into the log that GitHub code scanning ingests, built with
// github.com/owenrumney/go-sarif/v3.
//
// It owns the mapping of findings to SARIF (one run per scanner with the
// category "aegis/<scanner>/", rules with security-severity and tags,
// results with baselineState, fingerprints and partialFingerprints, waivers
// as external suppressions), the enforcement of GitHub's ingestion limits
// (runs, results, rules, tags, locations, gzip size) with a warning for
// everything trimmed, and the checks that a log is one GitHub accepts
// (CheckGitHub, and Validate against the official JSON schema).
//
// GitHub shows a result with the severity its rule's security-severity
// falls in, so a SARIF rule holds findings of one severity: a finding less
// (or more) severe than its rule declares goes to the rule
// "<id>/<severity>" (resultRule), chosen from the finding alone so that
// alert identities are stable. Every rule has a helpUri: the rule's page in
// docs/rules for aegis's own rules (written by hack/rulesdoc), the tool's
// own page or the scanner's page in docs/rules for the others. Marshal
// leaves out the -1 "not set" values go-sarif's constructors put in
// (stripUnset).
//
// What goes in by default is the head's view: new and unchanged findings.
// Absent (fixed) findings are written only with Options.IncludeAbsent,
// because GitHub would open an alert for every result in an uploaded file.
//
// A scanner whose head run did not succeed gets no run at all: an empty run
// would tell code scanning that every earlier alert of that scanner is fixed.
//
// It knows nothing of GitHub's API (uploading is the action's business), of
// clusters or of how findings are found.
package sarif
