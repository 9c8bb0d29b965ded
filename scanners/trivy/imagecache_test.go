package trivy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/scanners"
)

// fixtureDigest is the image digest testdata/image-output.json was made
// for (its ArtifactName and RepoDigests).
const fixtureDigest = "sha256:682f2f6980548d79ab709a51afe92b375b03d21d43e353c59e9a7a3c0321c4e2"

// reportFor is the fixture report rewritten to name digest, with its
// vulnerabilities (clean: none).
func reportFor(t *testing.T, digest string, clean bool) []byte {
	t.Helper()
	_, raw := imageFixtureReport(t)
	raw = bytes.ReplaceAll(raw, []byte(fixtureDigest), []byte(digest))
	if !clean {
		return raw
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	delete(m, "Results")
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func testKey(digest string) cacheKey {
	return cacheKey{Format: cacheFormat, Trivy: "0.74.0", DBSchema: 2, DBUpdatedAt: dbUpdatedAt,
		DBDigest: "sha256:" + strings.Repeat("d", 64), Source: sourceRegistry, Digest: digest}
}

func TestResultCacheEntries(t *testing.T) {
	dir := t.TempDir()
	raw := reportFor(t, digestA, false)
	key := testKey(digestA)
	_, ok := readCache(dir, key)
	assert.False(t, ok, "empty cache")
	require.NoError(t, writeCache(dir, key, "r/a:1", raw))
	rep, ok := readCache(dir, key)
	require.True(t, ok)
	want, err := ParseImageReport(raw)
	require.NoError(t, err)
	assert.Equal(t, want, rep)
	fi, err := os.Stat(key.path(dir))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "an entry is the user's alone")

	for name, k := range map[string]cacheKey{
		"another digest":            func() cacheKey { k := key; k.Digest = digestB; return k }(),
		"another database build":    func() cacheKey { k := key; k.DBUpdatedAt = k.DBUpdatedAt.Add(time.Hour); return k }(),
		"another database file":     func() cacheKey { k := key; k.DBDigest = "sha256:" + strings.Repeat("e", 64); return k }(),
		"another release":           func() cacheKey { k := key; k.Trivy = "0.75.0"; return k }(),
		"other arguments":           func() cacheKey { k := key; k.Args = []string{"--ignore-unfixed"}; return k }(),
		"insecure registries":       func() cacheKey { k := key; k.Insecure = true; return k }(),
		"from an archive":           func() cacheKey { k := key; k.Source = sourceArchive; return k }(),
		"the previous entry format": func() cacheKey { k := key; k.Format = 1; return k }(),
	} {
		_, ok := readCache(dir, k)
		assert.False(t, ok, name)
	}
	// An entry whose recorded key differs (a hash collision, or a file
	// copied over) is a miss.
	other := key
	other.Digest = digestB
	data, err := os.ReadFile(key.path(dir))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(other.path(dir), data, 0o600))
	_, ok = readCache(dir, other)
	assert.False(t, ok)
	// A report that does not parse is a miss, and is not written.
	assert.Error(t, writeCache(dir, key, "r/a:1", []byte(`{"SchemaVersion": 1}`)))

	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, f := range files {
		assert.False(t, strings.HasSuffix(f.Name(), ".tmp"), "no temporary file left: %s", f.Name())
	}
}

// plant writes an entry under key holding raw, as someone with write
// access to the cache could, bypassing writeCache's own check.
func plant(t *testing.T, dir string, key cacheKey, raw []byte, perm os.FileMode) string {
	t.Helper()
	data, err := json.Marshal(cacheEntry{Key: key, Image: "planted", Report: json.RawMessage(raw)})
	require.NoError(t, err)
	p := key.path(dir)
	require.NoError(t, os.WriteFile(p, data, perm))
	require.NoError(t, os.Chmod(p, perm))
	return p
}

// An entry under the right key is still not trusted unless its report is
// about the key's image, a regular file of the user's own that no one else
// may write.
func TestResultCacheRefusesPlantedEntries(t *testing.T) {
	key := testKey(digestA)

	dir := t.TempDir()
	plant(t, dir, key, reportFor(t, digestA, true), 0o600)
	_, ok := readCache(dir, key)
	assert.True(t, ok, "control: a well-formed entry of the user's is a hit")

	dir = t.TempDir()
	plant(t, dir, key, reportFor(t, digestB, true), 0o600)
	_, ok = readCache(dir, key)
	assert.False(t, ok, "a clean report of another image under this image's key")

	dir = t.TempDir()
	plant(t, dir, key, reportFor(t, digestA, true), 0o666)
	_, ok = readCache(dir, key)
	assert.False(t, ok, "an entry others may write")

	dir = t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "entry.json")
	src := plant(t, t.TempDir(), key, reportFor(t, digestA, true), 0o600)
	require.NoError(t, os.Rename(src, elsewhere))
	require.NoError(t, os.Symlink(elsewhere, key.path(dir)))
	_, ok = readCache(dir, key)
	assert.False(t, ok, "a symlink")

	if os.Getuid() == 0 {
		dir = t.TempDir()
		p := plant(t, dir, key, reportFor(t, digestA, true), 0o600)
		require.NoError(t, os.Chown(p, 65534, 65534))
		_, ok = readCache(dir, key)
		assert.False(t, ok, "an entry of another user")
	}

	// An archive is keyed by its image ID (config digest).
	arch := key
	arch.Source = sourceArchive
	arch.Digest = "sha256:8db5153acdca2d839741a0ad66fede41b0fcac46dad88b408d329ee2c88e1202" // the fixture's ImageID
	dir = t.TempDir()
	plant(t, dir, arch, reportFor(t, digestB, true), 0o600)
	_, ok = readCache(dir, arch)
	assert.True(t, ok, "the image ID matches")
	arch.Digest = digestA
	plant(t, dir, arch, reportFor(t, digestA, true), 0o600)
	_, ok = readCache(dir, arch)
	assert.False(t, ok, "an archive's entry whose ImageID is another image's")

	// writeCache refuses to store what readCache would not trust.
	dir = t.TempDir()
	assert.ErrorIs(t, writeCache(dir, key, "r/a:1", reportFor(t, digestB, false)), errNotThisImage)
	_, err := os.Stat(key.path(dir))
	assert.True(t, os.IsNotExist(err))
}

func TestPrepareResultCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "results")
	require.NoError(t, prepareResultCache(dir))
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	shared := t.TempDir()
	require.NoError(t, os.Chmod(shared, 0o777))
	err = prepareResultCache(shared)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is writable by other users (mode 0777)")
	assert.Contains(t, err.Error(), "scanners.trivy-image.resultCache")

	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	assert.Error(t, prepareResultCache(file))

	if os.Getuid() == 0 {
		theirs := t.TempDir()
		require.NoError(t, os.Chown(theirs, 65534, 65534))
		assert.ErrorContains(t, prepareResultCache(theirs), "belongs to uid 65534")
	}
}

// Through Scan with the stand-in Trivy (which answers `trivy version` with
// database 2, built 2026-11-01T00:00:00Z, and replays the fixture): an
// entry planted under the scanner's real key is used only when its report
// names the image; a report Trivy makes about another digest is not
// stored.
func TestScanTrustsOnlyEntriesOfTheImage(t *testing.T) {
	set := writeManifests(t, "", map[string]string{"all.yaml": replayManifests})
	t.Setenv("FAKETRIVY_MODE", "replay")
	t.Setenv("FAKETRIVY_OUTPUT", mustAbs(t, "testdata/image-output.json"))
	results := filepath.Join(t.TempDir(), "results")
	s := standInImage(t, ImageOptions{ResultCache: results})
	emptyDB := sha256.Sum256(nil) // standInImage's database file is empty
	keyOf := func(digest string) cacheKey {
		return cacheKey{Format: cacheFormat, Trivy: "0.74.0", DBSchema: 2, DBUpdatedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
			DBDigest: "sha256:" + hex.EncodeToString(emptyDB[:]), Source: sourceRegistry, Digest: digest}
	}
	require.NoError(t, os.MkdirAll(results, 0o700))
	plant(t, results, keyOf(digestA), reportFor(t, digestA, true), 0o600)       // trusted: names digestA
	plant(t, results, keyOf(digestB), reportFor(t, fixtureDigest, true), 0o600) // planted: names another image

	fs, err := s.Scan(context.Background(), target(scanners.Head, set))
	require.NoError(t, err)
	assert.Equal(t, ImageStats{Images: 2, TrivyRuns: 1, CacheHits: 1, CacheErrors: 1}, s.Stats(),
		"digestA from its entry; digestB rescanned, and Trivy's report (about the fixture's digest) not stored")
	var images []string
	for _, f := range fs {
		images = append(images, f.Image)
	}
	assert.NotEmpty(t, fs)
	for _, img := range images {
		assert.Contains(t, img, digestB, "the findings are the rescanned image's")
	}
}
