package trivy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/trivy/trivytest"
)

// These tests need no Trivy: they read testdata/image-output.json (real
// `trivy image` output, see testdata/README.md) directly or replay it
// through the stand-in binary.

func imageFixtureReport(t *testing.T) (*ImageReport, []byte) {
	t.Helper()
	data, err := os.ReadFile("testdata/image-output.json")
	require.NoError(t, err)
	r, err := ParseImageReport(data)
	require.NoError(t, err)
	return r, data
}

func TestImageFixtureIsRealTrivyOutput(t *testing.T) {
	r, _ := imageFixtureReport(t)
	assert.Equal(t, ArtifactContainerImage, r.ArtifactType)
	require.NotNil(t, r.Metadata.OS)
	assert.Equal(t, "alpine", r.Metadata.OS.Family)
	require.Len(t, r.Results, 1)
	res := r.Results[0]
	assert.Equal(t, "os-pkgs", res.Class)
	assert.Equal(t, "alpine", res.Type)
	require.Len(t, res.Vulnerabilities, 4, "2 CVEs x libcrypto3, libssl3")
	var got *Vulnerability
	for i, v := range res.Vulnerabilities {
		if v.VulnerabilityID == trivytest.CVEFixedInFixed && v.PkgName == "libcrypto3" {
			got = &res.Vulnerabilities[i]
		}
	}
	require.NotNil(t, got)
	assert.Equal(t, trivytest.VulnerableOpenSSL, got.InstalledVersion)
	assert.Equal(t, trivytest.FixedOpenSSL, got.FixedVersion)
	assert.Equal(t, "HIGH", got.Severity)
	assert.Equal(t, "fixed", got.Status)
	assert.Equal(t, "https://avd.aquasec.com/nvd/cve-2024-6119", got.PrimaryURL)
}

func TestParseImageReportRefusesWhatIsNotAnImageReport(t *testing.T) {
	for name, out := range map[string]string{
		"empty":         "",
		"garbage":       "FATAL error",
		"truncated":     `{"SchemaVersion": 2, "ArtifactType": "container_image", "Results": [`,
		"trailing":      `{"SchemaVersion": 2, "ArtifactType": "container_image"} {}`,
		"other version": `{"SchemaVersion": 3, "ArtifactType": "container_image"}`,
		"filesystem":    `{"SchemaVersion": 2, "ArtifactType": "filesystem"}`,
		"no target":     `{"SchemaVersion": 2, "ArtifactType": "container_image", "Results": [{"Class": "os-pkgs"}]}`,
		"no id":         `{"SchemaVersion": 2, "ArtifactType": "container_image", "Results": [{"Target": "x", "Vulnerabilities": [{"PkgName": "p", "Severity": "HIGH"}]}]}`,
		"no package":    `{"SchemaVersion": 2, "ArtifactType": "container_image", "Results": [{"Target": "x", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "Severity": "HIGH"}]}]}`,
		"bad severity":  `{"SchemaVersion": 2, "ArtifactType": "container_image", "Results": [{"Target": "x", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "p", "Severity": "SEVERE"}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseImageReport([]byte(out))
			assert.Error(t, err)
		})
	}
	// A clean image: no Results at all.
	r, err := ParseImageReport([]byte(`{"SchemaVersion": 2, "ArtifactName": "x", "ArtifactType": "container_image"}`))
	require.NoError(t, err)
	assert.Empty(t, r.Results)
}

func TestVulnerabilitySeverities(t *testing.T) {
	for in, want := range map[string]report.Severity{
		"CRITICAL": report.Critical, "HIGH": report.High, "MEDIUM": report.Medium,
		"LOW": report.Low, "UNKNOWN": report.Low, "": report.Low,
	} {
		got, err := vulnSeverity(in)
		require.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
	_, err := vulnSeverity("SEVERE")
	assert.Error(t, err)
}

// standInImage is an ImageScanner on the stand-in binary, with a cache
// directory that has a (dummy) database file.
func standInImage(t *testing.T, opts ImageOptions) *ImageScanner {
	t.Helper()
	opts.Binary = fakeTrivy(t)
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(opts.CacheDir, "db"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(opts.CacheDir, "db", "trivy.db"), nil, 0o644))
	}
	return NewImage(opts)
}

// Digest references need no registry look-up, so these tests stay offline.
const (
	digestA = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digestB = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

const replayManifests = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: ops
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: job
              image: registry.example/shop/web:1.0@` + digestA + `
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
        - name: agent
          image: registry.example/ops/agent@` + digestB + `
`

// The whole path on the fixture: arguments, parsing, one finding per
// vulnerability, package and container, at the image line.
func TestImageReplayMapsTheFixture(t *testing.T) {
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	t.Setenv("FAKETRIVY_MODE", "replay")
	t.Setenv("FAKETRIVY_OUTPUT", mustAbs(t, "testdata/image-output.json"))
	t.Setenv("FAKETRIVY_ARGS", argsFile)
	t.Setenv("TRIVY_SEVERITY", "CRITICAL") // must not reach Trivy
	s := standInImage(t, ImageOptions{Insecure: true, ExtraArgs: []string{"--ignore-unfixed"}})
	set := writeManifests(t, "", map[string]string{"all.yaml": replayManifests})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fs, err := s.Scan(ctx, target(scanners.Head, set))
	require.NoError(t, err)
	assert.Len(t, fs, 8, "4 vulnerabilities x 2 containers")
	assert.Equal(t, ImageStats{Images: 2, TrivyRuns: 2}, s.Stats())

	job := findVuln(fs, trivytest.CVEFixedInFixed, "job", "libssl3")
	require.NotNil(t, job)
	assert.Equal(t, report.Location{Path: "all.yaml", Line: lineIn(t, replayManifests, "image: registry.example/shop/web", 1)}, job.Location)
	assert.Equal(t, report.Resource{APIVersion: "batch/v1", Kind: "CronJob", Namespace: "ops", Name: "nightly", Container: "job"}, job.Resource)
	assert.Equal(t, "Package libssl3 3.3.1-r3 in image registry.example/shop/web:1.0@"+digestA+" is affected by CVE-2024-6119; fixed in 3.3.2-r0.", job.Message)
	agent := findVuln(fs, trivytest.CVEOpen, "agent", "libcrypto3")
	require.NotNil(t, agent)
	assert.Equal(t, report.Low, agent.Severity)
	assert.Equal(t, lineIn(t, replayManifests, "image: registry.example/ops/agent", 1), agent.Location.Line)

	args := readLines(t, argsFile) // the last run's
	assert.Equal(t, "image", args[0])
	for _, want := range []string{"--skip-db-update", "--skip-java-db-update", "--skip-version-check", "--disable-telemetry", "--offline-scan", "--quiet", "--insecure", "--ignore-unfixed", "--list-all-pkgs=false"} {
		assert.Contains(t, args, want)
	}
	assert.Equal(t, []string{"--image-src", "remote"}, after(args, "--image-src", 1))
	assert.Equal(t, []string{"--scanners", "vuln"}, after(args, "--scanners", 1))
	assert.Equal(t, []string{"--cache-backend", "memory"}, after(args, "--cache-backend", 1))
	assert.Len(t, after(args, "--timeout", 1), 2, "the scan's deadline reaches Trivy's own timeout")
	assert.Contains(t, args[len(args)-1], "@sha256:", "the image last, by digest")
	assert.NotContains(t, strings.Join(args, " "), "CRITICAL")
}

func TestImageStandInFailures(t *testing.T) {
	set := writeManifests(t, "", map[string]string{"all.yaml": replayManifests})
	for _, mode := range []string{"garbage", "exit"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("FAKETRIVY_MODE", mode)
			_, err := standInImage(t, ImageOptions{}).Scan(context.Background(), target(scanners.Head, set))
			require.Error(t, err)
			assert.False(t, errors.Is(err, scanners.ErrNotInstalled))
			if mode == "garbage" {
				assert.Contains(t, err.Error(), "not a JSON report")
			} else {
				assert.Contains(t, err.Error(), "exit status 3")
				assert.Contains(t, err.Error(), "unable to load", "Trivy's stderr is quoted")
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		t.Setenv("FAKETRIVY_MODE", "sleep")
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := standInImage(t, ImageOptions{}).Scan(ctx, target(scanners.Head, set))
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
		assert.Less(t, time.Since(start), 20*time.Second)
	})
	t.Run("no database", func(t *testing.T) {
		t.Setenv("FAKETRIVY_MODE", "exit") // would fail differently if it ran
		t.Setenv("FAKETRIVY_NODB", "1")
		_, err := standInImage(t, ImageOptions{}).Scan(context.Background(), target(scanners.Head, set))
		require.Error(t, err)
		assert.True(t, errors.Is(err, scanners.ErrNotInstalled), "%v", err)
	})
	t.Run("database file missing", func(t *testing.T) {
		t.Setenv("FAKETRIVY_MODE", "exit")
		_, err := standInImage(t, ImageOptions{CacheDir: t.TempDir()}).Scan(context.Background(), target(scanners.Head, set))
		require.Error(t, err)
		assert.True(t, errors.Is(err, scanners.ErrNotInstalled), "%v", err)
	})
	t.Run("missing binary", func(t *testing.T) {
		s := NewImage(ImageOptions{Binary: filepath.Join(t.TempDir(), "no-trivy")})
		_, err := s.Version(context.Background())
		assert.True(t, errors.Is(err, scanners.ErrNotInstalled), "%v", err)
		_, err = s.Scan(context.Background(), target(scanners.Head, set))
		assert.True(t, errors.Is(err, scanners.ErrNotInstalled), "%v", err)
	})
	t.Run("bad version output", func(t *testing.T) {
		t.Setenv("FAKETRIVY_MODE", "badver")
		_, err := standInImage(t, ImageOptions{}).Version(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a JSON report")
	})
	t.Run("no set", func(t *testing.T) {
		_, err := standInImage(t, ImageOptions{}).Scan(context.Background(), scanners.Target{Side: scanners.Head})
		assert.Error(t, err, "no set is not a clean side")
	})
}

// Through the runner, each failure is an error run; only a missing
// database or binary is "missing".
func TestImageRunnerRecordsFailures(t *testing.T) {
	set := writeManifests(t, "", map[string]string{"all.yaml": replayManifests})
	cfg := config.Default()
	on := true
	cfg.Scanners = map[string]config.ScannerSettings{ImageName: {Enabled: &on}}
	for _, tc := range []struct {
		name, mode string
		nodb       bool
	}{{name: "garbage", mode: "garbage"}, {name: "exit", mode: "exit"}, {name: "no database", mode: "replay", nodb: true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FAKETRIVY_MODE", tc.mode)
			if tc.nodb {
				t.Setenv("FAKETRIVY_NODB", "1")
			}
			r := scanners.Runner{Scanners: []scanners.Scanner{standInImage(t, ImageOptions{})}, Config: cfg}
			res := r.Run(context.Background(), target(scanners.Base, set), target(scanners.Head, set))
			require.Len(t, res.Runs, 2)
			for _, run := range res.Runs {
				assert.Equal(t, report.StatusError, run.Status)
				assert.Equal(t, tc.nodb, run.Missing)
			}
			assert.Empty(t, res.Findings[scanners.Base])
			assert.Empty(t, res.Findings[scanners.Head])
		})
	}
}

func TestImageWithoutImagesRunsNoTrivy(t *testing.T) {
	t.Setenv("FAKETRIVY_MODE", "exit") // would fail if it ran
	set := writeManifests(t, "", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n"})
	s := standInImage(t, ImageOptions{})
	fs, err := s.Scan(context.Background(), target(scanners.Head, set))
	require.NoError(t, err)
	assert.Empty(t, fs)
	assert.Zero(t, s.Stats().TrivyRuns)
}

const everyKind = `apiVersion: v1
kind: Pod
metadata:
  name: pod
spec:
  initContainers:
    - name: init
      image: img/pod-init
  containers:
    - name: main
      image: img/pod-main
  ephemeralContainers:
    - name: debug
      image: img/pod-debug
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: deploy
spec:
  template:
    spec:
      containers:
        - name: c
          image: img/deployment
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: sts
spec:
  template:
    spec:
      containers:
        - name: c
          image: img/statefulset
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ds
spec:
  template:
    spec:
      containers:
        - name: c
          image: img/daemonset
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
spec:
  template:
    spec:
      containers:
        - name: c
          image: img/replicaset
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: rc
spec:
  template:
    spec:
      containers:
        - name: c
          image: img/rc
---
apiVersion: batch/v1
kind: Job
metadata:
  name: job
spec:
  template:
    spec:
      containers:
        - name: c
          image: img/job
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: cron
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: c
              image: img/cronjob
            - name: no-image
---
apiVersion: example.com/v1
kind: Deployment
metadata:
  name: not-a-workload
spec:
  template:
    spec:
      containers:
        - name: c
          image: img/custom
`

func TestCollectImagesOfEveryPodTemplate(t *testing.T) {
	set := writeManifests(t, "", map[string]string{"all.yaml": everyKind})
	uses, err := collectImages(set)
	require.NoError(t, err)
	got := map[string]imageUse{}
	for _, u := range uses {
		got[u.ref] = u
	}
	for _, ref := range []string{"img/pod-init", "img/pod-main", "img/pod-debug", "img/deployment", "img/statefulset", "img/daemonset", "img/replicaset", "img/rc", "img/job", "img/cronjob"} {
		u, ok := got[ref]
		if assert.True(t, ok, ref) {
			assert.Equal(t, report.Location{Path: "all.yaml", Line: lineIn(t, everyKind, "image: "+ref, 1)}, report.Location(u.obj.Locate(u.path)), ref)
		}
	}
	// A custom resource named like a workload is not read as one by its
	// kind, but its PodTemplateSpec-shaped field is a pod (podspec.Find).
	if u, ok := got["img/custom"]; assert.True(t, ok, "a pod-shaped field of a custom resource") {
		assert.Equal(t, manifest.ParsePath("spec.template.spec.containers[name=c].image"), u.path)
	}
	assert.Len(t, uses, 11, "a container without an image has nothing to scan")
	assert.Equal(t, "debug", got["img/pod-debug"].container)
	assert.Equal(t, manifest.ParsePath("spec.jobTemplate.spec.template.spec.containers[name=c].image"), got["img/cronjob"].path)
}

func TestCollectImagesRefusesMalformedTemplates(t *testing.T) {
	for name, doc := range map[string]string{
		"image not a string":      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: [a]\n",
		"containers not a list":   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: {c: x}\n",
		"template not a mapping":  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: p\nspec:\n  template: 5\n",
		"container not a mapping": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - x\n",
	} {
		t.Run(name, func(t *testing.T) {
			set := writeManifests(t, "", map[string]string{"p.yaml": doc})
			_, err := collectImages(set)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "p.yaml")
		})
	}
}

// The fingerprint keeps the repository, the package, the CVE and the
// container, not the tag, the digest or the namespace.
func TestImageFingerprintSurvivesATagBump(t *testing.T) {
	obj := func(ns string) manifest.Object {
		set := writeManifests(t, "", map[string]string{"d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: " + ns + "\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: x\n"})
		return set.Objects[0]
	}
	v := Vulnerability{VulnerabilityID: "CVE-2024-6119", PkgName: "libssl3", InstalledVersion: "1", FixedVersion: "2", Severity: "HIGH"}
	fp := func(ns, container, ref string, v Vulnerability) string {
		u := imageUse{obj: obj(ns), container: container, ref: ref, path: manifest.ParsePath("spec.template.spec.containers[name=web].image")}
		return u.finding(v, repository(ref, false)).Fingerprint
	}
	a := fp("shop", "web", "nginx:1.25", v)
	assert.Equal(t, a, fp("shop", "web", "nginx:1.27", v), "tag bump")
	assert.Equal(t, a, fp("shop", "web", "docker.io/library/nginx:1.27@"+digestA, v), "the same repository, spelled out, by digest")
	assert.Equal(t, a, fp("aegis-shadow-1", "web", "nginx:1.25", v), "namespace rewrite")
	assert.NotEqual(t, a, fp("shop", "web", "ghcr.io/acme/nginx:1.25", v), "another repository")
	assert.NotEqual(t, a, fp("shop", "side", "nginx:1.25", v), "another container")
	other := v
	other.PkgName = "libcrypto3"
	assert.NotEqual(t, a, fp("shop", "web", "nginx:1.25", other), "another package")
	other = v
	other.VulnerabilityID = "CVE-2024-9143"
	assert.NotEqual(t, a, fp("shop", "web", "nginx:1.25", other), "another CVE")
}

func TestRepository(t *testing.T) {
	assert.Equal(t, "index.docker.io/library/nginx", repository("nginx:1.25", false))
	assert.Equal(t, "127.0.0.1:5000/shop/web", repository("127.0.0.1:5000/shop/web:1.0@"+digestA, false))
	assert.Equal(t, "ghcr.io/acme/app", repository("ghcr.io/acme/app", false))
}

func TestVulnMessageWithoutAFix(t *testing.T) {
	msg := vulnMessage(Vulnerability{VulnerabilityID: "CVE-1", PkgName: "stdlib", PkgPath: "usr/bin/app", InstalledVersion: "v1.22.1", Status: "affected"}, "app:1")
	assert.Equal(t, "Package stdlib v1.22.1 (usr/bin/app) in image app:1 is affected by CVE-1; no fixed version yet (status: affected).", msg)
}

func TestImageArgs(t *testing.T) {
	s := NewImage(ImageOptions{CacheDir: "/c", ExtraArgs: []string{"--platform", "linux/arm64"}})
	reg := imageSource{ref: "r/a:1", archive: "", digest: digestA}
	reg.name, _ = parseRef("r/a:1", false)
	args := s.imageArgs(reg, 90500*time.Millisecond)
	assert.Equal(t, []string{"--timeout", "91s"}, after(args, "--timeout", 1))
	assert.Equal(t, "index.docker.io/r/a@"+digestA, args[len(args)-1])
	assert.Equal(t, []string{"--platform", "linux/arm64"}, after(args, "--platform", 1))
	assert.NotContains(t, args, "--insecure")
	assert.Equal(t, []string{"--cache-dir", "/c"}, after(args, "--cache-dir", 1))

	arch := imageSource{ref: "r/a:1", name: reg.name, archive: "/x/a.tar", digest: digestA}
	args = s.imageArgs(arch, 0)
	assert.Equal(t, []string{"--input", "/x/a.tar"}, args[len(args)-2:])
	assert.NotContains(t, args, "--image-src")
	assert.NotContains(t, args, "--timeout")

	s = NewImage(ImageOptions{Insecure: true})
	assert.Contains(t, s.imageArgs(reg, 0), "--insecure")
	assert.Equal(t, filepath.Join(mustUserCache(t), "trivy"), s.cacheDir, "Trivy's default, passed explicitly")
}

func mustUserCache(t *testing.T) string {
	d, err := os.UserCacheDir()
	require.NoError(t, err)
	return d
}

func TestGroupSharesOneCall(t *testing.T) {
	var g group[int]
	var calls atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (int, error) {
		calls.Add(1)
		<-release
		return 42, nil
	}
	var wg sync.WaitGroup
	results := make([]int, 8)
	for i := range results {
		wg.Go(func() {
			v, err := g.do(context.Background(), "k", fn)
			assert.NoError(t, err)
			results[i] = v
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, int32(1), calls.Load())
	for _, v := range results {
		assert.Equal(t, 42, v)
	}
	v, err := g.do(context.Background(), "k", func(context.Context) (int, error) { return 0, errors.New("not called") })
	require.NoError(t, err)
	assert.Equal(t, 42, v, "kept for the group's lifetime")
}

// One side giving up does not cancel the call the other side waits for;
// everyone giving up does, and a later caller starts afresh.
func TestGroupCancellation(t *testing.T) {
	var g group[string]
	started := make(chan struct{}, 4)
	release := make(chan struct{})
	var cancelled atomic.Int32
	fn := func(ctx context.Context) (string, error) {
		started <- struct{}{}
		select {
		case <-release:
			return "done", nil
		case <-ctx.Done():
			cancelled.Add(1)
			return "", ctx.Err()
		}
	}
	quitter, quit := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := g.do(quitter, "k", fn); errc <- err }()
	<-started
	valc := make(chan string, 1)
	go func() { v, _ := g.do(context.Background(), "k", fn); valc <- v }()
	time.Sleep(20 * time.Millisecond)
	quit()
	assert.ErrorIs(t, <-errc, context.Canceled)
	close(release)
	assert.Equal(t, "done", <-valc, "the other waiter still gets the result")
	assert.Zero(t, cancelled.Load())

	// Everyone leaves: the call is cancelled; the next caller reruns it.
	var h group[string]
	release2 := make(chan struct{})
	fn2 := func(ctx context.Context) (string, error) {
		started <- struct{}{}
		select {
		case <-release2:
			return "second", nil
		case <-ctx.Done():
			cancelled.Add(1)
			return "", ctx.Err()
		}
	}
	only, stop := context.WithCancel(context.Background())
	go func() { _, err := h.do(only, "k", fn2); errc <- err }()
	<-started
	stop()
	assert.ErrorIs(t, <-errc, context.Canceled)
	require.Eventually(t, func() bool { return cancelled.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	close(release2)
	v, err := h.do(context.Background(), "k", fn2)
	require.NoError(t, err)
	assert.Equal(t, "second", v)
}

func TestArchivesIndex(t *testing.T) {
	dir := t.TempDir()
	a, err := trivytest.OpenSSLImage(trivytest.VulnerableOpenSSL, "a")
	require.NoError(t, err)
	b, err := trivytest.OpenSSLImage(trivytest.FixedOpenSSL, "b")
	require.NoError(t, err)
	require.NoError(t, trivytest.WriteArchive(filepath.Join(dir, "web.tar"), "aegis.local/web:latest", a))
	require.NoError(t, trivytest.WriteArchive(filepath.Join(dir, "nginx.tar"), "nginx:1.25", b))
	idx, err := loadArchives(dir)
	require.NoError(t, err)
	lookup := func(ref string) (*archive, bool) {
		n, err := parseRef(ref, false)
		require.NoError(t, err)
		found, ok, err := idx.lookup(n)
		require.NoError(t, err)
		return found, ok
	}
	web, ok := lookup("aegis.local/web")
	require.True(t, ok, "no tag is :latest, as the kubelet reads it")
	id, err := a.ConfigName()
	require.NoError(t, err)
	d, err := web.configDigest()
	require.NoError(t, err)
	assert.Equal(t, id.String(), d, "keyed by the image ID")
	_, ok = lookup("docker.io/library/nginx:1.25")
	assert.True(t, ok, "names are compared normalized")
	_, ok = lookup("aegis.local/web@" + digestA)
	assert.False(t, ok, "a digest reference goes to its registry")
	_, ok = lookup("aegis.local/web:2.0")
	assert.False(t, ok)

	// The same tag on two different images is an error, not a guess.
	require.NoError(t, trivytest.WriteArchive(filepath.Join(dir, "web-other.tar"), "aegis.local/web:latest", b))
	idx, err = loadArchives(dir)
	require.NoError(t, err)
	n, _ := parseRef("aegis.local/web", false)
	_, _, err = idx.lookup(n)
	assert.ErrorContains(t, err, "different images")

	// A file that is not an image tarball is an error.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.tar"), []byte("junk"), 0o644))
	_, err = loadArchives(dir)
	assert.ErrorContains(t, err, "junk.tar")
}

// With UpdateDB, the database is downloaded once, before any scan, not by
// each concurrent scan.
func TestImageUpdateDBDownloadsOnceFirst(t *testing.T) {
	wrapper, logFile := countingTrivy(t, fakeTrivy(t))
	t.Setenv("FAKETRIVY_MODE", "replay")
	t.Setenv("FAKETRIVY_OUTPUT", mustAbs(t, "testdata/image-output.json"))
	s := standInImage(t, ImageOptions{UpdateDB: true})
	s.opts.Binary = wrapper
	set := writeManifests(t, "", map[string]string{"all.yaml": replayManifests})
	cfg := config.Default()
	on := true
	cfg.Scanners = map[string]config.ScannerSettings{ImageName: {Enabled: &on}}
	res := (&scanners.Runner{Scanners: []scanners.Scanner{s}, Config: cfg}).Run(context.Background(), target(scanners.Base, set), target(scanners.Head, set))
	for _, run := range res.Runs {
		require.Equal(t, report.StatusOK, run.Status, run.Error)
	}
	data, err := os.ReadFile(logFile)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 4, "download, version, one scan per image: %q", lines)
	assert.True(t, strings.HasPrefix(lines[0], "image --download-db-only "), lines[0])
	assert.Contains(t, lines[0], "--cache-dir "+s.cacheDir)
	assert.True(t, strings.HasPrefix(lines[1], "version --format json"), lines[1])
	for _, l := range lines[2:] {
		assert.True(t, strings.HasPrefix(l, "image --format json"), l)
		assert.Contains(t, l, "--skip-db-update", "the scans themselves never download")
	}
}
