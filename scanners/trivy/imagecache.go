package trivy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kube-sentient/aegis/internal/atomicfile"
)

// cacheFormat versions the entries of the result cache and what they hold.
// Bump it when the arguments aegis gives `trivy image` change what Trivy
// reports, so that entries written with the old ones are not reused.
// Format 2 added the database's content digest and Insecure to the key,
// and the check of the report against the image's digest.
const cacheFormat = 2

// cacheKey is everything a cached `trivy image` report depends on: the
// image's content (its digest), the vulnerability database (Trivy's
// schema version and build time, as `trivy version --format json` reports
// them, and the SHA-256 of db/trivy.db itself, so that two databases with
// the same build time are still told apart), the Trivy release that matched
// the two, and the options that change what it reports (ExtraArgs and
// Insecure; the policy's severity filter is applied by the runner to the
// findings, after the cache, so it is not part of it). A change to any of
// them is a miss.
type cacheKey struct {
	Format      int       `json:"format"`
	Trivy       string    `json:"trivy"`
	DBSchema    int       `json:"dbSchema"`
	DBUpdatedAt time.Time `json:"dbUpdatedAt"`
	DBDigest    string    `json:"dbDigest"`
	Source      string    `json:"source"` // registry or archive
	Digest      string    `json:"digest"`
	Args        []string  `json:"args"`
	Insecure    bool      `json:"insecure"`
}

// cacheEntry is one file of the result cache.
type cacheEntry struct {
	Key cacheKey `json:"key"`
	// Image is the reference the report was made for, for a human
	// looking at the cache; not part of the key.
	Image  string          `json:"image"`
	Report json.RawMessage `json:"report"`
}

func (k cacheKey) encode() []byte {
	b, _ := json.Marshal(k) // plain fields: cannot fail
	return b
}

// path is the key's file in dir: the SHA-256 of the encoded key.
func (k cacheKey) path(dir string) string {
	sum := sha256.Sum256(k.encode())
	return filepath.Join(dir, hex.EncodeToString(sum[:])+".json")
}

// describes reports whether rep is a report about the image the key names:
// for an image tarball, Trivy's ImageID is the image's config digest, which
// is what aegis keyed it by; for a registry image, aegis pulls
// repository@digest, which Trivy records as the ArtifactName and among the
// RepoDigests. A report that names another image is not this image's,
// whatever file it was found in.
func (k cacheKey) describes(rep *ImageReport) bool {
	if k.Digest == "" {
		return false
	}
	if k.Source == sourceArchive {
		return rep.Metadata.ImageID == k.Digest
	}
	for _, name := range append([]string{rep.ArtifactName}, rep.Metadata.RepoDigests...) {
		if _, d, ok := strings.Cut(name, "@"); ok && d == k.Digest {
			return true
		}
	}
	return false
}

// prepareResultCache makes dir the result cache: created 0700 if absent,
// and refused unless it is a directory of the user aegis runs as that no
// one else may write to. Anyone who can write an entry can make an image
// look clean, so a shared or world-writable directory is an error that
// says what to do, not a cache.
func prepareResultCache(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("result cache %s is not a directory", dir)
	}
	if err := privateTo(fi); err != nil {
		return fmt.Errorf("result cache %s %v: anyone who can write there can make an image look clean; "+
			"point scanners.%s.resultCache at a directory of your own (aegis creates it with mode 0700), or chmod go-w it", dir, err, ImageName)
	}
	return nil
}

// privateTo fails unless fi belongs to the user aegis runs as and no one
// else may write to it.
func privateTo(fi fs.FileInfo) error {
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("belongs to uid %d, not to uid %d that aegis runs as", uid, os.Getuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("is writable by other users (mode %04o)", fi.Mode().Perm())
	}
	return nil
}

// readCache returns the cached report for key, or false when there is
// none or the entry cannot be trusted: not a regular file of the user's
// own that no one else may write to, truncated, not JSON, recorded for
// another key, a report that does not parse, or a report about an image
// other than the key's digest. Such an entry is a miss, and the scan that
// follows replaces it.
func readCache(dir string, key cacheKey) (*ImageReport, bool) {
	p := key.path(dir)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxOutput || privateTo(fi) != nil {
		return nil, false
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if err := decodeJSON(data, &e); err != nil {
		return nil, false
	}
	if !bytes.Equal(e.Key.encode(), key.encode()) {
		return nil, false
	}
	rep, err := ParseImageReport(e.Report)
	if err != nil || !key.describes(rep) {
		return nil, false
	}
	return rep, true
}

// errNotThisImage refuses to cache a report that a later read would not
// trust (see cacheKey.describes).
var errNotThisImage = errors.New("the report does not name the image's digest")

// writeCache stores a report atomically, readable and writable by the user
// only: a temporary file in dir renamed over the entry, so that a reader
// (another aegis run) sees the old entry or the new one, never half of
// one.
func writeCache(dir string, key cacheKey, image string, raw []byte) error {
	rep, err := ParseImageReport(raw)
	if err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	if !key.describes(rep) {
		return fmt.Errorf("result cache: %w %s (ArtifactName %q, ImageID %q, RepoDigests %q)", errNotThisImage, key.Digest,
			rep.ArtifactName, rep.Metadata.ImageID, slices.Clone(rep.Metadata.RepoDigests))
	}
	data, err := json.Marshal(cacheEntry{Key: key, Image: image, Report: json.RawMessage(bytes.TrimSpace(raw))})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(key.path(dir), data, 0o600); err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	return nil
}

// fileDigest is "sha256:<hex>" of the file at path.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
