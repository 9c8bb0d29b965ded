// Command perf renders one corpus app or chart several times in one way and
// prints its median time per render and the process's peak RSS, for
// hack/perf/corpus.sh (docs/benchmarks.md, "Corpus apps and charts"):
//
//	-mode aegis   render.Render in process, as verify renders one side
//	-mode krusty  krusty alone, as `kustomize build` and Argo CD run it
//	-mode helm    the Helm SDK alone: load the chart, merge values, run the engine
//
// Each mode runs in a process of its own, so the peak RSS is its own.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	commonutil "helm.sh/helm/v4/pkg/chart/common/util"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kube-sentient/aegis/render"
)

func main() {
	mode := flag.String("mode", "aegis", "aegis, krusty or helm")
	root := flag.String("root", "", "the source root (the app or chart directory's root)")
	path := flag.String("path", "", "the kustomization or chart directory, relative to -root")
	n := flag.Int("n", 5, "renders; the median is printed")
	flag.Parse()
	if *root == "" {
		log.Fatal("perf: -root is required")
	}
	var run func() (int, error)
	switch *mode {
	case "aegis":
		run = func() (int, error) {
			res, err := render.Render(context.Background(), *root, *path, render.Options{})
			if err != nil {
				return 0, err
			}
			return res.Set.Len(), nil
		}
	case "krusty":
		run = func() (int, error) { return runKrusty(filepath.Join(*root, *path)) }
	case "helm":
		run = func() (int, error) { return runHelm(filepath.Join(*root, *path)) }
	default:
		log.Fatalf("perf: unknown -mode %q", *mode)
	}
	var times []time.Duration
	objects := 0
	for range *n {
		t0 := time.Now()
		k, err := run()
		if err != nil {
			log.Fatalf("perf: %s: %v", *mode, err)
		}
		times = append(times, time.Since(t0))
		objects = k
	}
	slices.Sort(times)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s objects=%d median_ms=%.1f runs=%d peak_rss_mib=%.0f\n", *mode, objects,
		float64(times[(len(times)-1)/2].Microseconds())/1000, len(times), float64(ru.Maxrss)/1024)
}

func runKrusty(dir string) (int, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		return 0, err
	}
	if _, err := rm.AsYaml(); err != nil {
		return 0, err
	}
	return rm.Size(), nil
}

func runHelm(dir string) (int, error) {
	chrt, err := c2load.Load(dir)
	if err != nil {
		return 0, err
	}
	vals := map[string]any{}
	if err := chartutil.ProcessDependencies(chrt, vals); err != nil {
		return 0, err
	}
	relOpts := common.ReleaseOptions{Name: "release", Namespace: "default", Revision: 1, IsInstall: true}
	renderVals, err := commonutil.ToRenderValuesWithSchemaValidation(chrt, vals, relOpts, common.DefaultCapabilities.Copy(), false)
	if err != nil {
		return 0, err
	}
	var e engine.Engine
	out, err := e.Render(chrt, renderVals)
	if err != nil {
		return 0, err
	}
	docs := 0
	for name, s := range out {
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(s) == "" {
			continue
		}
		docs += strings.Count("\n"+s, "\nkind:")
	}
	return docs, nil
}
