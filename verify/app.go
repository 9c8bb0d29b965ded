package verify

import (
	"context"
	"fmt"
	"os"

	"github.com/kube-sentient/aegis/apps"
	"github.com/kube-sentient/aegis/manifest"
)

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
		res, err := apps.Discover(os.DirFS(root), apps.Options{RepoURLs: repoURLs})
		done()
		if err != nil {
			return fail(fmt.Errorf("%s: %w", side.name, err))
		}
		if a, ok := res.Find(name); ok {
			found[i] = &a
		}
	}
	base, head := found[0], found[1]
	switch {
	case base == nil && head == nil:
		return fail(&InputError{Msg: fmt.Sprintf("app %s: no Application of that name on the base or the head (aegis apps lists them)", name)})
	case base == nil:
		base = head // added: the base has nothing at its path
	case head == nil:
		head = base // removed: the head has nothing at its path
	}
	path, ropts, err := head.RenderOptions(tmp)
	if err != nil {
		return fail(err)
	}
	bpath, bopts, err := base.RenderOptions(tmp)
	if err != nil {
		return fail(err)
	}
	ropts.AllowRemoteBases = opts.Render.AllowRemoteBases
	bopts.AllowRemoteBases = opts.Render.AllowRemoteBases
	opts.Path, opts.Render = path, ropts
	opts.BasePath, opts.BaseRender = bpath, &bopts
	if progress != nil {
		progress("app %s: %s on the head (%s), %s on the base (%s)", name, path, head.Origin, bpath, base.Origin)
	}
	return cleanup, nil
}
