package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trustScannerCases are hostile-corpus cases of issue 13 ("the change under
// review cannot choose its own base, policy, rules or verdict"): the paths
// a policy names resolve outside the checkout under review, the image
// result cache trusts only its own entries about the image at hand, and an
// enabled live scanner that did not look at the head does not pass it.
func trustScannerCases() []hostileCase {
	var cases []hostileCase
	cases = append(cases, relativePathCases()...)
	cases = append(cases, resultCacheCases()...)
	cases = append(cases, liveScannerCases()...)
	return cases
}

// --- paths in the policy -------------------------------------------------

// In CI the working directory is the checkout of the pull request, so a
// relative path in the policy names files the change itself supplies: a
// result cache saying its image is clean, image tarballs to scan in place
// of the real images, Falco events, Trivy's database. Each is refused at
// its line before anything runs.
func relativePathCases() []hostileCase {
	policy := func(scanner, settings string) string {
		return "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy:\n    enabled: false\n  " + scanner + ":\n" + settings
	}
	// nothingRead: the planted file is still there, untouched, and no
	// report was written (assertHostile checks the latter for exit 2).
	nothingRead := func(rel string) func(t *testing.T, dir string, r hostileResult) {
		return func(t *testing.T, dir string, r hostileResult) {
			t.Helper()
			assert.NotContains(t, r.stderr, "trivy-image on", "no scanner ran")
			_, err := os.Stat(filepath.Join(dir, rel))
			assert.NoError(t, err, "the planted %s is still there", rel)
		}
	}
	cases := []struct {
		name, scanner, settings, key, value, planted string
		shadow                                       bool
	}{
		{"relative trivy-image resultCache planted by the change", "trivy-image", "    offline: true\n    resultCache: .cache/trivy-image\n", "resultCache", ".cache/trivy-image", ".cache/trivy-image/planted.json", true},
		{"relative trivy-image archives planted by the change", "trivy-image", "    offline: true\n    archives: images\n", "archives", "images", "images/web.tar", false},
		{"relative trivy-image cacheDir with the change's database", "trivy-image", "    offline: true\n    cacheDir: trivy-cache\n", "cacheDir", "trivy-cache", "trivy-cache/db/trivy.db", false},
		{"relative falco file of events written by the change", "falco", "    enabled: true\n    allowSkip: true\n    file: ./events.jsonl\n", "file", "./events.jsonl", "events.jsonl", false},
	}
	var out []hostileCase
	for _, c := range cases {
		line := 7 + strings.Count(c.settings[:strings.Index(c.settings, c.key+":")], "\n")
		out = append(out, hostileCase{
			entry: entryConfig, name: c.name, code: exitBadInput, shadow: c.shadow,
			want: fmt.Sprintf(`\.aegis\.yaml:%d: scanners\.%s\.%s %s is a relative path: it would resolve in the working directory, which in CI is the checkout of the change under review, .*write an absolute path outside the checkout, such as "[^"]+"`,
				line, regexp.QuoteMeta(c.scanner), c.key, regexp.QuoteMeta(strconv.Quote(c.value))),
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": policy(c.scanner, c.settings), c.planted: "planted by the change\n"})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead()
			},
			check: nothingRead(c.planted),
		})
	}
	return out
}

// --- the trivy-image result cache ---------------------------------------

// Image digests of the cache cases: the head's image (which the stand-in
// Trivy finds a critical CVE in) and the base's (clean), both referenced by
// digest, so that nothing asks a registry.
var (
	headDigest = "sha256:" + strings.Repeat("a1", 32)
	baseDigest = "sha256:" + strings.Repeat("b2", 32)
	headImage  = "registry.example/shop/web@" + headDigest
	baseImage  = "registry.example/shop/web@" + baseDigest
)

// plantedCVE is what the stand-in Trivy reports on the head's image.
const plantedCVE = "CVE-2099-0001"

// standInImageTrivy writes a stand-in for Trivy that answers `trivy
// version` with a database and reports plantedCVE (critical) on the head's
// image only, appending each image it scans to dir/scanned; a policy that
// uses it for trivy-image with a result cache at dir/results (0700); and a
// base and head that differ only in the image. It returns the result
// cache's directory.
func standInImageTrivy(t *testing.T, dir, policyExtra string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin", "trivy")
	script := `#!/bin/sh
case "$1" in
--version) echo 'Version: 0.74.0'; exit 0;;
version) echo '{"Version":"0.74.0","VulnerabilityDB":{"Version":2,"NextUpdate":"2026-11-02T00:00:00Z","UpdatedAt":"2026-11-01T00:00:00Z","DownloadedAt":"2026-11-01T00:00:00Z"}}'; exit 0;;
image) ;;
*) echo "stand-in trivy: unexpected $*" >&2; exit 2;;
esac
for last; do :; done
echo "$last" >> ` + filepath.Join(dir, "scanned") + `
vulns='[]'
case "$last" in
*` + headDigest + `) vulns='[{"VulnerabilityID":"` + plantedCVE + `","PkgName":"libcrypto3","InstalledVersion":"3.3.1-r3","FixedVersion":"3.3.2-r0","Severity":"CRITICAL","Title":"the head image is vulnerable"}]';;
esac
printf '{"SchemaVersion":2,"ArtifactName":"%s","ArtifactType":"container_image","Metadata":{"RepoDigests":["%s"]},"Results":[{"Target":"web (alpine 3.20.3)","Class":"os-pkgs","Type":"alpine","Vulnerabilities":%s}]}\n' "$last" "$last" "$vulns"
`
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	results := filepath.Join(dir, "results")
	require.NoError(t, os.Mkdir(results, 0o700))
	writeFiles(t, dir, map[string]string{
		"trivy-cache/db/trivy.db": "a stand-in database\n",
		".aegis.yaml": fmt.Sprintf("apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy:\n    enabled: false\n  trivy-image:\n    binary: %s\n    offline: true\n    cacheDir: %s\n    resultCache: %s\n%s",
			bin, filepath.Join(dir, "trivy-cache"), results, policyExtra),
		"base/app.yaml": strings.Replace(goodDeployment, "nginx:1.27", baseImage, 1),
		"head/app.yaml": strings.Replace(goodDeployment, "nginx:1.27", headImage, 1),
	})
	return results
}

// cleanReport is a `trivy image` report of image without a vulnerability.
func cleanReport(image string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"SchemaVersion":2,"ArtifactName":%q,"ArtifactType":"container_image","Metadata":{"RepoDigests":[%q]},"Results":[{"Target":"web (alpine 3.20.3)","Class":"os-pkgs","Type":"alpine"}]}`, image, image))
}

// headRescanned checks that the planted entry changed nothing: Trivy
// scanned the head's image again and its CVE is a new finding that fails
// the gate.
func headRescanned(t *testing.T, dir string, r hostileResult) {
	t.Helper()
	rep := decodeReport(t, r.files["aegis.json"])
	assert.Equal(t, "fail", rep.Verdict)
	assert.True(t, hasFinding(rep, plantedCVE, "new", "app.yaml"), "the head's CVE, from a real scan: %+v", rep.Findings)
	scanned, err := os.ReadFile(filepath.Join(dir, "scanned"))
	require.NoError(t, err, "Trivy ran")
	assert.Contains(t, string(scanned), headImage)
}

func resultCacheCases() []hostileCase {
	return []hostileCase{
		// aegis before format 2 keyed entries by SHA-256 of this JSON: with
		// the database's build time (public) and Trivy's release, anyone
		// could compute where "this image is clean" goes. The entry is a
		// valid one, the user's own (0600), under that key.
		{entry: entryScanner, name: "trivy-image result cache entry under the predictable key of older aegis", code: exitFail,
			want: `New critical finding ` + plantedCVE + ` on Deployment/web container web at app\.yaml:12`,
			prepare: func(t *testing.T, dir string) invocation {
				results := standInImageTrivy(t, dir, "")
				oldKey := fmt.Sprintf(`{"format":1,"trivy":"0.74.0","dbSchema":2,"dbUpdatedAt":"2026-11-01T00:00:00Z","source":"registry","digest":%q,"args":null}`, headDigest)
				sum := sha256.Sum256([]byte(oldKey))
				entry, err := json.Marshal(map[string]any{"key": json.RawMessage(oldKey), "image": headImage, "report": cleanReport(headImage)})
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(results, hex.EncodeToString(sum[:])+".json"), entry, 0o600))
				return verifyHead()
			},
			check: headRescanned},
		// A first run stores the head image's real report; then someone
		// who can write the cache replaces the report in that entry, under
		// its own (current) key, by a clean one about another image.
		{entry: entryScanner, name: "trivy-image result cache entry whose report is another image's", code: exitFail,
			want: `New critical finding ` + plantedCVE + ` on Deployment/web container web at app\.yaml:12`,
			prepare: func(t *testing.T, dir string) invocation {
				results := standInImageTrivy(t, dir, "")
				first := runHostile(t, dir, verifyHead(), nil)
				require.Equal(t, exitFail, first.code, first.stderr)
				entries, err := filepath.Glob(filepath.Join(results, "*.json"))
				require.NoError(t, err)
				var tampered int
				for _, p := range entries {
					data, err := os.ReadFile(p)
					require.NoError(t, err)
					if !strings.Contains(string(data), plantedCVE) {
						continue // the base image's entry
					}
					var e map[string]json.RawMessage
					require.NoError(t, json.Unmarshal(data, &e))
					e["report"] = cleanReport(baseImage)
					data, err = json.Marshal(e)
					require.NoError(t, err)
					require.NoError(t, os.WriteFile(p, data, 0o600))
					tampered++
				}
				require.Equal(t, 1, tampered, "the head image's entry: %v", entries)
				require.NoError(t, os.Remove(filepath.Join(dir, "scanned")))
				return verifyHead()
			},
			check: headRescanned},
		// A cache directory others may write is no cache: the scan fails
		// closed and says what to do.
		{entry: entryScanner, name: "trivy-image result cache that other users may write", code: exitInfra,
			want: `result cache .*/results is writable by other users \(mode 0777\): anyone who can write there can make an image look clean`,
			prepare: func(t *testing.T, dir string) invocation {
				results := standInImageTrivy(t, dir, "")
				require.NoError(t, os.Chmod(results, 0o777))
				return verifyHead()
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				rep := decodeReport(t, r.files["aegis.json"])
				assert.Equal(t, "error", rep.Verdict)
				for _, run := range scannerRuns(t, r.files["aegis.json"]) {
					if run.Name == "trivy-image" {
						assert.Equal(t, "error", run.Status, run.Side)
					}
				}
				_, err := os.Stat(filepath.Join(dir, "scanned"))
				assert.True(t, os.IsNotExist(err), "no image was scanned into it")
			}},
	}
}

// --- live scanners that cannot run ---------------------------------------

// standInWapiti writes a Wapiti that only answers --version: the cases
// below never get as far as attacking anything.
func standInWapiti(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin", "wapiti")
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\ncase \"$1\" in --version) echo 'Wapiti 3.2.4'; exit 0;; esac\necho 'stand-in wapiti: no scan here' >&2\nexit 2\n"), 0o755))
	return bin
}

// withCluster appends --shadow head on the test cluster to inv (skipping
// without one, failing with AEGIS_REQUIRE_CLUSTER=1), and checks after the
// run that nothing of it is left there.
func withCluster(t *testing.T, inv invocation) invocation {
	t.Helper()
	kc, cs := clusterKubeconfig(t)
	runID := fmt.Sprintf("trustlive%d", time.Now().UnixNano()%1_000_000_000)
	t.Cleanup(func() {
		assert.Empty(t, runNamespaces(t, cs, runID), "nothing of run %s is left on the cluster", runID)
	})
	inv.args = append(inv.args, "--shadow", "head", "--kubeconfig", kc, "--run-id", runID, "--shadow-timeout", "2m")
	return inv
}

// runOf is the status and error of scanner name on side.
func runOf(t *testing.T, r hostileResult, name, side string) scannerRunJSON {
	t.Helper()
	for _, run := range scannerRuns(t, r.files["aegis.json"]) {
		if run.Name == name && run.Side == side {
			return run
		}
	}
	t.Fatalf("no %s run on %s in %s", name, side, r.files["aegis.json"])
	return scannerRunJSON{}
}

func liveScannerCases() []hostileCase {
	const zapPolicy = "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy:\n    enabled: false\n  trivy-image:\n    enabled: false\n  zap:\n    enabled: true\n    apiURL: http://127.0.0.1:1\n"
	refusedAtStart := `\.aegis\.yaml:9: scanners\.zap is enabled but --shadow is off: ZAP scans the shadow deployment, which --shadow off never creates; set --shadow head or both \(the action's shadow input\), or disable zap, or set scanners\.zap\.allowSkip: true`
	return []hostileCase{
		// Before: ZAP was skipped on both sides and the gate passed a
		// change no DAST had looked at.
		{entry: entryConfig, name: "zap enabled with --shadow off", code: exitBadInput, want: refusedAtStart,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": zapPolicy})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead()
			}},
		{entry: entryConfig, name: "zap enabled with the action's shadow input off", code: exitBadInput, want: refusedAtStart,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": zapPolicy})
				return commentPR(t, dir, map[string]string{"shadow": "off"})
			}},
		// The head drops every Service, so Wapiti has nothing to attack
		// on it: before, "no Service: no findings", and every DAST finding
		// of the base would read as fixed.
		{entry: entryScanner, name: "wapiti selecting no Service on the deployed head", code: exitInfra,
			want: `Scanner wapiti is enabled but did not run on the head: no Service in shadow namespace \S+: nothing to scan.*set scanners\.wapiti\.allowSkip in the policy`,
			prepare: func(t *testing.T, dir string) invocation {
				bin := standInWapiti(t, dir)
				writeFiles(t, dir, map[string]string{".aegis.yaml": quickPolicy + "  wapiti:\n    enabled: true\n    binary: " + bin + "\n"})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return withCluster(t, verifyHead())
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assert.Equal(t, "error", decodeReport(t, r.files["aegis.json"]).Verdict)
				head := runOf(t, r, "wapiti", "head")
				assert.Equal(t, "skipped", head.Status)
				assert.Contains(t, head.Error, "no Service in shadow namespace")
				base := runOf(t, r, "wapiti", "base")
				assert.Equal(t, "skipped", base.Status, "--shadow head deploys no base")
				assert.Contains(t, base.Error, "the base side is not deployed")
			}},
		// The same with allowSkip: the policy's owner accepts it, and the
		// reason says so.
		{entry: entryScanner, name: "wapiti selecting no Service, accepted by allowSkip", code: exitPass,
			want: `accepted because scanners\.wapiti\.allowSkip is set`,
			prepare: func(t *testing.T, dir string) invocation {
				bin := standInWapiti(t, dir)
				writeFiles(t, dir, map[string]string{".aegis.yaml": quickPolicy + "  wapiti:\n    enabled: true\n    allowSkip: true\n    binary: " + bin + "\n"})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return withCluster(t, verifyHead())
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assert.Equal(t, "pass", decodeReport(t, r.files["aegis.json"]).Verdict)
				assert.Equal(t, "skipped", runOf(t, r, "wapiti", "head").Status)
			}},
		// --shadow head never deploys the base: Falco watches the head
		// only, and the base's skip is by design (every head alert counts
		// as new), not an error.
		{entry: entryScanner, name: "falco with --shadow head: the undeployed base is skipped by design", code: exitPass,
			prepare: func(t *testing.T, dir string) invocation {
				events := filepath.Join(dir, "events.jsonl")
				writeFiles(t, dir, map[string]string{
					"events.jsonl": "",
					".aegis.yaml":  quickPolicy + "  falco:\n    enabled: true\n    window: 1s\n    file: " + events + "\n",
				})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return withCluster(t, verifyHead())
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				assert.Equal(t, "pass", decodeReport(t, r.files["aegis.json"]).Verdict)
				assert.Equal(t, "ok", runOf(t, r, "falco", "head").Status, runOf(t, r, "falco", "head").Error)
				base := runOf(t, r, "falco", "base")
				assert.Equal(t, "skipped", base.Status)
				assert.Contains(t, base.Error, "the base side is not deployed")
			}},
	}
}
