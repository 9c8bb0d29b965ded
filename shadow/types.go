// Package shadow owns the ephemeral "shadow" namespace lifecycle on a real
// cluster: its name, labels and TTL; isolation created before anything else
// (default-deny NetworkPolicy with DNS and the namespace's own pods allowed, ResourceQuota,
// LimitRange, Pod Security labels); the namespace rewrite of a rendered set;
// a server-side dry run of the whole set, then staged server-side apply;
// the health wait with Argo CD's semantics; pod failures, admission warnings
// and events as signals; teardown, always; and the janitor (GC) for runs
// that were killed.
//
// It knows nothing of scanners or reports: it returns what it saw, and
// package scanners/health turns that into findings.
//
// The house plan names fluxcd/pkg/ssa for apply, wait and delete. This
// package drives server-side apply through client-go's dynamic client
// instead, and uses kstatus (fluxcd/cli-utils) for status, because it needs
// what a generic manager hides: a dry run of the whole set before anything
// is created, each refusal and admission warning attributed to one object
// and its source line, and no controller-runtime in the dependency graph.
package shadow

import (
	"fmt"
	"time"

	"github.com/kube-sentient/aegis/manifest"
)

// Labels and annotations every shadow namespace carries.
const (
	LabelManagedBy     = "app.kubernetes.io/managed-by"
	ManagedByValue     = "aegis"
	LabelRun           = "aegis.dev/run"
	LabelSide          = "aegis.dev/side"
	AnnotationExpires  = "aegis.dev/expires-at"
	AnnotationOriginNS = "aegis.dev/original-namespace"
	FieldManager       = "aegis"
)

// Health is an object's or a side's health, in Argo CD's vocabulary.
type Health string

// Health values, ordered from best to worst as Argo CD aggregates them:
// Healthy < Suspended < Progressing < Missing < Degraded < Unknown.
const (
	Healthy     Health = "Healthy"
	Suspended   Health = "Suspended"
	Progressing Health = "Progressing"
	Missing     Health = "Missing"
	Degraded    Health = "Degraded"
	Unknown     Health = "Unknown"
)

// Worse returns the worse of two healths.
func Worse(a, b Health) Health {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func rank(h Health) int {
	switch h {
	case Healthy:
		return 0
	case Suspended:
		return 1
	case Progressing:
		return 2
	case Missing:
		return 3
	case Degraded:
		return 4
	}
	return 5
}

// ObjectStatus is the health of one applied object.
type ObjectStatus struct {
	ID      manifest.Identity // identity in the rendered set (original namespace)
	Origin  manifest.Origin
	Health  Health
	Message string
}

// Refusal is an object of the set that was not applied.
type Refusal struct {
	ID     manifest.Identity
	Origin manifest.Origin
	// Reason is ReasonClusterScoped or ReasonMissingCRD.
	Reason  string
	Message string
}

// Refusal reasons.
const (
	ReasonClusterScoped = "ClusterScoped"
	ReasonMissingCRD    = "MissingCRD"
)

// Warning is an admission warning the API server returned for an object
// (Pod Security "would violate ..." warnings among them).
type Warning struct {
	ID     manifest.Identity
	Origin manifest.Origin
	Text   string
}

// Diagnosis is a pod failure, attributed to the workload of the set that
// owns the pod.
type Diagnosis struct {
	ID     manifest.Identity // the workload in the rendered set
	Origin manifest.Origin
	// Reason is one of the Reason* diagnosis constants.
	Reason    string
	Pod       string
	Container string
	Message   string
}

// Diagnosis reasons.
const (
	ReasonCrashLoop           = "CrashLoopBackOff"
	ReasonImagePull           = "ImagePullBackOff" // also ErrImagePull
	ReasonOOMKilled           = "OOMKilled"
	ReasonCreateContainerConf = "CreateContainerConfigError"
	ReasonUnschedulable       = "Unschedulable"
	ReasonNotReady            = "NotReady" // readiness never true within the timeout
	ReasonProgressDeadline    = "ProgressDeadlineExceeded"
	ReasonFailed              = "Failed" // a Job or a pod that failed
	ReasonQuotaExceeded       = "QuotaExceeded"
	// ReasonFailedCreate: a controller could not create the workload's pods
	// for a reason other than the quota (a Pod Security enforce violation,
	// a LimitRange maximum, a missing ServiceAccount...).
	ReasonFailedCreate = "FailedCreate"
)

// Event is a Warning event seen in the shadow namespace.
type Event struct {
	Object  string // Kind/name
	Reason  string
	Message string
	Count   int32
}

// Deployment is one side deployed into its shadow namespace.
type Deployment struct {
	Side      string
	RunID     string
	Namespace string
	// Health is the aggregate of Objects (and of Diagnoses).
	Health    Health
	Duration  time.Duration
	Objects   []ObjectStatus
	Refusals  []Refusal
	Warnings  []Warning
	Diagnoses []Diagnosis
	Events    []Event
}

// ApplyError is an object the API server refused, in the dry run or in the
// apply. It names the object and its source line; a dry-run refusal is the
// user's input being wrong (nothing was applied).
type ApplyError struct {
	ID       manifest.Identity
	Location manifest.Location
	DryRun   bool
	Err      error
}

func (e *ApplyError) Error() string {
	stage := "apply"
	if e.DryRun {
		stage = "server-side dry run"
	}
	return fmt.Sprintf("%s: %s of %s refused by the API server: %v", e.Location, stage, e.ID, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }
