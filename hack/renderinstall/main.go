// Command renderinstall renders aegis's Argo CD install (plugin/install,
// a kustomization) with aegis's image pinned by tag and digest, as the
// release ships it (hack/release.sh). It builds the install with krusty
// under a kustomization that sets kustomize's `images:` transformer, and
// fails unless every mention of the image in the output is the pinned
// reference: a tag-only or :latest reference left anywhere (a container,
// an environment variable naming the gate's image) would let nodes run
// whatever the tag points to.
//
//	renderinstall -image ghcr.io/kube-sentient/aegis -tag v1.2.3 -digest sha256:... -out install.yaml
//
// The install includes Argo CD's own install.yaml by URL (kustomize
// fetches it). -offline FILE builds it with FILE in that URL's place (the
// snapshot release on a machine that cannot reach GitHub uses the
// argocd-repo-server Deployment of the tests' testdata).
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	dir := flag.String("dir", "plugin/install", "the install's kustomization directory")
	image := flag.String("image", "ghcr.io/kube-sentient/aegis", "the image's name")
	tag := flag.String("tag", "", "the release's version, the image's tag (required)")
	digest := flag.String("digest", "", "the image's digest, sha256:<64 hex> (required)")
	out := flag.String("out", "", "the rendered install (required)")
	offline := flag.String("offline", "", "a local file that stands in for Argo CD's remote install.yaml")
	flag.Parse()
	if *tag == "" || *digest == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: renderinstall -tag VERSION -digest sha256:HEX -out FILE [-dir plugin/install] [-image NAME]")
		os.Exit(2)
	}
	yaml, err := render(*dir, *image, *tag, *digest, *offline)
	if err == nil {
		err = os.WriteFile(*out, yaml, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "renderinstall:", err)
		os.Exit(1)
	}
}

var (
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// remoteInstallRE is a kustomization's resource line that names Argo
	// CD's install.yaml by URL.
	remoteInstallRE = regexp.MustCompile(`(?m)^(\s*-\s*)https://raw\.githubusercontent\.com/argoproj/argo-cd/[^\s]+/manifests/install\.yaml\s*$`)
)

// render copies the install into an in-memory file system under a
// kustomization that pins the image, builds it, and checks the output.
func render(dir, image, tag, digest, offline string) ([]byte, error) {
	if !digestRE.MatchString(digest) {
		return nil, fmt.Errorf("-digest %q: want sha256: and 64 hexadecimal digits", digest)
	}
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if offline != "" && d.Name() == "kustomization.yaml" {
			data = remoteInstallRE.ReplaceAll(data, []byte("${1}argocd-install-stand-in.yaml"))
		}
		return mem.WriteFile(filepath.Join("/install", rel), data)
	})
	if err != nil {
		return nil, err
	}
	if offline != "" {
		data, err := os.ReadFile(offline)
		if err != nil {
			return nil, err
		}
		for _, k := range []string{"/install/argocd"} {
			if err := mem.WriteFile(k+"/argocd-install-stand-in.yaml", data); err != nil {
				return nil, err
			}
		}
	}
	top := fmt.Sprintf("resources:\n- ../install\nimages:\n- name: %s\n  newTag: %q\n  digest: %q\n", image, tag, digest)
	if err := mem.WriteFile("/release/kustomization.yaml", []byte(top)); err != nil {
		return nil, err
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/release")
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	yaml, err := res.AsYaml()
	if err != nil {
		return nil, err
	}
	pinned := image + ":" + tag + "@" + digest
	if !strings.Contains(string(yaml), pinned) {
		return nil, fmt.Errorf("the install does not reference %s: does it use the image %s?", pinned, image)
	}
	ref := regexp.MustCompile(regexp.QuoteMeta(image) + `(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?(:<)?`)
	for i, line := range strings.Split(string(yaml), "\n") {
		for _, m := range ref.FindAllStringSubmatch(line, -1) {
			if m[0] != pinned && m[3] == "" { // ":<" is a placeholder in prose: "IMAGE:<version>"
				return nil, fmt.Errorf("line %d of the rendered install names %s, not the release's %s: %s", i+1, m[0], pinned, strings.TrimSpace(line))
			}
		}
	}
	return yaml, nil
}
