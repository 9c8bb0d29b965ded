// Command imagebench measures the trivy-image scanner for `make bench`
// (hack/bench.sh): a base and a head that reference 20 distinct images
// between them, many in both and several times on each side, scanned by the
// real `trivy image` through scanners.Runner, first with an empty result
// cache (cold) and then again with the cache the first run filled (warm).
// It prints one table: images, `trivy image` invocations, cache hits and
// wall-clock seconds per run.
//
// The images (Alpine-like, openssl's libraries at one of three versions)
// are served by an in-process registry on 127.0.0.1, and Trivy's database
// is built with Trivy's own DB library (hack/tools/trivydb), as in the
// package's tests: nothing is downloaded but Go modules.
//
//	go run ./hack/imagebench -trivy ~/.cache/aegis/tools/trivy-v0.74.0/trivy
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/trivy"
	"github.com/kube-sentient/aegis/scanners/trivy/trivytest"
)

func main() {
	bin := flag.String("trivy", "", "Trivy binary (default: trivy in PATH, else aegis's tool cache)")
	n := flag.Int("images", 20, "distinct images across base and head")
	concurrency := flag.Int("concurrency", trivy.DefaultImageConcurrency, "images scanned at once")
	root := flag.String("root", ".", "the aegis repository (for hack/tools/trivydb)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("imagebench: ")
	if err := run(*bin, *n, *concurrency, *root); err != nil {
		log.Fatal(err)
	}
}

func run(bin string, n, concurrency int, root string) error {
	if n < 4 {
		return fmt.Errorf("-images must be at least 4")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	work, err := os.MkdirTemp("", "aegis-imagebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	tool := filepath.Join(work, "trivydb")
	if err := trivytest.BuildTool(ctx, root, tool); err != nil {
		return err
	}
	trivyCache := filepath.Join(work, "trivy-cache")
	if err := trivytest.BuildDB(ctx, tool, trivyCache, time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)); err != nil {
		return err
	}
	reg := trivytest.StartRegistry()
	defer reg.Close()
	versions := []string{trivytest.VulnerableOpenSSL, trivytest.FixedOpenSSL, trivytest.PatchedOpenSSL}
	refs := make([]string, n)
	for i := range refs {
		img, err := trivytest.OpenSSLImage(versions[i%len(versions)], fmt.Sprintf("bench image %d", i))
		if err != nil {
			return err
		}
		if refs[i], _, err = reg.Push(fmt.Sprintf("bench/app-%02d:1.%d", i, i%3), img); err != nil {
			return err
		}
	}
	// The base uses the first three quarters of the images, the head the
	// last three quarters: half of them are on both sides. Each image is
	// used by two workloads on each side that has it.
	quarter := n / 4
	baseRefs, headRefs := refs[:n-quarter], refs[quarter:]
	base, err := side(ctx, filepath.Join(work, "base"), baseRefs)
	if err != nil {
		return err
	}
	head, err := side(ctx, filepath.Join(work, "head"), headRefs)
	if err != nil {
		return err
	}
	references := 2 * (len(baseRefs) + len(headRefs))

	results := filepath.Join(work, "results")
	type row struct {
		name     string
		stats    trivy.ImageStats
		seconds  float64
		findings map[string][]report.Finding
	}
	var rows []row
	var version string
	for _, name := range []string{"cold", "warm"} {
		s := trivy.NewImage(trivy.ImageOptions{Binary: bin, CacheDir: trivyCache, ResultCache: results, Concurrency: concurrency})
		cfg := config.Default()
		on := true
		cfg.Scanners = map[string]config.ScannerSettings{trivy.ImageName: {Enabled: &on}}
		r := scanners.Runner{Scanners: []scanners.Scanner{s}, Config: cfg}
		start := time.Now()
		res := r.Run(ctx, scanners.Target{Side: scanners.Base, Set: base}, scanners.Target{Side: scanners.Head, Set: head})
		secs := time.Since(start).Seconds()
		for _, run := range res.Runs {
			if run.Status != report.StatusOK {
				return fmt.Errorf("%s run, %s: %s: %s", name, run.Side, run.Status, run.Error)
			}
			version = run.Version
		}
		rows = append(rows, row{name: name, stats: s.Stats(), seconds: secs, findings: res.Findings})
	}
	if !reflect.DeepEqual(rows[0].findings, rows[1].findings) {
		return fmt.Errorf("the warm run's findings differ from the cold run's")
	}

	fmt.Printf("trivy-image: %d distinct images, %d references across base and head (%d in both sides), Trivy %s, concurrency %d\n",
		n, references, len(baseRefs)+len(headRefs)-n, version, concurrency)
	fmt.Printf("%-5s %7s %18s %11s %9s %9s\n", "run", "images", "trivy invocations", "cache hits", "findings", "seconds")
	for _, r := range rows {
		total := len(r.findings[scanners.Base]) + len(r.findings[scanners.Head])
		fmt.Printf("%-5s %7d %18d %11d %9d %9.2f\n", r.name, r.stats.Images, r.stats.TrivyRuns, r.stats.CacheHits, total, r.seconds)
	}
	return nil
}

// side writes one Deployment and one CronJob per image into dir and renders
// it as aegis renders a side.
func side(ctx context.Context, dir string, refs []string) (*manifest.Set, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var b strings.Builder
	for i, ref := range refs {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]d
spec:
  selector:
    matchLabels:
      app: app-%[1]d
  template:
    metadata:
      labels:
        app: app-%[1]d
    spec:
      containers:
        - name: app
          image: %[2]s
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: job-%[1]d
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: job
              image: %[2]s
`, i, ref)
	}
	if err := os.WriteFile(filepath.Join(dir, "workloads.yaml"), []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	res, err := render.Render(ctx, dir, ".", render.Options{})
	if err != nil {
		return nil, err
	}
	return res.Set, nil
}
