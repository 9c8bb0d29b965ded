package posture

import (
	"sort"
	"strings"

	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/kube-sentient/aegis/report"
)

// Rule ids of the best-practice rules.
const (
	RuleResourceLimits  = "aegis.resourceLimits"
	RuleMutableImageTag = "aegis.mutableImageTag"
	RuleReadinessProbe  = "aegis.readinessProbe"
	RuleLivenessProbe   = "aegis.livenessProbe"
	RuleSecretInEnv     = "aegis.secretInEnv"
)

// pssRulePrefix prefixes the library's check ids.
const pssRulePrefix = "pss."

// PSSRuleID returns the rule id of a pod-security-admission check.
func PSSRuleID(check policy.CheckID) string { return pssRulePrefix + string(check) }

const pssHelpURI = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"

// ruleDoc is what a reader of a finding needs: what is wrong, why it matters
// and a YAML snippet that fixes it. fix is also appended to messages.
type ruleDoc struct {
	title       string
	description string
	fix         string
	snippet     string
	severity    report.Severity
	helpURI     string
}

// Severities of the Pod Security Standards rules. Baseline checks block known
// privilege escalations, so none is below high; the ones that hand a
// container the node outright (privileged, Windows hostProcess) are
// critical. Restricted checks are hardening: medium.
var pssDocs = map[policy.CheckID]ruleDoc{
	"privileged": {
		title:       "Privileged container",
		description: "A privileged container has every capability and access to all host devices; escaping to the node is trivial. Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove securityContext.privileged or set it to false; grant only the specific capability the workload needs.",
		snippet:     "securityContext:\n  privileged: false\n",
		severity:    report.Critical,
	},
	"windowsHostProcess": {
		title:       "Windows HostProcess container",
		description: "A Windows HostProcess container runs directly on the host with the host's privileges, the Windows equivalent of a privileged container. Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove securityContext.windowsOptions.hostProcess (or set it to false) on the pod and its containers.",
		snippet:     "securityContext:\n  windowsOptions:\n    hostProcess: false\n",
		severity:    report.Critical,
	},
	"hostNamespaces": {
		title:       "Host namespaces shared",
		description: "hostNetwork, hostPID or hostIPC let the pod see and reach the node's network stack, processes or shared memory. Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).",
		snippet:     "spec:\n  hostNetwork: false\n  hostPID: false\n  hostIPC: false\n",
		severity:    report.High,
	},
	"hostPathVolumes": {
		title:       "hostPath volume",
		description: "A hostPath volume mounts a directory of the node into the pod; a writable one is a path to node compromise. Forbidden by the baseline Pod Security Standard.",
		fix:         "Replace the hostPath volume with an emptyDir, a configMap/secret, or a PersistentVolumeClaim.",
		snippet:     "volumes:\n  - name: data\n    persistentVolumeClaim:\n      claimName: data\n",
		severity:    report.High,
	},
	"capabilities_baseline": {
		title:       "Non-default capabilities added",
		description: "The container adds Linux capabilities beyond the container runtime's default set (e.g. SYS_ADMIN, NET_ADMIN). Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove the non-default capabilities from securityContext.capabilities.add.",
		snippet:     "securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n    add: [\"NET_BIND_SERVICE\"]  # only if needed\n",
		severity:    report.High,
	},
	"hostPorts": {
		title:       "Host port",
		description: "A hostPort binds the container to a port on the node's own interfaces, bypassing network policy and exposing the node. Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove hostPort from the container's ports and expose the port through a Service.",
		snippet:     "ports:\n  - containerPort: 8080  # no hostPort\n",
		severity:    report.High,
	},
	"hostProbesAndHostLifecycle": {
		title:       "Probe or lifecycle hook with a host",
		description: "A probe or lifecycle handler that sets host can make the kubelet send requests to arbitrary addresses. Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove the host field from httpGet/tcpSocket probes and lifecycle handlers; the kubelet then targets the pod's own IP.",
		snippet:     "readinessProbe:\n  httpGet:\n    path: /healthz\n    port: 8080  # no host\n",
		severity:    report.High,
	},
	"procMount": {
		title:       "Unmasked /proc mount",
		description: "An Unmasked procMount exposes the host's /proc paths that the runtime normally masks. Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove securityContext.procMount or set it to Default.",
		snippet:     "securityContext:\n  procMount: Default\n",
		severity:    report.High,
	},
	"seLinuxOptions": {
		title:       "Custom SELinux options",
		description: "Setting a custom SELinux user, role or a type outside the container types can lift SELinux confinement. Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove seLinuxOptions.user and role, and use only container_t, container_init_t, container_kvm_t or container_engine_t as type.",
		snippet:     "securityContext:\n  seLinuxOptions:\n    type: container_t\n",
		severity:    report.High,
	},
	"seccompProfile_baseline": {
		title:       "Unconfined seccomp profile",
		description: "The pod or a container explicitly turns seccomp off (Unconfined), opening every syscall to the workload. Forbidden by the baseline Pod Security Standard.",
		fix:         "Set securityContext.seccompProfile.type to RuntimeDefault (or Localhost with a profile).",
		snippet:     "securityContext:\n  seccompProfile:\n    type: RuntimeDefault\n",
		severity:    report.High,
	},
	"appArmorProfile": {
		title:       "AppArmor disabled or overridden",
		description: "The pod or a container sets an AppArmor profile other than RuntimeDefault or Localhost (e.g. Unconfined). Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove the AppArmor override or set securityContext.appArmorProfile.type to RuntimeDefault.",
		snippet:     "securityContext:\n  appArmorProfile:\n    type: RuntimeDefault\n",
		severity:    report.High,
	},
	"sysctls": {
		title:       "Unsafe sysctls",
		description: "The pod sets sysctls outside the namespaced safe set; they can affect the whole node. Forbidden by the baseline Pod Security Standard.",
		fix:         "Remove the unsafe entries from securityContext.sysctls (keep only the safe set, e.g. net.ipv4.ip_local_port_range).",
		snippet:     "securityContext:\n  sysctls:\n    - name: net.ipv4.ip_local_port_range\n      value: \"1024 65535\"\n",
		severity:    report.High,
	},
	"allowPrivilegeEscalation": {
		title:       "Privilege escalation allowed",
		description: "Without allowPrivilegeEscalation: false a process can gain more privileges than its parent (setuid binaries). Required by the restricted Pod Security Standard.",
		fix:         "Set securityContext.allowPrivilegeEscalation: false on the container.",
		snippet:     "securityContext:\n  allowPrivilegeEscalation: false\n",
		severity:    report.Medium,
	},
	"capabilities_restricted": {
		title:       "Capabilities not dropped",
		description: "The restricted Pod Security Standard requires every container to drop ALL capabilities and add back at most NET_BIND_SERVICE.",
		fix:         "Set securityContext.capabilities.drop: [\"ALL\"] and add back only NET_BIND_SERVICE if the container binds a low port.",
		snippet:     "securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n",
		severity:    report.Medium,
	},
	"runAsNonRoot": {
		title:       "Container may run as root",
		description: "Neither the pod nor the container sets runAsNonRoot: true, so the image may run as root. Required by the restricted Pod Security Standard.",
		fix:         "Set securityContext.runAsNonRoot: true on the pod (or every container) and make the image run as a non-zero UID.",
		snippet:     "securityContext:\n  runAsNonRoot: true\n  runAsUser: 10001\n",
		severity:    report.Medium,
	},
	"runAsUser": {
		title:       "Container runs as UID 0",
		description: "The pod or a container explicitly sets runAsUser: 0 (root). Forbidden by the restricted Pod Security Standard.",
		fix:         "Set securityContext.runAsUser to a non-zero UID.",
		snippet:     "securityContext:\n  runAsUser: 10001\n",
		severity:    report.Medium,
	},
	"seccompProfile_restricted": {
		title:       "Seccomp profile not set",
		description: "The restricted Pod Security Standard requires a seccomp profile (RuntimeDefault or Localhost) on the pod or on every container.",
		fix:         "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
		snippet:     "spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n",
		severity:    report.Medium,
	},
	"restrictedVolumes": {
		title:       "Volume type not allowed by restricted",
		description: "The restricted Pod Security Standard allows only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes.",
		fix:         "Replace the volume with one of the allowed types, typically a persistentVolumeClaim.",
		snippet:     "volumes:\n  - name: data\n    persistentVolumeClaim:\n      claimName: data\n",
		severity:    report.Medium,
	},
	"procMount_restricted": {
		title:       "Unmasked /proc mount (restricted)",
		description: "The restricted Pod Security Standard requires the default procMount, even in user-namespaced pods.",
		fix:         "Remove securityContext.procMount or set it to Default.",
		snippet:     "securityContext:\n  procMount: Default\n",
		severity:    report.Medium,
	},
}

// practiceDocs are the best-practice rules.
var practiceDocs = map[string]ruleDoc{
	RuleResourceLimits: {
		title:       "Missing resource limits",
		description: "A container without a CPU or memory limit can starve its neighbours on the node and, under a denial of service, take the node down with it.",
		fix:         "Set resources.limits.cpu and resources.limits.memory on the container.",
		snippet:     "resources:\n  requests:\n    cpu: 100m\n    memory: 128Mi\n  limits:\n    cpu: 500m\n    memory: 256Mi\n",
		severity:    report.Medium,
	},
	RuleMutableImageTag: {
		title:       "Image not pinned by digest",
		description: "An image referenced by tag can change under the same name, so what runs is not what was reviewed or scanned. Severity: medium for `:latest` or no tag at all, low for any other tag without a digest.",
		fix:         "Reference the image by digest (a tag may stay for readability).",
		snippet:     "image: ghcr.io/acme/app:1.4.2@sha256:<digest>\n",
		severity:    report.Medium,
	},
	RuleReadinessProbe: {
		title:       "Missing readiness probe",
		description: "Without a readiness probe a long-running container receives traffic before it can serve, and a rollout cannot tell a broken version from a healthy one. Checked on Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, bare Pods with restartPolicy Always, native sidecars, and the long-running pods of custom resources (Argo Rollouts, Knative Serving, OpenKruise CloneSets, Advanced StatefulSets and DaemonSets); not on Jobs, CronJobs or the other custom resources' pods.",
		fix:         "Add a readinessProbe to the container.",
		snippet:     "readinessProbe:\n  httpGet:\n    path: /ready\n    port: 8080\n  periodSeconds: 10\n",
		severity:    report.Low,
	},
	RuleLivenessProbe: {
		title:       "Missing liveness probe",
		description: "Without a liveness probe a hung long-running container is never restarted. Checked on the same workloads as the readiness probe.",
		fix:         "Add a livenessProbe to the container.",
		snippet:     "livenessProbe:\n  httpGet:\n    path: /healthz\n    port: 8080\n  periodSeconds: 10\n",
		severity:    report.Low,
	},
	RuleSecretInEnv: {
		title:       "Secret-looking literal in env",
		description: "An env var sets a literal value that looks like a secret: its name suggests one (password, secret, token, api key, private key, credential, ...) or the value matches a known credential format (AWS access key id, GitHub or GitLab token, Slack token, Google API key, Stripe live key, JWT, private key block, URL with a password). Literal values live in Git and in the object for anyone who can read it. Names that point at a secret rather than hold one (ending in _FILE, _PATH, _DIR, _NAME, _REF, _TTL, _TIMEOUT, _EXPIRY, _LENGTH, _SIZE, _ENABLED) and values that are empty, numbers, booleans or $(VAR) references are not reported by name. aegis never prints the value.",
		fix:         "Store the value in a Secret and reference it with valueFrom.secretKeyRef; rotate the exposed credential.",
		snippet:     "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db\n        key: password\n",
		severity:    report.High,
	},
}

// docFor returns the doc of a pss check, inventing a conservative one for
// a check a newer library adds before aegis documents it: such a check still
// reports, at the floor severity of its level.
func docFor(c pssCheck) ruleDoc {
	if d, ok := pssDocs[c.id]; ok {
		d.helpURI = pssHelpURI
		return d
	}
	d := ruleDoc{
		title:       "Pod Security Standards: " + string(c.id),
		description: "Pod Security Standards check " + string(c.id) + " (" + string(c.level) + " level).",
		fix:         "See the Pod Security Standards for the " + string(c.level) + " level.",
		severity:    report.Medium,
		helpURI:     pssHelpURI,
	}
	if c.level == api.LevelBaseline {
		d.severity = report.High
	}
	return d
}

func (d ruleDoc) rule(id string, tags ...string) report.Rule {
	help := d.description + "\n\n**How to fix:** " + d.fix + "\n"
	if d.snippet != "" {
		help += "\n```yaml\n" + d.snippet + "```\n"
	}
	return report.Rule{
		Scanner:     Name,
		ID:          id,
		Title:       d.title,
		Description: d.description,
		Help:        help,
		HelpURI:     d.helpURI,
		Severity:    d.severity,
		Tags:        append([]string{"security", "kubernetes"}, tags...),
	}
}

// rules lists every rule, ordered by id.
func rules(e *pssEngine) []report.Rule {
	var out []report.Rule
	if e != nil {
		for _, c := range e.checks {
			out = append(out, docFor(c).rule(PSSRuleID(c.id), "pod-security", "pss-"+string(c.level)))
		}
	}
	for id, d := range practiceDocs {
		tags := []string{"best-practice"}
		switch id {
		case RuleSecretInEnv:
			tags = append(tags, "secrets")
		case RuleMutableImageTag:
			tags = append(tags, "supply-chain")
		default:
			tags = append(tags, "reliability")
		}
		out = append(out, d.rule(id, tags...))
	}
	for id, d := range clusterDocs {
		tags := []string{"cluster"}
		switch id {
		case RuleClusterAdminBinding:
			tags = append(tags, "rbac")
		case RuleWebhookFailOpen:
			tags = append(tags, "admission")
		default:
			tags = append(tags, "inventory")
		}
		out = append(out, d.rule(id, tags...))
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].ID, out[j].ID) < 0 })
	return out
}
