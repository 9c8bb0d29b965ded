package trivy

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

// testdata/config-output.json is the real output of Trivy v0.74.0 (built by
// hack/tools/trivy.sh) on what Scan writes for testdata/manifests, made by
// TestUpdateFixture. These tests replay it through the stand-in binary, so
// the whole path (files written, arguments, parsing, mapping to source
// lines) runs without Trivy.

func fixtureFindings(t *testing.T) []report.Finding {
	t.Helper()
	t.Setenv("FAKETRIVY_MODE", "replay")
	t.Setenv("FAKETRIVY_OUTPUT", mustAbs(t, "testdata/config-output.json"))
	fs, err := New(Options{Binary: fakeTrivy(t)}).Scan(context.Background(), target(scanners.Head, fixtureSet(t)))
	require.NoError(t, err)
	return fs
}

func fixtureReport(t *testing.T) *Report {
	t.Helper()
	data, err := os.ReadFile("testdata/config-output.json")
	require.NoError(t, err)
	r, err := ParseReport(data)
	require.NoError(t, err)
	return r
}

// lineOf returns the 1-based line of the n-th (from 1) line of a file
// under testdata/manifests that contains s.
func lineOf(t *testing.T, file, s string, n int) int {
	t.Helper()
	data, err := os.ReadFile("testdata/manifests/" + file)
	require.NoError(t, err)
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			if n--; n == 0 {
				return i + 1
			}
		}
	}
	t.Fatalf("%s: no line %d containing %q", file, n, s)
	return 0
}

func findOn(fs []report.Finding, rule, kind, name, container string) *report.Finding {
	for i := range fs {
		f := &fs[i]
		if f.RuleID == rule && f.Resource.Kind == kind && f.Resource.Name == name && f.Resource.Container == container {
			return f
		}
	}
	return nil
}

func TestFixtureIsRealTrivyOutput(t *testing.T) {
	r := fixtureReport(t)
	assert.Equal(t, "manifests", r.ArtifactName)
	require.NotEmpty(t, r.Results)
	for _, res := range r.Results {
		assert.Equal(t, "config", res.Class, res.Target)
		assert.Equal(t, "kubernetes", res.Type, res.Target)
		for _, m := range res.Misconfigurations {
			assert.Regexp(t, `^KSV-\d{4,5}$`, m.ID)
			assert.Equal(t, StatusFail, m.Status, "Trivy prints failures only by default")
		}
	}
}

func TestFixtureFindingsAreLocatedAtTheSourceLine(t *testing.T) {
	fs := fixtureFindings(t)
	for _, tc := range []struct {
		rule, kind, name, container string
		file, line                  string
		nth                         int
	}{
		// Container fields the message names.
		{"KSV-0017", "Deployment", "web", "web", "workloads.yaml", "privileged: true", 1},
		{"KSV-0005", "Deployment", "web", "sidecar", "workloads.yaml", `add: ["SYS_ADMIN"]`, 1},
		// A field to set that is not there: the container's securityContext.
		{"KSV-0014", "Deployment", "web", "web", "workloads.yaml", "securityContext:", 1},
		// Pod fields, whatever the kind's pod spec path.
		{"KSV-0009", "Deployment", "web", "", "workloads.yaml", "hostNetwork: true", 1},
		{"KSV-0010", "CronJob", "report", "", "workloads.yaml", "hostPID: true", 1},
		// The volume that sets hostPath, though the message names none.
		{"KSV-0023", "Deployment", "web", "", "workloads.yaml", "hostPath:", 1},
		// The port that sets hostPort ("ports[*].hostPort").
		{"KSV-0024", "Pod", "debug", "shell", "workloads.yaml", "hostPort: 2222", 1},
		// The image line for image checks.
		{"KSV-0013", "Deployment", "web", "sidecar", "workloads.yaml", "image: aegis.local/sidecar:latest", 1},
		{"KSV-0125", "CronJob", "report", "setup", "workloads.yaml", "image: aegis.local/setup:2.0", 1},
		// Containers named by the cause's lines only.
		{"KSV-0106", "CronJob", "report", "setup", "workloads.yaml", "- name: setup", 1},
		// Not workloads.
		{"KSV-0044", "Role", "admin-all", "", "other.yaml", `- apiGroups: ["*"]`, 1},
		{"KSV-0109", "ConfigMap", "app-config", "", "other.yaml", "apiVersion: v1", 1},
		{"KSV-0108", "Service", "web", "", "other.yaml", "apiVersion: v1", 3},
	} {
		t.Run(tc.rule+"/"+tc.name+"/"+tc.container, func(t *testing.T) {
			f := findOn(fs, tc.rule, tc.kind, tc.name, tc.container)
			require.NotNil(t, f)
			want := tc.file + ":" + strconv.Itoa(lineOf(t, tc.file, tc.line, tc.nth))
			assert.Equal(t, want, f.Location.String(), f.Message)
			assert.Equal(t, tc.container, f.Key)
			assert.Equal(t, Name, f.Scanner)
			assert.NotEmpty(t, f.Title)
			assert.NotEmpty(t, f.Message)
		})
	}
}

func TestFixtureFindingsAreComplete(t *testing.T) {
	fs := fixtureFindings(t)
	fails := 0
	for _, res := range fixtureReport(t).Results {
		fails += len(res.Misconfigurations)
	}
	assert.Equal(t, fails, len(fs), "one finding per failed check: Trivy's output has no exact duplicates")

	severities := map[report.Severity]int{}
	for _, f := range fs {
		severities[f.Severity]++
		assert.Contains(t, []string{"workloads.yaml", "other.yaml"}, f.Location.Path)
		assert.Positive(t, f.Location.Line)
		assert.NotEqual(t, "Secret", f.Resource.Kind)
	}
	assert.Positive(t, severities[report.Critical], "KSV-0044 and KSV-0112 are critical")
	assert.Positive(t, severities[report.High])

	// One check on two containers is two findings the delta tells apart.
	web := findOn(fs, "KSV-0030", "Deployment", "web", "web")
	side := findOn(fs, "KSV-0030", "Deployment", "web", "sidecar")
	require.NotNil(t, web)
	require.NotNil(t, side)
	assert.NotEqual(t, web.Fingerprint, side.Fingerprint)

	again := fixtureFindings(t)
	assert.Equal(t, fs, again, "scans are deterministic")
}

func TestFixtureNeverShowsSecretValues(t *testing.T) {
	fs := fixtureFindings(t)
	for _, f := range fs {
		for _, s := range []string{f.Title, f.Message} {
			assert.NotContains(t, s, "s3cr3t-value-never-printed")
			// The ConfigMap check names the key, not the value.
			assert.NotContains(t, s, "hunter2")
		}
	}
	cm := findOn(fs, "KSV-0109", "ConfigMap", "app-config", "")
	require.NotNil(t, cm)
	assert.Contains(t, cm.Message, "password")
}

func TestKnownRulesMatchTrivy(t *testing.T) {
	known := map[string]report.Rule{}
	for _, r := range New(Options{}).Rules() {
		known[r.ID] = r
		assert.Equal(t, Name, r.Scanner)
	}
	for _, res := range fixtureReport(t).Results {
		for _, m := range res.Misconfigurations {
			r, ok := known[m.ID]
			if !assert.True(t, ok, "%s is missing from knownRules", m.ID) {
				continue
			}
			want := ruleFrom(m)
			assert.Equal(t, want, r, m.ID)
		}
	}
}

func TestRulesIncludeChecksMetWhileScanning(t *testing.T) {
	s := New(Options{})
	s.remember([]report.Rule{{Scanner: Name, ID: "KSV-9999", Title: "New check"}})
	var ids []string
	for _, r := range s.Rules() {
		ids = append(ids, r.ID)
	}
	assert.Contains(t, ids, "KSV-9999")
	assert.Contains(t, ids, "KSV-0017")
	assert.IsIncreasing(t, ids)
}
