package render

import (
	"context"
	"errors"

	"github.com/kube-sentient/aegis/manifest"
)

// renderHelm is written by the Helm work; see helm tests.
func renderHelm(ctx context.Context, root, dir string, opts Options) ([]manifest.Object, error) {
	return nil, errors.New("helm rendering is not implemented yet")
}
