package posture

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
)

// Rule ids of the cluster-level rules: objects that act on the whole
// cluster rather than on a workload.
const (
	RuleClusterAdminBinding = "aegis.clusterAdminBinding"
	RuleWebhookFailOpen     = "aegis.webhookFailOpen"
	RuleClusterScopedObject = "aegis.clusterScopedObject"
	rbacGroup               = "rbac.authorization.k8s.io"
	admissionGroup          = "admissionregistration.k8s.io"
	clusterAdminRole        = "cluster-admin"
	wildcard                = "*"
)

// clusterDocs are the cluster-level rules.
var clusterDocs = map[string]ruleDoc{
	RuleClusterAdminBinding: {
		title: "Binding to cluster-admin, or a role with every verb on every resource",
		description: "A ClusterRoleBinding or RoleBinding whose roleRef is the ClusterRole cluster-admin, a ClusterRole or Role that grants the verb * on the resource * " +
			"(in any API group), or a binding to such a role defined in the same change. Its subjects can do anything to every object the binding covers: read every Secret, " +
			"exec into every pod, grant themselves more. A RoleBinding to cluster-admin is reported too: inside its namespace it is full control.",
		fix:      "Bind a role that lists only the verbs and resources the subject needs (or a narrower built-in ClusterRole such as view or edit, in a RoleBinding).",
		snippet:  "rules:\n  - apiGroups: [\"apps\"]\n    resources: [\"deployments\"]\n    verbs: [\"get\", \"list\", \"watch\", \"patch\"]\n",
		severity: report.Critical,
		helpURI:  "https://kubernetes.io/docs/concepts/security/rbac-good-practices/",
	},
	RuleWebhookFailOpen: {
		title: "Admission webhook fails open on a broad scope",
		description: "A ValidatingWebhookConfiguration or MutatingWebhookConfiguration webhook with failurePolicy: Ignore (or no failurePolicy in admissionregistration.k8s.io/v1beta1, where Ignore is the default) " +
			"whose scope is broad: anyone who can make the webhook slow or unreachable (a crash, a network policy, a full node) switches off the policy it enforces for everything it covers. " +
			"A scope is broad when the webhook has no narrowing, that is no namespaceSelector, no objectSelector (or only empty ones) and no matchConditions, and one of its rules either " +
			"matches every resource or every API group (resources * or */*, or apiGroups *), or matches CREATE or UPDATE (or *) on a core workload resource: pods, deployments, " +
			"statefulsets, daemonsets, replicasets, replicationcontrollers, jobs or cronjobs in the groups \"\", apps and batch (or *).",
		fix:      "Set failurePolicy: Fail, or narrow the webhook to the namespaces or objects it must see with a namespaceSelector, objectSelector or matchConditions.",
		snippet:  "webhooks:\n  - name: policy.example.com\n    failurePolicy: Fail\n    namespaceSelector:\n      matchExpressions:\n        - {key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system]}\n",
		severity: report.High,
		helpURI:  "https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#failure-policy",
	},
	RuleClusterScopedObject: {
		title: "Cluster-scoped object",
		description: "The change holds a cluster-scoped object (a Namespace, ClusterRole, ClusterRoleBinding, CustomResourceDefinition, admission webhook, PersistentVolume, StorageClass, PriorityClass ...), " +
			"or a custom resource whose CustomResourceDefinition in the same change has scope: Cluster. It affects the whole cluster, not one namespace: review it with whoever owns the cluster. " +
			"Kinds are told from a list of the built-in cluster-scoped kinds of Kubernetes, by API group and kind.",
		fix:      "Move what the application needs into namespaced objects (Role and RoleBinding instead of ClusterRole and ClusterRoleBinding), or have the cluster's owners review the object.",
		snippet:  "kind: Role            # not ClusterRole\nmetadata:\n  name: app\n  namespace: app\n",
		severity: report.Info,
		helpURI:  "https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#not-all-objects-are-in-a-namespace",
	},
}

// clusterScopedKinds are the built-in kinds of Kubernetes (up to 1.35) that
// live outside namespaces, by API group and kind (every version of a kind
// has the same scope). Shadow deployments learn the scope from the
// cluster's discovery; a static scanner has no cluster, so it keeps this
// list (checked against kustomize's built-in schema in the tests).
var clusterScopedKinds = map[schema.GroupKind]bool{
	{Group: "", Kind: "Namespace"}:                                              true,
	{Group: "", Kind: "Node"}:                                                   true,
	{Group: "", Kind: "PersistentVolume"}:                                       true,
	{Group: "", Kind: "ComponentStatus"}:                                        true,
	{Group: admissionGroup, Kind: "MutatingWebhookConfiguration"}:               true,
	{Group: admissionGroup, Kind: "ValidatingWebhookConfiguration"}:             true,
	{Group: admissionGroup, Kind: "ValidatingAdmissionPolicy"}:                  true,
	{Group: admissionGroup, Kind: "ValidatingAdmissionPolicyBinding"}:           true,
	{Group: admissionGroup, Kind: "MutatingAdmissionPolicy"}:                    true,
	{Group: admissionGroup, Kind: "MutatingAdmissionPolicyBinding"}:             true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:           true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                       true,
	{Group: "authentication.k8s.io", Kind: "TokenReview"}:                       true,
	{Group: "authentication.k8s.io", Kind: "SelfSubjectReview"}:                 true,
	{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}:                true,
	{Group: "authorization.k8s.io", Kind: "SelfSubjectAccessReview"}:            true,
	{Group: "authorization.k8s.io", Kind: "SelfSubjectRulesReview"}:             true,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:           true,
	{Group: "certificates.k8s.io", Kind: "ClusterTrustBundle"}:                  true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                 true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}: true,
	{Group: "internal.apiserver.k8s.io", Kind: "StorageVersion"}:                true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                          true,
	{Group: "networking.k8s.io", Kind: "IPAddress"}:                             true,
	{Group: "networking.k8s.io", Kind: "ServiceCIDR"}:                           true,
	{Group: "networking.k8s.io", Kind: "ClusterCIDR"}:                           true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                true,
	{Group: "policy", Kind: "PodSecurityPolicy"}:                                true,
	{Group: "extensions", Kind: "PodSecurityPolicy"}:                            true,
	{Group: rbacGroup, Kind: "ClusterRole"}:                                     true,
	{Group: rbacGroup, Kind: "ClusterRoleBinding"}:                              true,
	{Group: "resource.k8s.io", Kind: "DeviceClass"}:                             true,
	{Group: "resource.k8s.io", Kind: "ResourceSlice"}:                           true,
	{Group: "resource.k8s.io", Kind: "DeviceTaintRule"}:                         true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                         true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                             true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                true,
	{Group: "storage.k8s.io", Kind: "CSINode"}:                                  true,
	{Group: "storage.k8s.io", Kind: "VolumeAttachment"}:                         true,
	{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"}:                    true,
	{Group: "storagemigration.k8s.io", Kind: "StorageVersionMigration"}:         true,
}

// scanCluster returns the findings of the cluster-level rules on the
// whole set: a binding is judged with the roles the same set defines.
func scanCluster(set *manifest.Set) []report.Finding {
	customClusterScoped := map[schema.GroupKind]bool{}
	roles := map[roleKey]manifest.Object{}
	for _, o := range set.Objects {
		gvk := o.GroupVersionKind()
		switch {
		case gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition":
			if scope, _ := stringAt(o.Object, "spec", "scope"); scope == "Cluster" {
				group, _ := stringAt(o.Object, "spec", "group")
				kind, _ := stringAt(o.Object, "spec", "names", "kind")
				if kind != "" {
					customClusterScoped[schema.GroupKind{Group: group, Kind: kind}] = true
				}
			}
		case gvk.Group == rbacGroup && (gvk.Kind == "ClusterRole" || gvk.Kind == "Role"):
			ns := ""
			if gvk.Kind == "Role" {
				ns = o.GetNamespace()
			}
			roles[roleKey{kind: gvk.Kind, namespace: ns, name: o.GetName()}] = o
		}
	}
	var out []report.Finding
	for _, o := range set.Objects {
		gvk := o.GroupVersionKind()
		gk := gvk.GroupKind()
		if clusterScopedKinds[gk] || customClusterScoped[gk] {
			out = append(out, clusterFinding(o, RuleClusterScopedObject, "", manifest.ParsePath("kind"),
				fmt.Sprintf("%s is cluster-scoped: it affects the whole cluster, not one namespace", label(o))))
		}
		switch {
		case gk.Group == rbacGroup && (gk.Kind == "ClusterRole" || gk.Kind == "Role"):
			if i, ok := fullAccessRule(o); ok {
				out = append(out, clusterFinding(o, RuleClusterAdminBinding, "", manifest.ParsePath(fmt.Sprintf("rules[%d].verbs", i)),
					fmt.Sprintf("%s grants every verb (*) on every resource (*): whoever it is bound to can do anything it covers", label(o))))
			}
		case gk.Group == rbacGroup && (gk.Kind == "ClusterRoleBinding" || gk.Kind == "RoleBinding"):
			if msg, ok := bindsFullAccess(o, roles); ok {
				out = append(out, clusterFinding(o, RuleClusterAdminBinding, "", manifest.ParsePath("roleRef.name"), label(o)+" "+msg))
			}
		case gk.Group == admissionGroup && (gk.Kind == "ValidatingWebhookConfiguration" || gk.Kind == "MutatingWebhookConfiguration"):
			out = append(out, failOpenWebhooks(o)...)
		}
	}
	return out
}

type roleKey struct{ kind, namespace, name string }

// fullAccessRule is the index of the first rule of a Role or ClusterRole
// that grants the verb * on the resource *.
func fullAccessRule(o manifest.Object) (int, bool) {
	rules, _ := o.Object["rules"].([]any)
	for i, r := range rules {
		rm, _ := r.(map[string]any)
		if hasString(rm["verbs"], wildcard) && hasString(rm["resources"], wildcard) {
			return i, true
		}
	}
	return 0, false
}

// bindsFullAccess tells whether a binding grants cluster-admin or a role of
// the set with full access, and says so.
func bindsFullAccess(o manifest.Object, roles map[roleKey]manifest.Object) (string, bool) {
	ref, _ := o.Object["roleRef"].(map[string]any)
	kind, _ := ref["kind"].(string)
	name, _ := ref["name"].(string)
	if group, _ := ref["apiGroup"].(string); group != "" && group != rbacGroup {
		return "", false
	}
	if kind == "ClusterRole" && name == clusterAdminRole {
		return "binds the ClusterRole cluster-admin: its subjects can do anything" + bindingScope(o), true
	}
	key := roleKey{kind: kind, name: name}
	if kind == "Role" {
		key.namespace = o.GetNamespace()
	}
	role, ok := roles[key]
	if !ok {
		return "", false
	}
	if _, full := fullAccessRule(role); !full {
		return "", false
	}
	return fmt.Sprintf("binds %s %s (%s), which grants every verb on every resource: its subjects can do anything%s", kind, name, role.Origin.Location, bindingScope(o)), true
}

func bindingScope(o manifest.Object) string {
	if o.GetKind() == "RoleBinding" {
		return " in its namespace"
	}
	return " in the whole cluster"
}

// coreWorkloads are the resources a policy webhook usually guards, by
// group.
var coreWorkloads = map[string][]string{
	"":      {"pods", "replicationcontrollers"},
	"apps":  {"deployments", "statefulsets", "daemonsets", "replicasets"},
	"batch": {"jobs", "cronjobs"},
}

// failOpenWebhooks reports every webhook of a webhook configuration that
// fails open (failurePolicy Ignore) on a broad scope; see clusterDocs for
// what broad means.
func failOpenWebhooks(o manifest.Object) []report.Finding {
	hooks, _ := o.Object["webhooks"].([]any)
	v1beta1 := o.GroupVersionKind().Version == "v1beta1"
	var out []report.Finding
	for i, h := range hooks {
		hm, _ := h.(map[string]any)
		if hm == nil {
			continue
		}
		policy, set := hm["failurePolicy"].(string)
		if !(policy == "Ignore" || (!set && v1beta1)) {
			continue
		}
		if webhookNarrowed(hm) {
			continue
		}
		why, broad := broadRule(hm)
		if !broad {
			continue
		}
		name, _ := hm["name"].(string)
		item := fmt.Sprintf("[%d]", i)
		if name != "" {
			item = manifest.ItemByName(name)
		}
		path := manifest.ParsePath("webhooks" + item + ".failurePolicy")
		if !set {
			path = manifest.ParsePath("webhooks" + item)
		}
		msg := fmt.Sprintf("%s: webhook %q fails open (failurePolicy Ignore) and %s with no namespaceSelector, objectSelector or matchConditions: making the webhook unreachable switches its policy off", label(o), name, why)
		out = append(out, clusterFinding(o, RuleWebhookFailOpen, "webhooks"+item, path, msg))
	}
	return out
}

// webhookNarrowed reports a webhook limited by a non-empty namespaceSelector or
// objectSelector, or by matchConditions.
func webhookNarrowed(hm map[string]any) bool {
	for _, key := range []string{"namespaceSelector", "objectSelector"} {
		if sel, _ := hm[key].(map[string]any); len(sel) > 0 {
			le, _ := sel["matchLabels"].(map[string]any)
			me, _ := sel["matchExpressions"].([]any)
			if len(le) > 0 || len(me) > 0 {
				return true
			}
		}
	}
	conds, _ := hm["matchConditions"].([]any)
	return len(conds) > 0
}

// broadRule reports the first rule of a webhook that matches every
// resource or group, or CREATE or UPDATE on a core workload.
func broadRule(hm map[string]any) (string, bool) {
	rules, _ := hm["rules"].([]any)
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		groups := stringItems(rm["apiGroups"])
		resources := stringItems(rm["resources"])
		if contains(resources, wildcard) || contains(resources, "*/*") {
			return "matches every resource (*)", true
		}
		if contains(groups, wildcard) {
			return "matches every API group (*)", true
		}
		ops := stringItems(rm["operations"])
		if !(contains(ops, wildcard) || contains(ops, "CREATE") || contains(ops, "UPDATE")) {
			continue
		}
		for _, g := range groups {
			for _, res := range resources {
				base, _, _ := strings.Cut(res, "/")
				if contains(coreWorkloads[g], base) {
					return fmt.Sprintf("matches %s of %s", strings.Join(ops, "/"), res), true
				}
			}
		}
	}
	return "", false
}

func clusterFinding(o manifest.Object, rule, key string, path manifest.FieldPath, msg string) report.Finding {
	d := clusterDocs[rule]
	loc := o.Locate(path)
	f := report.Finding{
		Scanner:  Name,
		RuleID:   rule,
		Severity: d.severity,
		Title:    d.title,
		Message:  msg + ". " + d.fix,
		Resource: report.Resource{
			APIVersion: o.GetAPIVersion(),
			Kind:       o.GetKind(),
			Namespace:  o.GetNamespace(),
			Name:       objectName(o),
		},
		Location: loc,
		Key:      key,
	}
	f.Fingerprint = report.ComputeFingerprint(f)
	return f
}

func objectName(o manifest.Object) string {
	if n := o.GetName(); n != "" {
		return n
	}
	return o.GetGenerateName()
}

func label(o manifest.Object) string { return o.GetKind() + "/" + objectName(o) }

func stringAt(obj map[string]any, path ...string) (string, bool) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		cur = m[p]
	}
	s, ok := cur.(string)
	return s, ok
}

// stringItems is the string items of a list value; others are skipped.
func stringItems(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func hasString(v any, s string) bool { return contains(stringItems(v), s) }

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// clusterScopedKindList is the list for the docs and tests, sorted.
func clusterScopedKindList() []schema.GroupKind {
	out := make([]schema.GroupKind, 0, len(clusterScopedKinds))
	for gk := range clusterScopedKinds {
		out = append(out, gk)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}
