package posture

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-sentient/aegis/report"
)

// clusterFindings scans src and keeps the findings of the cluster-level
// rules, as "rule kind/name key @line".
func clusterFindings(t *testing.T, src string) []string {
	t.Helper()
	var out []string
	for _, f := range scan(t, src) {
		if _, ok := clusterDocs[f.RuleID]; !ok {
			continue
		}
		assert.Equal(t, clusterDocs[f.RuleID].severity, f.Severity, f.RuleID)
		assert.Equal(t, "deploy.yaml", f.Location.Path)
		assert.NotEmpty(t, f.Fingerprint)
		out = append(out, strings.TrimSpace(f.RuleID+" "+f.Resource.Kind+"/"+f.Resource.Name+" "+f.Key)+" @"+itoa(f.Location.Line))
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestClusterAdminBinding(t *testing.T) {
	src := `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ci-admin}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects: [{kind: ServiceAccount, name: ci, namespace: ci}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ns-admin, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: god}
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [get]
  - apiGroups: ["*"]
    resources: ["*"]
    verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: to-god, namespace: shop}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: god
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: local-god, namespace: shop}
rules: [{apiGroups: [apps], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: to-local-god, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: local-god}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: other-ns, namespace: web}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: local-god}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: to-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: view, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
---
apiVersion: example.com/v1
kind: RoleBinding
metadata: {name: not-rbac, namespace: shop}
roleRef: {kind: ClusterRole, name: cluster-admin}
`
	got := clusterFindings(t, src)
	line := func(needle string) string { return itoa(lineOf(t, src, needle)) }
	assert.ElementsMatch(t, []string{
		"aegis.clusterAdminBinding ClusterRoleBinding/ci-admin @" + line("name: cluster-admin"),
		"aegis.clusterScopedObject ClusterRoleBinding/ci-admin @2", // its kind
		"aegis.clusterAdminBinding RoleBinding/ns-admin @" + line("name: cluster-admin}"),
		// the rule that grants everything, at its verbs
		"aegis.clusterAdminBinding ClusterRole/god @" + line(`verbs: ["*"]`),
		"aegis.clusterScopedObject ClusterRole/god @" + itoa(lineOf(t, src, "metadata: {name: god}")-1),
		"aegis.clusterAdminBinding RoleBinding/to-god @" + line("  name: god"),
		"aegis.clusterAdminBinding Role/local-god @" + line("rules: [{apiGroups: [apps]"),
		"aegis.clusterAdminBinding RoleBinding/to-local-god @" + itoa(lineOf(t, src, "metadata: {name: to-local-god")+1),
		"aegis.clusterScopedObject ClusterRole/reader @" + itoa(lineOf(t, src, "metadata: {name: reader}")-1),
		"aegis.clusterScopedObject ClusterRoleBinding/to-reader @" + itoa(lineOf(t, src, "metadata: {name: to-reader}")-1),
	}, got)

	for _, f := range scan(t, src) {
		if f.RuleID == RuleClusterAdminBinding && f.Resource.Name == "to-god" {
			assert.Contains(t, f.Message, "binds ClusterRole god (deploy.yaml:")
			assert.Contains(t, f.Message, "in its namespace")
		}
	}
}

func TestWebhookFailOpen(t *testing.T) {
	hook := func(kind, version, body string) string {
		return "apiVersion: admissionregistration.k8s.io/" + version + "\nkind: " + kind + "\nmetadata: {name: " + strings.ToLower(kind) + "-" + version + "}\nwebhooks:\n" + body
	}
	src := hook("ValidatingWebhookConfiguration", "v1", `  - name: all.example.com
    failurePolicy: Ignore
    rules: [{apiGroups: ["*"], apiVersions: ["*"], operations: [CREATE], resources: [configmaps]}]
  - name: fail.example.com
    failurePolicy: Fail
    rules: [{apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["*"]}]
  - name: narrowed.example.com
    failurePolicy: Ignore
    namespaceSelector: {matchLabels: {policy: "on"}}
    rules: [{apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["*"]}]
  - name: objsel.example.com
    failurePolicy: Ignore
    objectSelector: {matchExpressions: [{key: app, operator: Exists}]}
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  - name: cel.example.com
    failurePolicy: Ignore
    matchConditions: [{name: x, expression: "true"}]
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  - name: emptysel.example.com
    failurePolicy: Ignore
    namespaceSelector: {}
    rules: [{apiGroups: [apps], apiVersions: [v1], operations: [UPDATE], resources: [deployments/scale]}]
  - name: configmaps.example.com
    failurePolicy: Ignore
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}]
  - name: delete.example.com
    failurePolicy: Ignore
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [DELETE], resources: [pods]}]
`) + "---\n" + hook("MutatingWebhookConfiguration", "v1", `  - name: pods.example.com
    failurePolicy: Ignore
    rules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [pods]
  - name: default.example.com
    rules: [{apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["*/*"]}]
`) + "---\n" + hook("ValidatingWebhookConfiguration", "v1beta1", `  - name: old.example.com
    rules: [{apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["*/*"]}]
`)
	var got []string
	for _, g := range clusterFindings(t, src) {
		if strings.HasPrefix(g, RuleWebhookFailOpen) {
			got = append(got, g)
		}
	}
	at := func(name, field string) string {
		i := lineOf(t, src, "name: "+name)
		if field == "" {
			return itoa(i)
		}
		lines := strings.Split(src, "\n")
		for j := i; j < len(lines); j++ {
			if strings.Contains(lines[j], field) {
				return itoa(j + 1)
			}
		}
		t.Fatalf("%s after %s", field, name)
		return ""
	}
	assert.ElementsMatch(t, []string{
		"aegis.webhookFailOpen ValidatingWebhookConfiguration/validatingwebhookconfiguration-v1 webhooks[name=all.example.com] @" + at("all.example.com", "failurePolicy"),
		"aegis.webhookFailOpen ValidatingWebhookConfiguration/validatingwebhookconfiguration-v1 webhooks[name=emptysel.example.com] @" + at("emptysel.example.com", "failurePolicy"),
		"aegis.webhookFailOpen MutatingWebhookConfiguration/mutatingwebhookconfiguration-v1 webhooks[name=pods.example.com] @" + at("pods.example.com", "failurePolicy"),
		// v1beta1 defaults to Ignore: the webhook itself is the place
		"aegis.webhookFailOpen ValidatingWebhookConfiguration/validatingwebhookconfiguration-v1beta1 webhooks[name=old.example.com] @" + at("old.example.com", ""),
	}, got)
	for _, f := range scan(t, src) {
		if f.RuleID == RuleWebhookFailOpen && f.Key == "webhooks[name=pods.example.com]" {
			assert.Contains(t, f.Message, "matches CREATE of pods")
			assert.Equal(t, report.High, f.Severity)
		}
	}
}

func TestClusterScopedObject(t *testing.T) {
	src := `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g, namespace: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: x
`
	assert.ElementsMatch(t, []string{
		"aegis.clusterScopedObject Namespace/shop @2",
		"aegis.clusterScopedObject CustomResourceDefinition/widgets.example.com @" + itoa(lineOf(t, src, "metadata: {name: widgets")-1),
		"aegis.clusterScopedObject CustomResourceDefinition/gadgets.example.com @" + itoa(lineOf(t, src, "metadata: {name: gadgets")-1),
		"aegis.clusterScopedObject Widget/w @" + itoa(lineOf(t, src, "metadata: {name: w}")-1),
		"aegis.clusterScopedObject StorageClass/fast @" + itoa(lineOf(t, src, "metadata: {name: fast}")-1),
	}, clusterFindings(t, src))
}

// TestClusterScopedKindsAgreeWithKustomize checks the static list against
// the built-in schema kustomize carries (for the versions it knows): no
// kind of the list is namespaced there, and the kinds it calls
// cluster-scoped in the groups aegis lists are all listed.
func TestClusterScopedKindsAgreeWithKustomize(t *testing.T) {
	versions := []string{"v1", "v1beta1", "v1beta2", "v1alpha1", "v1alpha2", "v1alpha3"}
	known := 0
	for _, gk := range clusterScopedKindList() {
		for _, v := range versions {
			apiVersion := v
			if gk.Group != "" {
				apiVersion = gk.Group + "/" + v
			}
			namespaced, found := openapi.IsNamespaceScoped(kyaml.TypeMeta{APIVersion: apiVersion, Kind: gk.Kind})
			if found {
				known++
				assert.False(t, namespaced, "%s is namespaced in kustomize's schema", apiVersion+"/"+gk.Kind)
			}
		}
	}
	require.Greater(t, known, 20, "kustomize's schema knows most of the list")
	for _, tm := range []kyaml.TypeMeta{
		{APIVersion: "v1", Kind: "Pod"}, {APIVersion: "apps/v1", Kind: "Deployment"},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, {APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		{APIVersion: "v1", Kind: "Secret"}, {APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
	} {
		namespaced, found := openapi.IsNamespaceScoped(tm)
		require.True(t, found, tm.Kind)
		require.True(t, namespaced, tm.Kind)
		assert.False(t, clusterScopedKinds[gkOf(tm)], "%s is namespaced", tm.Kind)
	}
}

func gkOf(tm kyaml.TypeMeta) schema.GroupKind {
	group := ""
	if i := strings.Index(tm.APIVersion, "/"); i >= 0 {
		group = tm.APIVersion[:i]
	}
	return schema.GroupKind{Group: group, Kind: tm.Kind}
}
