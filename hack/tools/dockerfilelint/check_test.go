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
		"CGO_ENABLED=0 (a static binary)", "stage trivy compiles Trivy: take its binary from the official image",
		"no stage is FROM the official Trivy image", "does not apt-get install wapiti",
		"use a small runtime image", "runs as root", "exec-form ENTRYPOINT",
		"COPY go.sum names a file .dockerignore excludes", ".dockerignore excludes go.sum", "must exclude .git",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("want %q in:\n%s", want, all)
		}
	}
}

// The Trivy stage must be the official image at the right release, pinned
// by a digest of the right form (the digest cannot be resolved here, so
// its form is what is checked).
func TestTrivyFromRules(t *testing.T) {
	good := "sha256:" + strings.Repeat("0", 64)
	for _, tc := range []struct{ base, want string }{
		{"aquasec/trivy:0.74.0@" + good, ""},
		{"aquasec/trivy:0.74.0", "not pinned by digest"},
		{"aquasec/trivy:0.74.0@sha256:abc", "not sha256: and 64 hexadecimal digits"},
		{"aquasec/trivy:0.74.0@sha512:" + strings.Repeat("0", 64), "not sha256: and 64"},
		{"aquasec/trivy:0.73.0@" + good, "must come from aquasec/trivy:0.74.0"},
		{"aquasec/trivy:latest@" + good, "must come from aquasec/trivy:0.74.0"},
	} {
		got := strings.Join(trivyFromRules(tc.base), "\n")
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: want %q, got %q", tc.base, tc.want, got)
		}
	}
	// Through the Dockerfile's ARGs, expanded as BuildKit would.
	df := "ARG V=0.74.0\nARG D=sha256:bad\nFROM aquasec/trivy:${V}@${D} AS trivy\nFROM debian:12-slim AS x\nRUN true\nFROM debian:12-slim AS runtime\nRUN true\n"
	problems, err := ImageRules([]byte(df), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(problems, "\n"); !strings.Contains(all, `stage trivy: the digest "sha256:bad" is not sha256: and 64 hexadecimal digits`) {
		t.Errorf("want the digest's form checked through the ARGs, got:\n%s", all)
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
