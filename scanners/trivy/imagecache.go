package trivy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kube-sentient/aegis/internal/atomicfile"
)

// cacheFormat versions the entries of the result cache and what they hold.
// Bump it when the arguments aegis gives `trivy image` change what Trivy
// reports, so that entries written with the old ones are not reused.
const cacheFormat = 1

// cacheKey is everything a cached `trivy image` report depends on: the
// image's content (its digest), the vulnerability database (Trivy's
// schema version and build time, as `trivy version --format json` reports
// them), the Trivy release that matched the two, and the arguments that
// change what it reports. A change to any of them is a miss.
type cacheKey struct {
	Format      int       `json:"format"`
	Trivy       string    `json:"trivy"`
	DBSchema    int       `json:"dbSchema"`
	DBUpdatedAt time.Time `json:"dbUpdatedAt"`
	Source      string    `json:"source"` // registry or archive
	Digest      string    `json:"digest"`
	Args        []string  `json:"args"`
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

// readCache returns the cached report for key, or false when there is
// none or the entry cannot be trusted (truncated, not JSON, another key,
// a report that does not parse): such an entry is a miss, and the scan
// that follows replaces it.
func readCache(dir string, key cacheKey) (*ImageReport, bool) {
	p := key.path(dir)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxOutput {
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
	if err != nil {
		return nil, false
	}
	return rep, true
}

// writeCache stores a report atomically: a temporary file in dir renamed
// over the entry, so that a reader (another aegis run) sees the old entry
// or the new one, never half of one.
func writeCache(dir string, key cacheKey, image string, raw []byte) error {
	data, err := json.Marshal(cacheEntry{Key: key, Image: image, Report: json.RawMessage(bytes.TrimSpace(raw))})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(key.path(dir), data, 0o644); err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	return nil
}
