package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The project's Dockerfile passes BuildKit's linter and the image rules.
func TestAegisDockerfile(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	problems, err := Check("Dockerfile", data, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The linter is BuildKit's and it is live: each broken file is reported
// under the rule BuildKit names.
func TestLintFindsBuildKitRules(t *testing.T) {
	for _, tc := range []struct {
		rule       string
		dockerfile string
	}{
		{"FromAsCasing", "FROM golang:1.26 as build\nRUN true\n"},
		{"StageNameCasing", "FROM golang:1.26 AS Build\nRUN true\n"},
		{"JSONArgsRecommended", "FROM debian:12-slim\nENTRYPOINT /usr/local/bin/aegis\n"},
		{"LegacyKeyValueFormat", "FROM debian:12-slim\nENV MODE prod\n"},
		{"SecretsUsedInArgOrEnv", "FROM debian:12-slim\nARG GITHUB_TOKEN=x\n"},
		{"UndefinedVar", "FROM debian:12-slim\nCOPY $NOPE /x\n"},
		{"MaintainerDeprecated", "FROM debian:12-slim\nMAINTAINER someone\n"},
		{"InvalidDefinitionDescription", "# check=experimental=all\nFROM debian:12-slim AS one\n# a stage without its name first\nFROM debian:12-slim AS two\n"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			problems, err := Lint("Dockerfile", []byte(tc.dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(problems, "\n"), ": "+tc.rule+": ") {
				t.Errorf("want %s, got %q", tc.rule, problems)
			}
		})
	}
}

// The image rules catch a single-stage, dynamic, root image.
func TestImageRules(t *testing.T) {
	bad := `FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY . .
RUN go build -o /out/aegis ./cmd/aegis
ENTRYPOINT /out/aegis
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("go.sum\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	problems, err := ImageRules([]byte(bad), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 || !strings.Contains(problems[0], "multi-stage") {
		t.Errorf("want the multi-stage problem, got %q", problems)
	}

	worse := `FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.sum ./
RUN go build -o /out/aegis ./cmd/aegis
FROM golang:1.26.8-bookworm AS trivy
RUN go install github.com/aquasecurity/trivy/cmd/trivy@v0.73.0
FROM golang:1.26.8-bookworm AS runtime
COPY --from=build /out/aegis /aegis
USER root
ENTRYPOINT /aegis
`
	problems, err = ImageRules([]byte(worse), dir)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		"CGO_ENABLED=0 (a static binary)", "Trivy must be installed at v0.74.0", "GOEXPERIMENT=jsonv2",
		"use a small runtime image", "runs as root", "exec-form ENTRYPOINT", "does not COPY --from=trivy",
		"COPY go.sum names a file .dockerignore excludes", ".dockerignore excludes go.sum", "must exclude .git",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("want %q in:\n%s", want, all)
		}
	}
}

// EmitStage prints the stage's RUN commands with /out moved and the ARG
// defaults exported.
func TestEmitStage(t *testing.T) {
	df := "ARG V=v1\nFROM golang:1.26 AS b\nARG V\nARG W=x-${V}\nWORKDIR /src\nRUN go build -o /out/aegis ./cmd/aegis\nRUN [\"echo\", \"it's\"]\n"
	got, err := EmitStage([]byte(df), "b", "/tmp/o")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export V='v1'", "export W='x-v1'", "go build -o /tmp/o/aegis ./cmd/aegis", `'echo' 'it'\''s'`, "# WORKDIR /src"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
}
