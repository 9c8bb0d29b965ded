package action

import (
	"fmt"
	"os"
)

// writeKubeconfig writes the kubeconfig input's contents to a new file only
// its owner can read (0600), in the container's own temporary directory
// rather than the runner's shared one. The caller removes it.
func writeKubeconfig(contents string) (path string, remove func(), err error) {
	f, err := os.CreateTemp("", "aegis-kubeconfig-*")
	if err != nil {
		return "", nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	remove = func() { os.Remove(f.Name()) }
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		remove()
		return "", nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if _, err := f.WriteString(contents); err != nil {
		f.Close()
		remove()
		return "", nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if err := f.Close(); err != nil {
		remove()
		return "", nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return f.Name(), remove, nil
}
