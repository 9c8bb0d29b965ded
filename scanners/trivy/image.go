package trivy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/podspec"
)

// ImageName is the id of the image vulnerability scanner.
const ImageName = "trivy-image"

// DefaultImageConcurrency is how many images are scanned at once when
// ImageOptions.Concurrency is not set.
const DefaultImageConcurrency = 2

// maxLookups bounds the registry HEAD requests in flight, so that a side
// with hundreds of images does not hit its registries all at once.
const maxLookups = 8

// ImageOptions configure the image scanner. The zero value finds Trivy
// and its database where Trivy itself would, pulls every image from its
// registry and caches nothing on disk.
type ImageOptions struct {
	// Binary is Trivy's path, or a name looked up in PATH; empty means
	// `trivy` in PATH, else CachedBinary (as Options.Binary).
	Binary string
	// CacheDir is Trivy's own --cache-dir, which holds its vulnerability
	// database in db/ (trivy.db and metadata.json). Empty means Trivy's
	// default, DefaultTrivyCacheDir.
	CacheDir string
	// UpdateDB lets Trivy download or refresh its database (network
	// access to its DB repository) once per scanner, before any image is
	// scanned. Off, the database in CacheDir is used as it is, and a
	// missing one is an error.
	UpdateDB bool
	// DBRepositories are the OCI repositories UpdateDB downloads the
	// database from, in order of preference, each "host/repository:tag"
	// (the tag is the schema version) as Trivy's --db-repository takes
	// it: the next one is tried whenever one fails. Empty means
	// DefaultDBRepositories.
	DBRepositories []string
	// ResultCache is a directory where aegis keeps `trivy image` reports
	// by image digest, database (build time and file digest), Trivy
	// release, ExtraArgs and Insecure, so that a later run skips images
	// that did not change. Empty turns the cache off. It must be private
	// to the user aegis runs as (created 0700; entries 0600): a directory
	// that belongs to someone else or that others may write to fails the
	// scan, since whoever writes an entry decides what an image holds.
	ResultCache string
	// Archives is a directory of image tarballs (docker-archive, as `docker
	// save` or go-containerregistry's tarball.Write write them, one image
	// each, *.tar): an image whose reference is one of a tarball's tags is
	// scanned from the tarball instead of being pulled.
	Archives string
	// Insecure lets Trivy and aegis reach registries over plain HTTP or
	// with certificates they cannot verify (Trivy's --insecure).
	Insecure bool
	// ExtraArgs are appended to `trivy image` before the image, e.g.
	// "--ignore-unfixed" or "--platform", "linux/arm64". They are part of
	// the result cache's key.
	ExtraArgs []string
	// Concurrency bounds how many images are scanned at once across both
	// sides (default DefaultImageConcurrency).
	Concurrency int
}

// ImageScanner runs `trivy image` on every image a side's pod templates
// use. One ImageScanner is meant for one verification run: each distinct
// image is scanned once for both sides and its report kept for the
// scanner's lifetime. It is safe for concurrent use.
type ImageScanner struct {
	opts     ImageOptions
	cacheDir string
	sem      chan struct{} // bounds `trivy image` runs
	heads    chan struct{} // bounds registry look-ups

	resolves group[imageSource]
	scans    group[*ImageReport]

	infoMu sync.Mutex
	info   *trivyInfo
	dbSum  string // "sha256:..." of db/trivy.db, once the result cache needs it

	archOnce sync.Once
	arch     *archives
	archErr  error

	mu   sync.Mutex
	seen map[string]report.Rule

	images, trivyRuns, cacheHits, cacheWrites, cacheErrors atomic.Int64
}

var _ scanners.Scanner = (*ImageScanner)(nil)

// NewImage returns an image vulnerability scanner.
func NewImage(opts ImageOptions) *ImageScanner {
	n := opts.Concurrency
	if n <= 0 {
		n = DefaultImageConcurrency
	}
	dir := opts.CacheDir
	if dir == "" {
		dir = DefaultTrivyCacheDir()
	}
	return &ImageScanner{opts: opts, cacheDir: dir, sem: make(chan struct{}, n), heads: make(chan struct{}, maxLookups), seen: map[string]report.Rule{}}
}

// Name returns "trivy-image".
func (*ImageScanner) Name() string { return ImageName }

// DefaultDBRepositories are where Trivy v0.74.0 downloads its
// vulnerability database from when not told otherwise, in order: Google's
// mirror first (sparing GHCR's rate limit), then GitHub's
// Container Registry. aegis passes them explicitly, so that the releases
// cannot disagree and an error can name them.
var DefaultDBRepositories = []string{"mirror.gcr.io/aquasec/trivy-db:2", "ghcr.io/aquasecurity/trivy-db:2"}

// DefaultTrivyCacheDir is where Trivy keeps its cache, and its database in
// db/, when not told otherwise: the user cache directory ($XDG_CACHE_HOME,
// else ~/.cache on Linux) plus "trivy". aegis passes it to Trivy
// explicitly, so the two cannot disagree.
func DefaultTrivyCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "trivy")
}

// ImageStats counts what a scanner did, for benchmarks and logs.
type ImageStats struct {
	// Images is how many distinct images were needed (each once).
	Images int64
	// TrivyRuns counts `trivy image` invocations.
	TrivyRuns int64
	// CacheHits counts images whose report came from the result cache.
	CacheHits int64
	// CacheWrites counts reports stored in the result cache; CacheErrors
	// those that could not be (the scan still counts).
	CacheWrites, CacheErrors int64
}

// Stats returns the scanner's counters so far.
func (s *ImageScanner) Stats() ImageStats {
	return ImageStats{
		Images:      s.images.Load(),
		TrivyRuns:   s.trivyRuns.Load(),
		CacheHits:   s.cacheHits.Load(),
		CacheWrites: s.cacheWrites.Load(),
		CacheErrors: s.cacheErrors.Load(),
	}
}

// trivyInfo is what `trivy version --format json --cache-dir DIR` says:
// the release and the database found in DIR.
type trivyInfo struct {
	Version         string
	VulnerabilityDB *dbMeta
}

// dbMeta is the vulnerability database's metadata.json.
type dbMeta struct {
	Version      int
	NextUpdate   time.Time
	UpdatedAt    time.Time
	DownloadedAt time.Time
}

// Version returns Trivy's release and the build time of the database it
// will use, e.g. "0.74.0 (vulnerability DB 2026-11-01T00:00:00Z)": both
// decide what a scan reports. Without a database it is the release alone;
// Scan then fails and says how to provide one.
func (s *ImageScanner) Version(ctx context.Context) (string, error) {
	bin, err := findBinary(s.opts.Binary)
	if err != nil {
		return "", err
	}
	if _, ok := ctx.Deadline(); !ok {
		limit := versionTimeout
		if s.opts.UpdateDB {
			limit = scanners.DefaultTimeout // a database download
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	info, err := s.trivyInfo(ctx, bin)
	if err != nil {
		return "", err
	}
	if info.VulnerabilityDB == nil {
		return info.Version, nil
	}
	return fmt.Sprintf("%s (vulnerability DB %s)", info.Version, info.VulnerabilityDB.UpdatedAt.UTC().Format(time.RFC3339)), nil
}

// trivyInfo asks Trivy once per scanner for its release and database,
// after downloading the database when UpdateDB says so. A failure is not
// remembered: a later call asks again.
func (s *ImageScanner) trivyInfo(ctx context.Context, bin string) (*trivyInfo, error) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if s.info != nil {
		return s.info, nil
	}
	work, err := os.MkdirTemp("", "aegis-trivy-image-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ImageName, err)
	}
	defer os.RemoveAll(work)
	if s.opts.UpdateDB {
		// Once, before any scan: concurrent scans each updating the one
		// database in CacheDir would race.
		if err := s.downloadDB(ctx, bin, work); err != nil {
			return nil, err
		}
	}
	out, err := runTrivy(ctx, bin, work, "version", "--format", "json", "--cache-dir", s.cacheDir)
	if err != nil {
		return nil, err
	}
	var info trivyInfo
	if err := decodeJSON(out, &info); err != nil {
		return nil, fmt.Errorf("%s: `trivy version --format json`: %w", ImageName, err)
	}
	if info.Version == "" {
		return nil, fmt.Errorf("%s: `trivy version --format json` names no version: %s", ImageName, text.Truncate(string(out), 200))
	}
	info.Version = releaseOf(bin, info.Version)
	s.info = &info
	return s.info, nil
}

// dbRepositories are the repositories UpdateDB downloads from.
func (s *ImageScanner) dbRepositories() []string {
	if len(s.opts.DBRepositories) > 0 {
		return s.opts.DBRepositories
	}
	return DefaultDBRepositories
}

// downloadDB has Trivy download or refresh the database in the cache
// directory, from each repository in turn until one succeeds: Trivy given
// them all moves on only after a temporary registry error (a rate limit,
// a 5xx), not from a registry it cannot reach or that has no database,
// where a mirror matters just as much. Trivy downloads only when it finds
// the database missing or due (its NextUpdate passed and it was not
// downloaded in the last hour); otherwise the first run succeeds without
// the network. Failing from every repository is an error naming them all,
// never scanners.ErrNotInstalled: allowMissing must not accept it.
func (s *ImageScanner) downloadDB(ctx context.Context, bin, work string) error {
	repos := s.dbRepositories()
	var errs []error
	for _, repo := range repos {
		_, err := runTrivy(ctx, bin, work, s.downloadArgs(repo)...)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", repo, err))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("%s: downloading the vulnerability database into %s failed from every repository tried, in order (%s); "+
		"set scanners.%s.dbRepository to repositories this machine can reach, or offline: true with the database provided in cacheDir: %w",
		ImageName, s.cacheDir, strings.Join(repos[:len(errs)], ", "), ImageName, errors.Join(errs...))
}

// downloadArgs are the arguments of the `trivy image` run that downloads
// or refreshes the database from repo.
func (s *ImageScanner) downloadArgs(repo string) []string {
	args := []string{"image", "--download-db-only", "--quiet", "--no-progress",
		"--skip-version-check", "--disable-telemetry", "--cache-dir", s.cacheDir,
		"--db-repository", repo}
	if s.opts.Insecure {
		args = append(args, "--insecure")
	}
	return args
}

// dbDigest is the SHA-256 of the vulnerability database file Trivy will
// read, computed once per scanner (after UpdateDB's download): part of the
// result cache's key.
func (s *ImageScanner) dbDigest() (string, error) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if s.dbSum != "" {
		return s.dbSum, nil
	}
	d, err := fileDigest(filepath.Join(s.cacheDir, "db", "trivy.db"))
	if err != nil {
		return "", fmt.Errorf("digest of the vulnerability database: %w", err)
	}
	s.dbSum = d
	return d, nil
}

// checkDB fails unless Trivy has a database in its cache directory: Trivy
// would refuse --skip-db-update without one, with a message that does not
// say what to do.
func (s *ImageScanner) checkDB(info *trivyInfo) error {
	dbDir := filepath.Join(s.cacheDir, "db")
	_, statErr := os.Stat(filepath.Join(dbDir, "trivy.db"))
	if info.VulnerabilityDB != nil && statErr == nil {
		return nil
	}
	return fmt.Errorf("%s: %w: no Trivy vulnerability database in %s (Trivy reads db/trivy.db and db/metadata.json under its cache directory, %s). "+
		"aegis runs `trivy image --skip-db-update` and does not download it during a scan. Provide one: "+
		"run `trivy image --download-db-only --cache-dir %s` (on a machine with network access, then copy %s here); "+
		"or unpack the database artifact (ghcr.io/aquasecurity/trivy-db:2, e.g. with `oras pull`) into %s; "+
		"or set scanners.%s.allowMissing: true in .aegis.yaml to let the gate pass without image scanning",
		ImageName, scanners.ErrNotInstalled, dbDir, s.cacheDir, s.cacheDir, s.cacheDir, dbDir, ImageName)
}

// Scan scans every image of the side's pod templates (each distinct image
// once per scanner, shared with the other side) and returns one finding
// per vulnerability, package and container, at the container's image line.
// Any image that cannot be scanned fails the side.
func (s *ImageScanner) Scan(ctx context.Context, t scanners.Target) ([]report.Finding, error) {
	if t.Set == nil {
		return nil, fmt.Errorf("%s: no manifest set to scan", ImageName)
	}
	uses, err := collectImages(t.Set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ImageName, err)
	}
	if len(uses) == 0 {
		return nil, nil // no image: nothing to run Trivy on
	}
	bin, err := findBinary(s.opts.Binary)
	if err != nil {
		return nil, err
	}
	info, err := s.trivyInfo(ctx, bin)
	if err != nil {
		return nil, err
	}
	if err := s.checkDB(info); err != nil {
		return nil, err
	}
	dbDigest := ""
	if s.opts.ResultCache != "" {
		if err := prepareResultCache(s.opts.ResultCache); err != nil {
			return nil, fmt.Errorf("%s: %w", ImageName, err)
		}
		if dbDigest, err = s.dbDigest(); err != nil {
			return nil, fmt.Errorf("%s: result cache: %w", ImageName, err)
		}
	}

	refs := slices.Compact(slices.Sorted(func(yield func(string) bool) {
		for _, u := range uses {
			if !yield(u.ref) {
				return
			}
		}
	}))
	reports := make([]*ImageReport, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() {
			reports[i], errs[i] = s.image(ctx, bin, info, dbDigest, ref)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("image %s: %w", ref, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return nil, fmt.Errorf("%s: %w", ImageName, err)
	}
	byRef := make(map[string]*ImageReport, len(refs))
	for i, ref := range refs {
		byRef[ref] = reports[i]
	}

	var out []report.Finding
	var rules []report.Rule
	seen := map[string]bool{}
	for _, u := range uses {
		repo := repository(u.ref, s.opts.Insecure)
		for _, res := range byRef[u.ref].Results {
			for _, v := range res.Vulnerabilities {
				f := u.finding(v, repo)
				dup := f.Fingerprint + "\x00" + f.Message
				if seen[dup] {
					continue
				}
				seen[dup] = true
				out = append(out, f)
				rules = append(rules, imageRule(v))
			}
		}
	}
	s.remember(rules)
	report.SortFindings(out)
	return out, nil
}

// image returns the report of one reference: resolved to its source and
// digest once per scanner, then scanned once per distinct image.
func (s *ImageScanner) image(ctx context.Context, bin string, info *trivyInfo, dbDigest, ref string) (*ImageReport, error) {
	src, err := s.resolves.do(ctx, ref, func(ctx context.Context) (imageSource, error) { return s.resolve(ctx, ref) })
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	return s.scans.do(ctx, src.key(), func(ctx context.Context) (*ImageReport, error) {
		return s.scan(ctx, bin, info, dbDigest, src, deadline)
	})
}

// scan gets one image's report: from the result cache when the image has
// a digest and the cache an entry for it, else from Trivy (then stored).
// dbDigest is the database file's digest ("" without a result cache).
// deadline is the first asking side's (zero for none): Trivy's own
// --timeout must not end a scan that aegis still allows.
func (s *ImageScanner) scan(ctx context.Context, bin string, info *trivyInfo, dbDigest string, src imageSource, deadline time.Time) (*ImageReport, error) {
	s.images.Add(1)
	var key *cacheKey
	if s.opts.ResultCache != "" && dbDigest != "" && src.digest != "" && info.VulnerabilityDB != nil {
		key = &cacheKey{
			Format:      cacheFormat,
			Trivy:       info.Version,
			DBSchema:    info.VulnerabilityDB.Version,
			DBUpdatedAt: info.VulnerabilityDB.UpdatedAt.UTC(),
			DBDigest:    dbDigest,
			Source:      src.kind(),
			Digest:      src.digest,
			Args:        slices.Clone(s.opts.ExtraArgs),
			Insecure:    s.opts.Insecure,
		}
		if rep, ok := readCache(s.opts.ResultCache, *key); ok {
			s.cacheHits.Add(1)
			return rep, nil
		}
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()

	work, err := os.MkdirTemp("", "aegis-trivy-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var timeout time.Duration
	if !deadline.IsZero() {
		if timeout = time.Until(deadline); timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	s.trivyRuns.Add(1)
	// Run where there is no trivy.yaml or .trivyignore to read.
	out, err := runTrivy(ctx, bin, work, s.imageArgs(src, timeout)...)
	if err != nil {
		if strings.Contains(err.Error(), "--skip-java-db-update") {
			// Trivy needs its Java index database for the image's Java
			// archives, and, told not to download it, has none.
			javaDir := filepath.Join(s.cacheDir, "java-db")
			return nil, fmt.Errorf("%w: the image holds Java archives and Trivy's Java index database is not in %s; "+
				"run `trivy image --download-java-db-only --cache-dir %s` (on a machine with network access, then copy %s here), "+
				"or set scanners.%s.allowMissing: true in .aegis.yaml: %w",
				scanners.ErrNotInstalled, javaDir, s.cacheDir, javaDir, ImageName, err)
		}
		return nil, err
	}
	rep, err := ParseImageReport(out)
	if err != nil {
		return nil, fmt.Errorf("trivy: %w", err)
	}
	if key != nil {
		if err := writeCache(s.opts.ResultCache, *key, src.ref, out); err != nil {
			s.cacheErrors.Add(1) // the scan stands; the next run scans again
		} else {
			s.cacheWrites.Add(1)
		}
	}
	return rep, nil
}

// imageArgs are the arguments of `trivy image` for src. Vulnerabilities
// only; the database as it is (no DB, Java DB or check bundle download);
// no version check, telemetry or Maven Central look-up; an in-memory
// artifact cache, so that concurrent scans do not contend for the lock on
// Trivy's on-disk one; only vulnerable packages in the report; and, for a
// registry image, the registry only (--image-src remote: never a Docker,
// containerd or Podman socket).
func (s *ImageScanner) imageArgs(src imageSource, timeout time.Duration) []string {
	args := []string{
		"image",
		"--format", "json",
		"--quiet",
		"--scanners", "vuln",
		"--skip-db-update",
		"--skip-java-db-update",
		"--skip-check-update",
		"--skip-version-check",
		"--disable-telemetry",
		"--offline-scan",
		"--cache-dir", s.cacheDir,
		"--cache-backend", "memory",
		"--list-all-pkgs=false",
		"--exit-code", "0",
	}
	if timeout > 0 {
		args = append(args, "--timeout", fmt.Sprintf("%ds", int64(math.Ceil(timeout.Seconds()))))
	}
	if s.opts.Insecure {
		args = append(args, "--insecure")
	}
	if src.archive != "" {
		args = append(args, s.opts.ExtraArgs...)
		return append(args, "--input", src.archive)
	}
	args = append(args, "--image-src", "remote")
	args = append(args, s.opts.ExtraArgs...)
	return append(args, src.pullRef())
}

// imageUse is one container's image in a rendered object.
type imageUse struct {
	obj       manifest.Object
	container string
	ref       string
	path      manifest.FieldPath // to the image field, for Locate
}

// collectImages lists the image of every container (init, regular and
// ephemeral) of every pod in set, in set order: the pods of built-in
// workloads, of well-known custom resources and of pod-shaped fields
// (podspec.Find), and the images such a resource keeps outside its
// containers (a Prometheus's spec.image). A container list or an image of
// the wrong type is an error naming the object: skipping it would pass an
// image nobody scanned. A container without an image (which the API
// server would refuse, or an operator's patch of its own container) has
// nothing to scan.
func collectImages(set *manifest.Set) ([]imageUse, error) {
	var uses []imageUse
	for _, obj := range set.Objects {
		pods, _, err := podspec.Find(obj)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", obj.Origin.Location, obj.ID(), err)
		}
		for pi := range pods {
			pod := &pods[pi]
			spec := pod.Spec()
			for _, list := range podspec.ContainerLists {
				view := manifest.FieldPath{"spec", list}
				v, found := spec[list]
				if !found || v == nil {
					continue // no such list
				}
				items, ok := v.([]any)
				if !ok {
					return nil, fmt.Errorf("%s: %s: %s is not a list", obj.Origin.Location, obj.ID(), pod.Source(view))
				}
				for i, it := range items {
					c, ok := it.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("%s: %s: %s[%d] is not a container", obj.Origin.Location, obj.ID(), pod.Source(view), i)
					}
					cname, _ := c["name"].(string)
					sel := manifest.ItemByName(cname)
					if cname == "" {
						sel = fmt.Sprintf("[%d]", i)
					}
					u, ok, err := imageAt(obj, c["image"], cname, pod.Source(view.Child(sel, "image")))
					if err != nil {
						return nil, err
					}
					if ok {
						uses = append(uses, u)
					}
				}
			}
			for _, im := range pod.Images {
				raw, _, err := unstructured.NestedFieldNoCopy(obj.Object, im.Path...)
				if err != nil {
					continue // a path through a non-map holds no image
				}
				u, ok, err := imageAt(obj, raw, im.Container, im.Path)
				if err != nil {
					return nil, err
				}
				if ok {
					uses = append(uses, u)
				}
			}
		}
	}
	return uses, nil
}

// imageAt is the use of an image field's value: none for a missing or
// empty one, an error for one that is not a string.
func imageAt(obj manifest.Object, raw any, container string, path manifest.FieldPath) (imageUse, bool, error) {
	if raw == nil {
		return imageUse{}, false, nil
	}
	ref, ok := raw.(string)
	if !ok {
		return imageUse{}, false, fmt.Errorf("%s: %s: %s is not a string", obj.Locate(path), obj.ID(), path)
	}
	if ref = strings.TrimSpace(ref); ref == "" {
		return imageUse{}, false, nil
	}
	return imageUse{obj: obj, container: container, ref: ref, path: path}, true, nil
}

// finding maps one vulnerability of the container's image. repo is the
// image's repository (no tag, no digest), which the fingerprint keeps in
// place of the reference: a tag bump leaves a CVE that both tags have
// unchanged and shows one the new tag fixes as absent.
func (u imageUse) finding(v Vulnerability, repo string) report.Finding {
	sev, _ := vulnSeverity(v.Severity) // ParseImageReport has checked it
	name := u.obj.GetName()
	if name == "" {
		name = u.obj.GetGenerateName()
	}
	loc := u.obj.Locate(u.path)
	f := report.Finding{
		Scanner:  ImageName,
		RuleID:   v.VulnerabilityID,
		Severity: sev,
		Title:    cmp.Or(v.Title, v.PkgName+": "+v.VulnerabilityID),
		Message:  vulnMessage(v, u.ref),
		Resource: report.Resource{
			APIVersion: u.obj.GetAPIVersion(),
			Kind:       u.obj.GetKind(),
			Namespace:  u.obj.GetNamespace(),
			Name:       name,
			Container:  u.container,
		},
		Location: loc,
		Image:    u.ref,
		Key:      v.PkgName,
	}
	if strings.HasPrefix(v.VulnerabilityID, "CVE-") {
		f.CVE = v.VulnerabilityID
	}
	fp := f
	fp.Image = repo
	f.Fingerprint = report.ComputeFingerprint(fp)
	return f
}

// vulnMessage names the package, its installed and fixed versions and the
// image: "Package libcrypto3 3.3.1-r3 in image reg/app:1.0 is affected by
// CVE-2024-6119; fixed in 3.3.2-r0."
func vulnMessage(v Vulnerability, image string) string {
	pkg := v.PkgName + " " + v.InstalledVersion
	if v.PkgPath != "" {
		pkg += " (" + v.PkgPath + ")"
	}
	fix := "fixed in " + v.FixedVersion
	if v.FixedVersion == "" {
		fix = "no fixed version yet"
		if v.Status != "" {
			fix += " (status: " + v.Status + ")"
		}
	}
	return fmt.Sprintf("Package %s in image %s is affected by %s; %s.", pkg, image, v.VulnerabilityID, fix)
}

// imageRuleTags tag every rule of the image scanner.
var imageRuleTags = []string{"security", "vulnerability", "container-image"}

// imageRule describes a vulnerability as a rule.
func imageRule(v Vulnerability) report.Rule {
	sev, _ := vulnSeverity(v.Severity)
	return report.Rule{
		Scanner:     ImageName,
		ID:          v.VulnerabilityID,
		Title:       cmp.Or(v.Title, v.VulnerabilityID),
		Description: text.TruncateBytes(v.Description, 2000), // a size cap on the report
		Help:        "Upgrade the affected package to its fixed version (each finding names it), or rebuild the image on a base image that has it.",
		HelpURI:     v.PrimaryURL,
		Severity:    sev,
		Tags:        slices.Clone(imageRuleTags),
	}
}

// Rules lists one rule per vulnerability met while scanning, by id: the
// scanner cannot know them before (the SARIF writer synthesises a rule for
// a finding whose rule it was not given).
func (s *ImageScanner) Rules() []report.Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.SortedFunc(maps.Values(s.seen), func(a, b report.Rule) int { return cmp.Compare(a.ID, b.ID) })
	for i := range out {
		out[i].Tags = slices.Clone(out[i].Tags)
	}
	return out
}

func (s *ImageScanner) remember(rules []report.Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rules {
		if _, ok := s.seen[r.ID]; !ok {
			s.seen[r.ID] = r
		}
	}
}
