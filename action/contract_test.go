package action

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/sethvargo/go-githubactions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// contractsDir is ../shared/contracts beside the clone, or
// $AEGIS_CONTRACTS_DIR (which .ci/run sets), as the sarif tests find it.
func contractsDir() string {
	if d := os.Getenv("AEGIS_CONTRACTS_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "contracts")
}

// yamlToJSON turns a YAML document into the JSON value a schema validates.
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal(data, &v))
	j, err := json.Marshal(v)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	require.NoError(t, err)
	return doc
}

func compileActionSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join(contractsDir(), "github-action.schema.json")
	_, err := os.Stat(path)
	require.NoError(t, err, "the contract tests need shared/contracts beside the clone, or AEGIS_CONTRACTS_DIR")
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	sch, err := c.Compile(path)
	require.NoError(t, err)
	return sch
}

// action.yml is valid action metadata: SchemaStore's github-action schema
// (draft-07) accepts it, and it is a Docker action built from the
// repository's Dockerfile that runs `aegis action`.
func TestActionYMLValidatesAgainstSchema(t *testing.T) {
	sch := compileActionSchema(t)
	data, err := os.ReadFile(filepath.Join("..", "action.yml"))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(yamlToJSON(t, data)))

	a := loadActionYML(t)
	assert.Equal(t, "docker", a.Runs.Using)
	assert.Equal(t, "Dockerfile", a.Runs.Image)
	assert.Equal(t, []string{"action"}, a.Runs.Args)
	_, err = os.Stat(filepath.Join("..", a.Runs.Image))
	assert.NoError(t, err, "runs.image names the root Dockerfile")

	// The schema is live: it refuses what GitHub refuses.
	for name, bad := range map[string]string{
		"boolean default":     strings.Replace(string(data), `default: "true"`, `default: true`, 1),
		"input id with a dot": strings.Replace(string(data), "  fail-on:", "  fail.on:", 1),
		"no runs.image":       strings.Replace(string(data), "  image: Dockerfile\n", "", 1),
		"unknown key":         string(data) + "\nsecrets: {}\n",
	} {
		assert.Error(t, sch.Validate(yamlToJSON(t, []byte(bad))), name)
	}
}

// Every input action.yml declares is read by the code, and the code reads
// no input action.yml does not declare: readInputs is run against an
// environment that records the variables asked for. Hyphens are kept in
// the variable names (INPUT_FAIL-ON), as the runner sets them. Every
// default parses, and the outputs the code writes are the ones declared.
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
		"upload-sarif": {InputUploadSarif, "yes", "input upload-sarif: \"yes\" is not a boolean"},
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
