// Command imagepack packs aegis's image from a root filesystem tarball (as
// mmdebstrap writes it: the Debian packages of the runtime) and the files
// to add on top (aegis, Trivy), with go-containerregistry, into a
// docker-archive tarball that `docker load`, containerd's import and
// Trivy read. hack/image.sh drives it; it is not part of aegis.
//
//	imagepack -rootfs rootfs.tar -add bin/aegis=/usr/local/bin/aegis -add trivy=/usr/local/bin/trivy \
//	  -user 1001:1001 -entrypoint /usr/local/bin/aegis -ref ghcr.io/kube-sentient/aegis:dev -out image.tar
//
//	imagepack -export image.tar -dir ROOTFS
//
// -export writes the image's flattened file system into a directory (as a
// container runtime would see it), for hack/image-test.sh to run aegis from.
//
// It prints, as JSON, the image's digest (the manifest's, which a
// single-platform image is pulled by), its layers and its size
// uncompressed and compressed (what a registry stores and a runner pulls).
package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// multi collects a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

type options struct {
	rootfs, ref, out, user, workdir string
	entrypoint                      string
	adds, env, labels, args         multi
}

// Result is what imagepack prints.
type Result struct {
	Ref               string `json:"ref"`
	Digest            string `json:"digest"`
	Layers            int    `json:"layers"`
	UncompressedBytes int64  `json:"uncompressedBytes"`
	CompressedBytes   int64  `json:"compressedBytes"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-export" {
		if len(os.Args) != 5 || os.Args[3] != "-dir" {
			fmt.Fprintln(os.Stderr, "usage: imagepack -export IMAGE.tar -dir DIR")
			os.Exit(2)
		}
		if err := export(os.Args[2], os.Args[4]); err != nil {
			fmt.Fprintln(os.Stderr, "imagepack:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.rootfs, "rootfs", "", "root filesystem tarball, the first layer (required)")
	flag.Var(&o.adds, "add", "SRC=DEST: a file added in the second layer, mode 0755, root-owned; repeatable")
	flag.StringVar(&o.ref, "ref", "", "image reference (required)")
	flag.StringVar(&o.out, "out", "", "output docker-archive tarball (required)")
	flag.StringVar(&o.user, "user", "", "user the container runs as, e.g. 1001:1001")
	flag.StringVar(&o.workdir, "workdir", "/", "working directory")
	flag.StringVar(&o.entrypoint, "entrypoint", "", "the entrypoint (required)")
	flag.Var(&o.args, "arg", "argument of the entrypoint (the image's Cmd); repeatable")
	flag.Var(&o.env, "env", "KEY=VALUE; repeatable")
	flag.Var(&o.labels, "label", "KEY=VALUE image label; repeatable")
	flag.Parse()
	if o.rootfs == "" || o.ref == "" || o.out == "" || o.entrypoint == "" {
		fmt.Fprintln(os.Stderr, "usage: imagepack -rootfs FILE -ref REF -out FILE -entrypoint PATH [-add SRC=DEST]... [-user U] [-env K=V]... [-label K=V]...")
		os.Exit(2)
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagepack:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func run(o options) (*Result, error) {
	tag, err := name.NewTag(o.ref)
	if err != nil {
		return nil, fmt.Errorf("-ref %q: %w", o.ref, err)
	}
	base, err := tarball.LayerFromFile(o.rootfs)
	if err != nil {
		return nil, fmt.Errorf("-rootfs: %w", err)
	}
	addsTar, err := addsLayer(o.adds)
	if err != nil {
		return nil, err
	}
	defer os.Remove(addsTar)
	adds, err := tarball.LayerFromFile(addsTar)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, base, adds)
	if err != nil {
		return nil, err
	}
	if img, err = configure(img, o); err != nil {
		return nil, err
	}
	tmp := o.out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, o.out); err != nil {
		return nil, err
	}
	return describe(o.ref, img)
}

// addsLayer writes the added files as a tar (in a temporary file: the
// binaries are hundreds of MB) with their parent directories.
func addsLayer(adds []string) (string, error) {
	f, err := os.CreateTemp("", "imagepack-*.tar")
	if err != nil {
		return "", err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	epoch := time.Unix(0, 0)
	seen := map[string]bool{}
	for _, a := range adds {
		src, dest, ok := strings.Cut(a, "=")
		if !ok || !path.IsAbs(dest) {
			return f.Name(), fmt.Errorf("-add %q: want SRC=/ABSOLUTE/DEST", a)
		}
		var dirs []string
		for d := path.Dir(dest); d != "/"; d = path.Dir(d) {
			dirs = append([]string{strings.TrimPrefix(d, "/") + "/"}, dirs...)
		}
		for _, d := range dirs {
			if !seen[d] {
				seen[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
					return f.Name(), err
				}
			}
		}
		if err := addFile(tw, src, strings.TrimPrefix(dest, "/"), epoch); err != nil {
			return f.Name(), err
		}
	}
	return f.Name(), tw.Close()
}

func addFile(tw *tar.Writer, src, dest string, mtime time.Time) error {
	in, err := os.Open(filepath.Clean(src))
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New(src + ": not a regular file")
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dest, Mode: 0o755, Size: fi.Size(), ModTime: mtime}); err != nil {
		return err
	}
	_, err = io.Copy(tw, in)
	return err
}

// configure sets the image's config: linux/amd64, the entrypoint, user,
// environment and labels, and a fixed creation time (reproducible).
func configure(img v1.Image, o options) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = []string{o.entrypoint}
	cf.Config.Cmd = o.args
	cf.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, o.env...)
	cf.Config.User = o.user
	cf.Config.WorkingDir = o.workdir
	if len(o.labels) > 0 {
		cf.Config.Labels = map[string]string{}
		for _, l := range o.labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return nil, fmt.Errorf("-label %q: want KEY=VALUE", l)
			}
			cf.Config.Labels[k] = v
		}
	}
	return mutate.ConfigFile(img, cf)
}

func describe(ref string, img v1.Image) (*Result, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	res := &Result{Ref: ref, Digest: d.String(), Layers: len(layers)}
	for _, l := range layers {
		c, err := l.Size()
		if err != nil {
			return nil, err
		}
		res.CompressedBytes += c
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		res.UncompressedBytes += n
	}
	return res, nil
}

// export flattens the image's layers (mutate.Extract: later layers win,
// whiteouts applied) and unpacks them into dir with tar, which keeps
// owners, modes and device nodes as a runtime would.
func export(image, dir string) error {
	img, err := tarball.ImageFromPath(image, nil)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("tar", "-x", "-p", "--same-owner", "--numeric-owner", "-C", dir)
	cmd.Stdin = mutate.Extract(img)
	cmd.Stderr = os.Stderr
	return cmd.Run()
}
