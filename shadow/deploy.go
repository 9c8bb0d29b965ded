package shadow

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-sentient/aegis/manifest"
)

var sidePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$`)

// Deploy deploys set into the side's shadow namespace and waits for its
// health:
//
//  1. the namespace (labels, expiry, Pod Security labels) and its
//     isolation (NetworkPolicies, ResourceQuota, LimitRange);
//  2. the plan: cluster-scoped objects, kinds the cluster does not serve,
//     the set's NetworkPolicies and name collisions are refused (Refusals);
//     everything else is rewritten into the shadow namespace;
//  3. a server-side dry run of every planned object: a refusal returns
//     *ApplyError{DryRun: true} and nothing of the set exists;
//  4. staged server-side apply (field manager "aegis"), recording admission
//     warnings per object; a quota refusal becomes a QuotaExceeded
//     diagnosis, any other refusal an *ApplyError;
//  5. the health wait (see Options.HealthTimeout): a timeout is not an
//     error, the objects still progressing are reported NotReady.
//
// Cleanup contract: when Deploy returns an error it has already torn the
// namespace down (on a fresh context, so a cancelled ctx still cleans up);
// the Deployment it returns beside the error, when not nil, carries the
// refusals and is safe to pass to Teardown. When it returns no error the
// namespace exists and the caller must call Teardown (or TeardownRun).
func (m *Manager) Deploy(ctx context.Context, side string, set *manifest.Set) (*Deployment, error) {
	if !sidePattern.MatchString(side) {
		return nil, fmt.Errorf("shadow: side %q must be a short DNS label (e.g. base, head)", side)
	}
	if set == nil {
		set = &manifest.Set{}
	}
	ns := NamespaceName(m.opts.RunID, side)
	d := &Deployment{Side: side, RunID: m.opts.RunID, Namespace: ns, Health: Healthy}
	if created, err := m.createNamespace(ctx, ns, side); err != nil {
		if errors.Is(err, ErrNamespaceExists) {
			d.Namespace = "" // not ours: never tear it down
			return d, err
		}
		if !created {
			// The create failed: nothing is known to be left behind, but a
			// request that timed out may have created it after all.
			if terr := m.Teardown(ctx, d); terr != nil {
				m.opts.Progress("shadow %s: cleanup after failure: %v", side, terr)
			}
			return d, err
		}
		return d, m.cleanup(ctx, d, err)
	}
	m.opts.Progress("shadow %s: namespace %s created with isolation", side, ns)
	if err := m.deploy(ctx, d, set); err != nil {
		return d, m.cleanup(ctx, d, err)
	}
	return d, nil
}

// cleanup tears d down after Deploy failed with err. When the teardown
// fails too (the API server went away mid-run) the namespace is left
// behind: the returned error still wraps err, and says which namespace is
// left and that `aegis gc --run` deletes it once the cluster answers again.
func (m *Manager) cleanup(ctx context.Context, d *Deployment, err error) error {
	terr := m.Teardown(ctx, d)
	if terr == nil {
		return err
	}
	m.opts.Progress("shadow %s: cleanup after failure: %v", d.Side, terr)
	return &LeftBehindError{Err: err, Namespace: d.Namespace, RunID: m.opts.RunID, Teardown: terr}
}

// LeftBehindError: Deploy failed (Err) and could not delete the shadow
// namespace it had created (Teardown). Unwrap gives Err.
type LeftBehindError struct {
	Err       error
	Namespace string
	RunID     string
	Teardown  error
}

func (e *LeftBehindError) Error() string {
	why := "the API server did not answer"
	var ue *UnreachableError
	if !errors.As(e.Teardown, &ue) {
		why = e.Teardown.Error()
	}
	return fmt.Sprintf("%v\nthe shadow namespace %s was left behind (deleting it failed: %s); once the cluster is reachable again, run `aegis gc --run %s` to delete it (`aegis gc` alone deletes it after its expiry)",
		e.Err, e.Namespace, why, e.RunID)
}

func (e *LeftBehindError) Unwrap() error { return e.Err }

func (m *Manager) deploy(ctx context.Context, d *Deployment, set *manifest.Set) error {
	objs, refused, err := plan(set, m.mapper, d.Namespace)
	if err == nil && hasReason(refused, ReasonMissingCRD) {
		// The discovery cache may predate a CRD: look once more.
		m.mu.Lock()
		m.mapper.Reset()
		m.mu.Unlock()
		objs, refused, err = plan(set, m.mapper, d.Namespace)
	}
	if err != nil {
		return clusterError(m.host, "discovering the cluster's API", err)
	}
	d.Refusals = refused
	for _, r := range refused {
		m.opts.Progress("shadow %s: %s: not applied (%s): %s", d.Side, r.Origin.Location, r.Reason, r.ID)
	}

	// Server-side dry run of everything before anything is created.
	for _, p := range objs {
		if _, err := m.apply(ctx, p, true); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if bootstrapRefusal(err, objs) {
				continue
			}
			if ae := m.applyError(p, err, true); ae != nil {
				return ae
			}
			return clusterError(m.host, "dry run of "+p.src.ID().String(), err)
		}
	}
	m.opts.Progress("shadow %s: server-side dry run of %d objects passed", d.Side, len(objs))

	start := time.Now()
	rec := &warnings{}
	var applied []planned
	for _, p := range objs {
		wctx := withWarnings(ctx, rec, p.src)
		if _, err := m.apply(wctx, p, false); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota") {
				d.Diagnoses = append(d.Diagnoses, Diagnosis{ID: p.src.ID(), Origin: p.src.Origin, Reason: ReasonQuotaExceeded, Message: apiMessage(err)})
				d.Objects = append(d.Objects, ObjectStatus{ID: p.src.ID(), Origin: p.src.Origin, Health: Degraded, Message: "not created: " + apiMessage(err)})
				continue
			}
			if ae := m.applyError(p, err, false); ae != nil {
				return ae
			}
			return clusterError(m.host, "applying "+p.src.ID().String(), err)
		}
		applied = append(applied, p)
	}
	d.Warnings = rec.list()
	m.opts.Progress("shadow %s: applied %d objects (%d admission warnings); waiting for health (timeout %s)", d.Side, len(applied), len(d.Warnings), m.opts.HealthTimeout)

	if err := m.wait(ctx, d, applied); err != nil {
		return err
	}
	d.Duration = time.Since(start)
	m.opts.Progress("shadow %s: %s after %s", d.Side, d.Health, d.Duration.Round(100*time.Millisecond))
	return nil
}

func hasReason(rs []Refusal, reason string) bool {
	for _, r := range rs {
		if r.Reason == reason {
			return true
		}
	}
	return false
}

// apply server-side applies one planned object (dry run or not).
func (m *Manager) apply(ctx context.Context, p planned, dryRun bool) (*unstructured.Unstructured, error) {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return m.dyn.Resource(p.mapping.Resource).Namespace(p.obj.GetNamespace()).Apply(ctx, p.obj.GetName(), p.obj, opts)
}

// bootstrapRefusal reports whether a dry-run refusal only says that an
// object the set itself creates earlier does not exist yet: a Pod naming a
// ServiceAccount of the set.
func bootstrapRefusal(err error, objs []planned) bool {
	msg := err.Error()
	if !strings.Contains(msg, "error looking up service account") {
		return false
	}
	for _, p := range objs {
		if p.src.GetKind() == "ServiceAccount" && p.src.GroupVersionKind().Group == "" &&
			strings.Contains(msg, fmt.Sprintf("serviceaccount %q not found", p.obj.GetName())) {
			return true
		}
	}
	return strings.Contains(msg, `serviceaccount "default" not found`)
}

// applyError wraps an API refusal of an object; nil when err is not the
// object's fault (unreachable cluster, missing permissions).
func (m *Manager) applyError(p planned, err error, dryRun bool) *ApplyError {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		if strings.Contains(err.Error(), "name is required") {
			return &ApplyError{ID: p.src.ID(), Location: p.src.Origin.Location, DryRun: dryRun, Err: err}
		}
		return nil
	}
	if apierrors.IsForbidden(err) && !strings.Contains(err.Error(), "exceeded quota") && !isAdmissionDenial(err) {
		return nil
	}
	// Server-side apply reports a value of the wrong type (replicas: "3")
	// as an internal error while building the typed patch.
	typed := apierrors.IsInternalError(err) && strings.Contains(err.Error(), "typed patch")
	if !typed && (apierrors.IsUnauthorized(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err)) {
		return nil
	}
	return &ApplyError{ID: p.src.ID(), Location: fieldLocation(p.src, status.Status()), DryRun: dryRun, Err: errors.New(apiMessage(err))}
}

// typedPathPattern finds the field path in a server-side apply type error:
// "...): .spec.replicas: expected numeric (int or float), got string".
var typedPathPattern = regexp.MustCompile(`\): (\.[^ :]+): `)

// keyQuotes turns SSA's [name="app"] selectors into the manifest's [name=app].
var keyQuotes = regexp.MustCompile(`=\"([^"]*)\"\]`)

// isAdmissionDenial tells a Forbidden from an admission plugin or webhook
// (the object's fault: Pod Security enforce, a policy engine) from an RBAC
// denial (aegis's identity's fault).
func isAdmissionDenial(err error) bool {
	msg := err.Error()
	return !strings.Contains(msg, "cannot patch resource") && !strings.Contains(msg, "cannot create resource") &&
		!strings.Contains(msg, "cannot get resource") && !strings.Contains(msg, "User \"")
}

// fieldLocation points at the source line of the first invalid field the
// API server named, falling back to the object's own line.
func fieldLocation(o manifest.Object, st metav1.Status) manifest.Location {
	if st.Details != nil {
		for _, c := range st.Details.Causes {
			if c.Field == "" {
				continue
			}
			if loc := o.Locate(manifest.ParsePath(c.Field)); loc.Line > 0 {
				return loc
			}
		}
	}
	if m := typedPathPattern.FindStringSubmatch(st.Message); m != nil {
		path := keyQuotes.ReplaceAllString(strings.TrimPrefix(m[1], "."), "=$1]")
		if loc := o.Locate(manifest.ParsePath(path)); loc.Line > 0 {
			return loc
		}
	}
	return o.Origin.Location
}

// apiMessage is the API server's message without the Go error wrapping.
func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

// --- admission warnings ---

type warnKey struct{}

// warnTarget is the object being applied and where its warnings go.
type warnTarget struct {
	rec *warnings
	obj manifest.Object
}

type warnings struct {
	mu   sync.Mutex
	seen map[string]bool
	out  []Warning
}

func (w *warnings) add(o manifest.Object, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := o.ID().String() + "\x00" + text
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	w.out = append(w.out, Warning{ID: o.ID(), Origin: o.Origin, Text: text})
}

func (w *warnings) list() []Warning {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Warning(nil), w.out...)
}

func withWarnings(ctx context.Context, rec *warnings, o manifest.Object) context.Context {
	return context.WithValue(ctx, warnKey{}, &warnTarget{rec: rec, obj: o})
}

// warningRecorder is the clients' warning handler: a warning of a request
// made with withWarnings is recorded against its object; any other is
// dropped (aegis prints nothing on stderr behind the caller's back).
type warningRecorder struct{}

func (warningRecorder) HandleWarningHeaderWithContext(ctx context.Context, _ int, _ string, text string) {
	if t, ok := ctx.Value(warnKey{}).(*warnTarget); ok && text != "" {
		t.rec.add(t.obj, text)
	}
}

// --- health wait ---

// wait polls the applied objects and the namespace's pods, controllers and
// events until nothing is progressing or HealthTimeout passes, then fills
// d.Objects, d.Diagnoses, d.Events and d.Health.
func (m *Manager) wait(ctx context.Context, d *Deployment, applied []planned) error {
	deadline := time.Now().Add(m.opts.HealthTimeout)
	notCreated := d.Objects // quota refusals at apply time
	baseDiag := d.Diagnoses
	for {
		statuses, diags, events, err := m.observe(ctx, d.Namespace, applied)
		if err != nil {
			return err
		}
		statuses = append(append([]ObjectStatus(nil), notCreated...), statuses...)
		progressing := false
		for _, s := range statuses {
			if s.Health == Progressing {
				progressing = true
			}
		}
		timedOut := time.Now().After(deadline)
		if !progressing || timedOut {
			all := append(append([]Diagnosis(nil), baseDiag...), diags...)
			if timedOut {
				for _, s := range statuses {
					if s.Health == Progressing {
						all = append(all, Diagnosis{ID: s.ID, Origin: s.Origin, Reason: ReasonNotReady,
							Message: fmt.Sprintf("not ready after %s: %s", m.opts.HealthTimeout, s.Message)})
					}
				}
			}
			d.Objects, d.Diagnoses, d.Events = statuses, all, events
			d.Health = Healthy
			for _, s := range statuses {
				d.Health = Worse(d.Health, s.Health)
			}
			return nil
		}
		if err := sleep(ctx, m.opts.PollInterval); err != nil {
			return err
		}
	}
}

// observe reads the live state once.
func (m *Manager) observe(ctx context.Context, ns string, applied []planned) ([]ObjectStatus, []Diagnosis, []Event, error) {
	byResource := map[schema.GroupVersionResource]map[string]*unstructured.Unstructured{}
	for _, p := range applied {
		gvr := p.mapping.Resource
		if isSecret(p) {
			continue // never read back: aegis does not read Secret values
		}
		if _, ok := byResource[gvr]; ok {
			continue
		}
		list, err := m.dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, nil, nil, clusterError(m.host, "reading "+gvr.Resource+" in "+ns, err)
		}
		items := map[string]*unstructured.Unstructured{}
		for i := range list.Items {
			items[list.Items[i].GetName()] = &list.Items[i]
		}
		byResource[gvr] = items
	}
	live := map[types.UID]target{}
	statuses := make([]ObjectStatus, 0, len(applied))
	for _, p := range applied {
		if isSecret(p) {
			statuses = append(statuses, ObjectStatus{ID: p.src.ID(), Origin: p.src.Origin, Health: Healthy, Message: "Secret applied (not read back)"})
			continue
		}
		u := byResource[p.mapping.Resource][p.obj.GetName()]
		h, msg := ObjectHealth(u)
		statuses = append(statuses, ObjectStatus{ID: p.src.ID(), Origin: p.src.Origin, Health: h, Message: msg})
		if u != nil {
			live[u.GetUID()] = target{ID: p.src.ID(), Origin: p.src.Origin}
		}
	}

	pods, err := m.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, nil, clusterError(m.host, "reading pods in "+ns, err)
	}
	rss, err := m.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, nil, clusterError(m.host, "reading replicasets in "+ns, err)
	}
	jobs, err := m.client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, nil, clusterError(m.host, "reading jobs in "+ns, err)
	}
	evs, err := m.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil {
		return nil, nil, nil, clusterError(m.host, "reading events in "+ns, err)
	}
	sortEvents(evs.Items)

	a := newAttributor(ns, live, rss.Items, jobs.Items)
	ds := dedupe(append(a.diagnosePods(pods.Items, m.opts.Now()), a.diagnoseControllers(rss.Items, evs.Items)...))
	degraded := map[manifest.Identity]bool{}
	var diags []Diagnosis
	for _, d := range ds {
		diags = append(diags, d.Diagnosis)
		if d.degrades {
			degraded[d.ID] = true
		}
	}
	for i := range statuses {
		s := &statuses[i]
		if degraded[s.ID] && s.Health != Degraded {
			s.Health = Degraded
			s.Message = "its pods failed: " + firstReason(diags, s.ID) + " (" + s.Message + ")"
		}
		if s.Health == Degraded && !hasDiagnosis(diags, s.ID) {
			if reason := degradedReason(byResource[gvrOf(applied, s.ID)][s.ID.Name]); reason != "" {
				diags = append(diags, Diagnosis{ID: s.ID, Origin: s.Origin, Reason: reason, Message: s.Message})
			}
		}
	}
	return statuses, diags, warningEvents(evs.Items), nil
}

func isSecret(p planned) bool {
	return manifest.IsSecret(p.mapping.GroupVersionKind.Kind)
}

func sortEvents(evs []corev1.Event) {
	sort.SliceStable(evs, func(i, j int) bool {
		return evs[i].LastTimestamp.Before(&evs[j].LastTimestamp)
	})
}

func firstReason(ds []Diagnosis, id manifest.Identity) string {
	for _, d := range ds {
		if d.ID == id {
			return d.Reason
		}
	}
	return ""
}

func hasDiagnosis(ds []Diagnosis, id manifest.Identity) bool { return firstReason(ds, id) != "" }

func gvrOf(applied []planned, id manifest.Identity) schema.GroupVersionResource {
	for _, p := range applied {
		if p.src.ID() == id {
			return p.mapping.Resource
		}
	}
	return schema.GroupVersionResource{}
}

// degradedReason names the diagnosis for an object Degraded by its own
// status (not by its pods).
func degradedReason(u *unstructured.Unstructured) string {
	if u == nil {
		return ""
	}
	switch u.GroupVersionKind().GroupKind() {
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}:
		for _, c := range conditions(u) {
			if c.typ == "Progressing" && c.reason == "ProgressDeadlineExceeded" {
				return ReasonProgressDeadline
			}
		}
	case schema.GroupKind{Group: "batch", Kind: "Job"}, schema.GroupKind{Kind: "Pod"}:
		return ReasonFailed
	}
	return ""
}
