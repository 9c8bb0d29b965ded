package posture

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/kube-sentient/aegis/manifest"
)

// pssCheck is one check of the pod-security-admission library with an
// evaluator of its own. The library's evaluator returns results without
// check ids, so aegis evaluates each check alone to name the rule, and runs
// the library's combined evaluators as well to prove the split agrees.
type pssCheck struct {
	id    policy.CheckID
	level api.Level
	eval  policy.Evaluator
	// versions are the check's versions, oldest first: which baseline
	// checks a restricted check replaces (capabilities_restricted replaces
	// capabilities_baseline) depends on the policy version.
	versions []policy.VersionedCheck
}

// at returns the version of the check that applies at policy version v,
// or ok=false when the check does not exist yet at v.
func (c pssCheck) at(v api.Version) (policy.VersionedCheck, bool) {
	for i := len(c.versions) - 1; i >= 0; i-- {
		if !v.Older(c.versions[i].MinimumVersion) {
			return c.versions[i], true
		}
	}
	return policy.VersionedCheck{}, false
}

// overridesAt lists the baseline checks c replaces at policy version v.
func (c pssCheck) overridesAt(v api.Version) []policy.CheckID {
	vc, _ := c.at(v)
	return vc.OverrideCheckIDs
}

// pssEngine holds every default check of the library.
type pssEngine struct {
	all    policy.Evaluator // the library's evaluator over policy.DefaultChecks()
	checks []pssCheck       // ordered by id, as the library orders its results
}

// overriddenBy maps a baseline check to the restricted check that
// replaces it at policy version v; a restricted namespace runs only the
// latter.
func (e *pssEngine) overriddenBy(v api.Version) map[policy.CheckID]policy.CheckID {
	out := map[policy.CheckID]policy.CheckID{}
	for _, c := range e.checks {
		for _, o := range c.overridesAt(v) {
			out[o] = c.id
		}
	}
	return out
}

// engine is built once: the checks are static, and building evaluators
// inflates every policy version.
var engine = sync.OnceValues(newPSSEngine)

func newPSSEngine() (*pssEngine, error) {
	checks := policy.DefaultChecks()
	all, err := policy.NewEvaluator(checks, nil)
	if err != nil {
		return nil, fmt.Errorf("posture: pod-security-admission checks: %w", err)
	}
	e := &pssEngine{all: all}
	for _, c := range checks {
		ev, err := policy.NewEvaluator([]policy.Check{c}, nil)
		if err != nil {
			return nil, fmt.Errorf("posture: pod-security-admission check %s: %w", c.ID, err)
		}
		e.checks = append(e.checks, pssCheck{id: c.ID, level: c.Level, eval: ev, versions: slices.Clone(c.Versions)})
	}
	// Baseline checks first, as the library reports them; then by id.
	sortChecks(e.checks)
	return e, nil
}

func sortChecks(cs []pssCheck) {
	slices.SortFunc(cs, func(a, b pssCheck) int {
		if a.level != b.level {
			if a.level == api.LevelBaseline {
				return -1
			}
			return 1
		}
		return strings.Compare(string(a.id), string(b.id))
	})
}

// PSSVersion is the Pod Security Standards version for a Kubernetes
// version ("v1.30.2", "1.30", as --kube-version takes it): its major and
// minor. "" is the latest version the library knows.
func PSSVersion(kube string) (api.Version, error) {
	kube = strings.TrimSpace(kube)
	if kube == "" {
		return api.LatestVersion(), nil
	}
	m := kubeVersionRe.FindStringSubmatch(kube)
	if m == nil {
		return api.Version{}, fmt.Errorf("posture: Kubernetes version %q is not vMAJOR.MINOR[.PATCH]", kube)
	}
	minor, err := strconv.Atoi(m[1])
	if err != nil {
		return api.Version{}, fmt.Errorf("posture: Kubernetes version %q: %w", kube, err)
	}
	return api.MajorMinorVersion(1, minor), nil
}

// kubeVersionRe accepts v1.MINOR with an optional patch and suffix
// ("v1.30.2-gke.1"); Kubernetes has no other major version.
var kubeVersionRe = regexp.MustCompile(`^v?1\.(\d{1,4})(?:\.\d+)?(?:[-+].*)?$`)

func levelAt(level api.Level, v api.Version) api.LevelVersion {
	return api.LevelVersion{Level: level, Version: v}
}

// check runs one check on a pod at its own level and policy version v.
func (c pssCheck) check(v api.Version, meta *metav1.ObjectMeta, spec *corev1.PodSpec) policy.CheckResult {
	for _, r := range c.eval.EvaluatePod(levelAt(c.level, v), meta, spec) {
		if !r.Allowed {
			return r
		}
	}
	return policy.CheckResult{Allowed: true}
}

// subjectKind says what part of a pod a violation is about.
type subjectKind int

const (
	subjPod         subjectKind = iota // a pod-level field (name: the field for hostNamespaces)
	subjAnnotations                    // the pod's annotations
	subjContainer                      // a container (name: the container)
	subjVolume                         // a volume (name: the volume)
)

type subject struct {
	kind subjectKind
	name string
}

// violation is one failed check on one subject.
type violation struct {
	check   pssCheck
	subject subject
	// detail is the library's own explanation, narrowed to this subject by
	// evaluating the check on a pod that holds only that subject.
	detail string
	// reason is the library's short name of the problem ("hostPath volumes").
	reason string
}

// evaluate returns the violations of a workload's pod at baseline and
// restricted. A restricted check that overrides a baseline one does not
// repeat what the baseline check reports for the same subject.
func (e *pssEngine) evaluate(w *workload) ([]violation, error) {
	meta, spec, v := &w.pod.ObjectMeta, &w.pod.Spec, w.version
	aggB := policy.AggregateCheckResults(e.all.EvaluatePod(levelAt(api.LevelBaseline, v), meta, spec))
	aggR := policy.AggregateCheckResults(e.all.EvaluatePod(levelAt(api.LevelRestricted, v), meta, spec))
	if aggB.Allowed && aggR.Allowed {
		return nil, nil // the common case for a hardened pod: nothing to attribute
	}

	failed := map[policy.CheckID]policy.CheckResult{}
	overriddenBy := e.overriddenBy(v)
	var nB, nR int
	for _, c := range e.checks {
		r := c.check(v, meta, spec)
		if r.Allowed {
			continue
		}
		failed[c.id] = r
		if c.level == api.LevelBaseline {
			nB++
			if _, over := overriddenBy[c.id]; over {
				continue
			}
		}
		nR++
	}
	// The per-check split must say what the library's own evaluators say;
	// if a library upgrade ever changes that, fail closed rather than
	// report a different verdict than admission would.
	if nB != len(aggB.ForbiddenReasons) || nR != len(aggR.ForbiddenReasons) {
		return nil, fmt.Errorf("%s: posture: per-check Pod Security evaluation of %s disagrees with pod-security-admission (baseline %d vs %d, restricted %d vs %d failures)",
			w.obj.Origin.Location, w.obj.ID(), nB, len(aggB.ForbiddenReasons), nR, len(aggR.ForbiddenReasons))
	}

	var out []violation
	bySubject := map[policy.CheckID]map[subject]bool{}
	for _, c := range e.checks {
		r, ok := failed[c.id]
		if !ok {
			continue
		}
		vs := e.attribute(c, r, w)
		bySubject[c.id] = map[subject]bool{}
		for _, v := range vs {
			bySubject[c.id][v.subject] = true
		}
		for _, v := range vs {
			if v, keep := e.dedupeOverride(c, v, bySubject, w); keep {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// dedupeOverride drops a restricted violation on a subject that the baseline
// check it overrides already reports (a hostPath volume is both a hostPath
// volume and a restricted volume type: one problem, one finding, at the
// baseline's higher severity). Where the restricted check also asks for
// something the baseline one does not (capabilities: drop ALL), what remains
// after removing the baseline's part is still reported.
func (e *pssEngine) dedupeOverride(c pssCheck, v violation, bySubject map[policy.CheckID]map[subject]bool, w *workload) (violation, bool) {
	for _, b := range c.overridesAt(w.version) {
		if !bySubject[b][v.subject] {
			continue
		}
		strip, ok := residuals[c.id]
		if !ok || v.subject.kind != subjContainer {
			return v, false
		}
		ref, _ := w.container(v.subject.name)
		rest := c.check(w.version, &w.pod.ObjectMeta, specWithContainer(&w.pod.Spec, ref, strip(ref.c)))
		if rest.Allowed {
			return v, false
		}
		v.detail = rest.ForbiddenDetail
	}
	return v, true
}

// residuals remove from a container what a baseline check already reports,
// keyed by the restricted check that overrides it.
var residuals = map[policy.CheckID]func(*corev1.Container) *corev1.Container{
	"capabilities_restricted": func(c *corev1.Container) *corev1.Container {
		cp := *c
		if cp.SecurityContext != nil && cp.SecurityContext.Capabilities != nil {
			sc := *cp.SecurityContext
			caps := *sc.Capabilities
			caps.Add = nil
			sc.Capabilities = &caps
			cp.SecurityContext = &sc
		}
		return &cp
	},
}

var (
	// The library names subjects as `container "a"`, `containers "a", "b"`,
	// `volume "v"`; only the quoted list right after the keyword holds names
	// (capabilities or profile types are quoted elsewhere in the sentence).
	subjectListRe = regexp.MustCompile(`\b(containers?|volumes?) ((?:"[^"]*"(?:, )?)+)`)
	quotedRe      = regexp.MustCompile(`"([^"]*)"`)
	// "pod must ..." and "pod and containers ..." blame the pod itself;
	// "pod or container "a" must set ..." blames the container only.
	podSetterRe        = regexp.MustCompile(`(?:^|; )pod (?:must|and)\b`)
	annotationSetterRe = regexp.MustCompile(`\bannotations? (?:must|and)\b`)
)

// attribute splits one failed check into one violation per subject: per
// container, per volume, per pod field. Subjects come from the names the
// library quotes in ForbiddenDetail, checked against the pod's own names;
// anything that cannot be attributed becomes a pod-level violation so that
// nothing the library reports is lost.
func (e *pssEngine) attribute(c pssCheck, r policy.CheckResult, w *workload) []violation {
	meta, spec := &w.pod.ObjectMeta, &w.pod.Spec
	detail := r.ForbiddenDetail
	var out []violation
	seen := map[subject]bool{}
	add := func(s subject, d string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, violation{check: c, subject: s, detail: d, reason: r.ForbiddenReason})
		}
	}
	unattributed := false
	for _, m := range subjectListRe.FindAllStringSubmatch(detail, -1) {
		for _, q := range quotedRe.FindAllStringSubmatch(m[2], -1) {
			name := q[1]
			if strings.HasPrefix(m[1], "container") {
				ref, ok := w.container(name)
				if !ok {
					unattributed = true
					continue
				}
				add(subject{subjContainer, name}, narrowed(c, w.version, meta, specWithContainer(spec, ref, ref.c), detail))
				continue
			}
			i := w.volumeIndex(name)
			if i < 0 {
				unattributed = true
				continue
			}
			add(subject{subjVolume, name}, narrowed(c, w.version, meta, specWithVolume(spec, i), detail))
		}
	}
	if podSetterRe.MatchString(detail) {
		add(subject{kind: subjPod}, narrowed(c, w.version, meta, specPodOnly(spec), detail))
	}
	if annotationSetterRe.MatchString(detail) {
		add(subject{kind: subjAnnotations}, detail)
	}
	if c.id == "hostNamespaces" {
		// "hostNetwork=true, hostPID=true": one finding per namespace, each
		// at its own line, so removing one shows as fixed on its own.
		for _, part := range strings.Split(detail, ", ") {
			if field, ok := strings.CutSuffix(part, "=true"); ok && hostNamespaceFields[field] {
				add(subject{subjPod, field}, "pod must not set "+part)
			} else {
				unattributed = true
			}
		}
	}
	if unattributed || len(out) == 0 {
		add(subject{kind: subjPod}, detail)
	}
	return out
}

var hostNamespaceFields = map[string]bool{"hostNetwork": true, "hostPID": true, "hostIPC": true}

// narrowed re-runs a check on a reduced pod to get the library's detail for
// one subject only; if the reduced pod passes (the failure needs the whole
// pod), the full detail stands.
func narrowed(c pssCheck, v api.Version, meta *metav1.ObjectMeta, spec *corev1.PodSpec, full string) string {
	if r := c.check(v, meta, spec); !r.Allowed && r.ForbiddenDetail != "" {
		return r.ForbiddenDetail
	}
	return full
}

// specWithContainer is spec with c as its only container, in ref's list.
// Pod-level fields stay, since checks weigh them with each container.
func specWithContainer(spec *corev1.PodSpec, ref containerRef, c *corev1.Container) *corev1.PodSpec {
	s := *spec
	s.InitContainers, s.Containers, s.EphemeralContainers = nil, nil, nil
	switch ref.list {
	case listInit:
		s.InitContainers = []corev1.Container{*c}
	case listMain:
		s.Containers = []corev1.Container{*c}
	case listEphemeral:
		s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon(*c)}}
	}
	return &s
}

func specWithVolume(spec *corev1.PodSpec, i int) *corev1.PodSpec {
	s := *spec
	s.Volumes = spec.Volumes[i : i+1]
	return &s
}

func specPodOnly(spec *corev1.PodSpec) *corev1.PodSpec {
	s := *spec
	s.InitContainers, s.Containers, s.EphemeralContainers, s.Volumes = nil, nil, nil, nil
	return &s
}

// containerFields is where, under a container, each check's field lives;
// Locate falls back to the deepest part the source sets, so a missing
// field points at the container's securityContext or the container itself.
var containerFields = map[policy.CheckID]string{
	"privileged":                "securityContext.privileged",
	"allowPrivilegeEscalation":  "securityContext.allowPrivilegeEscalation",
	"capabilities_baseline":     "securityContext.capabilities.add",
	"capabilities_restricted":   "securityContext.capabilities.drop",
	"hostPorts":                 "ports",
	"procMount":                 "securityContext.procMount",
	"procMount_restricted":      "securityContext.procMount",
	"runAsNonRoot":              "securityContext.runAsNonRoot",
	"runAsUser":                 "securityContext.runAsUser",
	"seLinuxOptions":            "securityContext.seLinuxOptions",
	"seccompProfile_baseline":   "securityContext.seccompProfile",
	"seccompProfile_restricted": "securityContext.seccompProfile",
	"appArmorProfile":           "securityContext.appArmorProfile",
	"windowsHostProcess":        "securityContext.windowsOptions.hostProcess",
}

// podFields is the same for pod-level subjects, under the PodSpec.
var podFields = map[policy.CheckID]string{
	"runAsNonRoot":              "securityContext.runAsNonRoot",
	"runAsUser":                 "securityContext.runAsUser",
	"seLinuxOptions":            "securityContext.seLinuxOptions",
	"seccompProfile_baseline":   "securityContext.seccompProfile",
	"seccompProfile_restricted": "securityContext.seccompProfile",
	"appArmorProfile":           "securityContext.appArmorProfile",
	"windowsHostProcess":        "securityContext.windowsOptions.hostProcess",
	"sysctls":                   "securityContext.sysctls",
}

// violationPath is the field a violation is about, for Locate.
func (w *workload) violationPath(v violation) manifest.FieldPath {
	sp := viewSpec
	switch v.subject.kind {
	case subjVolume:
		return sp.Child("volumes", manifest.ItemByName(v.subject.name))
	case subjAnnotations:
		return viewMeta.Child("annotations")
	case subjContainer:
		ref, _ := w.container(v.subject.name)
		field := containerFields[v.check.id]
		if v.check.id == "capabilities_restricted" && strings.Contains(v.detail, "capabilities.add") &&
			!strings.Contains(v.detail, "capabilities.drop") {
			field = "securityContext.capabilities.add"
		}
		if field == "" {
			return ref.path
		}
		return ref.path.Child(manifest.ParsePath(field)...)
	}
	if v.subject.name != "" { // a host namespace field
		return sp.Child(v.subject.name)
	}
	if f := podFields[v.check.id]; f != "" {
		return sp.Child(manifest.ParsePath(f)...)
	}
	return sp
}
