package render

import (
	"context"
	"errors"

	"github.com/kube-sentient/aegis/manifest"
)

// renderKustomize is written by the kustomize work; see kustomize tests.
func renderKustomize(ctx context.Context, root, dir string, opts Options) ([]manifest.Object, error) {
	return nil, errors.New("kustomize rendering is not implemented yet")
}
