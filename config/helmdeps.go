package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Helm holds the trusted policy's Helm settings.
type Helm struct {
	Dependencies HelmDependencies `yaml:"dependencies"`
}

// HelmDependencies lets aegis download the dependencies a chart's
// Chart.yaml lists and charts/ does not hold, as Argo CD's `helm
// dependency build` does. Off unless AllowHosts names the repository hosts.
type HelmDependencies struct {
	// AllowHosts are the repository hosts (host or host:port; "*.example.com"
	// for its subdomains) aegis may download from: the repository's own,
	// after Mirrors, and every host an index or a redirect leads to.
	AllowHosts []string `yaml:"allowHosts"`
	// Pin maps "name@version" to the archive's "sha256:<hex>": a download
	// with another digest is refused.
	Pin map[string]string `yaml:"pin"`
	// Mirrors rewrite repository URLs by prefix: {from: to}, the longest
	// matching prefix wins.
	Mirrors map[string]string `yaml:"mirrors"`
	// CacheDir keeps downloaded archives by sha256 (absolute; default the
	// user's cache directory, aegis/charts).
	CacheDir string `yaml:"cacheDir"`
}

var pinDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// hostLabel is a DNS label or an IP literal's piece; wildcards only as a
// leading "*.".
var hostName = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

func (h *Helm) validate(path string, node *yaml.Node) error {
	deps := childNode(node, "dependencies")
	at := func(p ...string) int {
		if deps == nil {
			return 0
		}
		return lineOf(deps, p...)
	}
	d := &h.Dependencies
	for _, host := range d.AllowHosts {
		if err := checkAllowHost(host); err != nil {
			return &Error{Path: path, Line: at("allowHosts"), Msg: fmt.Sprintf("helm.dependencies.allowHosts: %q: %v", host, err)}
		}
	}
	for k, v := range d.Pin {
		name, version, ok := strings.Cut(k, "@")
		if !ok || name == "" || version == "" || strings.ContainsAny(k, " /") {
			return &Error{Path: path, Line: at("pin", k), Msg: fmt.Sprintf("helm.dependencies.pin: key %q must be name@version", k)}
		}
		if !pinDigest.MatchString(v) {
			return &Error{Path: path, Line: at("pin", k), Msg: fmt.Sprintf("helm.dependencies.pin[%q]: %q must be sha256:<64 lowercase hex digits>", k, v)}
		}
	}
	for from, to := range d.Mirrors {
		for _, u := range []string{from, to} {
			pu, err := url.Parse(u)
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https" && pu.Scheme != "oci") || pu.Host == "" || pu.User != nil {
				return &Error{Path: path, Line: at("mirrors", from), Msg: fmt.Sprintf("helm.dependencies.mirrors: %q must be an http(s):// or oci:// URL without credentials", u)}
			}
		}
	}
	if d.CacheDir != "" && !filepath.IsAbs(d.CacheDir) {
		return &Error{Path: path, Line: at("cacheDir"), Msg: fmt.Sprintf("helm.dependencies.cacheDir must be absolute, got %q", d.CacheDir)}
	}
	return nil
}

// checkAllowHost accepts host, host:port, [ipv6]:port and *.domain.
func checkAllowHost(h string) error {
	host, port := h, ""
	if hp, p, err := net.SplitHostPort(h); err == nil {
		host, port = hp, p
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q", port)
		}
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if host == "" || strings.Count(host, "*") > 1 || (strings.Contains(host, "*") && !strings.HasPrefix(host, "*.")) || !hostName.MatchString(host) {
		return fmt.Errorf("want host, host:port or *.domain (no scheme, path or other wildcard)")
	}
	if strings.HasPrefix(host, "*.") && !strings.Contains(host[2:], ".") {
		return fmt.Errorf("a wildcard needs a domain of at least two labels (*.example.com)")
	}
	return nil
}
