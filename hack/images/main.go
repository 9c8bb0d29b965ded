// Command images packs one static binary into a single-layer container image
// tarball that `ctr images import` (containerd 1.6) and `docker load` accept,
// so the local real node can run images built from this repository without a
// registry. The output is a docker-archive tarball (manifest.json + config +
// gzipped layer) written by go-containerregistry.
//
//	go run ./hack/images -binary bin/web -ref aegis.local/web:dev -out web.tar \
//	    -port 8080 -user 65532 -arg=-listen=:8080
//
// The binary must be static (CGO_ENABLED=0): the image has nothing else in it.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
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
	binary, ref, out, user, dest, workdir string
	args, env, ports                      multi
}

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "", "static binary to pack (required)")
	flag.StringVar(&o.ref, "ref", "", "image reference, e.g. aegis.local/web:dev (required)")
	flag.StringVar(&o.out, "out", "", "output tarball (required)")
	flag.StringVar(&o.dest, "path", "", "path of the binary in the image (default /<basename of -binary>); it is the entrypoint")
	flag.StringVar(&o.user, "user", "", "user the container runs as, e.g. 65532 or 65532:65532 (default: the runtime's, root)")
	flag.StringVar(&o.workdir, "workdir", "/", "working directory")
	flag.Var(&o.args, "arg", "argument passed to the entrypoint (the image's Cmd); repeatable")
	flag.Var(&o.env, "env", "KEY=VALUE environment variable; repeatable")
	flag.Var(&o.ports, "port", "exposed port, e.g. 8080 or 8080/tcp; repeatable")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.binary == "" || o.ref == "" || o.out == "" {
		return fmt.Errorf("-binary, -ref and -out are required")
	}
	tag, err := name.NewTag(o.ref)
	if err != nil {
		return fmt.Errorf("-ref: %w", err)
	}
	if o.dest == "" {
		o.dest = "/" + path.Base(o.binary)
	}
	if !path.IsAbs(o.dest) {
		return fmt.Errorf("-path %q: must be absolute", o.dest)
	}
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return err
	}
	img, err := build(o, bin)
	if err != nil {
		return err
	}
	// Write next to the target and rename, so a reader never sees half a file.
	tmp := o.out + ".partial"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		return err
	}
	return os.Rename(tmp, o.out)
}

// build returns the image: one layer holding the binary (and /tmp, which
// many programs expect), a config naming it as the entrypoint.
func build(o options, bin []byte) (v1.Image, error) {
	layerTar, err := layerTar(o.dest, bin)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	// A fixed creation time keeps the image (and its ID) reproducible.
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = []string{o.dest}
	cf.Config.Cmd = o.args
	cf.Config.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, o.env...)
	cf.Config.User = o.user
	cf.Config.WorkingDir = o.workdir
	if len(o.ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range o.ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			if _, err := strconv.Atoi(strings.SplitN(p, "/", 2)[0]); err != nil {
				return nil, fmt.Errorf("-port %q: not a port number", p)
			}
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}

// layerTar is an uncompressed tar with the parent directories of dest, dest
// itself (0755, root-owned) and a world-writable sticky /tmp.
func layerTar(dest string, bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dirs := []string{"tmp/"}
	for d := path.Dir(dest); d != "/"; d = path.Dir(d) {
		dirs = append(dirs, strings.TrimPrefix(d, "/")+"/")
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		mode := int64(0o755)
		if dirs[i] == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dirs[i], Mode: mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dest, "/"), Mode: 0o755, Size: int64(len(bin)), ModTime: epoch}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
