package report

// APIVersion and Kind of the JSON report (documented in docs/report-schema.md).
const (
	APIVersion = "aegis/v1alpha1"
	Kind       = "Report"
)

// Verdict is the gate's decision.
type Verdict string

// Verdicts. error means aegis could not decide (a scanner or the
// infrastructure failed and the policy does not allow it): never a pass.
const (
	Pass  Verdict = "pass"
	Fail  Verdict = "fail"
	Error Verdict = "error"
)

// Report is everything one verification concluded.
type Report struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Tool       Tool      `json:"tool"`
	Verdict    Verdict   `json:"verdict"`
	Reasons    []string  `json:"reasons"`
	Policy     PolicyRef `json:"policy"`
	Base       Side      `json:"base"`
	Head       Side      `json:"head"`
	Summary    Summary   `json:"summary"`
	// Changes is the resource-level diff between base and head.
	Changes        []ResourceChange `json:"changes"`
	Scanners       []ScannerRun     `json:"scanners"`
	Findings       []Finding        `json:"findings"`
	Rules          []Rule           `json:"rules"`
	ExpiredWaivers []ExpiredWaiver  `json:"expiredWaivers,omitempty"`
	// Unscanned lists the head's kinds whose objects hold container-like
	// data aegis could not read as a pod: no scanner saw what they run.
	Unscanned []Unscanned `json:"unscanned,omitempty"`
	// Shadow is set when the sides were deployed into shadow namespaces.
	Shadow *Shadow `json:"shadow,omitempty"`
	// Apps, in a report of several Argo CD apps (aegis verify --apps), is
	// each app's own verdict and sides; its findings, changes and scanner
	// runs are in the lists above, each with its app.
	Apps []AppReport `json:"apps,omitempty"`
}

// AppReport is one app of a report of several.
type AppReport struct {
	Name    string   `json:"name"`
	Path    string   `json:"path"`
	Verdict Verdict  `json:"verdict"`
	Reasons []string `json:"reasons"`
	// Why the app was selected (aegis apps --changed --explain).
	Selected []string `json:"selected,omitempty"`
	Base     Side     `json:"base"`
	Head     Side     `json:"head"`
	Summary  Summary  `json:"summary"`
	Shadow   *Shadow  `json:"shadow,omitempty"`
}

// Shadow records each deployed side (nil for a side not deployed).
type Shadow struct {
	Base *ShadowSide `json:"base,omitempty"`
	Head *ShadowSide `json:"head,omitempty"`
}

// ShadowSide is one side's shadow namespace and its health, in Argo CD's
// vocabulary (Healthy, Progressing, Degraded, Suspended, Missing, Unknown).
type ShadowSide struct {
	Namespace  string         `json:"namespace"`
	Health     string         `json:"health"`
	DurationMs int64          `json:"durationMs"`
	Objects    []ShadowObject `json:"objects"`
	Events     []ShadowEvent  `json:"events"`
	// Kept is true when --keep-shadow left the namespace in the cluster.
	Kept bool `json:"kept,omitempty"`
}

// ShadowObject is the health of one applied object.
type ShadowObject struct {
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Health   string   `json:"health"`
	Message  string   `json:"message,omitempty"`
	Location Location `json:"location"`
}

// ShadowEvent is a Warning event seen in a shadow namespace.
type ShadowEvent struct {
	Object  string `json:"object"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Count   int32  `json:"count"`
}

// Tool names the aegis build that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// PolicyRef records the policy the gate applied.
type PolicyRef struct {
	Path             string   `json:"path,omitempty"`
	FailOnSeverity   Severity `json:"failOnSeverity"`
	FailOnScannerErr bool     `json:"failOnScannerError"`
}

// Side describes the base or the head.
type Side struct {
	// Source is what was rendered: a directory or a git revision.
	Source string `json:"source"`
	// Type is the detected source type: kustomize, helm or plain.
	Type    string `json:"type"`
	Digest  string `json:"digest"`
	Objects int    `json:"objects"`
	// Absent says why the app is not on this side (the change adds or
	// removes it: its path or a values file does not exist there); the
	// side then has no objects.
	Absent string `json:"absent,omitempty"`
	// Dependencies are the Helm chart dependencies aegis downloaded to
	// render the side (helm.dependencies in the policy), each with its
	// archive's sha256: Chart.lock's digest covers the list, not the
	// archives.
	Dependencies []ChartDependency `json:"dependencies,omitempty"`
}

// ChartDependency is one downloaded Helm chart dependency.
type ChartDependency struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Repository string `json:"repository"`
	URL        string `json:"url"`
	SHA256     string `json:"sha256"`
}

// ScannerStatus of one scanner run on one side.
type ScannerStatus string

// Scanner statuses.
const (
	StatusOK      ScannerStatus = "ok"
	StatusError   ScannerStatus = "error"
	StatusSkipped ScannerStatus = "skipped"
)

// ScannerRun records one scanner on one side.
type ScannerRun struct {
	// App is the run's app in a report of several apps.
	App        string        `json:"app,omitempty"`
	Name       string        `json:"name"`
	Side       string        `json:"side"`
	Status     ScannerStatus `json:"status"`
	DurationMs int64         `json:"durationMs"`
	Version    string        `json:"version"`
	Error      string        `json:"error,omitempty"`
	// Missing is set when the scanner's tool is not installed (the policy's
	// allowMissing can accept that; an error of any other cause it cannot).
	Missing bool `json:"missing,omitempty"`
	// Findings is how many findings the run produced before the delta.
	Findings int `json:"findings"`
}

// ResourceChange is one object added, removed or changed by the change.
type ResourceChange struct {
	// App is the object's app in a report of several apps.
	App       string `json:"app,omitempty"`
	Change    string `json:"change"` // added, removed, changed
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Path      string `json:"path,omitempty"`
	// Diff is the unified diff of the object's YAML, base to head, with
	// Secret values and credential-like literals masked (package diff),
	// cut at MaxChangeDiffRunes. The comment shows it in a fold.
	Diff string `json:"diff,omitempty"`
}

// MaxChangeDiffRunes bounds one ResourceChange's Diff in the report
// (`aegis diff` prints it whole).
const MaxChangeDiffRunes = 32 << 10

// ExpiredWaiver is a waiver whose date has passed: it no longer waives and
// is reported so that someone renews or removes it.
type ExpiredWaiver struct {
	RuleID      string   `json:"ruleId,omitempty"`
	Fingerprint string   `json:"fingerprint,omitempty"`
	Resource    string   `json:"resource,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Owner       string   `json:"owner"`
	Expires     string   `json:"expires"`
	Location    Location `json:"location"`
	// Matches counts the findings the waiver would waive if it still held.
	Matches int `json:"matches"`
}

// Unscanned is one kind of object that holds container-like data (a
// containers list, an image) aegis could not read as a pod.
type Unscanned struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Count is how many objects of the kind are unscanned.
	Count int `json:"count"`
	// Name and Field are the first such object and the field that holds
	// the data aegis could not read ("spec.image").
	Name  string `json:"name"`
	Field string `json:"field"`
}

// Summary counts the delta.
type Summary struct {
	// New counts every new finding, waived or not.
	New int `json:"new"`
	// Updated counts the new findings that the base had at a lower
	// severity (state updated).
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Fixed     int `json:"fixed"`
	// Waived counts the head's findings (new and unchanged) a waiver
	// accepts; NewWaived those of them that are new.
	Waived    int `json:"waived"`
	NewWaived int `json:"newWaived"`
	// Blocking counts the new, unwaived findings at or above the policy's
	// failOn.severity: the findings that fail the gate.
	Blocking int `json:"blocking"`
	// NewBySeverity, FixedBySeverity and UnchangedBySeverity count per
	// severity name; every severity is present, with 0 when none.
	NewBySeverity       map[Severity]int `json:"newBySeverity"`
	FixedBySeverity     map[Severity]int `json:"fixedBySeverity"`
	UnchangedBySeverity map[Severity]int `json:"unchangedBySeverity"`
}
