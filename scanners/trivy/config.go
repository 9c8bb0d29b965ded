package trivy

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

// Scan writes the side's rendered objects into a temporary directory, runs
// `trivy config` on it and returns one finding per failed check, sorted by
// location, rule and resource.
func (s *Scanner) Scan(ctx context.Context, t scanners.Target) ([]report.Finding, error) {
	if t.Set == nil {
		return nil, errors.New("trivy: no manifest set to scan")
	}
	bin, err := s.binary()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "aegis-trivy-")
	if err != nil {
		return nil, fmt.Errorf("trivy: %w", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "manifests")
	in, err := writeInput(dir, t.Set)
	if err != nil {
		return nil, fmt.Errorf("trivy: %w", err)
	}
	if len(in.files) == 0 {
		return nil, nil // nothing Trivy could check; not a reason to run it
	}
	// Relative to the working directory, so that the report names the
	// directory "manifests" rather than a random temporary path.
	out, err := s.run(ctx, bin, tmp, s.configArgs("manifests", filepath.Join(tmp, "cache"))...)
	if err != nil {
		return nil, err
	}
	rep, err := ParseReport(out)
	if err != nil {
		return nil, fmt.Errorf("trivy: %w", err)
	}
	findings, rules, err := in.findings(rep, secretValues(t.Set))
	if err != nil {
		return nil, fmt.Errorf("trivy: %w", err)
	}
	s.remember(rules)
	return findings, nil
}

// input is a side written for Trivy: file name -> object and its YAML.
type input struct {
	files map[string]inputFile
}

type inputFile struct {
	obj  manifest.Object
	yaml []byte
}

// writeInput writes each object of set to its own file in dir, named by
// position, kind and name (0001-deployment-web.yaml): one object per file
// is what lets a result's Target name the object, and the names keep a
// debugging human oriented. Secrets are left out (see the package doc).
func writeInput(dir string, set *manifest.Set) (*input, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	in := &input{files: map[string]inputFile{}}
	n := 0
	for _, obj := range set.Objects {
		if manifest.IsSecret(obj.GetKind()) {
			continue
		}
		n++
		name := fmt.Sprintf("%04d-%s-%s.yaml", n, slug(obj.GetKind()), slug(obj.GetName()))
		y, err := manifest.MarshalYAML(obj.Object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", obj.ID(), err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), y, 0o600); err != nil {
			return nil, err
		}
		in.files[name] = inputFile{obj: obj, yaml: y}
	}
	return in, nil
}

var slugBad = regexp.MustCompile(`[^a-z0-9.]+`)

// slug makes a name safe and short for a file name.
func slug(s string) string {
	s = strings.Trim(slugBad.ReplaceAllString(strings.ToLower(s), "-"), "-.")
	if len(s) > 60 {
		s = s[:60]
	}
	if s == "" {
		s = "x"
	}
	return s
}

// lookup finds the file a result names. Trivy prints targets relative to
// the scanned directory; the base name is a fallback should a release print
// them otherwise.
func (in *input) lookup(target string) (inputFile, bool) {
	if f, ok := in.files[filepath.ToSlash(target)]; ok {
		return f, true
	}
	f, ok := in.files[path.Base(filepath.ToSlash(target))]
	return f, ok
}

// findings maps every failed check of rep to a finding, and returns the
// rules it met. A result for a file aegis did not write is an error: it
// cannot be placed, and dropping it would hide it.
func (in *input) findings(rep *Report, secrets []string) ([]report.Finding, []report.Rule, error) {
	var out []report.Finding
	var rules []report.Rule
	seen := map[string]bool{}
	for _, res := range rep.Results {
		var fails []Misconfiguration
		for _, m := range res.Misconfigurations {
			if strings.EqualFold(m.Status, StatusFail) {
				fails = append(fails, m)
			}
		}
		if len(fails) == 0 {
			continue
		}
		file, ok := in.lookup(res.Target)
		if !ok {
			return nil, nil, fmt.Errorf("result for %q, which is not one of the files aegis wrote", res.Target)
		}
		var root *yaml.Node
		var doc yaml.Node
		if yaml.Unmarshal(file.yaml, &doc) == nil {
			root = &doc
		}
		for _, m := range fails {
			f, err := toFinding(file.obj, root, m, secrets)
			if err != nil {
				return nil, nil, err
			}
			// The same check may print one message twice for one cause;
			// one finding is enough. Distinct messages stay distinct.
			dup := strings.Join([]string{f.Fingerprint, f.Message, f.Location.String()}, "\x00")
			if seen[dup] {
				continue
			}
			seen[dup] = true
			out = append(out, f)
			rules = append(rules, ruleFrom(m))
		}
	}
	// One total order for every scanner, so that two scans of one side give
	// byte-identical reports.
	report.SortFindings(out)
	return out, rules, nil
}

// toFinding maps one failed check on obj. root is obj's YAML as Trivy read
// it, for the cause's line.
func toFinding(obj manifest.Object, root *yaml.Node, m Misconfiguration, secrets []string) (report.Finding, error) {
	sev, err := mapSeverity(m.Severity)
	if err != nil {
		return report.Finding{}, err
	}
	container, fieldPath := pathFromMessage(obj, m.Message)
	if root != nil && m.CauseMetadata.StartLine > 0 {
		// The cause's line in the file Trivy read names a field of the
		// rendered object; prefer it when it is deeper than, and agrees
		// with, what the message says. Only the part of the message's
		// path that the object sets can be compared: "should set X"
		// names an X that is not there.
		cause := pathAtLine(root, m.CauseMetadata.StartLine)
		_, matched := manifest.LocateNode(root, fieldPath)
		if len(cause) > matched && cause.HasPrefix(fieldPath[:matched]) {
			fieldPath = cause
		}
		// Many messages do not name the container ("container should
		// drop all"); the cause's lines do.
		if container == "" {
			container = containerOf(obj.GetKind(), cause)
		}
	}
	if pod := podSpecPath(obj.GetKind()); len(fieldPath) == len(pod)+2 && containerOf(obj.GetKind(), fieldPath) != "" && imageInMessage.MatchString(m.Message) {
		// "should specify an image tag", "uses an image from an untrusted
		// registry": the image line is the one to change, not the
		// container's first line.
		fieldPath = fieldPath.Child("image")
	}
	loc := obj.Origin.Location
	if len(fieldPath) > 0 {
		loc = obj.Locate(fieldPath)
	}
	name := obj.GetName()
	if name == "" {
		name = obj.GetGenerateName()
	}
	f := report.Finding{
		Scanner:  Name,
		RuleID:   m.checkID(),
		Severity: sev,
		Title:    redact(m.Title, secrets),
		Message:  redact(m.Message, secrets),
		Resource: report.Resource{
			APIVersion: obj.GetAPIVersion(),
			Kind:       obj.GetKind(),
			Namespace:  obj.GetNamespace(),
			Name:       name,
			Container:  container,
		},
		Location: loc,
		Key:      container,
	}
	if f.Message == "" {
		f.Message = f.Title
	}
	f.Fingerprint = report.ComputeFingerprint(f)
	return f, nil
}

// Trivy's Kubernetes checks name a container as "Container 'web' of
// Deployment 'x' ..." or, in a few checks, `container "web" of ...`.
var containerInMessage = regexp.MustCompile(`(?i)\bcontainer (?:'([^']+)'|"([^"]+)") of\b`)

// A quoted token that looks like a field path: "securityContext.privileged",
// "spec.template.spec.hostNetwork", "spec.volumes[*]", "ports[*].hostPort".
var fieldInMessage = regexp.MustCompile(`'((?:spec|securityContext|resources|metadata|ports)(?:\.[A-Za-z0-9_]+|\[\*\])*)'`)

var imageInMessage = regexp.MustCompile(`(?i)\bimages?\b`)

// containerFields are the fields of a container that checks name relative
// to the container.
var containerFields = map[string]bool{"securityContext": true, "resources": true, "ports": true}

// pathFromMessage reads the container and the field at fault from a
// check's message and turns them into a path in obj. Either may be empty:
// the message is prose, and only what it states plainly is used.
func pathFromMessage(obj manifest.Object, msg string) (string, manifest.FieldPath) {
	pod := podSpecPath(obj.GetKind())
	var container string
	var base manifest.FieldPath
	if m := containerInMessage.FindStringSubmatch(msg); m != nil {
		container = cmp.Or(m[1], m[2])
		if pod != nil {
			if list := containerList(obj, pod, container); list != "" {
				base = pod.Child(list, manifest.ItemByName(container))
			}
		}
	}
	var fp manifest.FieldPath
	if m := fieldInMessage.FindStringSubmatch(msg); m != nil {
		fp = manifest.ParsePath(m[1])
	}
	switch {
	case len(fp) == 0:
		return container, base
	case base != nil && containerFields[fp[0]]:
		return container, resolveLists(obj.Object, base.Child(fp...))
	case pod != nil && fp[0] == "spec":
		// Checks write pod fields as a Deployment's
		// ("spec.template.spec.hostNetwork", even "spec.template.volumes")
		// whatever the kind: re-root them at this kind's pod spec.
		rest := fp[1:]
		for _, skip := range []string{"template", "spec"} {
			if len(rest) > 0 && rest[0] == skip {
				rest = rest[1:]
			}
		}
		if base != nil && (len(rest) == 0 || rest[0] == "containers") {
			return container, base
		}
		return container, resolveLists(obj.Object, pod.Child(rest...))
	case base != nil:
		return container, base
	case pod == nil && fp[0] != "ports":
		return container, resolveLists(obj.Object, fp)
	}
	return container, nil
}

// resolveLists turns the parts of a path that address a list as a whole
// ("volumes.hostPath", "ports[*].hostPort": the volume or port that sets
// hostPath or hostPort) into a selector of the first item that has the next
// field, by name where the item has one, so the finding lands on that item.
// A list no item of which has the field ends the path at the list.
func resolveLists(obj map[string]any, p manifest.FieldPath) manifest.FieldPath {
	var out manifest.FieldPath
	var cur any = obj
	for i := 0; i < len(p); i++ {
		seg := p[i]
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[seg]
			out = append(out, seg)
			if !ok {
				return append(out, untilWildcard(p[i+1:])...) // a field to set
			}
			cur = next
		case []any:
			if strings.HasPrefix(seg, "[") && seg != "[*]" {
				// Already a selector: follow it when it names an item.
				out = append(out, seg)
				cur = selectItem(v, seg)
				if cur == nil {
					return append(out, untilWildcard(p[i+1:])...)
				}
				continue
			}
			key := seg
			if seg == "[*]" {
				if i+1 >= len(p) {
					return out
				}
				key = p[i+1]
				i++
			}
			idx := slices.IndexFunc(v, func(it any) bool {
				m, ok := it.(map[string]any)
				_, has := m[key]
				return ok && has
			})
			if idx < 0 {
				return out
			}
			item := v[idx].(map[string]any)
			if name, ok := item["name"].(string); ok && name != "" {
				out = append(out, manifest.ItemByName(name))
			} else {
				out = append(out, fmt.Sprintf("[%d]", idx))
			}
			out = append(out, key)
			cur = item[key]
		default:
			return append(out, untilWildcard(p[i:])...)
		}
	}
	return out
}

// untilWildcard cuts a path at its first "[*]": a wildcard into a list that
// is not there selects nothing to point at.
func untilWildcard(p manifest.FieldPath) manifest.FieldPath {
	if i := slices.Index(p, "[*]"); i >= 0 {
		return p[:i]
	}
	return p
}

// selectItem returns the list item a "[name=x]" or "[2]" selector names.
func selectItem(list []any, seg string) any {
	sel := strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
	if k, want, ok := strings.Cut(sel, "="); ok {
		for _, it := range list {
			if m, ok := it.(map[string]any); ok && fmt.Sprint(m[k]) == want {
				return it
			}
		}
		return nil
	}
	if i, err := strconv.Atoi(sel); err == nil && i >= 0 && i < len(list) {
		return list[i]
	}
	return nil
}

// containerOf names the container a path into obj's pod spec goes through.
func containerOf(kind string, p manifest.FieldPath) string {
	pod := podSpecPath(kind)
	if pod == nil || len(p) < len(pod)+2 || !p.HasPrefix(pod) {
		return ""
	}
	switch p[len(pod)] {
	case "containers", "initContainers", "ephemeralContainers":
		if name, ok := strings.CutPrefix(p[len(pod)+1], "[name="); ok {
			return strings.TrimSuffix(name, "]")
		}
	}
	return ""
}

// podSpecPath is where a kind keeps its pod spec, nil for kinds without one.
func podSpecPath(kind string) manifest.FieldPath {
	switch kind {
	case "Pod":
		return manifest.FieldPath{"spec"}
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "DeploymentConfig":
		return manifest.FieldPath{"spec", "template", "spec"}
	case "CronJob":
		return manifest.FieldPath{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	return nil
}

// containerList says which list of the pod spec holds the named container.
func containerList(obj manifest.Object, pod manifest.FieldPath, name string) string {
	for _, list := range []string{"containers", "initContainers", "ephemeralContainers"} {
		items, _, _ := unstructured.NestedSlice(obj.Object, append(slices.Clone([]string(pod)), list)...)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok && m["name"] == name {
				return list
			}
		}
	}
	return ""
}

// pathAtLine returns the path of the deepest field or list item that starts
// at line in a YAML document, naming list items by their name where they
// have one (as manifest.FieldPath does), or nil.
func pathAtLine(root *yaml.Node, line int) manifest.FieldPath {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	var p manifest.FieldPath
	for {
		switch n.Kind {
		case yaml.MappingNode:
			next := -1
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Line > line {
					break
				}
				next = i
			}
			if next < 0 {
				return p
			}
			key, val := n.Content[next], n.Content[next+1]
			p = append(p, key.Value)
			if key.Line == line || !containsLine(val, line) {
				return p
			}
			n = val
		case yaml.SequenceNode:
			next := -1
			for i, it := range n.Content {
				if it.Line > line {
					break
				}
				next = i
			}
			if next < 0 {
				return p
			}
			it := n.Content[next]
			p = append(p, itemSelector(it, next))
			if it.Line == line || !containsLine(it, line) {
				return p
			}
			n = it
		default:
			return p
		}
	}
}

// containsLine reports whether line falls inside the collection n (which
// ends before the next sibling, hence the check on its last descendant).
func containsLine(n *yaml.Node, line int) bool {
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
		return false
	}
	return n.Line <= line && line <= lastLine(n)
}

func lastLine(n *yaml.Node) int {
	for len(n.Content) > 0 {
		n = n.Content[len(n.Content)-1]
	}
	return n.Line
}

func itemSelector(it *yaml.Node, i int) string {
	if it.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(it.Content); j += 2 {
			if it.Content[j].Value == "name" && it.Content[j+1].Kind == yaml.ScalarNode {
				return manifest.ItemByName(it.Content[j+1].Value)
			}
		}
	}
	return fmt.Sprintf("[%d]", i)
}

// secretValues collects the values of the side's Secrets, decoded, so that
// none can reach a report through a message. Short values are skipped:
// redacting "1" or "true" everywhere would mangle messages for nothing.
func secretValues(set *manifest.Set) []string {
	var vals []string
	add := func(v string) {
		for _, s := range append([]string{v}, strings.Split(v, "\n")...) {
			if s = strings.TrimSpace(s); len(s) >= 4 {
				vals = append(vals, s)
			}
		}
	}
	for _, obj := range set.Objects {
		if !manifest.IsSecret(obj.GetKind()) {
			continue
		}
		if data, ok := obj.Object["data"].(map[string]any); ok {
			for _, v := range data {
				if s, ok := v.(string); ok {
					add(s) // the base64 form too
					if b, err := base64.StdEncoding.DecodeString(s); err == nil {
						add(string(b))
					}
				}
			}
		}
		if data, ok := obj.Object["stringData"].(map[string]any); ok {
			for _, v := range data {
				if s, ok := v.(string); ok {
					add(s)
				}
			}
		}
	}
	// Longest first, so that a value containing another is redacted whole.
	slices.SortFunc(vals, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), cmp.Compare(a, b)) })
	return slices.Compact(vals)
}

func redact(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}
