package trivy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
)

func TestParseReportRefusesWhatIsNotAReport(t *testing.T) {
	for name, out := range map[string]string{
		"empty":          "",
		"garbage":        "FATAL error",
		"truncated":      `{"SchemaVersion": 2, "Results": [`,
		"trailing":       `{"SchemaVersion": 2} {"SchemaVersion": 2}`,
		"no version":     `{"Results": []}`,
		"other version":  `{"SchemaVersion": 3, "Results": []}`,
		"array":          `[]`,
		"no target":      `{"SchemaVersion": 2, "Results": [{"Class": "config"}]}`,
		"no check id":    `{"SchemaVersion": 2, "Results": [{"Target": "a.yaml", "Misconfigurations": [{"Status": "FAIL", "Severity": "HIGH"}]}]}`,
		"wrong severity": `{"SchemaVersion": 2, "Results": [{"Target": "a.yaml", "Misconfigurations": [{"ID": "KSV-0017", "Status": "FAIL", "Severity": "SEVERE"}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseReport([]byte(out))
			assert.Error(t, err)
		})
	}
}

func TestParseReportAcceptsACleanScan(t *testing.T) {
	// What Trivy prints for a directory without misconfigurations.
	r, err := ParseReport([]byte(`{"SchemaVersion": 2, "CreatedAt": "2026-11-27T18:00:00Z", "ArtifactName": "manifests", "ArtifactType": "filesystem"}` + "\n"))
	require.NoError(t, err)
	assert.Empty(t, r.Results)
}

func TestSeverities(t *testing.T) {
	for in, want := range map[string]report.Severity{
		"CRITICAL": report.Critical, "HIGH": report.High, "MEDIUM": report.Medium,
		"LOW": report.Low, "UNKNOWN": report.Info, "": report.Info,
	} {
		got, err := mapSeverity(in)
		require.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
}

func TestCheckIDPrefersID(t *testing.T) {
	assert.Equal(t, "KSV-0017", Misconfiguration{ID: "KSV-0017", AVDID: "AVD-KSV-0017"}.checkID())
	assert.Equal(t, "KSV017", Misconfiguration{AVDID: "AVD-KSV017"}.checkID())
}

func TestSlug(t *testing.T) {
	assert.Equal(t, "deployment", slug("Deployment"))
	assert.Equal(t, "system-controller.role", slug("system:controller.role"))
	assert.Equal(t, "x", slug("::"))
	assert.Len(t, slug(string(make([]byte, 100))+"abc"), 3)
}

const deployYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: a
          securityContext:
            privileged: true
        - name: side
          image: b
      initContainers:
        - name: init
          image: c
      volumes:
        - name: logs
          hostPath:
            path: /var/log
`

func decodeOne(t *testing.T, src string) (manifest.Object, *yaml.Node) {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("src/deploy.yaml", []byte(src))
	require.NoError(t, err)
	require.Len(t, objs, 1)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	return objs[0], &doc
}

func TestPathAtLine(t *testing.T) {
	_, root := decodeOne(t, deployYAML)
	for line, want := range map[int]string{
		1:  "apiVersion",
		4:  "metadata.name",
		9:  "spec.template.spec.containers[name=app]",
		10: "spec.template.spec.containers[name=app].image",
		12: "spec.template.spec.containers[name=app].securityContext.privileged",
		13: "spec.template.spec.containers[name=side]",
		16: "spec.template.spec.initContainers[name=init]",
		19: "spec.template.spec.volumes[name=logs]",
		21: "spec.template.spec.volumes[name=logs].hostPath.path",
	} {
		assert.Equal(t, want, pathAtLine(root, line).String(), "line %d", line)
	}
	assert.Empty(t, pathAtLine(root, 0))
}

func TestPathFromMessage(t *testing.T) {
	obj, _ := decodeOne(t, deployYAML)
	for msg, want := range map[string][2]string{
		"Container 'app' of Deployment 'web' should set 'securityContext.privileged' to false":         {"app", "spec.template.spec.containers[name=app].securityContext.privileged"},
		"Container 'init' of Deployment 'web' should set 'resources.limits.cpu'":                       {"init", "spec.template.spec.initContainers[name=init].resources.limits.cpu"},
		`container "side" of deployment "web" in "default" namespace should specify a seccomp profile`: {"side", "spec.template.spec.containers[name=side]"},
		"Deployment 'web' should not set 'spec.template.spec.hostNetwork' to true":                     {"", "spec.template.spec.hostNetwork"},
		"Deployment 'web' should not set 'spec.template.volumes.hostPath'":                             {"", "spec.template.spec.volumes[name=logs].hostPath"},
		"Container 'app' of Deployment 'web' should not set host ports, 'ports[*].hostPort'":           {"app", "spec.template.spec.containers[name=app].ports"},
		"Deployment 'web' should set 'spec.volumes[*]' to an allowed volume type":                      {"", "spec.template.spec.volumes"},
		"Container of Deployment 'web' should set 'spec.automountServiceAccountToken' to false":        {"", "spec.template.spec.automountServiceAccountToken"},
		"Container 'gone' of Deployment 'web' should set 'securityContext.privileged' to false":        {"gone", ""},
		"Role permits wildcard verb on wildcard resource":                                              {"", ""},
	} {
		c, p := pathFromMessage(obj, msg)
		assert.Equal(t, want[0], c, msg)
		assert.Equal(t, want[1], p.String(), msg)
	}
}

func TestPathFromMessageReRootsPodFields(t *testing.T) {
	pod, _ := decodeOne(t, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: x\n")
	_, p := pathFromMessage(pod, "Pod 'p' should not set 'spec.template.spec.hostPID' to true")
	assert.Equal(t, "spec.hostPID", p.String())
	_, p = pathFromMessage(pod, "Container 'c' of Pod 'p' should set 'securityContext.runAsNonRoot' to true")
	assert.Equal(t, "spec.containers[name=c].securityContext.runAsNonRoot", p.String())

	cj, _ := decodeOne(t, "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: j\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - name: c\n              image: x\n")
	_, p = pathFromMessage(cj, "CronJob 'j' should not set 'spec.template.spec.hostIPC' to true")
	assert.Equal(t, "spec.jobTemplate.spec.template.spec.hostIPC", p.String())
}

func TestToFindingLocatesTheFieldAndPrefersADeeperCause(t *testing.T) {
	obj, root := decodeOne(t, deployYAML)
	f, err := toFinding(obj, root, Misconfiguration{
		ID: "KSV-0017", Severity: "HIGH", Status: "FAIL", Title: "Privileged",
		Message:       "Container 'app' of Deployment 'web' should set 'securityContext.privileged' to false",
		CauseMetadata: CauseMetadata{StartLine: 9, EndLine: 12},
	}, nil)
	require.NoError(t, err)
	assert.Equal(t, "src/deploy.yaml:12", f.Location.String())
	assert.Equal(t, "app", f.Resource.Container)
	assert.Equal(t, "app", f.Key)
	assert.Equal(t, report.High, f.Severity)
	assert.NotEmpty(t, f.Fingerprint)

	// The message addresses the volumes as a whole and the cause is the
	// whole spec (as Trivy v0.74.0 reports it): the volume that sets
	// hostPath is found in the object.
	f, err = toFinding(obj, root, Misconfiguration{
		ID: "KSV-0023", Severity: "MEDIUM", Status: "FAIL",
		Message:       "Deployment 'web' should not set 'spec.template.volumes.hostPath'",
		CauseMetadata: CauseMetadata{StartLine: 5, EndLine: 21},
	}, nil)
	require.NoError(t, err)
	assert.Equal(t, "src/deploy.yaml:20", f.Location.String())
	assert.Empty(t, f.Resource.Container)

	// No container in the message: the cause's lines name it.
	f, err = toFinding(obj, root, Misconfiguration{
		ID: "KSV-0106", Severity: "LOW", Status: "FAIL", Message: "container should drop all",
		CauseMetadata: CauseMetadata{StartLine: 13, EndLine: 14},
	}, nil)
	require.NoError(t, err)
	assert.Equal(t, "side", f.Resource.Container)
	assert.Equal(t, "side", f.Key)
	assert.Equal(t, "src/deploy.yaml:13", f.Location.String())

	// Nothing to go on: the object's origin.
	f, err = toFinding(obj, root, Misconfiguration{ID: "KSV-0999", Severity: "UNKNOWN", Status: "FAIL", Title: "Something"}, nil)
	require.NoError(t, err)
	assert.Equal(t, "src/deploy.yaml:1", f.Location.String())
	assert.Equal(t, report.Info, f.Severity)
	assert.Equal(t, "Something", f.Message, "a check without a message reports its title")
}

func TestRedactsSecretValues(t *testing.T) {
	set, err := manifest.NewSet(mustDecode(t, `apiVersion: v1
kind: Secret
metadata: {name: s}
data:
  token: c3VwZXItc2VjcmV0LXRva2Vu
stringData:
  pw: "hunter2hunter2"
  short: "1"
`))
	require.NoError(t, err)
	vals := secretValues(set)
	assert.Contains(t, vals, "super-secret-token")
	assert.Contains(t, vals, "hunter2hunter2")
	assert.NotContains(t, vals, "1")
	assert.Equal(t, "key 'x' holds [redacted] and [redacted]", redact("key 'x' holds super-secret-token and hunter2hunter2", vals))
}

func mustDecode(t *testing.T, src string) []manifest.Object {
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("s.yaml", []byte(src))
	require.NoError(t, err)
	return objs
}

func TestResultForAnUnknownFileFails(t *testing.T) {
	in := &input{files: map[string]inputFile{}}
	_, _, err := in.findings(&Report{SchemaVersion: 2, Results: []Result{{
		Target: "9999-deployment-ghost.yaml", Misconfigurations: []Misconfiguration{{ID: "KSV-0017", Status: "FAIL", Severity: "HIGH"}},
	}}}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not one of the files")

	// Passed checks of an unknown file do not matter.
	_, _, err = in.findings(&Report{SchemaVersion: 2, Results: []Result{{
		Target: "x.yaml", Misconfigurations: []Misconfiguration{{ID: "KSV-0017", Status: "PASS", Severity: "HIGH"}},
	}}}, nil)
	require.NoError(t, err)
}
