package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testDigest = "sha256:" + strings.Repeat("ab", 32)

const standIn = "../../plugin/testdata/argocd/argocd-repo-server-deployment.yaml"

// The real install renders with the image pinned by tag and digest.
func TestRenderPinsTheInstall(t *testing.T) {
	yaml, err := render("../../plugin/install", "ghcr.io/kube-sentient/aegis", "v1.2.3", testDigest, standIn)
	require.NoError(t, err)
	assert.Contains(t, string(yaml), "image: ghcr.io/kube-sentient/aegis:v1.2.3@"+testDigest)
	assert.NotContains(t, string(yaml), "aegis:latest")
}

// Any other mention of the image fails the render: a reference the
// images transformer does not reach (an environment variable, an
// annotation) would run whatever its tag points to.
func TestRenderRefusesAnUnpinnedMention(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	write("kustomization.yaml", "resources: [deploy.yaml]\n")
	write("deploy.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
      - name: x
        image: ghcr.io/kube-sentient/aegis:latest
        env:
        - {name: GATE_IMAGE, value: "ghcr.io/kube-sentient/aegis:latest"}
`)
	_, err := render(dir, "ghcr.io/kube-sentient/aegis", "v1.2.3", testDigest, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "names ghcr.io/kube-sentient/aegis:latest")

	_, err = render(dir, "ghcr.io/kube-sentient/aegis", "v1.2.3", "sha256:short", "")
	assert.ErrorContains(t, err, "64 hexadecimal digits")
}
