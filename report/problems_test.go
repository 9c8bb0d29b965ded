package report_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners/posture"
)

// The kustomize example (examples/kustomize-overlay): the prod overlay
// names the Deployment prod-web in namespace shop; before the change its
// container web sets privileged: true at base/deployment.yaml:23.
var prodWeb = report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "prod-web", Container: "web"}

// shadow is the same object as applied to a shadow namespace.
func shadow(r report.Resource) report.Resource {
	r.Namespace = "aegis-1234-head"
	r.Container = ""
	return r
}

func withContainer(r report.Resource, c string) report.Resource {
	r.Container = c
	return r
}

func fp(f report.Finding) report.Finding {
	f.Fingerprint = report.ComputeFingerprint(f)
	return f
}

func postureFinding(rule string, sev report.Severity, title string, r report.Resource, line int, st report.State) report.Finding {
	return fp(report.Finding{Scanner: "posture", RuleID: rule, Severity: sev, Title: title, Message: title,
		Resource: r, Location: report.Location{Path: "base/deployment.yaml", Line: line}, BaselineState: st})
}

func trivyFinding(rule string, sev report.Severity, title string, r report.Resource, line int, st report.State) report.Finding {
	return fp(report.Finding{Scanner: "trivy", RuleID: rule, Severity: sev, Title: title, Message: title,
		Resource: r, Key: r.Container, Location: report.Location{Path: "base/deployment.yaml", Line: line}, BaselineState: st})
}

func warning(text string, r report.Resource, st report.State) report.Finding {
	return fp(report.Finding{Scanner: "admission", RuleID: "admission.warning", Severity: report.Medium, Title: "API server admission warning",
		Message: "the API server warned: " + text, Resource: shadow(r), Key: text,
		Location: report.Location{Path: "base/deployment.yaml", Line: 1}, BaselineState: st})
}

const privilegedWarning = `would violate PodSecurity "restricted:latest": privileged (container "web" must not set securityContext.privileged=true)`

// privileged is the example's privileged container as the three scanners
// see it.
func privileged(st report.State) []report.Finding {
	return []report.Finding{
		postureFinding("pss.privileged", report.Critical, "Privileged container", prodWeb, 23, st),
		trivyFinding("KSV-0017", report.High, "Privileged", prodWeb, 23, st),
		warning(privilegedWarning, prodWeb, st),
	}
}

func scanners(p report.Problem) string { return strings.Join(p.Scanners(), ",") }

func TestProblemsKustomizePrivilegedIsOneProblem(t *testing.T) {
	ps := report.Problems(privileged(report.New))
	require.Len(t, ps, 1)
	p := ps[0]
	assert.Equal(t, "privileged", p.Check)
	assert.Equal(t, report.Critical, p.Severity, "the highest of critical, high, medium")
	assert.Equal(t, report.New, p.State)
	assert.Equal(t, "Privileged container", p.Title, "posture's title")
	assert.Equal(t, report.Location{Path: "base/deployment.yaml", Line: 23}, p.Location)
	assert.Equal(t, prodWeb, p.Resource, "posture's resource: the static namespace and the container")
	assert.Len(t, p.Findings, 3)
	assert.ElementsMatch(t, []string{"posture", "trivy", "admission"}, p.Scanners())
	assert.True(t, slices.IsSortedFunc(p.Findings, report.CompareFindings), "findings in SortFindings order")
	assert.Len(t, p.Key, 32)
	assert.True(t, p.Blocking(report.High))
	assert.False(t, p.Waived())
}

func TestProblemsFixIsOneFixedProblem(t *testing.T) {
	ps := report.Problems(privileged(report.Absent))
	require.Len(t, ps, 1)
	assert.Equal(t, report.Absent, ps[0].State)
	assert.Equal(t, report.Critical, ps[0].Severity)
	assert.Len(t, ps[0].Findings, 3)
	assert.False(t, ps[0].Blocking(report.Info), "a fix blocks nothing")
	// The key is the problem's, whatever the side: the fixed problem has
	// the key the new one had.
	assert.Equal(t, report.Problems(privileged(report.New))[0].Key, ps[0].Key)
}

func TestProblemsUpdatedCountsAsNew(t *testing.T) {
	fs := privileged(report.Unchanged)
	fs[1].BaselineState = report.Updated
	ps := report.Problems(fs)
	require.Len(t, ps, 1)
	assert.Equal(t, report.New, ps[0].State)
	assert.Equal(t, "Privileged container", ps[0].Title, "posture leads among the problem's own findings")
}

func TestProblemsContainersStayApart(t *testing.T) {
	side := withContainer(prodWeb, "sidecar")
	fs := append(privileged(report.New),
		postureFinding("pss.privileged", report.Critical, "Privileged container", side, 40, report.New),
		trivyFinding("KSV-0017", report.High, "Privileged", side, 40, report.New))
	ps := report.Problems(fs)
	require.Len(t, ps, 2)
	assert.Equal(t, "web", ps[0].Resource.Container)
	assert.Equal(t, "sidecar", ps[1].Resource.Container)
	assert.Equal(t, "posture,trivy,admission", scanners(ps[0]), "the warning names container web only")
	assert.Equal(t, "posture,trivy", scanners(ps[1]))
	assert.NotEqual(t, ps[0].Key, ps[1].Key)
}

func TestProblemsObjectsStayApart(t *testing.T) {
	api := prodWeb
	api.Name = "prod-api"
	sts := prodWeb
	sts.Kind, sts.APIVersion = "StatefulSet", "apps/v1"
	fs := []report.Finding{
		postureFinding("pss.privileged", report.Critical, "Privileged container", prodWeb, 23, report.New),
		trivyFinding("KSV-0017", report.High, "Privileged", api, 60, report.New),
		trivyFinding("KSV-0017", report.High, "Privileged", sts, 90, report.New),
	}
	ps := report.Problems(fs)
	require.Len(t, ps, 3)
	for _, p := range ps {
		assert.Len(t, p.Findings, 1)
	}
}

func TestProblemsDifferentChecksStayApart(t *testing.T) {
	fs := []report.Finding{
		postureFinding("pss.privileged", report.Critical, "Privileged container", prodWeb, 23, report.New),
		postureFinding("pss.runAsNonRoot", report.Medium, "Container may run as root", prodWeb, 20, report.New),
		trivyFinding("KSV-0012", report.Medium, "Runs as root user", prodWeb, 20, report.New),
	}
	ps := report.Problems(fs)
	require.Len(t, ps, 2)
	assert.Equal(t, "privileged", ps[0].Check)
	assert.Equal(t, "runAsNonRoot", ps[1].Check)
	assert.Len(t, ps[1].Findings, 2)
}

func TestProblemsNamespaceDoesNotSplit(t *testing.T) {
	// Static scanners see namespace shop; what ran in the shadow namespace
	// carries that namespace instead.
	inShadow := prodWeb
	inShadow.Namespace = "aegis-1234-head"
	fs := []report.Finding{
		postureFinding("pss.privileged", report.Critical, "Privileged container", prodWeb, 23, report.New),
		trivyFinding("KSV-0017", report.High, "Privileged", inShadow, 23, report.New),
		warning(privilegedWarning, inShadow, report.New),
	}
	ps := report.Problems(fs)
	require.Len(t, ps, 1)
	assert.Len(t, ps[0].Findings, 3)
	assert.Equal(t, "shop", ps[0].Resource.Namespace)
}

func TestProblemsOlderTrivyIDs(t *testing.T) {
	fs := []report.Finding{
		postureFinding("pss.privileged", report.Critical, "Privileged container", prodWeb, 23, report.New),
		trivyFinding("KSV017", report.High, "Privileged", prodWeb, 23, report.New),
	}
	require.Len(t, report.Problems(fs), 1)
}

func TestProblemsCVEInTwoDeployments(t *testing.T) {
	vuln := func(name, image, pkg, cve string, line int) report.Finding {
		return fp(report.Finding{Scanner: "trivy-image", RuleID: cve, CVE: cve, Severity: report.High, Title: pkg + ": " + cve,
			Message: cve + " in " + pkg, Image: image, Key: pkg,
			Resource: report.Resource{Kind: "Deployment", Namespace: "shop", Name: name, Container: "app"},
			Location: report.Location{Path: name + ".yaml", Line: line}, BaselineState: report.New})
	}
	fs := []report.Finding{
		vuln("web", "ghcr.io/shop/web:1.0", "libssl3", "CVE-2024-5535", 20),
		vuln("web", "ghcr.io/shop/web:1.0", "libcrypto3", "CVE-2024-5535", 20),
		vuln("worker", "ghcr.io/shop/web:1.1@sha256:abc", "libssl3", "CVE-2024-5535", 30),
		vuln("worker", "ghcr.io/shop/web:1.1", "libssl3", "CVE-2024-9143", 30),
		vuln("other", "ghcr.io/shop/other:1.0", "libssl3", "CVE-2024-5535", 10),
	}
	ps := report.Problems(fs)
	require.Len(t, ps, 3)
	byKey := map[string]report.Problem{}
	for _, p := range ps {
		assert.Equal(t, "cve", p.Check)
		byKey[p.Findings[0].Image+" "+p.Findings[0].CVE] = p
	}
	web := ps[slices.IndexFunc(ps, func(p report.Problem) bool { return len(p.Findings) == 3 })]
	assert.Equal(t, "CVE-2024-5535", web.Findings[0].CVE)
	// Resource and location: those of the first finding in SortFindings
	// order (the earliest source location here).
	assert.Equal(t, "other.yaml", ps[0].Location.Path)
	assert.Equal(t, "web", web.Resource.Name)
	assert.Equal(t, report.Location{Path: "web.yaml", Line: 20}, web.Location)
}

func TestProblemsWaiver(t *testing.T) {
	fs := privileged(report.New)
	fs[0].Waived = true // posture's pss.privileged waived
	ps := report.Problems(fs)
	require.Len(t, ps, 1)
	p := ps[0]
	assert.False(t, p.Waived(), "Trivy's and the API server's findings are not waived")
	assert.Equal(t, report.Critical, p.Severity, "severity is the highest, waived or not")
	assert.False(t, p.Blocking(report.Critical), "the critical finding is waived")
	assert.True(t, p.Blocking(report.High), "Trivy's high finding still counts")

	for i := range fs {
		fs[i].Waived = true
	}
	p = report.Problems(fs)[0]
	assert.True(t, p.Waived())
	assert.False(t, p.Blocking(report.Info))
}

func TestProblemsWarningCorroboratesEveryCheckItNames(t *testing.T) {
	text := `would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "web" must set securityContext.allowPrivilegeEscalation=false), privileged (container "web" must not set securityContext.privileged=true)`
	w := warning(text, prodWeb, report.New)
	fs := []report.Finding{
		postureFinding("pss.privileged", report.Critical, "Privileged container", prodWeb, 23, report.Unchanged),
		postureFinding("pss.allowPrivilegeEscalation", report.Medium, "Privilege escalation allowed", prodWeb, 22, report.New),
		trivyFinding("KSV-0001", report.Medium, "Can elevate its own privileges", prodWeb, 22, report.New),
		w,
	}
	ps := report.Problems(fs)
	require.Len(t, ps, 2)
	byCheck := map[string]report.Problem{}
	for _, p := range ps {
		byCheck[p.Check] = p
		assert.Contains(t, p.Findings, w)
	}
	assert.Equal(t, report.New, byCheck["allowPrivilegeEscalation"].State)
	assert.Len(t, byCheck["allowPrivilegeEscalation"].Findings, 3)
	// The warning's text changed with the new violation, so the warning is
	// new; that does not make the unchanged privileged problem new.
	assert.Equal(t, report.Unchanged, byCheck["privileged"].State)
	assert.Equal(t, "Privileged container", byCheck["privileged"].Title)
}

func TestProblemsWarningOnRestrictedOverrides(t *testing.T) {
	// At restricted:latest the warning names a SYS_ADMIN capability
	// "unrestricted capabilities" and a hostPath volume "restricted volume
	// types": they still join posture's baseline findings.
	side := withContainer(prodWeb, "sidecar")
	text := `would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true, hostPID=true), unrestricted capabilities (container "sidecar" must not include "SYS_ADMIN" in securityContext.capabilities.add), restricted volume types (volumes "node-logs", "nfs-data" use restricted volume types "hostPath", "nfs")`
	hostNet := postureFinding("pss.hostNamespaces", report.High, "Host namespaces shared", withContainer(prodWeb, ""), 18, report.New)
	hostNet.Key = "hostNetwork"
	hostPID := hostNet
	hostPID.Key, hostPID.Location.Line = "hostPID", 19
	hostNet, hostPID = fp(hostNet), fp(hostPID)
	hostPath := postureFinding("pss.hostPathVolumes", report.High, "hostPath volume", withContainer(prodWeb, ""), 50, report.New)
	hostPath.Key = "node-logs"
	nfs := postureFinding("pss.restrictedVolumes", report.Medium, "Volume type not allowed by restricted", withContainer(prodWeb, ""), 55, report.New)
	nfs.Key = "nfs-data"
	fs := []report.Finding{
		hostNet, hostPID, fp(hostPath), fp(nfs),
		trivyFinding("KSV-0009", report.High, "Access to host network", withContainer(prodWeb, ""), 18, report.New),
		trivyFinding("KSV-0023", report.Medium, "hostPath volumes mounted", withContainer(prodWeb, ""), 50, report.New),
		postureFinding("pss.capabilities_baseline", report.High, "Non-default capabilities added", side, 42, report.New),
		trivyFinding("KSV-0005", report.High, "SYS_ADMIN capability added", side, 42, report.New),
		trivyFinding("KSV-0106", report.Low, "Container capabilities must only include NET_BIND_SERVICE", side, 42, report.New),
		warning(text, prodWeb, report.New),
	}
	ps := report.Problems(fs)
	got := map[string]string{}
	for _, p := range ps {
		sc := p.Scanners()
		slices.Sort(sc)
		got[p.Check] = strings.Join(sc, ",")
	}
	assert.Equal(t, map[string]string{
		"hostNetwork":       "admission,posture,trivy",
		"hostPID":           "admission,posture",
		"hostPathVolumes":   "admission,posture,trivy",
		"restrictedVolumes": "admission,posture",
		"capabilities":      "admission,posture,trivy",
	}, got)
}

func TestProblemsWarningWithoutMatchIsItsOwn(t *testing.T) {
	dep := fp(report.Finding{Scanner: "admission", RuleID: "admission.warning", Severity: report.Medium, Title: "API server admission warning",
		Resource: shadow(prodWeb), Key: "spec.template.spec.containers[0].env[0]: hides previous definition", BaselineState: report.New})
	// A Pod Security warning whose checks no other finding reports.
	alone := warning(`would violate PodSecurity "restricted:latest": seLinuxOptions (container "web" set forbidden securityContext.seLinuxOptions: user "root")`, prodWeb, report.New)
	ps := report.Problems([]report.Finding{dep, alone})
	require.Len(t, ps, 2)
	for _, p := range ps {
		assert.Empty(t, p.Check)
		require.Len(t, p.Findings, 1)
		assert.Equal(t, p.Findings[0].Fingerprint, p.Key)
	}
}

func TestProblemsUnknownRulesStayAlone(t *testing.T) {
	mk := func(scanner, rule, key string) report.Finding {
		return fp(report.Finding{Scanner: scanner, RuleID: rule, Severity: report.High, Title: rule, Resource: prodWeb, Key: key,
			Location: report.Location{Path: "base/deployment.yaml", Line: 23}, BaselineState: report.New})
	}
	fs := []report.Finding{
		mk("falco", "Terminal shell in container", "a"),
		mk("falco", "Terminal shell in container", "b"),
		mk("trivy", "KSV-0014", ""), // readOnlyRootFilesystem: no row
		mk("trivy", "KSV-0020", ""), // UID <= 10000: not runAsUser=0
		mk("posture", "pss.unknown", ""),
		mk("posture", "aegis.readinessProbe", ""),
	}
	ps := report.Problems(fs)
	require.Len(t, ps, len(fs))
	for _, p := range ps {
		assert.Empty(t, p.Check)
		assert.Equal(t, p.Findings[0].Fingerprint, p.Key)
	}
}

func TestProblemsIdenticalFingerprintsShareAProblem(t *testing.T) {
	// A container repeated in head: one copy unchanged, one new; the same
	// finding twice is one problem, whose key is the fingerprint.
	f := fp(report.Finding{Scanner: "falco", RuleID: "shell", Severity: report.High, Resource: prodWeb, BaselineState: report.Unchanged})
	g := f
	g.BaselineState, g.Location.Line = report.New, 9
	ps := report.Problems([]report.Finding{f, g})
	require.Len(t, ps, 1)
	assert.Equal(t, report.New, ps[0].State)
	assert.Equal(t, f.Fingerprint, ps[0].Key)
}

func TestProblemsHealthOfOneWorkload(t *testing.T) {
	mk := func(rule, title, container, key string, sev report.Severity) report.Finding {
		r := shadow(prodWeb)
		r.Container = container
		return fp(report.Finding{Scanner: "health", RuleID: rule, Severity: sev, Title: title, Resource: r, Key: key,
			Location: report.Location{Path: "base/deployment.yaml", Line: 1}, BaselineState: report.New})
	}
	fs := []report.Finding{
		mk("health.notReady", "Workload never became ready", "", "NotReady", report.Medium),
		mk("health.crashLoop", "Container crash-loops", "web", "CrashLoopBackOff", report.High),
		mk("health.oomKilled", "Container killed for memory", "web", "OOMKilled", report.High),
		mk("health.progressDeadline", "Rollout exceeded its progress deadline", "", "ProgressDeadlineExceeded", report.High),
	}
	other := fs[1]
	other.Resource.Name = "prod-api"
	fs = append(fs, fp(other))
	ps := report.Problems(fs)
	require.Len(t, ps, 2)
	web := ps[slices.IndexFunc(ps, func(p report.Problem) bool { return p.Resource.Name == "prod-web" })]
	assert.Equal(t, "health", web.Check)
	assert.Equal(t, "Container killed for memory", web.Title, "the most specific reason")
	assert.Equal(t, report.High, web.Severity)
	assert.Len(t, web.Findings, 4)
}

// everything mixes the cases above.
func everything() []report.Finding {
	var fs []report.Finding
	fs = append(fs, privileged(report.New)...)
	fs = append(fs, privileged(report.Absent)...)
	side := withContainer(prodWeb, "sidecar")
	fs = append(fs,
		postureFinding("pss.privileged", report.Critical, "Privileged container", side, 40, report.Unchanged),
		trivyFinding("KSV-0017", report.High, "Privileged", side, 40, report.Unchanged),
		postureFinding("pss.runAsNonRoot", report.Medium, "Container may run as root", side, 41, report.New),
		trivyFinding("KSV-0012", report.Medium, "Runs as root user", side, 41, report.New),
		warning(`would violate PodSecurity "restricted:latest": privileged (container "sidecar" must not set securityContext.privileged=true), runAsNonRoot != true (pod or container "sidecar" must set securityContext.runAsNonRoot=true)`, prodWeb, report.New),
		trivyFinding("KSV-0014", report.High, "Root file system is not read-only", side, 41, report.New),
		fp(report.Finding{Scanner: "trivy-image", RuleID: "CVE-2024-5535", CVE: "CVE-2024-5535", Severity: report.Critical, Image: "ghcr.io/shop/web:1.0",
			Key: "libssl3", Resource: prodWeb, Location: report.Location{Path: "base/deployment.yaml", Line: 21}, BaselineState: report.New}),
		fp(report.Finding{Scanner: "trivy-image", RuleID: "CVE-2024-5535", CVE: "CVE-2024-5535", Severity: report.Critical, Image: "ghcr.io/shop/web:1.1",
			Key: "libssl3", Resource: side, Location: report.Location{Path: "base/deployment.yaml", Line: 39}, BaselineState: report.New}),
	)
	return fs
}

func TestProblemsDeterministic(t *testing.T) {
	fs := everything()
	in := slices.Clone(fs)
	want := report.Problems(fs)
	assert.Equal(t, in, fs, "the input is not modified")
	require.Len(t, want, 5) // CVE, privileged web, privileged sidecar, runAsNonRoot sidecar, KSV-0014
	keys := map[string]bool{}
	for i, p := range want {
		assert.False(t, keys[p.Key], "keys are unique: %s", p.Key)
		keys[p.Key] = true
		if i > 0 {
			prev := want[i-1]
			assert.LessOrEqual(t, stateOrder(prev.State), stateOrder(p.State), "problems sorted by state")
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 30 {
		r.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		require.Equal(t, want, report.Problems(fs))
	}
	// Every finding is in a problem; only warnings may be in several.
	n := 0
	for _, p := range want {
		for _, f := range p.Findings {
			if f.Scanner != "admission" {
				n++
			}
		}
	}
	nonWarnings := 0
	for _, f := range in {
		if f.Scanner != "admission" {
			nonWarnings++
		}
	}
	assert.Equal(t, nonWarnings, n)
}

func stateOrder(s report.State) int {
	return map[report.State]int{report.New: 0, report.Updated: 0, report.Unchanged: 1, report.Absent: 2}[s]
}

func TestProblemsKeysStable(t *testing.T) {
	// Keys are derived from the check, kind, name and container only: a
	// change to them is a change of every report's problem keys.
	ps := report.Problems(privileged(report.New))
	assert.Equal(t, "4153aae53b89c27b4c5c659504b866f5", ps[0].Key)
}

func TestProblemsEmpty(t *testing.T) {
	assert.Empty(t, report.Problems(nil))
}

// --- the matching table ---

func TestCorrelationTableHasNoOverlap(t *testing.T) {
	rules := map[string]string{}
	reasons := map[string]string{}
	checks := map[string]bool{}
	for _, c := range report.Correlations() {
		assert.False(t, checks[c.Check], "check %s twice", c.Check)
		checks[c.Check] = true
		assert.Contains(t, []report.Scope{report.PerContainer, report.PerObject}, c.Scope)
		assert.NotEmpty(t, c.Field)
		for _, s := range c.Sources {
			k := s.Scanner + " " + s.RuleID + " " + s.Key
			assert.Empty(t, rules[k], "%s in rows %s and %s", k, rules[k], c.Check)
			rules[k] = c.Check
			assert.NotEmpty(t, s.Title)
		}
		for _, a := range c.Admission {
			k := a.Reason + " " + a.Token
			assert.Empty(t, reasons[k], "%s in rows %s and %s", k, reasons[k], c.Check)
			reasons[k] = c.Check
		}
		assert.GreaterOrEqual(t, len(c.Sources)+len(c.Admission), 2, "%s correlates nothing", c.Check)
	}
}

// Every posture rule (pss.* from the library's checks, aegis.* practice
// and cluster rules) is in the table or listed as uncorrelated, with the
// title posture gives it.
func TestCorrelationCoversPostureRules(t *testing.T) {
	inTable := map[string]report.CheckSource{}
	for _, c := range report.Correlations() {
		for _, s := range c.Sources {
			if s.Scanner == "posture" {
				inTable[s.RuleID] = s
			}
		}
	}
	rules := (&posture.Scanner{}).Rules()
	require.NotEmpty(t, rules)
	seen := map[string]bool{}
	for _, r := range rules {
		seen[r.ID] = true
		if s, ok := inTable[r.ID]; ok {
			assert.Equal(t, r.Title, s.Title, "%s: title", r.ID)
			assert.NotContains(t, report.Uncorrelated, r.ID, "%s: in the table and uncorrelated", r.ID)
			continue
		}
		assert.Contains(t, report.Uncorrelated, r.ID, "%s is neither in the table nor listed as uncorrelated", r.ID)
		assert.False(t, strings.HasPrefix(r.ID, "pss."), "%s: every Pod Security check has an admission reason", r.ID)
	}
	for id := range inTable {
		assert.True(t, seen[id], "%s: no such posture rule", id)
	}
	for id := range report.Uncorrelated {
		assert.True(t, seen[id], "%s: no such posture rule", id)
	}
	for _, c := range policy.DefaultChecks() {
		assert.Contains(t, inTable, posture.PSSRuleID(c.ID), "library check %s", c.ID)
	}
}

// Every mapped Trivy id appears, as a failed check with the row's title,
// in Trivy v0.74.0's recorded output.
func TestCorrelationTrivyIDsAreRecorded(t *testing.T) {
	data, err := os.ReadFile("../scanners/trivy/testdata/config-output.json")
	require.NoError(t, err)
	var out struct {
		Results []struct {
			Misconfigurations []struct{ ID, Title, Status string }
		}
	}
	require.NoError(t, json.Unmarshal(data, &out))
	titles := map[string]string{}
	for _, r := range out.Results {
		for _, m := range r.Misconfigurations {
			if m.Status == "FAIL" {
				titles[m.ID] = m.Title
			}
		}
	}
	require.NotEmpty(t, titles)
	n := 0
	for _, c := range report.Correlations() {
		for _, s := range c.Sources {
			if s.Scanner != "trivy" {
				continue
			}
			n++
			assert.Regexp(t, `^KSV-\d{4}$`, s.RuleID, "ids as Trivy v0.74.0 prints them")
			if assert.Contains(t, titles, s.RuleID, "%s (row %s) is not in the recorded output", s.RuleID, c.Check) {
				assert.Equal(t, titles[s.RuleID], s.Title, "%s: title", s.RuleID)
			}
		}
	}
	assert.Equal(t, 20, n)
}

// A warning the library itself writes, for a pod that fails every check
// at restricted:latest (the shadow namespace's warn level): every reason
// it names maps to a row.
func TestCorrelationReadsRealPodSecurityWarning(t *testing.T) {
	yes, unmasked, root := true, corev1.UnmaskedProcMount, int64(0)
	sc := &corev1.SecurityContext{
		Privileged:     &yes,
		Capabilities:   &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}},
		ProcMount:      &unmasked,
		SELinuxOptions: &corev1.SELinuxOptions{User: "root"},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
		AppArmorProfile: &corev1.AppArmorProfile{
			Type: corev1.AppArmorProfileTypeUnconfined,
		},
		RunAsUser:      &root,
		WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: &yes},
	}
	spec := &corev1.PodSpec{
		HostNetwork: true, HostPID: true, HostIPC: true,
		SecurityContext: &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.msgmax", Value: "1"}}},
		Volumes: []corev1.Volume{
			{Name: "node-logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
			{Name: "nfs-data", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}}},
		},
		Containers: []corev1.Container{{
			Name: "web", Image: "web", SecurityContext: sc,
			Ports:          []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: "10.0.0.1"}}},
		}},
	}
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	lv := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	agg := policy.AggregateCheckResults(ev.EvaluatePod(lv, &metav1.ObjectMeta{}, spec))
	require.False(t, agg.Allowed)
	text := fmt.Sprintf("would violate PodSecurity %q: %s", lv.String(), agg.ForbiddenDetail())
	t.Log(text)

	// One posture finding per check; the warning must join each.
	var fs []report.Finding
	var want []string
	for _, c := range report.Correlations() {
		if len(c.Admission) == 0 {
			continue
		}
		for _, s := range c.Sources {
			if s.Scanner != "posture" {
				continue
			}
			r := withContainer(prodWeb, "web")
			if c.Scope == report.PerObject {
				r.Container = ""
			}
			f := postureFinding(s.RuleID, report.High, s.Title, r, 10, report.New)
			f.Key = s.Key
			fs = append(fs, fp(f))
			want = append(want, c.Check)
			break
		}
	}
	fs = append(fs, warning(text, prodWeb, report.New))
	got := []string{}
	for _, p := range report.Problems(fs) {
		if slices.ContainsFunc(p.Findings, func(f report.Finding) bool { return f.Scanner == "admission" }) {
			got = append(got, p.Check)
		}
	}
	// The restricted level replaces procMount's baseline check only from
	// 1.35 and both print "procMount"; every reason of the text is used.
	for _, reason := range agg.ForbiddenReasons {
		assert.NotEqual(t, policy.UnknownForbiddenReason, reason)
	}
	assert.ElementsMatch(t, want, got, "problems the warning corroborates")
}

// Every row of the table is in docs/correlation.md, as MarkdownRow writes
// it, and so is every uncorrelated rule.
func TestCorrelationDocListsTheTable(t *testing.T) {
	data, err := os.ReadFile("../docs/correlation.md")
	require.NoError(t, err)
	doc := string(data)
	for _, c := range report.Correlations() {
		assert.Contains(t, doc, c.MarkdownRow()+"\n", "row %s", c.Check)
	}
	for id := range report.Uncorrelated {
		assert.Contains(t, doc, "`"+id+"`")
	}
}
