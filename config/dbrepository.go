package config

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/google/go-containerregistry/pkg/name"
	yaml "go.yaml.in/yaml/v3"
)

// Repositories is a list of OCI repositories (scanners.trivy-image.
// dbRepository). In the file it is a list, or one string for a list of
// one.
type Repositories []string

// UnmarshalYAML accepts a sequence of strings or a single string.
func (r *Repositories) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		var one string
		if err := n.Decode(&one); err != nil {
			return err
		}
		*r = Repositories{one}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*r = list
	return nil
}

// checkDBRepository validates scanners.<name>.dbRepository: each entry one
// OCI reference as `trivy --db-repository` takes it (a registry host, a
// repository, and usually the schema version as its tag), without a
// scheme, whitespace or a comma (Trivy splits its flag's value at commas).
// node is the scanner's mapping.
func (c *Config) checkDBRepository(node *yaml.Node, scanner string) error {
	list := childNode(node, "dbRepository")
	if list == nil {
		return nil
	}
	repos := c.Scanners[scanner].DBRepository
	fail := func(line int, format string, args ...any) error {
		return &Error{Path: c.Path, Line: line, Msg: fmt.Sprintf("scanners.%s.dbRepository: ", scanner) + fmt.Sprintf(format, args...)}
	}
	if len(repos) == 0 {
		return fail(list.Line, "lists no repository; leave the key out for Trivy's default (mirror.gcr.io/aquasec/trivy-db:2, then ghcr.io/aquasecurity/trivy-db:2)")
	}
	seen := map[string]bool{}
	for i, r := range repos {
		line := list.Line
		if list.Kind == yaml.SequenceNode && i < len(list.Content) {
			line = list.Content[i].Line
		}
		if err := checkRepository(r); err != nil {
			return fail(line, "%q %v", r, err)
		}
		if seen[r] {
			return fail(line, "%q is listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

// checkRepository says what is wrong with one repository entry, or nil.
func checkRepository(r string) error {
	switch {
	case r == "":
		return fmt.Errorf("is empty")
	case strings.Contains(r, "://"):
		return fmt.Errorf("is a URL: write the repository without a scheme, as Trivy's --db-repository takes it, such as mirror.gcr.io/aquasec/trivy-db:2 (for a plain-HTTP registry, also set insecure: true)")
	case strings.ContainsRune(r, ','):
		return fmt.Errorf("holds a comma: list each repository as an entry of its own")
	case strings.IndexFunc(r, unicode.IsSpace) >= 0:
		return fmt.Errorf("holds whitespace: one entry is one repository, such as ghcr.io/aquasecurity/trivy-db:2")
	}
	// The distribution grammar (which refuses what looks like an option,
	// "--insecure"), then as Trivy parses it (go-containerregistry; a
	// missing tag becomes the schema version there).
	if !referencePattern.MatchString(r) {
		return fmt.Errorf("is not an OCI reference such as ghcr.io/aquasecurity/trivy-db:2 (registry host, lower-case repository path, optional :tag or @digest)")
	}
	if _, err := name.ParseReference(r); err != nil {
		return fmt.Errorf("is not an OCI reference such as ghcr.io/aquasecurity/trivy-db:2: %v", err)
	}
	return nil
}

// referencePattern is distribution's reference grammar (without IPv6
// hosts): [host[:port]/]path[:tag][@digest].
var referencePattern = func() *regexp.Regexp {
	const (
		domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		domain          = domainComponent + `(?:\.` + domainComponent + `)*(?::[0-9]+)?`
		pathComponent   = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
		tag             = `[\w][\w.-]{0,127}`
		digest          = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	)
	return regexp.MustCompile(`^(?:` + domain + `/)?` + pathComponent + `(?:/` + pathComponent + `)*(?::` + tag + `)?(?:@` + digest + `)?$`)
}()
