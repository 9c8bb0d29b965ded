// Package trivytest gives tests and benchmarks of the trivy-image scanner
// what the real `trivy image` needs and this machine cannot download: a
// vulnerability database and images to scan.
//
//   - BuildDB writes a Trivy database into a cache directory with Trivy's
//     own DB library (github.com/aquasecurity/trivy-db at the version
//     Trivy v0.74.0 pins), run by the tool module hack/tools/trivydb, from
//     the advisory records under vulnlist/: Alpine's secdb entry for
//     openssl on v3.20 and two NVD records (see vulnlist/README.md).
//   - AlpineImage builds a small Alpine-like image whose apk database lists
//     openssl's libraries at a chosen version, which Trivy matches against
//     those advisories as it would a real Alpine image.
//   - Registry serves images from memory on 127.0.0.1 (go-containerregistry's
//     registry), which Trivy and aegis reach over plain HTTP; WriteArchive
//     writes an image tarball like hack/build-images.sh does.
package trivytest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The advisories in vulnlist/ (Alpine v3.20, source package openssl):
// 3.3.2-r0 fixes CVE-2024-6119 (NVD: HIGH), 3.3.2-r1 fixes CVE-2024-9143
// (no NVD score: Trivy says UNKNOWN); older fixes (CVE-2024-4603, -4741,
// -5535) are below both versions below.
const (
	// AlpineRelease is the release the advisories are for.
	AlpineRelease = "3.20.3"
	// VulnerableOpenSSL is affected by both CVEs.
	VulnerableOpenSSL = "3.3.1-r3"
	// FixedOpenSSL fixes CVE-2024-6119 but not CVE-2024-9143.
	FixedOpenSSL = "3.3.2-r0"
	// PatchedOpenSSL fixes both.
	PatchedOpenSSL = "3.3.2-r1"

	// CVEFixedInFixed is the CVE FixedOpenSSL fixes; CVEOpen the one it
	// does not.
	CVEFixedInFixed = "CVE-2024-6119"
	CVEOpen         = "CVE-2024-9143"
)

// OpenSSLPackages are the binary packages built from openssl that an
// Alpine image has: each is a finding of its own.
var OpenSSLPackages = []string{"libcrypto3", "libssl3"}

// Package is one entry of an Alpine apk database.
type Package struct {
	Name, Version string
	// Origin is the source package, which advisories name (openssl for
	// libcrypto3); empty means Name.
	Origin string
}

// OpenSSLImage is AlpineImage with musl and openssl's libraries at
// version. note makes images with the same packages distinct.
func OpenSSLImage(version, note string) (v1.Image, error) {
	pkgs := []Package{{Name: "musl", Version: "1.2.5-r0"}}
	for _, p := range OpenSSLPackages {
		pkgs = append(pkgs, Package{Name: p, Version: version, Origin: "openssl"})
	}
	return AlpineImage(AlpineRelease, pkgs, note)
}

// AlpineImage returns a one-layer linux/amd64 image holding what Trivy
// reads to find an Alpine release and its packages: /etc/alpine-release,
// /etc/os-release and /lib/apk/db/installed, plus /etc/aegis-note holding
// note. It has no binaries: it is scanned, never run.
func AlpineImage(release string, pkgs []Package, note string) (v1.Image, error) {
	var apk strings.Builder
	for _, p := range pkgs {
		origin := p.Origin
		if origin == "" {
			origin = p.Name
		}
		fmt.Fprintf(&apk, "P:%s\nV:%s\nA:x86_64\nT:%s\nU:https://alpinelinux.org\nL:MIT\no:%s\nF:usr/lib\nR:%s.so\n\n", p.Name, p.Version, p.Name, origin, p.Name)
	}
	minor := release
	if parts := strings.SplitN(release, ".", 3); len(parts) >= 2 {
		minor = parts[0] + "." + parts[1]
	}
	files := []struct{ path, body string }{
		{"etc/alpine-release", release + "\n"},
		{"etc/os-release", fmt.Sprintf("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=%s\nPRETTY_NAME=\"Alpine Linux v%s\"\n", release, minor)},
		{"etc/aegis-note", note + "\n"},
		{"lib/apk/db/installed", apk.String()},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	for _, d := range []string{"etc/", "lib/", "lib/apk/", "lib/apk/db/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.path, Mode: 0o644, Size: int64(len(f.body)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return oneLayer(buf.Bytes())
}

// JavaImage returns a one-layer image holding one Java archive
// (/app/lib/app-1.0.jar): scanning it needs Trivy's Java index database.
func JavaImage(note string) (v1.Image, error) {
	var jar bytes.Buffer
	zw := zip.NewWriter(&jar)
	for _, f := range []struct{ name, body string }{
		{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Title: " + note + "\n"},
		{"org/example/App.class", "not a real class"},
	} {
		w, err := zw.Create(f.name)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, f.body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "app/lib/app-1.0.jar", Mode: 0o644, Size: int64(jar.Len()), ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(jar.Bytes()); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return oneLayer(buf.Bytes())
}

// oneLayer is a linux/amd64 image of one uncompressed layer tarball.
func oneLayer(layerTar []byte) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Cmd = []string{"/bin/sh"}
	return mutate.ConfigFile(img, cf)
}

// Registry is an in-memory OCI registry on 127.0.0.1, served over plain
// HTTP, which go-containerregistry (and so Trivy) uses for loopback
// registries without being told.
type Registry struct {
	// Host is "127.0.0.1:PORT".
	Host string
	srv  *httptest.Server
}

// StartRegistry starts a registry; Close stops it.
func StartRegistry() *Registry {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), srv: srv}
}

// Close stops the registry.
func (r *Registry) Close() { r.srv.Close() }

// Push stores img as Host/repoTag ("app:1.0") and returns the full
// reference and the image's manifest digest.
func (r *Registry) Push(repoTag string, img v1.Image) (ref, digest string, err error) {
	ref = r.Host + "/" + repoTag
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", "", err
	}
	if err := remote.Write(tag, img); err != nil {
		return "", "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", "", err
	}
	return ref, d.String(), nil
}

// WriteArchive writes img tagged ref as a docker-archive tarball at path,
// the format of hack/build-images.sh (go-containerregistry's tarball).
func WriteArchive(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return tarball.WriteToFile(path, tag, img)
}
