package trivy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// resolveTimeout bounds the registry HEAD request that resolves a tag to
// its digest.
const resolveTimeout = 30 * time.Second

// Where an image is scanned from.
const (
	sourceRegistry = "registry"
	sourceArchive  = "archive"
)

// imageSource is where one image reference of a manifest is scanned from,
// and what identifies its content.
type imageSource struct {
	ref  string         // as the manifest writes it
	name name.Reference // parsed (registry and tag defaulted as the kubelet does)
	// archive is the image tarball that holds ref, "" for a registry pull.
	archive string
	// digest identifies the content: the manifest digest a registry
	// serves for the tag (or the reference's own digest), or the config
	// digest (the image ID) of a tarball's image. "" when it could not be
	// resolved: the image is then keyed by reference and never cached on
	// disk, since what a tag points at may have changed.
	digest string
}

// kind is sourceRegistry or sourceArchive.
func (s imageSource) kind() string {
	if s.archive != "" {
		return sourceArchive
	}
	return sourceRegistry
}

// key identifies the image within a run: the same content is scanned once
// however many references (tags, digests, sides) name it.
func (s imageSource) key() string {
	switch {
	case s.archive != "" && s.digest != "":
		return sourceArchive + " " + s.digest
	case s.archive != "":
		return sourceArchive + " " + s.archive
	case s.digest != "":
		return sourceRegistry + " " + s.digest
	}
	return "reference " + s.name.Name()
}

// pullRef is what Trivy pulls from a registry: the reference pinned to the
// digest aegis resolved, so that a tag moving between the two cannot make
// the scanned image differ from the cached one.
func (s imageSource) pullRef() string {
	if s.digest != "" {
		return s.name.Context().Digest(s.digest).Name()
	}
	return s.name.Name()
}

// repository is the image's repository without tag or digest, with the
// registry and namespace Docker defaults to ("nginx:1.25" ->
// "index.docker.io/library/nginx"): what fingerprints keep of the image.
func repository(ref string, insecure bool) string {
	if n, err := parseRef(ref, insecure); err == nil {
		return n.Context().Name()
	}
	return ref
}

func parseRef(ref string, insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	return name.ParseReference(ref, opts...)
}

// resolve finds where ref is scanned from and resolves its digest.
func (s *ImageScanner) resolve(ctx context.Context, ref string) (imageSource, error) {
	n, err := parseRef(ref, s.opts.Insecure)
	if err != nil {
		return imageSource{}, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	src := imageSource{ref: ref, name: n}
	if s.opts.Archives != "" {
		idx, err := s.archiveIndex()
		if err != nil {
			return imageSource{}, err
		}
		if a, ok, err := idx.lookup(n); err != nil {
			return imageSource{}, err
		} else if ok {
			src.archive, src.digest = a.path, a.digest
			return src, nil
		}
	}
	if d, ok := n.(name.Digest); ok {
		src.digest = d.DigestStr()
		return src, nil
	}
	select {
	case s.heads <- struct{}{}:
	case <-ctx.Done():
		return imageSource{}, ctx.Err()
	}
	defer func() { <-s.heads }()
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	desc, err := remote.Head(n, s.remoteOptions(ctx)...)
	if err == nil {
		src.digest = desc.Digest.String()
	}
	// Unresolved: Trivy pulls by tag and says why it cannot, if it cannot.
	return src, nil
}

// remoteOptions reach registries as Trivy does: credentials from the
// Docker config, and, with Insecure, TLS without verification.
func (s *ImageScanner) remoteOptions(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if s.opts.Insecure {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it (Insecure)
		opts = append(opts, remote.WithTransport(tr))
	}
	return opts
}

// archives indexes ImageOptions.Archives: which tarball holds which tag.
type archives struct {
	byTag map[string][]*archive // normalized tag ("index.docker.io/library/x:1") -> tarballs
}

type archive struct {
	path   string
	images int // images in the tarball; Trivy's --input reads single-image ones

	once   sync.Once
	digest string
	err    error
}

// archiveIndex reads the manifests of the tarballs in Archives once per
// scanner. A file that is not an image tarball is an error: the directory
// is meant to hold images, and skipping one could scan something else in
// its place.
func (s *ImageScanner) archiveIndex() (*archives, error) {
	s.archOnce.Do(func() { s.arch, s.archErr = loadArchives(s.opts.Archives) })
	return s.arch, s.archErr
}

func loadArchives(dir string) (*archives, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("image archives: %w", err)
	}
	idx := &archives{byTag: map[string][]*archive{}}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".tar") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		m, err := tarball.LoadManifest(opener(path))
		if err != nil {
			return nil, fmt.Errorf("image archives: %s is not an image tarball: %w", path, err)
		}
		a := &archive{path: path, images: len(m)}
		for _, d := range m {
			for _, t := range d.RepoTags {
				tag, err := name.NewTag(t)
				if err != nil {
					return nil, fmt.Errorf("image archives: %s: tag %q: %w", path, t, err)
				}
				idx.byTag[tag.Name()] = append(idx.byTag[tag.Name()], a)
			}
		}
	}
	return idx, nil
}

func opener(path string) tarball.Opener {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}

// lookup finds the tarball tagged with n. References by digest are pulled
// from their registry: a tarball names its images by tag only.
func (idx *archives) lookup(n name.Reference) (*archive, bool, error) {
	tag, ok := n.(name.Tag)
	if !ok {
		return nil, false, nil
	}
	found := idx.byTag[tag.Name()]
	if len(found) == 0 {
		return nil, false, nil
	}
	var digests []string
	for _, a := range found {
		if a.images != 1 {
			return nil, false, fmt.Errorf("image archives: %s holds %d images; `trivy image --input` reads a tarball of one image", a.path, a.images)
		}
		d, err := a.configDigest()
		if err != nil {
			return nil, false, err
		}
		digests = append(digests, d)
	}
	slices.Sort(digests)
	if len(slices.Compact(digests)) > 1 {
		var paths []string
		for _, a := range found {
			paths = append(paths, a.path)
		}
		return nil, false, fmt.Errorf("image archives: %s is tagged in %s with different images", tag.Name(), strings.Join(paths, " and "))
	}
	return found[0], true, nil
}

// configDigest is the digest of the tarball's image config (its image ID),
// read once.
func (a *archive) configDigest() (string, error) {
	a.once.Do(func() {
		img, err := tarball.Image(opener(a.path), nil)
		if err != nil {
			a.err = fmt.Errorf("image archives: %s: %w", a.path, err)
			return
		}
		h, err := img.ConfigName()
		if err != nil {
			a.err = fmt.Errorf("image archives: %s: %w", a.path, err)
			return
		}
		a.digest = h.String()
	})
	return a.digest, a.err
}
