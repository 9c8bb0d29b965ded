package sarif

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The official SARIF 2.1.0 JSON schema (OASIS, errata 01:
// https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json)
// is the one go-sarif ships: github.com/owenrumney/go-sarif/v3, a
// dependency in go.mod, embeds it as the unexported constant `schema` of
// pkg/report/v210/sarif (schema.go), which its Report.Validate uses with
// gojsonschema. As the constant is not exported, the tests read it from the
// source of the go-sarif version go.mod selects (the module cache, which
// any build of this package already needs), so that no file beside the
// clone is needed and the schema follows the dependency.
const (
	goSarifModule     = "github.com/owenrumney/go-sarif/v3"
	goSarifSchemaFile = "pkg/report/v210/sarif/schema.go"
	sarifSchemaID     = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

var sarifSchema struct {
	once sync.Once
	data []byte
	err  string
}

// officialSchema returns the SARIF 2.1.0 schema go-sarif ships.
func officialSchema(t testing.TB) []byte {
	t.Helper()
	sarifSchema.once.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", goSarifModule).Output()
		if err != nil {
			sarifSchema.err = "go list -m " + goSarifModule + ": " + err.Error()
			return
		}
		path := filepath.Join(strings.TrimSpace(string(out)), filepath.FromSlash(goSarifSchemaFile))
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			sarifSchema.err = err.Error()
			return
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if name.Name != "schema" || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						sarifSchema.err = err.Error()
						return
					}
					sarifSchema.data = []byte(s)
					return
				}
			}
		}
		sarifSchema.err = "no string constant schema in " + path
	})
	require.Empty(t, sarifSchema.err, "the SARIF schema go-sarif ships")
	return sarifSchema.data
}

// schemaFile writes the official schema into a temporary directory, for
// Validate, which takes a path.
func schemaFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sarif-schema-2.1.0.json")
	require.NoError(t, os.WriteFile(path, officialSchema(t), 0o600))
	return path
}

// compileSchema compiles the official schema as Validate does: draft-04,
// with format assertions.
func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(officialSchema(t)))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	require.NoError(t, c.AddResource(sarifSchemaID, doc))
	sch, err := c.Compile(sarifSchemaID)
	require.NoError(t, err)
	return sch
}

// The schema read from go-sarif is the OASIS one, not an empty or
// permissive stand-in: its id, its required properties and the
// baselineState values of SARIF 2.1.0 §3.27.24 (with no "existing").
func TestOfficialSchemaIsSARIF210(t *testing.T) {
	var s struct {
		Schema      string   `json:"$schema"`
		ID          string   `json:"id"`
		Required    []string `json:"required"`
		Definitions map[string]struct {
			Required   []string `json:"required"`
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	require.NoError(t, json.Unmarshal(officialSchema(t), &s))
	assert.Equal(t, "http://json-schema.org/draft-04/schema#", s.Schema)
	assert.Equal(t, sarifSchemaID, s.ID)
	assert.Equal(t, []string{"version", "runs"}, s.Required)
	assert.Equal(t, []string{"new", "unchanged", "updated", "absent"}, s.Definitions["result"].Properties["baselineState"].Enum)
	assert.Equal(t, []string{"none", "note", "warning", "error"}, s.Definitions["result"].Properties["level"].Enum)
	assert.Equal(t, []string{"message"}, s.Definitions["result"].Required)
	assert.Equal(t, []string{"name"}, s.Definitions["toolComponent"].Required)
	assert.Equal(t, []string{"id"}, s.Definitions["reportingDescriptor"].Required)

	// And it is live: it refuses a log without runs, or with a version
	// other than 2.1.0.
	sch := compileSchema(t)
	for _, bad := range []string{`{"version":"2.1.0"}`, `{"version":"2.0.0","runs":[]}`} {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		require.NoError(t, err)
		assert.Error(t, sch.Validate(doc), bad)
	}
}
