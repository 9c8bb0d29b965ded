// Package health owns the findings of a side deployed in its shadow
// namespace: pod failures and unhealthy workloads (scanner "health"), and
// what the API server or aegis refused or warned about at admission
// (scanner "admission": Pod Security warnings, cluster-scoped objects never
// applied, custom resources without their CRD). Each finding is located at
// the source line of the object it concerns.
package health

import (
	"context"
	"fmt"
	"strings"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/shadow"
)

// Version of the health and admission rules.
const Version = "1.0.0"

// Health is the "health" scanner.
type Health struct{}

// Admission is the "admission" scanner.
type Admission struct{}

var (
	_ scanners.LiveScanner = Health{}
	_ scanners.LiveScanner = Admission{}
)

// NeedsShadow marks the scanners as live.
func (Health) NeedsShadow()    {}
func (Admission) NeedsShadow() {}

// Name of the scanners.
func (Health) Name() string    { return "health" }
func (Admission) Name() string { return "admission" }

// Version of the rules.
func (Health) Version(context.Context) (string, error)    { return Version, nil }
func (Admission) Version(context.Context) (string, error) { return Version, nil }

type rule struct {
	id, title, help string
	severity        report.Severity
}

var healthRules = map[string]rule{
	shadow.ReasonCrashLoop:           {"health.crashLoop", "Container crash-loops", "The container exits again and again (CrashLoopBackOff). Read its logs (`kubectl logs --previous`), fix the command, configuration or dependency it fails on.", report.High},
	shadow.ReasonImagePull:           {"health.imagePull", "Image cannot be pulled", "The image cannot be pulled (ImagePullBackOff / ErrImagePull). Check the image name, tag or digest, and the pull secret.", report.High},
	shadow.ReasonOOMKilled:           {"health.oomKilled", "Container killed for memory", "The container was OOMKilled: it used more memory than its limit. Raise resources.limits.memory or reduce the app's memory use.", report.High},
	shadow.ReasonCreateContainerConf: {"health.createContainerConfig", "Container cannot be created", "The kubelet cannot build the container's configuration (CreateContainerConfigError), usually a missing ConfigMap or Secret key it references.", report.High},
	shadow.ReasonUnschedulable:       {"health.unschedulable", "Pod cannot be scheduled", "No node fits the pod (Unschedulable): check its resource requests, node selectors, affinity and tolerations.", report.High},
	shadow.ReasonNotReady:            {"health.notReady", "Workload never became ready", "The workload did not become ready before the health timeout: check readiness probes and what the app waits for.", report.Medium},
	shadow.ReasonProgressDeadline:    {"health.progressDeadline", "Rollout exceeded its progress deadline", "The Deployment did not progress within progressDeadlineSeconds: its new pods never became available.", report.High},
	shadow.ReasonFailed:              {"health.failed", "Workload failed", "A Job or pod failed: read the pod's status and logs.", report.High},
	shadow.ReasonQuotaExceeded:       {"health.quotaExceeded", "Pods refused by the namespace quota", "Creating the workload's pods would exceed the shadow namespace's ResourceQuota: lower replicas or requests, or raise the quota in the shadow settings.", report.High},
}

var degradedRule = rule{"health.degraded", "Object is not healthy", "The object did not reach Healthy in the shadow namespace; its status message says why.", report.High}

var admissionRules = map[string]rule{
	"warning":                  {"admission.warning", "API server admission warning", "The API server warned when the object was applied (for example a Pod Security \"would violate\" warning under the restricted level). Fix what the warning names.", report.Medium},
	shadow.ReasonClusterScoped: {"admission.clusterScoped", "Cluster-scoped object not applied", "aegis never applies a cluster-scoped object from a change (Namespace, ClusterRole, CRD, webhook, PersistentVolume ...): review it separately, it affects the whole cluster.", report.Info},
	shadow.ReasonMissingCRD:    {"admission.missingCRD", "Custom resource without its CRD", "The cluster has no CustomResourceDefinition for this kind, so the object could not be applied: install the CRD first or drop the object.", report.Medium},
}

// Rules lists the health rules.
func (Health) Rules() []report.Rule {
	out := []report.Rule{toRule("health", degradedRule)}
	for _, r := range healthRules {
		out = append(out, toRule("health", r))
	}
	return out
}

// Rules lists the admission rules.
func (Admission) Rules() []report.Rule {
	var out []report.Rule
	for _, r := range admissionRules {
		out = append(out, toRule("admission", r))
	}
	return out
}

func toRule(scanner string, r rule) report.Rule {
	return report.Rule{Scanner: scanner, ID: r.id, Title: r.title, Description: r.title + ".", Help: r.help, Severity: r.severity,
		Tags: []string{"security", "kubernetes", "reliability"}}
}

// Scan turns the side's diagnoses and unhealthy objects into findings. A
// workload with a diagnosis is reported once per reason and container; an
// object that is unhealthy without one gets a generic finding.
func (Health) Scan(_ context.Context, t scanners.Target) ([]report.Finding, error) {
	d := t.Shadow
	var out []report.Finding
	diagnosed := map[manifest.Identity]bool{}
	for _, dg := range d.Diagnoses {
		r, ok := healthRules[dg.Reason]
		if !ok {
			r = degradedRule
		}
		diagnosed[dg.ID] = true
		msg := fmt.Sprintf("%s in shadow namespace %s: %s", dg.ID, d.Namespace, dg.Reason)
		if dg.Container != "" {
			msg += fmt.Sprintf(" (container %q)", dg.Container)
		}
		if dg.Message != "" {
			msg += ": " + dg.Message
		}
		out = append(out, finding(t, "health", r, dg.ID, dg.Origin, dg.Container, dg.Reason, msg))
	}
	for _, o := range d.Objects {
		if o.Health == shadow.Healthy || o.Health == shadow.Suspended || diagnosed[o.ID] {
			continue
		}
		msg := fmt.Sprintf("%s is %s in shadow namespace %s", o.ID, o.Health, d.Namespace)
		if o.Message != "" {
			msg += ": " + o.Message
		}
		out = append(out, finding(t, "health", degradedRule, o.ID, o.Origin, "", string(o.Health), msg))
	}
	return out, nil
}

// Scan turns admission warnings and refusals into findings.
func (Admission) Scan(_ context.Context, t scanners.Target) ([]report.Finding, error) {
	d := t.Shadow
	var out []report.Finding
	for _, w := range d.Warnings {
		text := strings.TrimSpace(w.Text)
		out = append(out, finding(t, "admission", admissionRules["warning"], w.ID, w.Origin, "", text,
			fmt.Sprintf("%s: the API server warned: %s", w.ID, text)))
	}
	for _, r := range d.Refusals {
		rl, ok := admissionRules[r.Reason]
		if !ok {
			rl = admissionRules[shadow.ReasonMissingCRD]
		}
		msg := fmt.Sprintf("%s was not applied: %s", r.ID, r.Reason)
		if r.Message != "" {
			msg += ": " + r.Message
		}
		out = append(out, finding(t, "admission", rl, r.ID, r.Origin, "", "", msg))
	}
	return out, nil
}

// finding builds a finding on an object of the set; the key keeps apart
// findings of one rule on one object (a reason, a warning text).
func finding(t scanners.Target, scanner string, r rule, id manifest.Identity, origin manifest.Origin, container, key, msg string) report.Finding {
	apiVersion := ""
	if obj, ok := t.Set.Find(id); ok {
		apiVersion = obj.GetAPIVersion()
	}
	f := report.Finding{
		Scanner:  scanner,
		RuleID:   r.id,
		Severity: r.severity,
		Title:    r.title,
		Message:  msg,
		Resource: report.Resource{APIVersion: apiVersion, Kind: id.Kind, Namespace: id.Namespace, Name: id.Name, Container: container},
		Location: report.Location{Path: origin.Path, Line: origin.Line},
		Key:      key,
	}
	f.Fingerprint = report.ComputeFingerprint(f)
	return f
}
