package output

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/kube-sentient/aegis/report"
)

// GitLab returns the writer of the GitLab Code Quality report
// (docs.gitlab.com, "Code Quality report format"; docs/outputs.md): a JSON
// array with one issue per open problem of the head (state new, updated or
// unchanged, waived or not; fixed problems are left out), sorted by path,
// line and fingerprint. An empty report is `[]`.
//
// Severities map info→info, low→minor, medium→major, high→critical,
// critical→blocker; an unknown severity is critical, as the gate blocks on
// it. The fingerprint is derived from the problem's key, so GitLab matches
// an issue across pipelines while its line moves.
func GitLab() Writer { return WriterFunc(writeGitLab) }

type gitlabIssue struct {
	Description string         `json:"description"`
	CheckName   string         `json:"check_name"`
	Fingerprint string         `json:"fingerprint"`
	Severity    string         `json:"severity"`
	Location    gitlabLocation `json:"location"`
}

type gitlabLocation struct {
	Path  string      `json:"path"`
	Lines gitlabLines `json:"lines"`
}

type gitlabLines struct {
	Begin int `json:"begin"`
}

// gitlabSeverity maps an aegis severity to GitLab's scale.
func gitlabSeverity(s report.Severity) string {
	switch s {
	case report.Info:
		return "info"
	case report.Low:
		return "minor"
	case report.Medium:
		return "major"
	case report.High:
		return "critical"
	case report.Critical:
		return "blocker"
	}
	return "critical"
}

func writeGitLab(w io.Writer, r *report.Report) error {
	if r == nil {
		return errors.New("gitlab: no report")
	}
	issues := []gitlabIssue{}
	var keys []string
	for _, p := range ciProblems(r) {
		if p.State == report.Absent {
			continue
		}
		loc := gitlabLocationOf(p)
		issues = append(issues, gitlabIssue{
			Description: gitlabDescription(p),
			CheckName:   gitlabCheckName(p),
			Severity:    gitlabSeverity(p.Severity),
			Location:    gitlabLocation{Path: loc.Path, Lines: gitlabLines{Begin: max(loc.Line, 1)}},
		})
		keys = append(keys, gitlabProblemKey(p))
	}
	gitlabFingerprints(issues, keys)
	slices.SortFunc(issues, func(a, b gitlabIssue) int {
		return cmp.Or(cmp.Compare(a.Location.Path, b.Location.Path), cmp.Compare(a.Location.Lines.Begin, b.Location.Lines.Begin),
			cmp.Compare(a.Fingerprint, b.Fingerprint))
	})

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(issues); err != nil {
		return fmt.Errorf("gitlab: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// gitlabProblemKey is the problem's key, or, for a problem without one, its
// findings' fingerprints (computed when missing).
func gitlabProblemKey(p report.Problem) string {
	if p.Key != "" {
		return p.Key
	}
	fps := make([]string, 0, len(p.Findings))
	for _, f := range p.Findings {
		fps = append(fps, cmp.Or(f.Fingerprint, report.ComputeFingerprint(f)))
	}
	slices.Sort(fps)
	return strings.Join(fps, ",")
}

// gitlabFingerprints sets each issue's fingerprint from its key: the first
// 32 hex digits of sha256("aegis", key). Issues that share a key (GitLab
// shows only the first issue of a fingerprint) are told apart by their
// occurrence, counted in path, line and description order.
func gitlabFingerprints(issues []gitlabIssue, keys []string) {
	order := make([]int, len(issues))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := issues[i], issues[j]
		return cmp.Or(cmp.Compare(keys[i], keys[j]), cmp.Compare(a.Location.Path, b.Location.Path),
			cmp.Compare(a.Location.Lines.Begin, b.Location.Lines.Begin), cmp.Compare(a.Description, b.Description),
			cmp.Compare(a.CheckName, b.CheckName))
	})
	used := map[string]bool{}
	occurrence := map[string]int{}
	for _, i := range order {
		for {
			seed := "aegis\x00" + keys[i]
			if n := occurrence[keys[i]]; n > 0 {
				seed += "\x00" + strconv.Itoa(n)
			}
			occurrence[keys[i]]++
			sum := sha256.Sum256([]byte(seed))
			fp := hex.EncodeToString(sum[:16])
			if !used[fp] {
				used[fp] = true
				issues[i].Fingerprint = fp
				break
			}
		}
	}
}

// gitlabCheckName is "aegis/<scanner>/<rule>" of the problem's first finding.
func gitlabCheckName(p report.Problem) string {
	if len(p.Findings) == 0 {
		return "aegis"
	}
	f := p.Findings[0]
	return ciOneLine("aegis/"+cmp.Or(f.Scanner, "unknown")+"/"+cmp.Or(f.RuleID, "unknown-rule"), ciMessageLen)
}

// gitlabDescription is one line: the title, the resource (and how many
// other objects the problem covers), the first finding's message, how many
// other findings the problem groups on its object and, for a waived
// problem, the waiver.
func gitlabDescription(p report.Problem) string {
	d := ciProblemTitle(p)
	if res := ciResourceLabel(p.Resource); res != "" {
		d += " on " + res
		if n := ciOtherObjects(p); n > 0 {
			d += fmt.Sprintf(" and %d more %s", n, map[bool]string{true: "object", false: "objects"}[n == 1])
		}
	}
	for _, f := range p.Findings {
		if m := ciOneLine(f.Message, 0); m != "" {
			d += ": " + m
			break
		}
	}
	if n := len(p.Findings) - 1; n > 0 && ciOtherObjects(p) == 0 {
		d += fmt.Sprintf(" (+%d more %s)", n, map[bool]string{true: "finding", false: "findings"}[n == 1])
	}
	if p.Waived() {
		d += " (waived: " + ciWaiverReasons(p) + ")"
	}
	return ciOneLine(d, ciMessageLen)
}

// ciOtherObjects counts the objects (kind and name) p's findings name
// besides p's resource: a CVE problem covers every object that runs the
// image.
func ciOtherObjects(p report.Problem) int {
	seen := map[[2]string]bool{{p.Resource.Kind, p.Resource.Name}: true}
	for _, f := range p.Findings {
		seen[[2]string{f.Resource.Kind, f.Resource.Name}] = true
	}
	return len(seen) - 1
}

// ciResourceLabel is Kind/namespace/name, plus the container.
func ciResourceLabel(r report.Resource) string {
	if r.Kind == "" && r.Name == "" {
		return ""
	}
	return r.String()
}

// gitlabLocationOf is the problem's file and line, or its first finding's
// that has a file; a problem without any file gets a made-up path naming
// its resource, as in SARIF ("kubernetes/Deployment/shop/web/app").
func gitlabLocationOf(p report.Problem) report.Location {
	loc := p.Location
	if strings.TrimSpace(loc.Path) == "" {
		for _, f := range p.Findings {
			if strings.TrimSpace(f.Location.Path) != "" {
				loc = f.Location
				break
			}
		}
	}
	loc.Path = ciRelPath(loc.Path)
	if loc.Path == "" {
		parts := []string{"kubernetes", cmp.Or(p.Resource.Kind, "Object")}
		if p.Resource.Namespace != "" {
			parts = append(parts, p.Resource.Namespace)
		}
		parts = append(parts, cmp.Or(p.Resource.Name, "unnamed"))
		if p.Resource.Container != "" {
			parts = append(parts, p.Resource.Container)
		}
		loc.Path = ciRelPath(strings.Join(parts, "/"))
	}
	return loc
}

// ciRelPath is p relative to the repository with forward slashes: control
// characters dropped, backslashes turned into slashes, a drive letter, a
// leading slash and ".." above the root removed, "." segments cleaned. It
// is "" for an empty path.
func ciRelPath(p string) string {
	p = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, ciClean(p))
	p = strings.ReplaceAll(strings.TrimSpace(p), `\`, "/")
	if len(p) >= 2 && p[1] == ':' && ('a' <= p[0] && p[0] <= 'z' || 'A' <= p[0] && p[0] <= 'Z') {
		p = p[2:]
	}
	if p == "" {
		return ""
	}
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	return p
}
