package posture

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/pod-security-admission/api"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/podspec"
	"github.com/kube-sentient/aegis/secret"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// compliant is a Deployment that passes the restricted Pod Security
// Standard and every best-practice rule. Cases splice lines into its
// placeholders: PODSC (the pod's securityContext), POD (pod spec fields), APPSC (the app container's
// securityContext), APP (other app container fields), INIT (init
// containers), EXTRA (more containers), VOLUMES.
const compliant = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
#PODSC
#POD
#INIT
      containers:
        - name: app
          image: ghcr.io/acme/web:1.2.3@` + digest + `
#APP
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
#APPSC
          resources:
            limits: {cpu: 500m, memory: 256Mi}
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
          livenessProbe:
            httpGet: {path: /healthz, port: 8080}
#EXTRA
#VOLUMES
`

// variant fills compliant's placeholders; unused ones disappear.
func variant(parts map[string]string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(compliant, "\n") {
		if name, ok := strings.CutPrefix(line, "#"); ok {
			if s := parts[name]; s != "" {
				b.WriteString(strings.TrimSuffix(s, "\n") + "\n")
			}
			continue
		}
		b.WriteString(line + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func decode(t testing.TB, path, src string) *manifest.Set {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode(path, []byte(src))
	require.NoError(t, err)
	set, err := manifest.NewSet(objs)
	require.NoError(t, err)
	return set
}

func scan(t testing.TB, src string) []report.Finding {
	t.Helper()
	fs, err := New().Scan(context.Background(), scanners.Target{Side: scanners.Head, Set: decode(t, "deploy.yaml", src)})
	require.NoError(t, err)
	return fs
}

// lineOf is the 1-based line of the first line of src containing needle.
func lineOf(t testing.TB, src, needle string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, needle) {
			return i + 1
		}
	}
	t.Fatalf("%q not in source", needle)
	return 0
}

// want is an expected finding; at is a unique substring of the line it
// must point at.
type want struct {
	rule, container, key string
	severity             report.Severity
	at                   string
}

type got struct{ rule, container, key string }

func summary(fs []report.Finding) []got {
	out := make([]got, 0, len(fs))
	for _, f := range fs {
		out = append(out, got{f.RuleID, f.Resource.Container, f.Key})
	}
	return out
}

func find(fs []report.Finding, rule, container, key string) (report.Finding, bool) {
	for _, f := range fs {
		if f.RuleID == rule && f.Resource.Container == container && f.Key == key {
			return f, true
		}
	}
	return report.Finding{}, false
}

func TestCompliantDeploymentHasNoFindings(t *testing.T) {
	assert.Empty(t, scan(t, variant(nil)))
}

// TestFindings splices one problem at a time into the compliant Deployment
// and expects exactly the findings listed, each at its line.
func TestFindings(t *testing.T) {
	cases := []struct {
		name  string
		parts map[string]string
		want  []want
	}{
		{
			name:  "privileged container",
			parts: map[string]string{"APPSC": "            privileged: true"},
			want:  []want{{rule: "pss.privileged", container: "app", severity: report.Critical, at: "privileged: true"}},
		},
		{
			name: "hostPath volume is one finding, not also restrictedVolumes",
			parts: map[string]string{"VOLUMES": `      volumes:
        - name: cache
          emptyDir: {}
        - name: data
          hostPath: {path: /var/lib/data}`},
			want: []want{{rule: "pss.hostPathVolumes", key: "data", severity: report.High, at: "- name: data"}},
		},
		{
			name: "non-hostPath restricted volume",
			parts: map[string]string{"VOLUMES": `      volumes:
        - name: share
          nfs: {server: nfs.local, path: /export}`},
			want: []want{{rule: "pss.restrictedVolumes", key: "share", severity: report.Medium, at: "- name: share"}},
		},
		{
			name:  "host namespaces, one finding per field",
			parts: map[string]string{"POD": "      hostNetwork: true\n      hostIPC: true"},
			want: []want{
				{rule: "pss.hostNamespaces", key: "hostNetwork", severity: report.High, at: "hostNetwork: true"},
				{rule: "pss.hostNamespaces", key: "hostIPC", severity: report.High, at: "hostIPC: true"},
			},
		},
		{
			name: "init container",
			parts: map[string]string{"INIT": `      initContainers:
        - name: setup
          image: busybox@` + digest + `
          resources:
            limits: {cpu: 100m, memory: 64Mi}
          securityContext:
            privileged: true
            allowPrivilegeEscalation: true
            capabilities:
              drop: ["ALL"]`},
			want: []want{
				{rule: "pss.privileged", container: "setup", severity: report.Critical, at: "privileged: true"},
				{rule: "pss.allowPrivilegeEscalation", container: "setup", severity: report.Medium, at: "allowPrivilegeEscalation: true"},
			},
		},
		{
			name:  "non-default capability with drop ALL: baseline only",
			parts: map[string]string{"APPSC": `              add: ["SYS_ADMIN"]`},
			want:  []want{{rule: "pss.capabilities_baseline", container: "app", severity: report.High, at: `add: ["SYS_ADMIN"]`}},
		},
		{
			name:  "restricted-only capability",
			parts: map[string]string{"APPSC": `              add: ["CHOWN"]`},
			want:  []want{{rule: "pss.capabilities_restricted", container: "app", severity: report.Medium, at: `add: ["CHOWN"]`}},
		},
		{
			name:  "container opts out of runAsNonRoot",
			parts: map[string]string{"APPSC": "            runAsNonRoot: false\n            runAsUser: 0"},
			want: []want{
				{rule: "pss.runAsNonRoot", container: "app", severity: report.Medium, at: "runAsNonRoot: false"},
				{rule: "pss.runAsUser", container: "app", severity: report.Medium, at: "runAsUser: 0"},
			},
		},
		{
			name:  "unconfined seccomp: baseline, not again as restricted",
			parts: map[string]string{"APPSC": "            seccompProfile: {type: Unconfined}"},
			want:  []want{{rule: "pss.seccompProfile_baseline", container: "app", severity: report.High, at: "Unconfined"}},
		},
		{
			name:  "host port",
			parts: map[string]string{"APP": "          ports:\n            - containerPort: 80\n              hostPort: 80"},
			want:  []want{{rule: "pss.hostPorts", container: "app", severity: report.High, at: "ports:"}},
		},
		{
			name:  "unsafe sysctl",
			parts: map[string]string{"PODSC": "        sysctls: [{name: kernel.msgmax, value: \"1\"}]"},
			want:  []want{{rule: "pss.sysctls", severity: report.High, at: "sysctls:"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := variant(tc.parts)
			fs := scan(t, src)
			var exp []got
			for _, w := range tc.want {
				exp = append(exp, got{w.rule, w.container, w.key})
			}
			assert.ElementsMatch(t, exp, summary(fs))
			for _, w := range tc.want {
				f, ok := find(fs, w.rule, w.container, w.key)
				require.True(t, ok, "missing %s", w.rule)
				assert.Equal(t, w.severity, f.Severity, w.rule)
				assert.Equal(t, report.Location{Path: "deploy.yaml", Line: lineOf(t, src, w.at)}, f.Location, w.rule)
				assert.Equal(t, report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod", Name: "web", Container: w.container}, f.Resource)
				assert.Equal(t, Name, f.Scanner)
				assert.Equal(t, report.ComputeFingerprint(f), f.Fingerprint)
				assert.NotEmpty(t, f.Title)
				assert.Contains(t, f.Message, "Deployment/web")
				if w.container != "" {
					assert.Contains(t, f.Message, fmt.Sprintf("%q", w.container))
				}
				if w.key != "" {
					assert.Contains(t, f.Message, w.key)
				}
			}
		})
	}
}

func TestInsecurePodAndRunAsNonRootLocations(t *testing.T) {
	src := `apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  securityContext:
    runAsNonRoot: false
  containers:
    - name: plain
      image: alpine:3.20
    - name: withsc
      image: alpine:3.20
      securityContext:
        privileged: false
`
	fs := scan(t, src)

	// The pod opts out of runAsNonRoot: the pod is blamed, at its field.
	f, ok := find(fs, "pss.runAsNonRoot", "", "")
	require.True(t, ok)
	assert.Equal(t, lineOf(t, src, "runAsNonRoot: false"), f.Location.Line)

	// seccomp is missing everywhere: each container is blamed at the
	// deepest thing it sets: its securityContext, else its list item.
	f, ok = find(fs, "pss.seccompProfile_restricted", "plain", "")
	require.True(t, ok)
	assert.Equal(t, lineOf(t, src, "- name: plain"), f.Location.Line)
	f, ok = find(fs, "pss.seccompProfile_restricted", "withsc", "")
	require.True(t, ok)
	assert.Equal(t, lineOf(t, src, "privileged: false")-1, f.Location.Line)

	// A bare pod restarts always by default: probes are expected.
	_, ok = find(fs, RuleReadinessProbe, "plain", "")
	assert.True(t, ok)
	_, ok = find(fs, RuleLivenessProbe, "withsc", "")
	assert.True(t, ok)

	// With restartPolicy Never it runs to completion: no probe findings.
	fs = scan(t, strings.Replace(src, "spec:\n", "spec:\n  restartPolicy: Never\n", 1))
	for _, f := range fs {
		assert.NotContains(t, []string{RuleReadinessProbe, RuleLivenessProbe}, f.RuleID)
	}
}

func TestJobAndCronJobPaths(t *testing.T) {
	job := `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      hostPID: true
      containers:
        - name: migrate
          image: ghcr.io/acme/migrate@` + digest + `
          securityContext:
            privileged: true
`
	cron := `apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
  namespace: ops
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          hostPID: true
          containers:
            - name: backup
              image: ghcr.io/acme/backup@` + digest + `
              securityContext:
                privileged: true
`
	for _, tc := range []struct{ kind, src, container string }{{"Job", job, "migrate"}, {"CronJob", cron, "backup"}} {
		t.Run(tc.kind, func(t *testing.T) {
			fs := scan(t, tc.src)
			f, ok := find(fs, "pss.privileged", tc.container, "")
			require.True(t, ok)
			assert.Equal(t, lineOf(t, tc.src, "privileged: true"), f.Location.Line)
			assert.Equal(t, tc.kind, f.Resource.Kind)
			f, ok = find(fs, "pss.hostNamespaces", "", "hostPID")
			require.True(t, ok)
			assert.Equal(t, lineOf(t, tc.src, "hostPID: true"), f.Location.Line)
			for _, f := range fs {
				assert.NotContains(t, []string{RuleReadinessProbe, RuleLivenessProbe}, f.RuleID, "jobs run to completion")
			}
			_, ok = find(fs, "pss.runAsNonRoot", tc.container, "")
			assert.True(t, ok)
		})
	}
}

func TestMultipleContainersAttributedSeparately(t *testing.T) {
	src := variant(map[string]string{"EXTRA": `        - name: a
          image: ghcr.io/acme/a@` + digest + `
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: ["ALL"]}
            privileged: true
          resources:
            limits: {cpu: 100m, memory: 64Mi}
          readinessProbe: {tcpSocket: {port: 1}}
          livenessProbe: {tcpSocket: {port: 1}}
        - name: b
          image: ghcr.io/acme/b@` + digest + `
          securityContext:
            capabilities: {drop: ["ALL"]}
            privileged: true
          resources:
            limits: {cpu: 100m, memory: 64Mi}
          readinessProbe: {tcpSocket: {port: 1}}
          livenessProbe: {tcpSocket: {port: 1}}`})
	fs := scan(t, src)
	assert.ElementsMatch(t, []got{
		{"pss.privileged", "a", ""},
		{"pss.privileged", "b", ""},
		{"pss.allowPrivilegeEscalation", "b", ""},
	}, summary(fs))
	a, _ := find(fs, "pss.privileged", "a", "")
	b, _ := find(fs, "pss.privileged", "b", "")
	assert.Less(t, a.Location.Line, b.Location.Line)
	assert.Contains(t, a.Message, `container "a"`)
	assert.NotContains(t, a.Message, `"b"`, "the message is narrowed to its container")
	assert.NotEqual(t, a.Fingerprint, b.Fingerprint)
	esc, _ := find(fs, "pss.allowPrivilegeEscalation", "b", "")
	assert.Equal(t, lineOf(t, src, "        - name: b")+2, esc.Location.Line, "missing field: the container's securityContext")
}

func TestEphemeralContainer(t *testing.T) {
	src := variant(map[string]string{"EXTRA": `      ephemeralContainers:
        - name: debugger
          image: busybox@` + digest + `
          securityContext:
            privileged: true
            allowPrivilegeEscalation: false
            capabilities: {drop: ["ALL"]}`})
	fs := scan(t, src)
	assert.ElementsMatch(t, []got{{"pss.privileged", "debugger", ""}}, summary(fs), "no limits or probes asked of an ephemeral container")
	assert.Equal(t, lineOf(t, src, "privileged: true"), fs[0].Location.Line)
}

func TestSecretInEnvNeverLeaksValues(t *testing.T) {
	secrets := map[string]string{
		"DB_PASSWORD":  "correct-horse-battery",
		"AWS_KEY":      "AKIAIOSFODNN7EXAMPLE",
		"GH":           "ghp_" + strings.Repeat("a1B2", 9),
		"TLS":          "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
		"DATABASE_URL": "postgres://app:s3cr3tpw@db:5432/app",
		"api-key":      "0f1e2d3c4b5a",
	}
	harmless := map[string]string{
		"PASSWORD_FILE": "/run/secrets/db",
		"TOKEN_TTL":     "3600",
		"LOG_LEVEL":     "debug",
		"SECRET_NAME":   "db-credentials",
		"AUTH_TOKEN":    "$(TOKEN_FROM_SECRET)",
	}
	var env strings.Builder
	env.WriteString("          env:\n")
	for _, m := range []map[string]string{secrets, harmless} {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			v, _ := json.Marshal(m[n]) // a JSON string is a valid YAML scalar
			fmt.Fprintf(&env, "            - name: %s\n              value: %s\n", n, v)
		}
	}
	env.WriteString("            - name: FROM_SECRET\n              valueFrom: {secretKeyRef: {name: db, key: password}}")
	src := variant(map[string]string{"APP": env.String()})
	fs := scan(t, src)

	var keys []string
	for _, f := range fs {
		require.Equal(t, RuleSecretInEnv, f.RuleID)
		assert.Equal(t, report.High, f.Severity)
		assert.Equal(t, "app", f.Resource.Container)
		assert.Contains(t, f.Message, fmt.Sprintf("%q", f.Key))
		assert.Equal(t, lineOf(t, src, "- name: "+f.Key), f.Location.Line)
		keys = append(keys, f.Key)
	}
	var wantKeys []string
	for n := range secrets {
		wantKeys = append(wantKeys, n)
	}
	assert.ElementsMatch(t, wantKeys, keys)

	out, err := json.Marshal(fs)
	require.NoError(t, err)
	for name, v := range secrets {
		for _, part := range strings.Split(v, "\n") {
			assert.NotContains(t, string(out), part, "value of %s leaked", name)
		}
	}
	assert.NotContains(t, string(out), "s3cr3tpw")
}

func TestSecretLooking(t *testing.T) {
	cases := []struct {
		name, value string
		want        bool
	}{
		{"PASSWORD", "x7!kq", true},
		{"db_passwd", "abc", true},
		{"CLIENT_SECRET", "abcdef", true},
		{"PRIVATE_KEY", "abcdef", true},
		{"GITHUB_TOKEN", "abcdef", true},
		{"CREDENTIALS", "abcdef", true},
		{"ANYTHING", "AKIAABCDEFGHIJKLMNOP", true},
		{"ANYTHING", "xoxb-123456789012-abcdef", true},
		{"ANYTHING", "AIza" + strings.Repeat("x", 35), true},
		{"ANYTHING", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlMTIz", true},
		{"ANYTHING", "glpat-abcdefghijklmnopqrst", true},
		{"ENDPOINT", "https://user:pw@example.com/", true},
		{"ENDPOINT", "https://example.com/", false},
		{"PASSWORD", "true", false},
		{"TOKEN_LENGTH", "32", false},
		{"SECRET_PATH", "/etc/secret", false},
		{"PASSWORD", "$(DB_PASSWORD)", false},
		{"REPLICAS", "3", false},
	}
	for _, tc := range cases {
		_, got := secret.Looking(tc.name, tc.value)
		assert.Equal(t, tc.want, got, "%s", tc.name)
	}
}

func TestMutableImageTags(t *testing.T) {
	cases := []struct {
		image string
		sev   report.Severity
	}{
		{"nginx", report.Medium},
		{"nginx:latest", report.Medium},
		{"localhost:5000/app", report.Medium},
		{"ghcr.io/acme/app:1.2.3", report.Low},
		{"localhost:5000/app:v2", report.Low},
		{"nginx@" + digest, ""},
		{"nginx:1.25@" + digest, ""},
	}
	for _, tc := range cases {
		t.Run(tc.image, func(t *testing.T) {
			src := strings.Replace(variant(nil), "ghcr.io/acme/web:1.2.3@"+digest, tc.image, 1)
			fs := scan(t, src)
			if tc.sev == "" {
				assert.Empty(t, fs)
				return
			}
			require.Len(t, fs, 1)
			assert.Equal(t, RuleMutableImageTag, fs[0].RuleID)
			assert.Equal(t, tc.sev, fs[0].Severity)
			assert.Equal(t, tc.image, fs[0].Image)
			assert.Equal(t, lineOf(t, src, "image: "+tc.image), fs[0].Location.Line)
		})
	}
}

func TestMissingLimitsAndProbes(t *testing.T) {
	src := strings.Replace(variant(nil), "          resources:\n            limits: {cpu: 500m, memory: 256Mi}\n", "          resources:\n            limits: {cpu: 500m}\n", 1)
	src = strings.Replace(src, "          readinessProbe:\n            httpGet: {path: /ready, port: 8080}\n", "", 1)
	fs := scan(t, src)
	assert.ElementsMatch(t, []got{{RuleResourceLimits, "app", ""}, {RuleReadinessProbe, "app", ""}}, summary(fs))
	f, _ := find(fs, RuleResourceLimits, "app", "")
	assert.Equal(t, report.Medium, f.Severity)
	assert.Contains(t, f.Message, "memory")
	assert.NotContains(t, f.Message, "cpu")
	assert.Equal(t, lineOf(t, src, "limits: {cpu: 500m}"), f.Location.Line)
	f, _ = find(fs, RuleReadinessProbe, "app", "")
	assert.Equal(t, report.Low, f.Severity)
	assert.Equal(t, lineOf(t, src, "- name: app"), f.Location.Line)
}

func TestFingerprintsSurviveLineMovesAndNamespaces(t *testing.T) {
	src := variant(map[string]string{
		"APPSC": "            privileged: true",
		"EXTRA": "        - name: second\n          image: nginx:1.25",
	})
	moved := "# a comment that moves every line\n\n" + strings.Replace(src, "namespace: prod", "namespace: aegis-shadow-1234", 1)
	bumped := strings.Replace(moved, "nginx:1.25", "nginx:1.27", 1)

	a, b, c := scan(t, src), scan(t, moved), scan(t, bumped)
	require.Equal(t, len(a), len(b))
	fps := func(fs []report.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Fingerprint)
		}
		return out
	}
	assert.Equal(t, fps(a), fps(b))
	assert.ElementsMatch(t, fps(a), fps(c), "an image tag bump keeps fingerprints")
	assert.NotEqual(t, a[0].Location.Line, b[0].Location.Line)
	assert.Equal(t, "aegis-shadow-1234", b[0].Resource.Namespace)

	// One rule on two containers: two fingerprints.
	pa, ok1 := find(a, "pss.allowPrivilegeEscalation", "second", "")
	require.True(t, ok1)
	_, ok2 := find(a, "pss.allowPrivilegeEscalation", "app", "")
	require.False(t, ok2)
	la, _ := find(a, RuleLivenessProbe, "second", "")
	assert.NotEqual(t, pa.Fingerprint, la.Fingerprint)
	seen := map[string]bool{}
	for _, f := range a {
		assert.False(t, seen[f.Fingerprint], "duplicate fingerprint %s %s", f.RuleID, f.Resource)
		seen[f.Fingerprint] = true
	}
}

func TestDeterministicOrder(t *testing.T) {
	src := variant(map[string]string{
		"POD":   "      hostPID: true",
		"APPSC": "            privileged: true",
		"EXTRA": "        - name: z\n          image: nginx\n        - name: b\n          image: nginx",
	})
	first := scan(t, src)
	require.NotEmpty(t, first)
	for range 5 {
		assert.Equal(t, first, scan(t, src))
	}
	assert.True(t, slices.IsSortedFunc(first, report.CompareFindings), "in the report's one total order")
}

func TestKindsWithoutPods(t *testing.T) {
	src := `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80}]
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: not-a-pod}
spec:
  template:
    spec:
      containers: [{name: x, securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {password: hunter2}
`
	assert.Empty(t, scan(t, src))
}

func TestMalformedTemplateFailsClosed(t *testing.T) {
	src := strings.Replace(variant(nil), "allowPrivilegeEscalation: false", `allowPrivilegeEscalation: "no"`, 1)
	_, err := New().Scan(context.Background(), scanners.Target{Set: decode(t, "apps/deploy.yaml", src)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "apps/deploy.yaml:1")
	assert.Contains(t, err.Error(), "web")

	src = strings.Replace(variant(nil), "  template:\n", "  template: oops\n  x:\n", 1)
	_, err = New().Scan(context.Background(), scanners.Target{Set: decode(t, "d.yaml", src)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "d.yaml:1")
}

func TestScanErrors(t *testing.T) {
	_, err := New().Scan(context.Background(), scanners.Target{})
	assert.Error(t, err, "no set is not a clean side")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = New().Scan(ctx, scanners.Target{Set: decode(t, "d.yaml", variant(nil))})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestScannerMetadata(t *testing.T) {
	s := New()
	assert.Equal(t, "posture", s.Name())
	v, err := s.Version(context.Background())
	require.NoError(t, err)
	assert.Regexp(t, `^1\.2\.0 \(pod-security-admission v0\.\d+\.\d+.*\)$`, v)

	rules := s.Rules()
	ids := map[string]report.Rule{}
	for _, r := range rules {
		assert.NotContains(t, ids, r.ID)
		ids[r.ID] = r
		assert.Equal(t, Name, r.Scanner)
		assert.NotEmpty(t, r.Title, r.ID)
		assert.NotEmpty(t, r.Description, r.ID)
		assert.Contains(t, r.Help, "```yaml", r.ID)
		assert.Contains(t, r.Help, "How to fix", r.ID)
		assert.Contains(t, r.Tags, "security", r.ID)
		assert.Contains(t, r.Tags, "kubernetes", r.ID)
		if r.ID == RuleClusterScopedObject {
			assert.Equal(t, report.Info, r.Severity, "an inventory rule: it reports, it does not gate by default")
		} else {
			assert.GreaterOrEqual(t, r.Severity.Rank(), report.Low.Rank(), r.ID)
		}
		if strings.HasPrefix(r.ID, "pss.") {
			assert.Contains(t, r.Tags, "pod-security", r.ID)
		}
	}
	e, err := engine()
	require.NoError(t, err)
	for _, c := range e.checks {
		r, ok := ids[PSSRuleID(c.id)]
		require.True(t, ok, "every library check has a rule: %s", c.id)
		_, documented := pssDocs[c.id]
		assert.True(t, documented, "check %s has aegis docs", c.id)
		if c.level == "baseline" {
			assert.True(t, r.Severity.AtLeast(report.High), "baseline %s at least high", c.id)
		} else {
			assert.Equal(t, report.Medium, r.Severity, c.id)
		}
	}
	assert.Equal(t, report.Critical, ids["pss.privileged"].Severity)
	for _, id := range []string{RuleResourceLimits, RuleMutableImageTag, RuleReadinessProbe, RuleLivenessProbe, RuleSecretInEnv, RuleClusterAdminBinding, RuleWebhookFailOpen, RuleClusterScopedObject} {
		assert.Contains(t, ids, id)
	}
}

// TestAttributionFallback: a subject the library names but the pod does not
// hold (it cannot happen with real names) still reports, pod-level.
func TestAttributionFallback(t *testing.T) {
	e, err := engine()
	require.NoError(t, err)
	w := &workload{src: &podspec.Pod{}, version: api.LatestVersion()}
	var priv pssCheck
	for _, c := range e.checks {
		if c.id == "privileged" {
			priv = c
		}
	}
	vs := e.attribute(priv, policyResult(`container "ghost" must not set securityContext.privileged=true`), w)
	require.Len(t, vs, 1)
	assert.Equal(t, subject{kind: subjPod}, vs[0].subject)
}
