package report

import (
	"fmt"
	"regexp"
	"strings"
)

// Scope says what one problem of a check covers within an object.
type Scope string

// Scopes of a check.
const (
	// PerContainer checks are about a field of one container: one problem
	// per object and container (a finding without a container, a pod-level
	// field, is a problem of its own).
	PerContainer Scope = "container"
	// PerObject checks are about the pod or the object as a whole: one
	// problem per object, whatever container a scanner names.
	PerObject Scope = "object"
)

// Scanner ids the table names. They are the scanners' Name(); report does
// not import the scanners (they import report).
const (
	scannerPosture   = "posture"
	scannerTrivy     = "trivy"
	scannerAdmission = "admission"
	scannerHealth    = "health"

	ruleAdmissionWarning = "admission.warning"
)

// CheckSource is one scanner's rule for a check.
type CheckSource struct {
	Scanner string
	// RuleID is the id as the scanner records it. Trivy ids are written as
	// Trivy v0.74.0 prints them ("KSV-0017"); the older "KSV017" and the
	// "AVD-KSV-0017" alias match too (see canonicalTrivyID).
	RuleID string
	// Key narrows a rule that reports several checks under one id by the
	// finding's Key: pss.hostNamespaces says which namespace in its Key.
	// "" matches any key.
	Key string
	// Title is the rule's title as the scanner states it: for posture its
	// rule title, for Trivy the check's title in the recorded output
	// (scanners/trivy/testdata/config-output.json). Tests hold both to it.
	Title string
}

// AdmissionReason is a violation as a Pod Security admission warning names
// it: the library's ForbiddenReason, narrowed by a token of its detail for
// the reasons that cover several checks ("host namespaces" lists
// hostNetwork=true, hostPID=true; "restricted volume types" lists volume
// types). Token "" matches the reason whatever its detail; "*" matches a
// token that no other row of the reason names.
type AdmissionReason struct {
	Reason string
	Token  string
}

// Correlation is one row of the matching table: the rules of several
// scanners that test the same field, so that their findings on the same
// object (and container, for a PerContainer check) are one problem.
type Correlation struct {
	// Check names the problem's check; it is part of the problem's key.
	Check string
	// Field is what the check is about, under the container or the pod.
	Field     string
	Scope     Scope
	Sources   []CheckSource
	Admission []AdmissionReason
}

func srcPosture(id, title string) CheckSource {
	return CheckSource{Scanner: scannerPosture, RuleID: id, Title: title}
}

func srcTrivy(id, title string) CheckSource {
	return CheckSource{Scanner: scannerTrivy, RuleID: id, Title: title}
}

func srcHostNamespace(field string) CheckSource {
	return CheckSource{Scanner: scannerPosture, RuleID: "pss.hostNamespaces", Key: field, Title: "Host namespaces shared"}
}

func admissionReasons(rs ...string) []AdmissionReason {
	out := make([]AdmissionReason, len(rs))
	for i, r := range rs {
		out[i] = AdmissionReason{Reason: r}
	}
	return out
}

// correlations is the matching table. Pod Security reasons are the
// ForbiddenReason strings of k8s.io/pod-security-admission (v0.37.2), which
// the API server's warning prints; posture runs the same library, so each
// pss.* rule has its reason. Shadow namespaces warn at restricted:latest,
// where a restricted check replaces the baseline check it overrides
// (capabilities, seccomp, procMount, hostPath volumes): that is why those
// pairs share a row, or why a reason is narrowed by a token.
// Trivy ids are only those its recorded output shows (with their titles);
// see docs/correlation.md for the checks that stay apart.
var correlations = []Correlation{
	// The container runs privileged: posture's pss.privileged, Trivy's
	// "Privileged" (message: should set 'securityContext.privileged' to
	// false) and the warning's "privileged" all read the same field.
	{Check: "privileged", Field: "securityContext.privileged", Scope: PerContainer,
		Sources:   []CheckSource{srcPosture("pss.privileged", "Privileged container"), srcTrivy("KSV-0017", "Privileged")},
		Admission: admissionReasons("privileged")},
	// Windows HostProcess: only the Pod Security library checks it.
	{Check: "windowsHostProcess", Field: "securityContext.windowsOptions.hostProcess", Scope: PerContainer,
		Sources:   []CheckSource{srcPosture("pss.windowsHostProcess", "Windows HostProcess container")},
		Admission: admissionReasons("hostProcess")},
	// hostNetwork: posture reports pss.hostNamespaces once per field (Key
	// hostNetwork); Trivy's "Access to host network" says should not set
	// 'spec.template.spec.hostNetwork' to true.
	{Check: "hostNetwork", Field: "spec.hostNetwork", Scope: PerObject,
		Sources:   []CheckSource{srcHostNamespace("hostNetwork"), srcTrivy("KSV-0009", "Access to host network")},
		Admission: []AdmissionReason{{Reason: "host namespaces", Token: "hostNetwork=true"}}},
	// hostPID: the same, with Trivy's "Access to host PID".
	{Check: "hostPID", Field: "spec.hostPID", Scope: PerObject,
		Sources:   []CheckSource{srcHostNamespace("hostPID"), srcTrivy("KSV-0010", "Access to host PID")},
		Admission: []AdmissionReason{{Reason: "host namespaces", Token: "hostPID=true"}}},
	// hostIPC: Trivy's host IPC check is not in the recorded output, so
	// it is not mapped; posture and the warning still match.
	{Check: "hostIPC", Field: "spec.hostIPC", Scope: PerObject,
		Sources:   []CheckSource{srcHostNamespace("hostIPC")},
		Admission: []AdmissionReason{{Reason: "host namespaces", Token: "hostIPC=true"}}},
	// hostPath volumes: Trivy's "hostPath volumes mounted" is one finding
	// per object, so the problem is the object's (all its hostPath
	// volumes). At restricted the warning names a hostPath volume under
	// "restricted volume types" (restrictedVolumes overrides
	// hostPathVolumes), with the type "hostPath" in its detail.
	{Check: "hostPathVolumes", Field: "spec.volumes[].hostPath", Scope: PerObject,
		Sources: []CheckSource{srcPosture("pss.hostPathVolumes", "hostPath volume"), srcTrivy("KSV-0023", "hostPath volumes mounted")},
		Admission: []AdmissionReason{{Reason: "hostPath volumes"},
			{Reason: "restricted volume types", Token: "hostPath"}}},
	// Other volume types the restricted level forbids (nfs, iscsi, ...).
	{Check: "restrictedVolumes", Field: "spec.volumes[]", Scope: PerObject,
		Sources:   []CheckSource{srcPosture("pss.restrictedVolumes", "Volume type not allowed by restricted")},
		Admission: []AdmissionReason{{Reason: "restricted volume types", Token: "*"}}},
	// Capabilities: securityContext.capabilities of one container. Posture
	// splits what is added beyond the default set (baseline) from what is
	// not dropped (restricted); Trivy has checks for both halves and one
	// (KSV-0106: drop ALL, add only NET_BIND_SERVICE) for the whole, and
	// the restricted warning names both halves "unrestricted capabilities".
	// One row, or the same field would be two rows again.
	{Check: "capabilities", Field: "securityContext.capabilities", Scope: PerContainer,
		Sources: []CheckSource{
			srcPosture("pss.capabilities_baseline", "Non-default capabilities added"),
			srcPosture("pss.capabilities_restricted", "Capabilities not dropped"),
			srcTrivy("KSV-0003", "Default capabilities: some containers do not drop all"),
			srcTrivy("KSV-0004", "Default capabilities: some containers do not drop any"),
			srcTrivy("KSV-0005", "SYS_ADMIN capability added"),
			srcTrivy("KSV-0022", "Specific capabilities added"),
			srcTrivy("KSV-0106", "Container capabilities must only include NET_BIND_SERVICE"),
		},
		Admission: admissionReasons("non-default capabilities", "unrestricted capabilities")},
	// Host ports: Trivy's "Access to host ports" reads 'ports[*].hostPort'.
	{Check: "hostPorts", Field: "ports[].hostPort", Scope: PerContainer,
		Sources:   []CheckSource{srcPosture("pss.hostPorts", "Host port"), srcTrivy("KSV-0024", "Access to host ports")},
		Admission: admissionReasons("hostPort")},
	// A probe or lifecycle handler with a host: only the library checks it.
	{Check: "hostProbesAndHostLifecycle", Field: "*Probe.*.host, lifecycle.*.host", Scope: PerContainer,
		Sources:   []CheckSource{srcPosture("pss.hostProbesAndHostLifecycle", "Probe or lifecycle hook with a host")},
		Admission: admissionReasons("probe or lifecycle host")},
	// procMount: the restricted check overrides the baseline one from
	// Kubernetes 1.35 and both print "procMount".
	{Check: "procMount", Field: "securityContext.procMount", Scope: PerContainer,
		Sources: []CheckSource{srcPosture("pss.procMount", "Unmasked /proc mount"),
			srcPosture("pss.procMount_restricted", "Unmasked /proc mount (restricted)")},
		Admission: admissionReasons("procMount")},
	// SELinux options: only the library checks it among recorded checks.
	{Check: "seLinuxOptions", Field: "securityContext.seLinuxOptions", Scope: PerContainer,
		Sources:   []CheckSource{srcPosture("pss.seLinuxOptions", "Custom SELinux options")},
		Admission: admissionReasons("seLinuxOptions")},
	// Seccomp: the baseline check (Unconfined) and the restricted one (not
	// set) are one field, and the restricted one overrides the baseline
	// one. Trivy's KSV-0030 ("should set 'securityContext.seccompProfile.
	// type' to 'RuntimeDefault'") and KSV-0104 ("should specify a seccomp
	// profile") fire on the same containers in the recorded output.
	{Check: "seccompProfile", Field: "securityContext.seccompProfile", Scope: PerContainer,
		Sources: []CheckSource{
			srcPosture("pss.seccompProfile_baseline", "Unconfined seccomp profile"),
			srcPosture("pss.seccompProfile_restricted", "Seccomp profile not set"),
			srcTrivy("KSV-0030", "Runtime/Default Seccomp profile not set"),
			srcTrivy("KSV-0104", "Seccomp policies disabled"),
		},
		Admission: admissionReasons("seccompProfile")},
	// AppArmor: only the library checks it among recorded checks.
	{Check: "appArmorProfile", Field: "securityContext.appArmorProfile", Scope: PerContainer,
		Sources:   []CheckSource{srcPosture("pss.appArmorProfile", "AppArmor disabled or overridden")},
		Admission: admissionReasons("forbidden AppArmor profile", "forbidden AppArmor profiles")},
	// Unsafe sysctls, a pod-level field.
	{Check: "sysctls", Field: "spec.securityContext.sysctls", Scope: PerObject,
		Sources:   []CheckSource{srcPosture("pss.sysctls", "Unsafe sysctls")},
		Admission: admissionReasons("forbidden sysctls")},
	// allowPrivilegeEscalation: Trivy's "Can elevate its own privileges"
	// says should set 'securityContext.allowPrivilegeEscalation' to false.
	{Check: "allowPrivilegeEscalation", Field: "securityContext.allowPrivilegeEscalation", Scope: PerContainer,
		Sources: []CheckSource{srcPosture("pss.allowPrivilegeEscalation", "Privilege escalation allowed"),
			srcTrivy("KSV-0001", "Can elevate its own privileges")},
		Admission: admissionReasons("allowPrivilegeEscalation != false")},
	// runAsNonRoot: Trivy's "Runs as root user" says should set
	// 'securityContext.runAsNonRoot' to true.
	{Check: "runAsNonRoot", Field: "securityContext.runAsNonRoot", Scope: PerContainer,
		Sources: []CheckSource{srcPosture("pss.runAsNonRoot", "Container may run as root"),
			srcTrivy("KSV-0012", "Runs as root user")},
		Admission: admissionReasons("runAsNonRoot != true")},
	// runAsUser: 0. Trivy's KSV-0105 fires on the recorded container that
	// sets runAsUser: 0 only. (KSV-0020, UID <= 10000, is a different
	// threshold and stays apart.)
	{Check: "runAsUser", Field: "securityContext.runAsUser", Scope: PerContainer,
		Sources: []CheckSource{srcPosture("pss.runAsUser", "Container runs as UID 0"),
			srcTrivy("KSV-0105", "Containers must not set runAsUser to 0")},
		Admission: admissionReasons("runAsUser=0")},
	// CPU and memory limits: aegis reports both in one finding, Trivy in
	// "CPU not limited" and "Memory not limited".
	{Check: "resourceLimits", Field: "resources.limits", Scope: PerContainer,
		Sources: []CheckSource{srcPosture("aegis.resourceLimits", "Missing resource limits"),
			srcTrivy("KSV-0011", "CPU not limited"), srcTrivy("KSV-0018", "Memory not limited")}},
	// A mutable image tag: Trivy's ":latest" check is the medium case of
	// aegis's rule (":latest" or no tag).
	{Check: "mutableImageTag", Field: "image", Scope: PerContainer,
		Sources: []CheckSource{srcPosture("aegis.mutableImageTag", "Image not pinned by digest"),
			srcTrivy("KSV-0013", `Image tag ":latest" used`)}},
	// A Role or ClusterRole granting every verb on every resource: aegis
	// reports it on the role (and, separately, on the bindings to it);
	// Trivy's KSV-0044 (wildcard verb on wildcard resource) and KSV-0112
	// (manage all resources at the namespace) fire on the same recorded
	// Role. Bindings are other objects, so other problems.
	{Check: "fullAccessRole", Field: "rules[].verbs, rules[].resources", Scope: PerObject,
		Sources: []CheckSource{
			srcPosture("aegis.clusterAdminBinding", "Binding to cluster-admin, or a role with every verb on every resource"),
			srcTrivy("KSV-0044", "No wildcard verb and resource roles"),
			srcTrivy("KSV-0112", "Manage all resources at the namespace"),
		}},
}

// Uncorrelated lists aegis's own rules that no other scanner's recorded
// rule tests, with why; their findings are problems of their own. (Every
// pss.* rule is in the table: the admission warning names each.)
var Uncorrelated = map[string]string{
	"aegis.readinessProbe":      "no recorded Trivy check tests readiness probes",
	"aegis.livenessProbe":       "no recorded Trivy check tests liveness probes",
	"aegis.secretInEnv":         "Trivy's KSV-0109 is about ConfigMaps, not env literals of containers",
	"aegis.webhookFailOpen":     "no recorded Trivy check tests webhooks",
	"aegis.clusterScopedObject": "no recorded Trivy check reports cluster-scoped objects",
}

// Correlations returns a copy of the matching table, in its order.
func Correlations() []Correlation {
	out := make([]Correlation, len(correlations))
	for i, c := range correlations {
		c.Sources = append([]CheckSource(nil), c.Sources...)
		c.Admission = append([]AdmissionReason(nil), c.Admission...)
		out[i] = c
	}
	return out
}

// MarkdownRow is the row of docs/correlation.md's table for c.
func (c Correlation) MarkdownRow() string {
	var posture, trivy []string
	for _, s := range c.Sources {
		id := "`" + s.RuleID + "`"
		if s.Key != "" {
			id += " (key `" + s.Key + "`)"
		}
		switch s.Scanner {
		case scannerPosture:
			posture = append(posture, id)
		case scannerTrivy:
			trivy = append(trivy, id+" "+s.Title)
		}
	}
	var adm []string
	for _, a := range c.Admission {
		r := "`" + a.Reason + "`"
		switch a.Token {
		case "":
		case "*":
			r += " (other types)"
		default:
			r += " (`" + a.Token + "`)"
		}
		adm = append(adm, r)
	}
	cell := func(s []string) string {
		if len(s) == 0 {
			return "—"
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("| `%s` | `%s` | %s | %s | %s | %s |", c.Check, c.Field, c.Scope,
		cell(posture), strings.ReplaceAll(cell(trivy), "|", `\|`), cell(adm))
}

// healthSpecificity orders the health rules, most specific first: a cause
// (the container is OOM-killed, so it crash-loops; the image cannot be
// pulled; no node fits) explains a symptom (the rollout missed its
// deadline, the workload never became ready, it is degraded). A problem
// of a workload's health takes the title of its most specific finding.
var healthSpecificity = []string{
	"health.oomKilled",
	"health.crashLoop",
	"health.createContainerConfig",
	"health.imagePull",
	"health.unschedulable",
	"health.quotaExceeded",
	"health.failed",
	"health.progressDeadline",
	"health.notReady",
	"health.degraded",
}

// rowRef is a row of the table a rule maps to.
type rowRef struct {
	key string // CheckSource.Key
	row *Correlation
}

// byRule indexes the table by scanner and rule id; byReason by admission
// reason.
var byRule, byReason = indexTable()

func indexTable() (map[string][]rowRef, map[string][]rowRef) {
	rules := map[string][]rowRef{}
	rs := map[string][]rowRef{}
	for i := range correlations {
		c := &correlations[i]
		for _, s := range c.Sources {
			id := s.RuleID
			if s.Scanner == scannerTrivy {
				id = canonicalTrivyID(id)
			}
			k := s.Scanner + "\x00" + id
			rules[k] = append(rules[k], rowRef{key: s.Key, row: c})
		}
		for _, a := range c.Admission {
			rs[a.Reason] = append(rs[a.Reason], rowRef{key: a.Token, row: c})
		}
	}
	return rules, rs
}

var trivyIDRe = regexp.MustCompile(`^(?:AVD-)?KSV-?0*(\d+)$`)

// canonicalTrivyID writes a Trivy Kubernetes check id as v0.74.0 prints it:
// "KSV017", "AVD-KSV-0017" and "KSV-0017" are all "KSV-0017".
func canonicalTrivyID(id string) string {
	if m := trivyIDRe.FindStringSubmatch(id); m != nil {
		n := m[1]
		for len(n) < 4 {
			n = "0" + n
		}
		return "KSV-" + n
	}
	return id
}

// rowFor returns the row a scanner's finding maps to, if any.
func rowFor(f *Finding) *Correlation {
	id := f.RuleID
	if f.Scanner == scannerTrivy {
		id = canonicalTrivyID(id)
	}
	key := f.Key
	if i := strings.LastIndexByte(key, ':'); i >= 0 {
		// posture prefixes the key of a pod of an object that holds
		// several with the pod's path ("spec.templates[0]:hostPID").
		key = key[i+1:]
	}
	for _, r := range byRule[f.Scanner+"\x00"+id] {
		if r.key == "" || r.key == key {
			return r.row
		}
	}
	return nil
}

// psaViolation is one check a Pod Security warning names, on a container
// ("" for the pod or the object).
type psaViolation struct {
	row       *Correlation
	container string
}

var (
	// `container "a"`, `containers "a", "b"`: the names the library quotes.
	containerListRe = regexp.MustCompile(`\bcontainers? ((?:"[^"]*"(?:, )?)+)`)
	quotedRe        = regexp.MustCompile(`"([^"]*)"`)
	// "pod must ..." and "pod and containers ..." blame the pod itself.
	podSubjectRe  = regexp.MustCompile(`(?:^|; )pod (?:must|and)\b`)
	volumeTypesRe = regexp.MustCompile(`\bvolume types? ((?:"[^"]*"(?:, )?)+)`)
)

const podSecurityWarning = "would violate PodSecurity "

// podSecurityViolations reads the checks a Pod Security admission warning
// names: `would violate PodSecurity "restricted:latest": reason (detail),
// reason (detail)`. It returns nil for any other text.
func podSecurityViolations(text string) []psaViolation {
	i := strings.Index(text, podSecurityWarning)
	if i < 0 {
		return nil
	}
	rest := text[i+len(podSecurityWarning):]
	if _, after, ok := strings.Cut(rest, `": `); ok && strings.HasPrefix(rest, `"`) {
		rest = after
	} else {
		return nil
	}
	var out []psaViolation
	for _, part := range splitReasons(rest) {
		reason, detail, _ := strings.Cut(part, " (")
		detail = strings.TrimSuffix(detail, ")")
		for _, row := range matchReason(strings.TrimSpace(reason), detail) {
			if row.Scope == PerObject {
				out = append(out, psaViolation{row: row})
				continue
			}
			names := namedContainers(detail)
			if len(names) == 0 || podSubjectRe.MatchString(detail) {
				names = append(names, "")
			}
			for _, n := range names {
				out = append(out, psaViolation{row: row, container: n})
			}
		}
	}
	return out
}

// splitReasons splits the warning's list at the commas outside parentheses
// and quotes: details hold commas of their own.
func splitReasons(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if last := strings.TrimSpace(s[start:]); last != "" {
		out = append(out, last)
	}
	return out
}

// matchReason returns the rows a reason and its detail name.
func matchReason(reason, detail string) []*Correlation {
	refs := byReason[reason]
	var tokens []string
	switch reason {
	case "host namespaces":
		for _, t := range strings.Split(detail, ", ") {
			tokens = append(tokens, strings.TrimSpace(t))
		}
	case "restricted volume types":
		if m := volumeTypesRe.FindStringSubmatch(detail); m != nil {
			for _, q := range quotedRe.FindAllStringSubmatch(m[1], -1) {
				tokens = append(tokens, q[1])
			}
		}
	}
	var out []*Correlation
	add := func(c *Correlation) {
		for _, o := range out {
			if o == c {
				return
			}
		}
		out = append(out, c)
	}
	for _, r := range refs {
		if r.key == "" {
			add(r.row)
		}
	}
	for _, t := range tokens {
		var wild *Correlation
		found := false
		for _, r := range refs {
			switch r.key {
			case t:
				add(r.row)
				found = true
			case "*":
				wild = r.row
			}
		}
		if !found && wild != nil {
			add(wild)
		}
	}
	return out
}

func namedContainers(detail string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range containerListRe.FindAllStringSubmatch(detail, -1) {
		for _, q := range quotedRe.FindAllStringSubmatch(m[1], -1) {
			if !seen[q[1]] {
				seen[q[1]] = true
				out = append(out, q[1])
			}
		}
	}
	return out
}
