package action

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// GitHub's action metadata syntax ("Metadata syntax for GitHub Actions",
// https://docs.github.com/en/actions/reference/workflows-and-actions/metadata-syntax),
// the part a Docker container action uses, stated as checks.
var (
	// name, description and runs are required; author and branding are
	// optional; nothing else is a key of action.yml.
	actionKeys         = []string{"name", "author", "description", "inputs", "outputs", "runs", "branding"}
	actionRequiredKeys = []string{"name", "description", "runs"}
	// An input or output id starts with a letter or _ and holds only
	// alphanumerics, - and _.
	actionIDPattern = regexp.MustCompile(`^[_a-zA-Z][a-zA-Z0-9_-]*$`)
	// inputs.<id>: description (required, a string), required (a boolean),
	// default (a string), deprecationMessage (a string).
	actionInputKeys = []string{"description", "required", "default", "deprecationMessage"}
	// outputs.<id> of a Docker or JavaScript action: description only
	// (required); value belongs to composite actions.
	actionOutputKeys = []string{"description"}
	// runs of a Docker action: using: docker and image are required; args
	// is a list of strings, env a map.
	actionDockerRunsKeys = []string{"using", "image", "env", "entrypoint", "pre-entrypoint", "pre-if", "post-entrypoint", "post-if", "args"}
	// branding.color is one of these; branding.icon names a Feather icon
	// of GitHub's list (only the one action.yml uses is listed here).
	actionBrandingColors = []string{"white", "black", "yellow", "blue", "green", "orange", "red", "purple", "gray-dark"}
	actionBrandingIcons  = []string{"shield"}
)

// checkActionMetadata returns what in an action.yml, decoded from YAML,
// breaks GitHub's metadata syntax for a Docker container action.
func checkActionMetadata(doc map[string]any) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	isString := func(v any) bool { _, ok := v.(string); return ok }
	onlyKeys := func(where string, m map[string]any, keys []string) {
		for k := range m {
			if !slices.Contains(keys, k) {
				bad("%s: unknown key %q", where, k)
			}
		}
	}
	onlyKeys("action.yml", doc, actionKeys)
	for _, k := range actionRequiredKeys {
		if _, ok := doc[k]; !ok {
			bad("action.yml: %s is required", k)
		}
	}
	for _, k := range []string{"name", "author", "description"} {
		if v, ok := doc[k]; ok && (!isString(v) || v == "") {
			bad("%s: not a non-empty string", k)
		}
	}
	section := func(key string, keys []string, check func(id string, m map[string]any)) {
		v, ok := doc[key]
		if !ok {
			return
		}
		items, ok := v.(map[string]any)
		if !ok {
			bad("%s: not a mapping", key)
			return
		}
		for id, item := range items {
			if !actionIDPattern.MatchString(id) {
				bad("%s: id %q does not match %s", key, id, actionIDPattern)
			}
			m, ok := item.(map[string]any)
			if !ok {
				bad("%s.%s: not a mapping", key, id)
				continue
			}
			onlyKeys(key+"."+id, m, keys)
			if d, ok := m["description"]; !ok || !isString(d) {
				bad("%s.%s.description: a string is required", key, id)
			}
			check(id, m)
		}
	}
	section("inputs", actionInputKeys, func(id string, m map[string]any) {
		if v, ok := m["required"]; ok {
			if _, ok := v.(bool); !ok {
				bad("inputs.%s.required: not a boolean", id)
			}
		}
		for _, k := range []string{"default", "deprecationMessage"} {
			if v, ok := m[k]; ok && !isString(v) {
				bad("inputs.%s.%s: not a string", id, k)
			}
		}
	})
	section("outputs", actionOutputKeys, func(string, map[string]any) {})
	runs, ok := doc["runs"].(map[string]any)
	switch {
	case !ok:
		bad("runs: not a mapping")
	case runs["using"] != "docker":
		bad("runs.using: %v, not docker", runs["using"])
	default:
		onlyKeys("runs", runs, actionDockerRunsKeys)
		if img, ok := runs["image"].(string); !ok || img == "" {
			bad("runs.image: required for a Docker action")
		}
		if args, ok := runs["args"]; ok {
			list, ok := args.([]any)
			if !ok {
				bad("runs.args: not a list")
			}
			for i, a := range list {
				if !isString(a) {
					bad("runs.args[%d]: not a string", i)
				}
			}
		}
		if env, ok := runs["env"]; ok {
			if _, ok := env.(map[string]any); !ok {
				bad("runs.env: not a mapping")
			}
		}
	}
	if v, ok := doc["branding"]; ok {
		b, ok := v.(map[string]any)
		if !ok {
			bad("branding: not a mapping")
		}
		onlyKeys("branding", b, []string{"color", "icon"})
		if c, ok := b["color"]; ok && !slices.Contains(actionBrandingColors, fmt.Sprint(c)) {
			bad("branding.color: %v is not one of %v", c, actionBrandingColors)
		}
		if i, ok := b["icon"]; ok && !slices.Contains(actionBrandingIcons, fmt.Sprint(i)) {
			bad("branding.icon: %v is not a Feather icon GitHub lists", i)
		}
	}
	sort.Strings(errs)
	return errs
}

func decodeActionYML(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(data, &doc))
	return doc
}

// action.yml is valid action metadata for a Docker action built from the
// repository's Dockerfile that runs `aegis action`.
func TestActionYMLValidatesAgainstSchema(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "action.yml"))
	require.NoError(t, err)
	assert.Empty(t, checkActionMetadata(decodeActionYML(t, data)))

	a := loadActionYML(t)
	assert.Equal(t, "docker", a.Runs.Using)
	assert.Equal(t, "Dockerfile", a.Runs.Image)
	assert.Equal(t, []string{"action"}, a.Runs.Args)
	_, err = os.Stat(filepath.Join("..", a.Runs.Image))
	assert.NoError(t, err, "runs.image names the root Dockerfile")

	// The checks are live: they refuse what GitHub refuses.
	for name, tc := range map[string]struct{ bad, want string }{
		"boolean default":     {strings.Replace(string(data), `default: "true"`, `default: true`, 1), "inputs.comment.default: not a string"},
		"string required":     {strings.Replace(string(data), `required: false`, `required: "no"`, 1), ".required: not a boolean"},
		"input id with a dot": {strings.Replace(string(data), "  fail-on:", "  fail.on:", 1), `inputs: id "fail.on"`},
		"input key":           {strings.Replace(string(data), "  fail-on:\n", "  fail-on:\n    type: string\n", 1), `inputs.fail-on: unknown key "type"`},
		"input description":   {strings.Replace(string(data), "  path:\n    description:", "  path:\n    deprecationMessage:", 1), "inputs.path.description: a string is required"},
		"output value":        {strings.Replace(string(data), "  verdict:\n", "  verdict:\n    value: x\n", 1), `outputs.verdict: unknown key "value"`},
		"no runs.image":       {strings.Replace(string(data), "  image: Dockerfile\n", "", 1), "runs.image: required"},
		"composite":           {strings.Replace(string(data), "  using: docker", "  using: composite", 1), "runs.using: composite"},
		"unknown key":         {string(data) + "\nsecrets: {}\n", `unknown key "secrets"`},
		"no description":      {strings.Replace(string(data), "description: >-\n  Verify", "summary: >-\n  Verify", 1), "description is required"},
		"branding color":      {strings.Replace(string(data), "  color: green", "  color: teal", 1), "branding.color: teal"},
		"branding icon":       {strings.Replace(string(data), "  icon: shield", "  icon: castle", 1), "branding.icon: castle"},
	} {
		require.NotEqual(t, string(data), tc.bad, "%s: the mutation applies", name)
		errs := checkActionMetadata(decodeActionYML(t, []byte(tc.bad)))
		assert.Contains(t, strings.Join(errs, "\n"), tc.want, name)
	}
}

// Every input action.yml declares is read by the code, and the code reads
// no input action.yml does not declare: readInputs is run against an
// environment that records the variables asked for. Hyphens are kept in
// the variable names (INPUT_FAIL-ON), as the runner sets them. Every
// default parses, and the outputs the code writes are the ones declared.
// A release's action.yml (hack/pin-action.sh, run by release.yml) runs the
// pushed image, "docker://ghcr.io/kube-sentient/aegis:VERSION", as GitHub
// documents for a Docker action's runs.image, and is otherwise the same;
// main's runs the Dockerfile.
func TestActionYMLPinnedForARelease(t *testing.T) {
	data, err := os.ReadFile("../action.yml")
	require.NoError(t, err)
	require.Equal(t, "Dockerfile", decodeActionYML(t, data)["runs"].(map[string]any)["image"], "main builds the image from the Dockerfile")
	dir := t.TempDir()
	file := filepath.Join(dir, "action.yml")
	require.NoError(t, os.WriteFile(file, data, 0o644))
	out, err := exec.Command("bash", "../hack/pin-action.sh", "v1.2.3", file).CombinedOutput()
	require.NoError(t, err, string(out))
	pinned, err := os.ReadFile(file)
	require.NoError(t, err)
	doc := decodeActionYML(t, pinned)
	assert.Empty(t, checkActionMetadata(doc))
	assert.Equal(t, "docker://ghcr.io/kube-sentient/aegis:v1.2.3", doc["runs"].(map[string]any)["image"])
	assert.Equal(t, strings.Replace(string(data), "  image: Dockerfile\n", "  image: docker://ghcr.io/kube-sentient/aegis:v1.2.3\n", 1), string(pinned), "one line changes")

	for _, bad := range []string{"1.2.3", "v1.2", "latest", "v1.2.3;rm -rf /"} {
		cmd := exec.Command("bash", "../hack/pin-action.sh", bad, file)
		out, err := cmd.CombinedOutput()
		assert.Error(t, err, bad)
		assert.Contains(t, string(out), "want a release version", bad)
	}
	out, err = exec.Command("bash", "../hack/pin-action.sh", "v1.2.4", file).CombinedOutput()
	assert.Error(t, err, "pinning twice finds no Dockerfile line")
	assert.Contains(t, string(out), "want exactly 1")
}

func TestActionInputsMatchActionYML(t *testing.T) {
	a := loadActionYML(t)
	e := env{}
	var declared []string
	for name, in := range a.Inputs {
		declared = append(declared, inputEnv(name))
		if in.Default != nil {
			e[inputEnv(name)] = *in.Default
		}
		assert.NotEmpty(t, in.Description, name)
	}
	assert.Contains(t, declared, "INPUT_FAIL-ON")
	var read []string
	gha := githubactions.New(githubactions.WithGetenv(func(k string) string {
		if strings.HasPrefix(k, "INPUT_") && !slices.Contains(read, k) {
			read = append(read, k)
		}
		return e[k]
	}))
	in, err := readInputs(gha)
	require.NoError(t, err, "every action.yml default is a valid value")
	slices.Sort(declared)
	slices.Sort(read)
	assert.Equal(t, declared, read, "inputs declared in action.yml vs read by the code")

	// The defaults mean what action.yml says.
	assert.True(t, in.UploadSarif)
	assert.True(t, in.Comment)
	assert.Equal(t, CommentUpdate, in.CommentMode)
	assert.Equal(t, "off", in.Shadow)
	assert.False(t, in.AllowUntrustedHead)
	assert.Equal(t, "${{ github.token }}", *a.Inputs[InputToken].Default)

	var outputs []string
	for name, o := range a.Outputs {
		outputs = append(outputs, name)
		assert.NotEmpty(t, o.Description, name)
	}
	slices.Sort(outputs)
	written := []string{OutputVerdict, OutputSarifFile, OutputReportJSON, OutputNewFindings, OutputFixedFindings, OutputCommentURL}
	slices.Sort(written)
	assert.Equal(t, written, outputs)
}

// Inputs are validated with messages that name them.
func TestActionInputErrors(t *testing.T) {
	for name, tc := range map[string]struct{ input, value, want string }{
		"shadow":       {InputShadow, "always", "input shadow: \"always\" is not one of off, head, both"},
		"comment-mode": {InputCommentMode, "sticky", "input comment-mode"},
		"fail-on":      {InputFailOn, "severe", "input fail-on"},
		"upload-sarif": {InputUploadSarif, "yes", "input upload-sarif: \"yes\" is not auto, true or false"},
		"report-only":  {InputReportOnly, "sometimes", "input report-only: \"sometimes\" is not a boolean"},
		"upload-wait":  {InputUploadWait, "two minutes", "input upload-wait"},
		"category":     {InputCategory, "a b -->", "input category"},
		"sarif-file":   {InputSarifFile, "a\nb", "input sarif-file"},
	} {
		t.Run(name, func(t *testing.T) {
			e := env{inputEnv(tc.input): tc.value}
			_, err := readInputs(githubactions.New(githubactions.WithGetenv(e.get)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The example workflow is complete: the permissions the action needs, a
// checkout with history, and only inputs action.yml declares.
func TestActionExampleWorkflow(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "workflows", "aegis.yml"))
	require.NoError(t, err)
	var wf struct {
		On          map[string]any `yaml:"on"`
		Permissions map[string]string
		Jobs        map[string]struct {
			Permissions map[string]string
			Steps       []struct {
				Uses string
				With map[string]any
			}
		}
	}
	require.NoError(t, yaml.Unmarshal(data, &wf))
	assert.Contains(t, wf.On, "pull_request")
	if pr, ok := wf.On["pull_request"].(map[string]any); ok {
		assert.NotContains(t, pr, "paths", "a required check must always report: no paths filter")
		assert.NotContains(t, pr, "paths-ignore", "a required check must always report: no paths filter")
	}
	perms := map[string]string{}
	for k, v := range wf.Permissions {
		perms[k] = v
	}
	a := loadActionYML(t)
	usesAegis := 0
	for name, job := range wf.Jobs {
		for k, v := range job.Permissions {
			perms[k] = v
		}
		for _, s := range job.Steps {
			// Third-party actions by commit SHA (a tag can be moved to
			// other code); aegis's own reference is the user's to pin.
			if s.Uses != "" && !strings.HasPrefix(s.Uses, "kube-sentient/aegis@") && !strings.HasPrefix(s.Uses, "./") {
				assert.Regexp(t, `^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$`, s.Uses, "job %s: pin third-party actions by commit SHA", name)
			}
			if strings.HasPrefix(s.Uses, "actions/checkout@") {
				assert.EqualValues(t, 0, s.With["fetch-depth"], "job %s: base and head are revisions: the checkout needs the history", name)
			}
			if s.Uses != "kube-sentient/aegis@v1" && s.Uses != "./" {
				continue
			}
			usesAegis++
			for k := range s.With {
				_, ok := a.Inputs[k]
				assert.True(t, ok, "job %s passes input %s, which action.yml does not declare", name, k)
			}
		}
	}
	assert.Positive(t, usesAegis)
	assert.Equal(t, "read", perms["contents"])
	assert.Equal(t, "write", perms["pull-requests"])
	assert.Equal(t, "write", perms["security-events"])
}

// The fork-PR recipe's publishing workflow: triggered by the completion of
// aegis.yml's workflow, it checks out nothing (the pull request's code never
// runs with the write token), downloads the artifact aegis.yml saves from
// the run that completed, and passes it to the publish input.
func TestActionExamplePublishWorkflow(t *testing.T) {
	read := func(name string) map[string]any {
		data, err := os.ReadFile(filepath.Join("..", "examples", "workflows", name))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, yaml.Unmarshal(data, &m))
		return m
	}
	verifyWF, publishWF := read("aegis.yml"), read("aegis-publish.yml")

	on := publishWF["on"].(map[string]any)
	require.Contains(t, on, "workflow_run")
	require.Len(t, on, 1, "publish runs only on workflow_run")
	wr := on["workflow_run"].(map[string]any)
	assert.Equal(t, []any{verifyWF["name"]}, wr["workflows"], "it follows aegis.yml's workflow by name")
	assert.Equal(t, []any{"completed"}, wr["types"])
	assert.Equal(t, map[string]any{}, publishWF["permissions"], "no workflow-wide permissions")

	// The artifact aegis.yml saves, by name, with the report in it.
	saved := ""
	for _, job := range verifyWF["jobs"].(map[string]any) {
		for _, s := range job.(map[string]any)["steps"].([]any) {
			step := s.(map[string]any)
			if u, _ := step["uses"].(string); strings.HasPrefix(u, "actions/upload-artifact@") {
				with := step["with"].(map[string]any)
				saved = with["name"].(string)
				assert.Contains(t, with["path"], "steps.aegis.outputs.report-json")
			}
		}
	}
	require.NotEmpty(t, saved, "aegis.yml saves the report as an artifact")

	a := loadActionYML(t)
	jobs := publishWF["jobs"].(map[string]any)
	require.Len(t, jobs, 1)
	for name, j := range jobs {
		job := j.(map[string]any)
		cond, _ := job["if"].(string)
		assert.Contains(t, cond, "github.event.workflow_run.event == 'pull_request'", "job %s", name)
		assert.Equal(t, map[string]any{"actions": "read", "pull-requests": "write", "security-events": "write"}, job["permissions"])
		download, publish := "", ""
		for _, s := range job["steps"].([]any) {
			step := s.(map[string]any)
			u, _ := step["uses"].(string)
			assert.NotContains(t, u, "actions/checkout", "job %s must not check out the pull request", name)
			assert.NotContains(t, step, "run", "job %s runs no script", name)
			with, _ := step["with"].(map[string]any)
			switch {
			case strings.HasPrefix(u, "actions/download-artifact@"):
				assert.Regexp(t, `@[0-9a-f]{40}$`, u)
				assert.Equal(t, saved, with["name"])
				assert.Equal(t, "${{ github.event.workflow_run.id }}", with["run-id"], "the artifact of the run that completed")
				download = with["path"].(string)
			case u == "kube-sentient/aegis@v1":
				for k := range with {
					assert.Contains(t, a.Inputs, k, "job %s passes input %s, which action.yml does not declare", name, k)
				}
				publish, _ = with["publish"].(string)
			}
		}
		require.NotEmpty(t, download)
		assert.Equal(t, download+"/aegis-report.json", publish, "publish reads the report from the downloaded artifact (report-json's default name)")
		assert.Equal(t, "aegis-report.json", *a.Inputs["report-json"].Default)
	}
}
