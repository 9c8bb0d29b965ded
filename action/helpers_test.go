package action

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/action/fakegithub"
	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/verify"
)

const (
	testToken = "ghs_fakeTokenForTests0123456789abcdef"
	headSHA   = "ec26c3e57ca3a959ca5aad62de7213c562f8c821" // testdata/pull_request.json
	baseSHA   = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
)

// actionYML is the parsed action.yml at the repository root.
type actionYML struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Inputs      map[string]struct {
		Description string  `yaml:"description"`
		Required    bool    `yaml:"required"`
		Default     *string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
	} `yaml:"outputs"`
	Runs struct {
		Using string   `yaml:"using"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
	} `yaml:"runs"`
}

// actionYMLPath and testdataDir are absolute: some tests change directory.
var (
	actionYMLPath, _ = filepath.Abs(filepath.Join("..", "action.yml"))
	testdataDir, _   = filepath.Abs("testdata")
)

func loadActionYML(t *testing.T) actionYML {
	t.Helper()
	data, err := os.ReadFile(actionYMLPath)
	require.NoError(t, err)
	var a actionYML
	require.NoError(t, yaml.Unmarshal(data, &a))
	return a
}

// inputEnv is the INPUT_ variable the runner sets for input name.
func inputEnv(name string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
}

// env is a step's environment, as the runner sets it for a Docker action.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// newEnv is the environment of the aegis step on the pull_request sample:
// every input at its action.yml default (token evaluated), base and head
// two directories of the workspace, GITHUB_* of a pull_request run, and
// fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files. Without a fake server
// nothing is published (and the API URL is a closed local port, so that no
// test ever reaches GitHub).
func newEnv(t *testing.T, srv *fakegithub.Server) env {
	t.Helper()
	dir := t.TempDir()
	e := env{}
	for name, in := range loadActionYML(t).Inputs {
		v := ""
		if in.Default != nil {
			v = *in.Default
		}
		if v == "${{ github.token }}" {
			v = testToken
		}
		e[inputEnv(name)] = v
	}
	e[inputEnv(InputSarifFile)] = filepath.Join(dir, "aegis.sarif")
	e[inputEnv(InputReportJSON)] = filepath.Join(dir, "aegis-report.json")
	for _, side := range []string{"before", "after"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, side), 0o755))
	}
	e[inputEnv(InputBaseDir)] = filepath.Join(dir, "before")
	e[inputEnv(InputHeadDir)] = filepath.Join(dir, "after")
	e.setEvent(t, "pull_request", filepath.Join(testdataDir, "pull_request.json"))
	for k, v := range map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_REPOSITORY":   "Codertocat/Hello-World",
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_RUN_ID":       "4242",
		"GITHUB_RUN_ATTEMPT":  "1",
		"GITHUB_REF":          "refs/pull/2/merge",
		"GITHUB_SHA":          "3e1d2f4a5b6c7d8e9f00112233445566778899aa",
		"GITHUB_WORKSPACE":    dir,
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
	} {
		e[k] = v
	}
	for _, f := range []string{"output", "summary"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o644))
	}
	e["GITHUB_API_URL"] = "http://127.0.0.1:9"
	e["GITHUB_GRAPHQL_URL"] = "http://127.0.0.1:9/graphql"
	uploadDefault := e[inputEnv(InputUploadSarif)] // action.yml's: auto
	e[inputEnv(InputComment)], e[inputEnv(InputUploadSarif)] = "false", "false"
	if srv != nil {
		e["GITHUB_API_URL"] = srv.URL
		e["GITHUB_GRAPHQL_URL"] = srv.URL + "/graphql"
		e[inputEnv(InputComment)], e[inputEnv(InputUploadSarif)] = "true", uploadDefault
	}
	return e
}

// gitWorkspace makes the workspace a git repository with a base and a head
// commit, as actions/checkout with fetch-depth 0 leaves it, and enters it.
func gitWorkspace(t *testing.T, e env) (base, head string) {
	t.Helper()
	repo := e["GITHUB_WORKSPACE"]
	git(t, repo, "init", "-q", "-b", "main")
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "deploy"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "deploy", "a.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("output\nsummary\n*.sarif\n*.json\n"), 0o644))
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "base")
	base = git(t, repo, "rev-parse", "HEAD")
	require.NoError(t, os.WriteFile(filepath.Join(repo, "deploy", "a.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"), 0o644))
	git(t, repo, "commit", "-qam", "head")
	head = git(t, repo, "rev-parse", "HEAD")
	t.Chdir(repo)
	e[inputEnv(InputBase)], e[inputEnv(InputHead)], e[inputEnv(InputPath)] = "", "", "deploy"
	e[inputEnv(InputBaseDir)], e[inputEnv(InputHeadDir)] = "", ""
	return base, head
}

func (e env) setEvent(t *testing.T, name, payloadPath string) {
	abs, err := filepath.Abs(payloadPath)
	require.NoError(t, err)
	e["GITHUB_EVENT_NAME"] = name
	e["GITHUB_EVENT_PATH"] = abs
}

// writePayload writes a modified copy of a payload sample and returns it.
func writePayload(t *testing.T, sample string, edit func(map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdataDir, sample))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	edit(m)
	out, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), sample)
	require.NoError(t, os.WriteFile(p, out, 0o644))
	return p
}

// forkPayload is the pull_request sample with its head in a fork.
func forkPayload(t *testing.T) string {
	return writePayload(t, "pull_request.json", func(m map[string]any) {
		head := m["pull_request"].(map[string]any)["head"].(map[string]any)
		repo := head["repo"].(map[string]any)
		repo["full_name"] = "forker/Hello-World"
		repo["fork"] = true
		head["label"] = "forker:changes"
	})
}

// result is one run of the action.
type result struct {
	code           int
	stdout, stderr string
	outputs        map[string]string
	summary        string
	opts           verify.Options
}

type fakeVerify struct {
	mu   sync.Mutex
	rep  *report.Report
	err  error
	opts verify.Options
}

func (f *fakeVerify) run(_ context.Context, o verify.Options) (*verify.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts = o
	if f.err != nil {
		return nil, f.err
	}
	// Locate and gate with the policy aegis resolved, as verify.Run does.
	rep := *f.rep
	rep.Findings = append([]report.Finding(nil), f.rep.Findings...)
	verify.Decide(&rep, o)
	return &verify.Result{Report: &rep}, nil
}

func noScanners(verify.Options) ([]scanners.Scanner, func(), error) { return nil, nil, nil }

func noCluster(string) (*rest.Config, error) { return nil, fmt.Errorf("no cluster in this test") }

// runAction runs the action with env e against the fake verification.
func runAction(t *testing.T, e env, fv *fakeVerify, mod ...func(*Deps)) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	d := Deps{
		Verify:             fv.run,
		Scanners:           noScanners,
		RestConfig:         noCluster,
		ToolVersion:        "v0.0.0-test",
		Getenv:             e.get,
		Stdout:             &stdout,
		Stderr:             &stderr,
		UploadPollInterval: 5 * time.Millisecond,
		// A redactor of this run's own: secret.Default is the process's.
		Redactor: &secret.Redactor{},
	}
	for _, m := range mod {
		m(&d)
	}
	// Each step gets fresh file-command files.
	for _, k := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"} {
		if p := e[k]; p != "" {
			require.NoError(t, os.WriteFile(p, nil, 0o644))
		}
	}
	code := Run(t.Context(), d)
	res := result{code: code, stdout: stdout.String(), stderr: stderr.String(), opts: fv.opts}
	if p := e["GITHUB_OUTPUT"]; p != "" {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		res.outputs, err = parseFileCommands(string(data))
		require.NoError(t, err, "GITHUB_OUTPUT:\n%s", data)
	}
	if p := e["GITHUB_STEP_SUMMARY"]; p != "" {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		res.summary = string(data)
	}
	return res
}

// parseFileCommands reads a GITHUB_OUTPUT file the way the runner does:
// "name=value" lines, and "name<<DELIM" ... "DELIM" blocks whose value is
// the lines between (the runner refuses a block that does not close).
func parseFileCommands(data string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok && (!strings.Contains(line, "=") || strings.Index(line, "<<") < strings.Index(line, "=")) {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				return nil, fmt.Errorf("output %s: delimiter %s not found", name, delim)
			}
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("output %s written twice", name)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("invalid line %q", line)
		}
		out[name] = val
	}
	return out, sc.Err()
}

// finding is a posture finding of the given state on a source line.
func finding(rule string, sev report.Severity, state report.State, path string, line int, name string) report.Finding {
	f := report.Finding{
		Scanner:       "posture",
		RuleID:        rule,
		Severity:      sev,
		Title:         "title of " + rule,
		Message:       fmt.Sprintf("%s violates %s", name, rule),
		Resource:      report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: name, Container: "app"},
		Location:      report.Location{Path: path, Line: line},
		BaselineState: state,
	}
	f.Fingerprint = report.ComputeFingerprint(f)
	return f
}

// sampleReport is a change that fixes a privileged container and adds a
// hostPath volume: the gate fails on the new high finding.
func sampleReport(findings ...report.Finding) *report.Report {
	if findings == nil {
		findings = []report.Finding{
			finding("pss.hostPathVolumes", report.High, report.New, "overlays/prod/node-logs.yaml", 16, "prod-web"),
			finding("aegis.resourceLimits", report.Low, report.Unchanged, "base/deployment.yaml", 20, "prod-web"),
			finding("pss.privileged", report.Critical, report.Absent, "base/deployment.yaml", 22, "prod-web"),
		}
	}
	return &report.Report{
		Tool:     report.Tool{Name: "aegis", Version: "v0.0.0-test"},
		Base:     report.Side{Source: baseSHA, Type: "kustomize", Digest: "sha256:aa", Objects: 2},
		Head:     report.Side{Source: headSHA, Type: "kustomize", Digest: "sha256:bb", Objects: 2},
		Findings: findings,
		Scanners: []report.ScannerRun{
			{Name: "posture", Side: "base", Status: report.StatusOK, Version: "v0.0.0-test"},
			{Name: "posture", Side: "head", Status: report.StatusOK, Version: "v0.0.0-test"},
		},
		Rules: []report.Rule{{Scanner: "posture", ID: "pss.hostPathVolumes", Title: "hostPath volume", Description: "d", Help: "h", Severity: report.High}},
	}
}

func defaultPolicy() *config.Config { return config.Default() }
