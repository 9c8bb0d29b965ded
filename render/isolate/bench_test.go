package isolate

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kube-sentient/aegis/render"
)

// benchTree is the tree hack/gentree writes for `make bench`: 1,000
// resources per side through a kustomize overlay. AEGIS_BENCH_TREE names
// one already generated (its before/ side is rendered).
func benchTree(b *testing.B) string {
	b.Helper()
	if dir := os.Getenv("AEGIS_BENCH_TREE"); dir != "" {
		return filepath.Join(dir, "before")
	}
	dir := b.TempDir()
	gen := exec.Command("go", "run", "./hack/gentree", "-resources", "1000", "-out", dir)
	gen.Dir = filepath.Join("..", "..")
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("hack/gentree: %v\n%s", err, out)
	}
	return filepath.Join(dir, "before")
}

// BenchmarkRenderIsolated renders one side (1,000 resources) in process
// (render.Render) and in a bounded child (Render: start, render, carry the
// set and its locations back). Each reports the peak RSS of this process
// and, for the child, of the child; run each alone (hack/bench.sh does) for
// the process's peak to be its own.
func BenchmarkRenderIsolated(b *testing.B) {
	root := benchTree(b)
	check := func(b *testing.B, res *render.Result, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if res.Set.Len() == 0 {
			b.Fatal("rendered no objects")
		}
	}
	b.Run("in-process", func(b *testing.B) {
		for b.Loop() {
			res, err := render.Render(b.Context(), root, "overlays/prod", render.Options{})
			check(b, res, err)
		}
		reportRSS(b, false)
	})
	b.Run("child", func(b *testing.B) {
		for b.Loop() {
			res, err := Render(b.Context(), root, "overlays/prod", render.Options{}, Limits{})
			check(b, res, err)
		}
		reportRSS(b, true)
	})
}

func reportRSS(b *testing.B, child bool) {
	var self, children syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) == nil {
		b.ReportMetric(float64(self.Maxrss)/1024, "MiB-peak-RSS")
	}
	if child && syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children) == nil {
		// The largest child: the gentree build too, unless AEGIS_BENCH_TREE is set.
		b.ReportMetric(float64(children.Maxrss)/1024, "MiB-child-peak-RSS")
	}
}
