package render

// Chart dependencies from OCI registries (`repository: oci://host/path`),
// pulled as Helm pulls them: the reference host/path/name:version (a "+" in
// a version becomes "_" in the tag), a manifest whose layer of media type
// application/vnd.cncf.helm.chart.content.v1.tar+gzip is the chart archive.
// The protocol is oras-go's, the library Helm's registry client is built
// on; aegis drives it itself for the same reasons as the HTTP repositories:
// every host contacted must be allowed (the registry, its token realm, any
// redirect to blob storage), credentials go to the registry's own
// host:port only, and every size is bounded before it is read.
//
// Integrity comes free: the layer's digest is the archive's sha256, and
// oras verifies what it reads against it.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/helmpath"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/kube-sentient/aegis/manifest"
)

// The media types of a Helm chart in a registry (the Helm SDK's
// pkg/registry constants; that package is not imported for them: it
// brings a credential store and a push client aegis does not need).
const (
	helmChartLayerMediaType       = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	helmLegacyChartLayerMediaType = "application/tar+gzip"
)

// Bounds of what a registry may send.
const (
	maxOCIManifestBytes = 4 << 20
	maxOCITags          = 10_000
)

// fetchOCI resolves name@version in the registry repository at repo
// (oci://host/path), pulls (or takes from the cache) its chart layer,
// checks and loads it.
func (f *depFetcher) fetchOCI(repo *url.URL, name, version string, locked bool) (Dependency, *chart.Chart, error) {
	refBase := repo.Host + strings.TrimSuffix(repo.Path, "/") + "/" + name
	r, err := remote.NewRepository(refBase)
	if err != nil {
		return Dependency{}, nil, fmt.Errorf("%s is not an OCI reference: %v", refBase, err)
	}
	// Docker's convention: a registry on a loopback address speaks plain
	// HTTP (a local mirror or a test registry); every other one HTTPS.
	r.PlainHTTP = isLoopbackHost(repo.Hostname())
	origin := &url.URL{Scheme: "https", Host: repo.Host}
	if r.PlainHTTP {
		origin.Scheme = "http"
	}
	r.MaxMetadataBytes = maxOCIManifestBytes
	r.Client = &auth.Client{
		Client:     f.httpClient(origin),
		Header:     http.Header{"User-Agent": {"aegis (helm dependency build)"}},
		Credential: f.ociCredential(repo.Host),
		Cache:      auth.NewCache(),
	}

	tag, err := f.ociVersion(r, version, locked)
	if err != nil {
		return Dependency{}, nil, f.ociError(refBase, err)
	}
	ref := refBase + ":" + tag
	mdesc, err := r.Resolve(f.ctx, tag)
	if err != nil {
		return Dependency{}, nil, f.ociError(ref, err)
	}
	if mdesc.Size > maxOCIManifestBytes {
		return Dependency{}, nil, fmt.Errorf("%s: the manifest is larger than %d bytes", ref, maxOCIManifestBytes)
	}
	rc, err := r.Fetch(f.ctx, mdesc)
	if err != nil {
		return Dependency{}, nil, f.ociError(ref, err)
	}
	mdata, err := content.ReadAll(rc, mdesc)
	rc.Close()
	if err != nil {
		return Dependency{}, nil, f.ociError(ref, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mdata, &m); err != nil {
		return Dependency{}, nil, fmt.Errorf("%s: not an OCI image manifest: %v", ref, err)
	}
	layer, err := chartLayer(m)
	if err != nil {
		return Dependency{}, nil, fmt.Errorf("%s: %v", ref, err)
	}

	dep := Dependency{Name: name, Version: strings.ReplaceAll(tag, "_", "+"), URL: "oci://" + ref, SHA256: layer.Digest.String()}
	if layer.Digest.Algorithm() != "sha256" {
		return Dependency{}, nil, fmt.Errorf("%s: the chart layer's digest %s is not sha256", ref, layer.Digest)
	}
	if pin := f.hd.Pin[name+"@"+dep.Version]; pin != "" && pin != dep.SHA256 {
		return Dependency{}, nil, fmt.Errorf("chart %s %s: the archive's digest %s is not the one pinned in %s (%s)", name, dep.Version, dep.SHA256, policyPin, pin)
	}
	if layer.Size > f.lim.MaxTotalBytes {
		return Dependency{}, nil, fmt.Errorf("%s: the chart archive is %d bytes, more than the %d allowed", ref, layer.Size, f.lim.MaxTotalBytes)
	}
	archive, cached := f.cacheRead(dep.SHA256)
	if !cached {
		rc, err := r.Blobs().Fetch(f.ctx, layer)
		if err != nil {
			return Dependency{}, nil, f.ociError(ref, err)
		}
		archive, err = content.ReadAll(rc, layer) // verifies size and digest
		rc.Close()
		if err != nil {
			return Dependency{}, nil, f.ociError(ref, err)
		}
	}
	dep.Cached = cached
	if err := checkChartArchive(archive, f.lim); err != nil {
		return Dependency{}, nil, fmt.Errorf("chart %s %s (%s): %v", name, dep.Version, dep.URL, err)
	}
	sc, err := c2load.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return Dependency{}, nil, fmt.Errorf("chart %s %s: cannot load the archive: %v", name, dep.Version, err)
	}
	if sc.Name() != name || sc.Metadata.Version != dep.Version {
		return Dependency{}, nil, fmt.Errorf("the archive for %s %s holds chart %s %s", name, dep.Version, sc.Name(), sc.Metadata.Version)
	}
	if !cached {
		f.cacheWrite(dep.SHA256, archive)
	}
	return dep, sc, nil
}

// chartLayer is the manifest's chart archive layer: exactly one, as Helm
// requires.
func chartLayer(m ocispec.Manifest) (ocispec.Descriptor, error) {
	var found []ocispec.Descriptor
	for _, l := range m.Layers {
		if l.MediaType == helmChartLayerMediaType || l.MediaType == helmLegacyChartLayerMediaType {
			found = append(found, l)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return ocispec.Descriptor{}, fmt.Errorf("not a Helm chart: no layer of media type %s", helmChartLayerMediaType)
	default:
		return ocispec.Descriptor{}, fmt.Errorf("not a Helm chart: %d chart layers", len(found))
	}
}

// ociVersion is the tag to pull: the locked version, or the highest tag
// that satisfies the constraint (Helm's resolution for OCI dependencies).
func (f *depFetcher) ociVersion(r *remote.Repository, version string, locked bool) (string, error) {
	if locked {
		return strings.ReplaceAll(version, "+", "_"), nil
	}
	con, err := semver.NewConstraint(orAny(version))
	if err != nil {
		return "", fmt.Errorf("version %q: %v", version, err)
	}
	// An exact version needs no listing (a registry may not allow it).
	if v, err := semver.StrictNewVersion(strings.TrimPrefix(version, "=")); err == nil {
		return strings.ReplaceAll(v.Original(), "+", "_"), nil
	}
	var best *semver.Version
	bestTag, n := "", 0
	err = r.Tags(f.ctx, "", func(tags []string) error {
		for _, t := range tags {
			if n++; n > maxOCITags {
				return fmt.Errorf("more than %d tags", maxOCITags)
			}
			v, err := semver.NewVersion(strings.ReplaceAll(t, "_", "+"))
			if err != nil || !con.Check(v) {
				continue
			}
			if best == nil || v.GreaterThan(best) {
				best, bestTag = v, t
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if best == nil {
		return "", fmt.Errorf("no tag satisfies version %s", orAny(version))
	}
	return bestTag, nil
}

// ociError sorts a registry failure: one that did not answer, answered
// with a server error or refused the credentials is unreachable (exit 3);
// a missing chart or tag, or a bad answer, is the source's error (exit 2).
func (f *depFetcher) ociError(ref string, err error) error {
	var he *hostError
	if errors.As(err, &he) {
		return he
	}
	const login = " (credentials come from Helm's registry config, $HELM_REGISTRY_CONFIG: `helm registry login`)"
	var er *errcode.ErrorResponse
	switch {
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return &UnreachableError{Msg: fmt.Sprintf("%s: the registry asks for credentials (401) and there are none for %s%s", ref, f.ociHost(ref), login)}
	case errors.Is(err, errdef.ErrNotFound):
		return fmt.Errorf("%s: not found in the registry", ref)
	case errors.As(err, &er):
		if er.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%s: not found in the registry", ref)
		}
		hint := ""
		if er.StatusCode == http.StatusUnauthorized || er.StatusCode == http.StatusForbidden {
			hint = login
		}
		return &UnreachableError{Msg: fmt.Sprintf("%s: the registry answered %d%s", ref, er.StatusCode, hint)}
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) {
		return &UnreachableError{Msg: fmt.Sprintf("cannot reach %s: %v", ref, err)}
	}
	return fmt.Errorf("%s: %v", ref, err)
}

func (f *depFetcher) ociHost(ref string) string {
	h, _, _ := strings.Cut(ref, "/")
	return h
}

// ociCredential gives the registry at host its entry of Helm's registry
// config, and nothing to any other host. Credential helpers
// (credsStore, credHelpers) are programs: aegis does not run them.
func (f *depFetcher) ociCredential(host string) auth.CredentialFunc {
	entries := readRegistryAuths(f.hd.RegistryConfig)
	return func(_ context.Context, hostport string) (auth.Credential, error) {
		if !strings.EqualFold(hostport, host) {
			return auth.EmptyCredential, nil
		}
		for key, c := range entries {
			if strings.EqualFold(registryKeyHost(key), host) {
				return c, nil
			}
		}
		return auth.EmptyCredential, nil
	}
}

// readRegistryAuths reads Helm's registry config (Docker's config.json
// shape); a missing or broken file means no credentials.
func readRegistryAuths(p string) map[string]auth.Credential {
	if p == "" {
		p = os.Getenv("HELM_REGISTRY_CONFIG")
	}
	if p == "" {
		p = helmpath.ConfigPath("registry/config.json")
	}
	data, err := manifest.ReadFile(p, 1<<20)
	if err != nil {
		return nil
	}
	var cfg struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			Username      string `json:"username"`
			Password      string `json:"password"`
			IdentityToken string `json:"identitytoken"`
		} `json:"auths"`
	}
	if json.Unmarshal(data, &cfg) != nil {
		return nil
	}
	out := map[string]auth.Credential{}
	for key, a := range cfg.Auths {
		c := auth.Credential{Username: a.Username, Password: a.Password, RefreshToken: a.IdentityToken}
		if a.Auth != "" {
			if raw, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
				if u, p, ok := strings.Cut(string(raw), ":"); ok {
					c.Username, c.Password = u, p
				}
			}
		}
		if c != auth.EmptyCredential {
			out[key] = c
		}
	}
	return out
}

// registryKeyHost is the host:port of a registry config key, which may be
// a bare host or a URL ("https://index.docker.io/v1/").
func registryKeyHost(key string) string {
	if u, err := url.Parse(key); err == nil && u.Host != "" {
		return u.Host
	}
	h, _, _ := strings.Cut(key, "/")
	return h
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
