package render

// Downloading a chart's dependencies, as Argo CD's `helm dependency build`
// does, when the trusted policy allows the repository's host.
//
// Where: in the render child (render/isolate), before Helm processes the
// dependencies. The child is the process bounded by the policy's render
// memory and time: an index.yaml or archive bomb, a slow repository, cost
// the child, never aegis. The parent never parses the pull request's
// Chart.yaml. Nothing is contacted unless its host is in AllowHosts (the
// trusted policy, read from the base); every redirect and every archive URL
// an index names is checked the same way.
//
// What: the HTTP chart repository protocol (index.yaml, then the archive
// it names), and OCI registries (helm_oci.go). The Helm SDK's downloader
// (pkg/downloader, pkg/getter) is not used: its getter forwards
// credentials by hostname without the port, follows redirects anywhere,
// and would run getter plugins installed on the machine. aegis keeps the
// Helm SDK's formats (Chart.yaml, Chart.lock, index.yaml, the OCI media
// types) and its loader, and owns the requests.
//
// Integrity: Chart.lock's digest covers the dependency list, not the
// archives. Each archive's sha256 is recorded (Result.Dependencies), checked
// against the index's digest when it gives one and against the policy's
// pin, and archives are cached by sha256 outside the checkout. An archive is
// inspected before Helm loads it: bounded size, file count and expansion,
// regular files and directories only, no path leaving the archive.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/helmpath"
	"sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/manifest"
)

// HelmDependencies are the trusted policy's dependency settings
// (config.HelmDependencies).
type HelmDependencies struct {
	AllowHosts []string          // host, host:port or *.domain
	Pin        map[string]string // "name@version" -> "sha256:<hex>"
	Mirrors    map[string]string // repository URL prefix -> replacement
	CacheDir   string            // default os.UserCacheDir()/aegis/charts
	// RepositoryConfig is Helm's repositories.yaml, for credentials
	// (default $HELM_REPOSITORY_CONFIG, else Helm's own path).
	RepositoryConfig string
	// RegistryConfig is Helm's registry config.json, for OCI registries'
	// credentials (default $HELM_REGISTRY_CONFIG, else Helm's own path).
	RegistryConfig string
}

// Dependency is one downloaded chart dependency.
type Dependency struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Repository string `json:"repository"` // as Chart.yaml names it
	URL        string `json:"url"`        // where the archive came from, after mirrors
	SHA256     string `json:"sha256"`     // "sha256:<hex>" of the archive
	Cached     bool   `json:"cached,omitempty"`
}

// Bounds of what a repository may send.
const (
	maxIndexBytes    = 256 << 20
	maxArchiveFiles  = 20_000
	maxDepRedirects  = 10
	policyAllowHosts = "helm.dependencies.allowHosts"
	policyPin        = "helm.dependencies.pin"
)

// UnreachableError is a repository that could not be reached or answered
// with a server error: an infrastructure failure (exit 3), not bad input.
type UnreachableError struct{ Msg string }

func (e *UnreachableError) Error() string { return e.Msg }

// fetchDependencies downloads the dependencies c lists, charts/ lacks and
// an allowed host serves, and adds them to c. Without AllowHosts it does
// nothing: checkDependencies refuses the chart.
func (h *helmRun) fetchDependencies(ctx context.Context, c *chart.Chart, srcDir string) error {
	hd := h.opts.HelmDependencies
	if len(hd.AllowHosts) == 0 {
		return nil
	}
	line := h.keyLine(c, "dependencies")
	chartYAML := path.Join(srcDir, "Chart.yaml")
	srcErr := func(format string, args ...any) error {
		return manifest.Errorf(chartYAML, line, format, args...)
	}
	f := &depFetcher{ctx: ctx, hd: hd, lim: h.lim, creds: readRepoCredentials(hd.RepositoryConfig)}
	defer f.close()
	for _, req := range c.Metadata.Dependencies {
		if req == nil || hasDependency(c, req.Name) {
			continue
		}
		repo := strings.TrimSuffix(req.Repository, "/")
		if repo == "" || strings.HasPrefix(repo, "file://") || strings.HasPrefix(repo, "@") || strings.HasPrefix(repo, "alias:") {
			continue // not downloadable: checkDependencies names it
		}
		eff := applyMirrors(repo, hd.Mirrors)
		u, err := url.Parse(eff)
		if err != nil || u.Host == "" {
			return srcErr("dependency %s: repository %q is not a URL", req.Name, req.Repository)
		}
		if !hostAllowed(u.Host, hd.AllowHosts) {
			return srcErr("dependency %s: repository host %s is not allowed: aegis downloads chart dependencies only from the hosts the trusted policy lists; add %q to %s in the base's .aegis.yaml, or commit charts/ (`helm dependency build`)", req.Name, u.Host, u.Host, policyAllowHosts)
		}
		switch u.Scheme {
		case "http", "https", "oci":
		default:
			return srcErr("dependency %s: repository %q: unsupported scheme %q", req.Name, req.Repository, u.Scheme)
		}
		version := req.Version
		locked := false
		if c.Lock != nil {
			for _, l := range c.Lock.Dependencies {
				if l != nil && l.Name == req.Name && strings.TrimSuffix(l.Repository, "/") == repo {
					version, locked = l.Version, true
					break
				}
			}
		}
		if locked && req.Version != "" {
			if con, err := semver.NewConstraint(req.Version); err == nil {
				if v, err := semver.NewVersion(version); err != nil || !con.Check(v) {
					return srcErr("dependency %s: Chart.lock's version %s does not satisfy Chart.yaml's %q: Chart.lock is out of sync (`helm dependency update`)", req.Name, version, req.Version)
				}
			}
		}
		fetch := f.fetch
		if u.Scheme == "oci" {
			fetch = f.fetchOCI
		}
		dep, sc, err := fetch(u, req.Name, version, locked)
		if err != nil {
			var se *manifest.SourceError
			if errors.As(err, &se) || isUnreachable(err) {
				return err
			}
			return srcErr("dependency %s: %v", req.Name, err)
		}
		dep.Repository = req.Repository
		h.registerArchive(sc, path.Join(srcDir, "charts", fmt.Sprintf("%s-%s.tgz", dep.Name, dep.Version)))
		c.AddDependency(sc)
		h.deps = append(h.deps, dep)
	}
	return nil
}

func isUnreachable(err error) bool {
	var ue *UnreachableError
	return errors.As(err, &ue)
}

func hasDependency(c *chart.Chart, name string) bool {
	for _, d := range c.Dependencies() {
		if d.Name() == name {
			return true
		}
	}
	return false
}

// applyMirrors rewrites repo by the longest matching prefix.
func applyMirrors(repo string, mirrors map[string]string) string {
	best := ""
	for from := range mirrors {
		f := strings.TrimSuffix(from, "/")
		if (repo == f || strings.HasPrefix(repo, f+"/")) && len(f) > len(best) {
			best = f
		}
	}
	if best == "" {
		return repo
	}
	to := strings.TrimSuffix(mirrors[best], "/")
	if to == "" {
		to = strings.TrimSuffix(mirrors[best+"/"], "/")
	}
	return to + strings.TrimPrefix(repo, best)
}

// hostAllowed matches host (host[:port] of a URL) against the allow-list:
// an entry without a port allows the default ports only.
func hostAllowed(host string, allow []string) bool {
	h := strings.ToLower(host)
	hostOnly, port, err := net.SplitHostPort(h)
	if err != nil {
		hostOnly, port = strings.Trim(h, "[]"), ""
	}
	for _, a := range allow {
		a = strings.ToLower(a)
		ah, ap, err := net.SplitHostPort(a)
		if err != nil {
			ah, ap = strings.Trim(a, "[]"), ""
		}
		if ap != port {
			continue
		}
		if ah == hostOnly {
			return true
		}
		if rest, ok := strings.CutPrefix(ah, "*."); ok && strings.HasSuffix(hostOnly, "."+rest) {
			return true
		}
	}
	return false
}

// repoCredential is an entry of Helm's repositories.yaml.
type repoCredential struct {
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// readRepoCredentials reads Helm's repositories.yaml; a missing or broken
// file means no credentials.
func readRepoCredentials(p string) []repoCredential {
	if p == "" {
		p = os.Getenv("HELM_REPOSITORY_CONFIG")
	}
	if p == "" {
		p = helmpath.ConfigPath("repositories.yaml")
	}
	data, err := manifest.ReadFile(p, 1<<20)
	if err != nil {
		return nil
	}
	var f struct {
		Repositories []repoCredential `json:"repositories"`
	}
	if yaml.Unmarshal(data, &f) != nil {
		return nil
	}
	return f.Repositories
}

type depFetcher struct {
	ctx   context.Context
	hd    HelmDependencies
	lim   manifest.Limits
	creds []repoCredential
	tr    *http.Transport
}

// credFor returns the credentials for a request to u: those of the
// repositories.yaml entry for repo, only when u is on the entry's own
// scheme and host:port.
func (f *depFetcher) credFor(repo, u *url.URL) *repoCredential {
	for i, c := range f.creds {
		cu, err := url.Parse(strings.TrimSuffix(c.URL, "/"))
		if err != nil || c.Username == "" && c.Password == "" {
			continue
		}
		if strings.TrimSuffix(cu.String(), "/") != strings.TrimSuffix(repo.String(), "/") {
			continue
		}
		if cu.Scheme == u.Scheme && strings.EqualFold(cu.Host, u.Host) {
			return &f.creds[i]
		}
	}
	return nil
}

// transport is the fetcher's one HTTP transport, with timeouts that make
// a repository that does not answer an unreachable one (exit 3) well
// before the render's own timeout.
func (f *depFetcher) transport() *http.Transport {
	if f.tr == nil {
		f.tr = http.DefaultTransport.(*http.Transport).Clone()
		f.tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		f.tr.TLSHandshakeTimeout = 15 * time.Second
		f.tr.ResponseHeaderTimeout = 30 * time.Second
	}
	return f.tr
}

func (f *depFetcher) close() {
	if f.tr != nil {
		f.tr.CloseIdleConnections()
	}
}

// allowedHosts refuses, before anything is sent, a request to a host the
// policy does not allow: the first request, a registry's token realm, a
// redirect to blob storage alike.
type allowedHosts struct {
	rt    http.RoundTripper
	allow []string
}

func (a allowedHosts) RoundTrip(req *http.Request) (*http.Response, error) {
	if !hostAllowed(req.URL.Host, a.allow) {
		return nil, &hostError{host: req.URL.Host}
	}
	return a.rt.RoundTrip(req)
}

// httpClient is the client of every dependency download. Every hop's host
// must be allowed; an Authorization header never follows a redirect away
// from origin's scheme and host:port.
func (f *depFetcher) httpClient(origin *url.URL) *http.Client {
	return &http.Client{
		Transport: allowedHosts{rt: f.transport(), allow: f.hd.AllowHosts},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxDepRedirects {
				return fmt.Errorf("more than %d redirects", maxDepRedirects)
			}
			if !hostAllowed(req.URL.Host, f.hd.AllowHosts) {
				return &hostError{host: req.URL.Host, redirect: true}
			}
			if req.URL.Scheme != origin.Scheme || !strings.EqualFold(req.URL.Host, origin.Host) {
				req.Header.Del("Authorization")
			}
			return nil
		},
	}
}

// get downloads u (at most limit bytes), with the repository's
// credentials for requests to its own scheme and host:port only.
func (f *depFetcher) get(repo, u *url.URL, limit int64) ([]byte, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: only http and https URLs are downloaded", redact(u))
	}
	if !hostAllowed(u.Host, f.hd.AllowHosts) {
		return nil, &hostError{host: u.Host}
	}
	client := f.httpClient(repo)
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "aegis (helm dependency build)")
	if c := f.credFor(repo, u); c != nil {
		req.SetBasicAuth(c.Username, c.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		var he *hostError
		if errors.As(err, &he) {
			return nil, he
		}
		return nil, &UnreachableError{Msg: fmt.Sprintf("cannot reach %s: %v", redact(u), err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s: 404 Not Found", redact(resp.Request.URL))
	default:
		return nil, &UnreachableError{Msg: fmt.Sprintf("%s answered %s", redact(resp.Request.URL), resp.Status)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &UnreachableError{Msg: fmt.Sprintf("reading %s: %v", redact(u), err)}
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", redact(u), limit)
	}
	return data, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

type hostError struct {
	host     string
	redirect bool
}

func (e *hostError) Error() string {
	via := "is"
	if e.redirect {
		via = "(a redirect) is"
	}
	return fmt.Sprintf("host %s %s not allowed: add %q to %s in the base's .aegis.yaml", e.host, via, e.host, policyAllowHosts)
}

type indexFile struct {
	Entries map[string][]struct {
		Version string   `json:"version"`
		URLs    []string `json:"urls"`
		Digest  string   `json:"digest"`
	} `json:"entries"`
}

// fetch resolves name@version in the repository at repo, downloads (or
// takes from the cache) its archive, checks and loads it.
func (f *depFetcher) fetch(repo *url.URL, name, version string, locked bool) (Dependency, *chart.Chart, error) {
	idxURL := repo.JoinPath("index.yaml")
	data, err := f.get(repo, idxURL, maxIndexBytes)
	if err != nil {
		return Dependency{}, nil, err
	}
	var idx indexFile
	if err := yaml.Unmarshal(data, &idx); err != nil {
		return Dependency{}, nil, fmt.Errorf("%s: not a chart repository index: %v", redact(idxURL), err)
	}
	entries := idx.Entries[name]
	chosen := -1
	if locked {
		for i, e := range entries {
			if e.Version == version {
				chosen = i
				break
			}
		}
	} else {
		con, err := semver.NewConstraint(orAny(version))
		if err != nil {
			return Dependency{}, nil, fmt.Errorf("version %q: %v", version, err)
		}
		var best *semver.Version
		for i, e := range entries {
			v, err := semver.NewVersion(e.Version)
			if err != nil || !con.Check(v) {
				continue
			}
			if best == nil || v.GreaterThan(best) {
				best, chosen = v, i
			}
		}
	}
	if chosen < 0 || len(entries[chosen].URLs) == 0 {
		return Dependency{}, nil, fmt.Errorf("no version %s of chart %s in %s", orAny(version), name, redact(idxURL))
	}
	e := entries[chosen]
	archURL, err := repo.JoinPath("/").Parse(e.URLs[0])
	if err != nil {
		return Dependency{}, nil, fmt.Errorf("chart %s %s: bad archive URL %q", name, e.Version, e.URLs[0])
	}
	dep := Dependency{Name: name, Version: e.Version, URL: redact(archURL)}
	pin := f.hd.Pin[name+"@"+e.Version]

	var archive []byte
	key := pin
	if d := strings.TrimPrefix(strings.ToLower(e.Digest), "sha256:"); key == "" && d != "" {
		key = "sha256:" + d
	}
	if key != "" {
		if b, ok := f.cacheRead(key); ok {
			archive, dep.Cached = b, true
		}
	}
	if archive == nil {
		if archive, err = f.get(repo, archURL, f.lim.MaxTotalBytes); err != nil {
			return Dependency{}, nil, err
		}
	}
	sum := sha256.Sum256(archive)
	dep.SHA256 = "sha256:" + hex.EncodeToString(sum[:])
	if d := strings.TrimPrefix(strings.ToLower(e.Digest), "sha256:"); d != "" && "sha256:"+d != dep.SHA256 {
		return Dependency{}, nil, fmt.Errorf("chart %s %s: the archive's digest %s is not the index's sha256:%s", name, e.Version, dep.SHA256, d)
	}
	if pin != "" && pin != dep.SHA256 {
		return Dependency{}, nil, fmt.Errorf("chart %s %s: the archive's digest %s is not the one pinned in %s (%s)", name, e.Version, dep.SHA256, policyPin, pin)
	}
	if err := checkChartArchive(archive, f.lim); err != nil {
		return Dependency{}, nil, fmt.Errorf("chart %s %s (%s): %v", name, e.Version, dep.URL, err)
	}
	sc, err := c2load.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return Dependency{}, nil, fmt.Errorf("chart %s %s: cannot load the archive: %v", name, e.Version, err)
	}
	if sc.Name() != name || sc.Metadata.Version != e.Version {
		return Dependency{}, nil, fmt.Errorf("the archive for %s %s holds chart %s %s", name, e.Version, sc.Name(), sc.Metadata.Version)
	}
	if !dep.Cached {
		f.cacheWrite(dep.SHA256, archive)
	}
	return dep, sc, nil
}

func orAny(v string) string {
	if v == "" {
		return "*"
	}
	return v
}

// checkChartArchive inspects a gzipped tar before Helm loads it: at most
// maxArchiveFiles entries, each regular file within MaxFileBytes and all
// within MaxTotalBytes once expanded, regular files and directories only,
// every name relative and inside one top-level directory.
func checkChartArchive(data []byte, lim manifest.Limits) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not a gzipped chart archive: %v", err)
	}
	tr := tar.NewReader(zr)
	var total int64
	top := ""
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("corrupt archive: %v", err)
		}
		if n >= maxArchiveFiles {
			return fmt.Errorf("archive holds more than %d entries", maxArchiveFiles)
		}
		name := hdr.Name
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeDir:
		case tar.TypeXGlobalHeader:
			continue
		default:
			return fmt.Errorf("archive entry %q is not a regular file or directory (type %q): links and devices are refused", name, hdr.Typeflag)
		}
		if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || filepath.IsAbs(name) {
			return fmt.Errorf("archive entry %q escapes the archive", name)
		}
		for _, seg := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
			if seg == ".." {
				return fmt.Errorf("archive entry %q escapes the archive", name)
			}
		}
		first, _, _ := strings.Cut(path.Clean(name), "/")
		if top == "" {
			top = first
		} else if first != top {
			return fmt.Errorf("archive entries %q and %q are in different top-level directories", top, name)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > lim.MaxFileBytes {
			return fmt.Errorf("archive entry %q is larger than %d bytes", name, lim.MaxFileBytes)
		}
		// Count what is really there, not what the header claims.
		k, err := io.Copy(io.Discard, io.LimitReader(tr, lim.MaxFileBytes+1))
		if err != nil {
			return fmt.Errorf("corrupt archive: %v", err)
		}
		total += k
		if k > lim.MaxFileBytes || total > lim.MaxTotalBytes {
			return fmt.Errorf("archive expands beyond %d bytes (an archive bomb?)", min(k, lim.MaxTotalBytes))
		}
	}
	if top == "" {
		return errors.New("empty archive")
	}
	return nil
}

// cacheDir is where archives are kept by sha256, "" when there is none.
func (f *depFetcher) cacheDir() string {
	if f.hd.CacheDir != "" {
		return f.hd.CacheDir
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "aegis", "charts")
}

func cacheName(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + ".tgz"
}

// cacheRead returns the cached archive with digest, re-verified.
func (f *depFetcher) cacheRead(digest string) ([]byte, bool) {
	dir := f.cacheDir()
	if dir == "" {
		return nil, false
	}
	data, err := manifest.ReadFile(filepath.Join(dir, cacheName(digest)), f.lim.MaxTotalBytes)
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256(data)
	if "sha256:"+hex.EncodeToString(sum[:]) != digest {
		return nil, false
	}
	return data, true
}

// cacheWrite keeps an archive by its digest; failing to is not an error.
func (f *depFetcher) cacheWrite(digest string, data []byte) {
	dir := f.cacheDir()
	if dir == "" || os.MkdirAll(dir, 0o700) != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), filepath.Join(dir, cacheName(digest))) != nil {
		_ = os.Remove(tmp.Name())
	}
}
