package verify

import (
	"context"
	"fmt"
	"io/fs"
	"os"

	"github.com/kube-sentient/aegis/apps"
	"github.com/kube-sentient/aegis/manifest"
)

// TreeFS is a checked-out tree as a file system that cannot leave it: a
// symlink in a pull request that points outside (at the runner's
// credentials, say) is an error when read, never the target's content
// (os.Root). Discovery and selection read the tree through it.
func TreeFS(dir string) (fs.FS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return root.FS(), nil
}

// AppOptions sets opts' path and render options to those of the Argo CD
// app named name, each side from its own Application (apps.Discover over
// each side's tree; repoURLs name this repository): a pull request that
// only changes an Application's Helm parameters is judged by them on the
// head, while the base renders as its own Application says. An app the
// change adds renders nothing on the base (its path is absent there), one
// it removes nothing on the head. The returned cleanup removes the files
// the app's inline Helm values were written to.
func AppOptions(ctx context.Context, opts *Options, name string, repoURLs []string, progress func(string, ...any)) (func(), error) {
	tmp, err := os.MkdirTemp("", "aegis-app-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	fail := func(err error) (func(), error) {
		cleanup()
		return nil, err
	}
	var found [2]*apps.App
	for i, side := range []struct {
		name string
		src  Source
	}{{"base", opts.Base}, {"head", opts.Head}} {
		root, done, err := Checkout(ctx, side.name, side.src, manifest.DefaultLimits.MaxTotalBytes)
		if err != nil {
			return fail(err)
		}
		tree, err := TreeFS(root)
		if err != nil {
			done()
			return fail(err)
		}
		res, err := apps.Discover(tree, apps.Options{RepoURLs: repoURLs})
		done()
		if err != nil {
			return fail(fmt.Errorf("%s: %w", side.name, err))
		}
		if a, ok := res.Find(name); ok {
			found[i] = &a
		}
	}
	base, head, err := applyApp(opts, name, found[0], found[1], tmp)
	if err != nil {
		return fail(err)
	}
	if progress != nil {
		progress("app %s: %s on the head (%s), %s on the base (%s)", name, opts.Path, head.Origin, opts.BasePath, base.Origin)
	}
	return cleanup, nil
}

// applyApp sets opts' paths and render options from the app's Application
// on each side (base or head nil where the side has no such app: an app
// the change adds renders nothing on the base, one it removes nothing on
// the head). Inline Helm values are written under tmp.
func applyApp(opts *Options, name string, base, head *apps.App, tmp string) (*apps.App, *apps.App, error) {
	switch {
	case base == nil && head == nil:
		return nil, nil, &InputError{Msg: fmt.Sprintf("app %s: no Application of that name on the base or the head (aegis apps lists them)", name)}
	case base == nil:
		base = head
	case head == nil:
		head = base
	}
	path, ropts, err := head.RenderOptions(tmp)
	if err != nil {
		return nil, nil, err
	}
	bpath, bopts, err := base.RenderOptions(tmp)
	if err != nil {
		return nil, nil, err
	}
	ropts.AllowRemoteBases, bopts.AllowRemoteBases = opts.Render.AllowRemoteBases, opts.Render.AllowRemoteBases
	opts.Path, opts.Render = path, ropts
	opts.BasePath, opts.BaseRender = bpath, &bopts
	return base, head, nil
}
