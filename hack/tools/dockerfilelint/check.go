package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerignore"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	digest "github.com/opencontainers/go-digest"
)

// WantTrivy is the Trivy version the image must build (hack/tools/trivy.sh's).
const WantTrivy = "v0.74.0"

// Check lints the Dockerfile at path (contents data) with BuildKit, then
// applies aegis's image rules; contextDir holds .dockerignore.
func Check(path string, data []byte, contextDir string) ([]string, error) {
	problems, err := Lint(path, data)
	if err != nil {
		return nil, err
	}
	rules, err := ImageRules(data, contextDir)
	if err != nil {
		return nil, err
	}
	return append(problems, rules...), nil
}

// Lint runs BuildKit's Dockerfile linter (dockerfile2llb.DockerfileLint, as
// `docker build --check` does) over every stage. Base images are not pulled:
// an offline resolver answers with an empty image config.
func Lint(path string, data []byte) ([]string, error) {
	// The source map is what the builder makes of the Dockerfile it
	// receives: a local source, marshalled into a definition.
	src := llb.Local("dockerfile")
	def, err := src.Marshal(context.Background())
	if err != nil {
		return nil, err
	}
	sm := llb.NewSourceMap(&src, path, "Dockerfile", data)
	sm.Definition = def
	opt := dockerfile2llb.ConvertOpt{SourceMap: sm, MetaResolver: offlineResolver{}}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), data, opt)
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	var problems []string
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		problems = append(problems, fmt.Sprintf("%s:%d: %s: %s (%s)", path, line, w.RuleName, w.Detail, w.URL))
	}
	if res.Error != nil {
		problems = append(problems, fmt.Sprintf("%s: BuildKit cannot build it: %s", path, res.Error.Message))
	}
	return problems, nil
}

// offlineResolver stands in for the registry: every base image resolves to
// an empty linux/amd64 config, so that the linter needs no network.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{}},
	})
	if err != nil {
		return "", "", nil, err
	}
	return ref, digest.FromBytes(cfg), cfg, nil
}

// parsed is the Dockerfile's stages with the ARG defaults.
type parsed struct {
	stages []instructions.Stage
	global map[string]string
}

func parse(data []byte) (*parsed, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, err
	}
	p := &parsed{stages: stages, global: map[string]string{}}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			p.global[kv.Key] = kv.ValueString()
		}
	}
	return p, nil
}

// env is the stage's ARG and ENV values (an ARG without a value inherits
// the global default, as in BuildKit).
func (p *parsed) env(st instructions.Stage) map[string]string {
	env := map[string]string{}
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if kv.Value != nil {
					env[kv.Key] = expand(*kv.Value, env)
				} else if v, ok := p.global[kv.Key]; ok {
					env[kv.Key] = v
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env[kv.Key] = expand(kv.Value, env)
			}
		}
	}
	return env
}

func expand(s string, env map[string]string) string {
	return os.Expand(s, func(k string) string { return env[k] })
}

func runLine(c *instructions.RunCommand) string { return strings.Join(c.CmdLine, " ") }

// ImageRules are aegis's rules for its image: several stages; a build
// stage that makes aegis with CGO_ENABLED=0; a stage FROM the official
// Trivy image at WantTrivy, pinned by a digest of the right form (no
// registry is reachable here to resolve it); a runtime stage that copies
// both, installs git and wapiti, runs as a non-root user and has an
// exec-form ENTRYPOINT; and a .dockerignore that keeps what COPY needs and
// leaves .git out.
func ImageRules(data []byte, contextDir string) ([]string, error) {
	p, err := parse(data)
	if err != nil {
		return nil, err
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(p.stages) < 3 {
		bad("want a multi-stage build (aegis, Trivy, runtime), have %d stage(s)", len(p.stages))
		return problems, nil
	}
	final := p.stages[len(p.stages)-1]
	aegisStage, trivyStage := "", ""
	for _, st := range p.stages[:len(p.stages)-1] {
		if base := expand(st.BaseName, p.global); strings.HasPrefix(base, trivyImage+":") || strings.HasPrefix(base, trivyImage+"@") {
			trivyStage = st.Name
			for _, problem := range trivyFromRules(base) {
				bad("stage %s: %s", st.Name, problem)
			}
		}
		env := p.env(st)
		for _, c := range st.Commands {
			run, ok := c.(*instructions.RunCommand)
			if !ok {
				continue
			}
			line := expand(runLine(run), env)
			switch {
			case strings.Contains(line, "go build") && strings.Contains(line, "./cmd/aegis"):
				aegisStage = st.Name
				if !strings.Contains(line, "CGO_ENABLED=0") {
					bad("stage %s: aegis must be built with CGO_ENABLED=0 (a static binary)", st.Name)
				}
			case strings.Contains(line, "github.com/aquasecurity/trivy/cmd/trivy@"):
				bad("stage %s compiles Trivy: take its binary from the official image (FROM %s:%s@sha256:...), as a job must not build it", st.Name, trivyImage, strings.TrimPrefix(WantTrivy, "v"))
			}
		}
	}
	if aegisStage == "" {
		bad("no stage builds aegis (go build ... ./cmd/aegis)")
	}
	if trivyStage == "" {
		bad("no stage is FROM the official Trivy image (%s:%s@sha256:...)", trivyImage, strings.TrimPrefix(WantTrivy, "v"))
	}
	if strings.HasPrefix(final.BaseName, "golang") {
		bad("the runtime stage %s is based on %s: use a small runtime image, not the Go toolchain", final.Name, final.BaseName)
	}
	env := p.env(final)
	var user string
	var entry *instructions.EntrypointCommand
	from := map[string]bool{}
	var installs string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand:
			installs += " " + expand(runLine(c), env)
		case *instructions.UserCommand:
			user = expand(c.User, env)
		case *instructions.EntrypointCommand:
			entry = c
		case *instructions.CopyCommand:
			from[c.From] = true
		}
	}
	for _, pkg := range runtimePackages {
		if !regexp.MustCompile(`apt-get install [^&;|]*\b` + regexp.QuoteMeta(pkg) + `\b`).MatchString(installs) {
			bad("the runtime stage %s does not apt-get install %s", final.Name, pkg)
		}
	}
	name, _, _ := strings.Cut(user, ":")
	switch name {
	case "":
		bad("the runtime stage %s has no USER: it would run as root", final.Name)
	case "root", "0":
		bad("the runtime stage %s runs as %s: use a non-root user", final.Name, user)
	}
	if entry == nil || entry.PrependShell || len(entry.CmdLine) == 0 || path.Base(entry.CmdLine[0]) != "aegis" {
		bad("the runtime stage %s needs an exec-form ENTRYPOINT running aegis (action.yml passes args: [action])", final.Name)
	}
	for _, st := range []string{aegisStage, trivyStage} {
		if st != "" && !from[st] {
			bad("the runtime stage %s does not COPY --from=%s", final.Name, st)
		}
	}
	ignore, err := dockerignoreRules(p, contextDir)
	if err != nil {
		return nil, err
	}
	return append(problems, ignore...), nil
}

// trivyImage is the official Trivy image the image's Trivy comes from.
const trivyImage = "aquasec/trivy"

// runtimePackages are the Debian packages the runtime needs: git (aegis
// reads revisions with git archive), CA certificates, Wapiti (a scanner).
var runtimePackages = []string{"ca-certificates", "git", "wapiti"}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// trivyFromRules checks the Trivy stage's base, its ARGs expanded: the
// official image at WantTrivy, by a digest of the right form.
func trivyFromRules(base string) []string {
	var problems []string
	ref, dgst, pinned := strings.Cut(base, "@")
	if want := trivyImage + ":" + strings.TrimPrefix(WantTrivy, "v"); ref != want {
		problems = append(problems, fmt.Sprintf("Trivy must come from %s (hack/tools/trivy.sh's release), not %s", want, ref))
	}
	switch {
	case !pinned:
		problems = append(problems, fmt.Sprintf("%s is not pinned by digest: a tag can be moved to another image", base))
	case !digestRE.MatchString(dgst):
		problems = append(problems, fmt.Sprintf("the digest %q is not sha256: and 64 hexadecimal digits", dgst))
	}
	return problems
}

// dockerignoreRules emulates BuildKit's CopyIgnoredFile (which needs a
// build client to see .dockerignore): no COPY from the context may name an
// excluded file. The files the build needs must be in the context, and the
// git history must not.
func dockerignoreRules(p *parsed, contextDir string) ([]string, error) {
	pm, err := readIgnore(contextDir)
	if err != nil {
		return nil, err
	}
	var problems []string
	excluded := func(f string) bool {
		if pm == nil {
			return false
		}
		ok, _ := pm.MatchesOrParentMatches(filepath.ToSlash(filepath.Clean(f)))
		return ok
	}
	for _, st := range p.stages {
		env := p.env(st)
		for _, c := range st.Commands {
			cp, ok := c.(*instructions.CopyCommand)
			if !ok || cp.From != "" {
				continue
			}
			for _, src := range cp.SourcePaths {
				src = expand(src, env)
				if src != "." && excluded(src) {
					problems = append(problems, fmt.Sprintf("stage %s: COPY %s names a file .dockerignore excludes", st.Name, src))
				}
			}
		}
	}
	for _, need := range []string{"go.mod", "go.sum", "cmd/aegis/main.go", "action/action.go", "verify/verify.go"} {
		if excluded(need) {
			problems = append(problems, fmt.Sprintf(".dockerignore excludes %s, which the build needs", need))
		}
	}
	if !excluded(".git") {
		problems = append(problems, ".dockerignore must exclude .git (the history is not part of the image)")
	}
	return problems, nil
}

func readIgnore(contextDir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := dockerignore.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return patternmatcher.New(patterns)
}

var outDir = regexp.MustCompile(`(^|[\s="'])/out\b`)

// EmitStage prints a stage's build commands as a shell script: its ARG and
// ENV values exported, each RUN as written with /out replaced by out, and
// the other instructions as comments (the script runs in a copy of the
// build context, which is what WORKDIR and COPY set up in the image).
func EmitStage(data []byte, stage, out string) (string, error) {
	p, err := parse(data)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(p.stages, func(s instructions.Stage) bool { return s.Name == stage })
	if i < 0 {
		return "", fmt.Errorf("no stage %q", stage)
	}
	st := p.stages[i]
	var b strings.Builder
	fmt.Fprintf(&b, "# stage %s of the Dockerfile (FROM %s)\nset -eu\n", st.Name, st.BaseName)
	env := map[string]string{}
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				v, ok := "", false
				if kv.Value != nil {
					v, ok = expand(*kv.Value, env), true
				} else {
					v, ok = p.global[kv.Key]
				}
				if ok {
					env[kv.Key] = v
					fmt.Fprintf(&b, "export %s=%s\n", kv.Key, shellQuote(v))
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env[kv.Key] = expand(kv.Value, env)
				fmt.Fprintf(&b, "export %s=%s\n", kv.Key, shellQuote(env[kv.Key]))
			}
		case *instructions.RunCommand:
			line := runLine(c)
			if !c.PrependShell {
				var q []string
				for _, a := range c.CmdLine {
					q = append(q, shellQuote(a))
				}
				line = strings.Join(q, " ")
			}
			if out != "" {
				line = outDir.ReplaceAllString(line, "${1}"+out)
			}
			b.WriteString(line + "\n")
		default:
			fmt.Fprintf(&b, "# %s\n", strings.ReplaceAll(fmt.Sprint(c), "\n", " "))
		}
	}
	return b.String(), nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// CopyContext copies the build context (src less what .dockerignore
// excludes) to dst, as the builder sends it, and returns how many files it
// copied.
func CopyContext(src, dst string) (int, error) {
	pm, err := readIgnore(src)
	if err != nil {
		return 0, err
	}
	absDst, _ := filepath.Abs(dst)
	n := 0
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		if abs, _ := filepath.Abs(p); abs == absDst {
			return filepath.SkipDir
		}
		if pm != nil {
			if skip, _ := pm.MatchesOrParentMatches(filepath.ToSlash(rel)); skip {
				if d.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			n++
			return copyFile(p, target)
		}
		return nil
	})
	return n, err
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
