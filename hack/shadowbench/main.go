// Command shadowbench measures aegis's shadow overhead for `make bench`: the
// time `aegis verify --shadow=head` takes on a 20-object app against the time
// the same objects take to be applied (server-side) and become ready in a
// plain namespace, with nothing else around them.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("AEGIS_KUBECONFIG"), "kubeconfig of the local control plane")
	aegis := flag.String("aegis", "bin/aegis", "the aegis binary")
	runs := flag.Int("runs", 3, "runs of each measurement (the median is printed)")
	flag.Parse()
	if *kubeconfig == "" {
		log.Fatal("shadowbench: -kubeconfig (or AEGIS_KUBECONFIG) is required")
	}
	dir, err := os.MkdirTemp("", "aegis-shadowbench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	objs := app()
	writeApp(dir, objs)
	// The overhead measured is the shadow's: the external scanners, which
	// `make bench` measures on their own, are off.
	policy := filepath.Join(os.TempDir(), fmt.Sprintf("aegis-shadowbench-%d.yaml", os.Getpid()))
	if err := os.WriteFile(policy, []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy: {enabled: false}\n  trivy-image: {enabled: false}\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	defer os.Remove(policy)

	var plain, shadow []time.Duration
	for i := range *runs {
		d, err := applyAlone(*kubeconfig, objs, fmt.Sprintf("bench-plain-%d-%d", time.Now().Unix(), i))
		if err != nil {
			log.Fatal(err)
		}
		plain = append(plain, d)
		start := time.Now()
		cmd := exec.Command(*aegis, "verify", "-q", "--output", "json", "--config", policy, "--shadow", "head", "--kubeconfig", *kubeconfig,
			"--base-dir", dir, "--head-dir", dir)
		cmd.Stderr = os.Stderr
		if out, err := cmd.Output(); err != nil && !strings.Contains(string(out), `"verdict"`) {
			log.Fatalf("aegis verify: %v", err)
		}
		shadow = append(shadow, time.Since(start))
	}
	p, s := median(plain), median(shadow)
	fmt.Printf("apply + ready alone (20 objects, median of %d):        %6d ms\n", *runs, p.Milliseconds())
	fmt.Printf("aegis verify --shadow=head (same objects, incl. teardown): %6d ms\n", s.Milliseconds())
	fmt.Printf("aegis overhead: %d ms   (goal <= 10000 ms)\n", (s - p).Milliseconds())
}

// app is 20 objects: 5 ServiceAccounts, ConfigMaps, Services and Deployments.
func app() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for i := range 5 {
		name := fmt.Sprintf("svc-%d", i)
		labels := map[string]any{"app": name}
		out = append(out,
			obj("v1", "ServiceAccount", name, nil),
			obj("v1", "ConfigMap", name, map[string]any{"data": map[string]any{"mode": "fast"}}),
			obj("v1", "Service", name, map[string]any{"spec": map[string]any{"selector": labels,
				"ports": []any{map[string]any{"port": int64(80), "targetPort": int64(8080)}}}}),
			obj("apps/v1", "Deployment", name, map[string]any{"spec": map[string]any{
				"replicas": int64(2), "selector": map[string]any{"matchLabels": labels},
				"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": map[string]any{
					"serviceAccountName": name,
					"containers": []any{map[string]any{"name": "app", "image": "ghcr.io/example/app:1.0",
						"resources": map[string]any{"limits": map[string]any{"cpu": "100m", "memory": "64Mi"}}}}}}}}),
		)
	}
	return out
}

func obj(apiVersion, kind, name string, extra map[string]any) *unstructured.Unstructured {
	m := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}
	for k, v := range extra {
		m[k] = v
	}
	return &unstructured.Unstructured{Object: m}
}

func writeApp(dir string, objs []*unstructured.Unstructured) {
	var b strings.Builder
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			log.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(b.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}

// applyAlone applies the objects into a fresh namespace and waits until
// kstatus calls every one Current; the namespace is deleted afterwards,
// outside the measured time.
func applyAlone(kubeconfig string, objs []*unstructured.Unstructured, ns string) (time.Duration, error) {
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return 0, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))
	start := time.Now()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	defer cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	for _, o := range objs {
		m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			return 0, err
		}
		data, err := o.MarshalJSON()
		if err != nil {
			return 0, err
		}
		force := true
		if _, err := dyn.Resource(m.Resource).Namespace(ns).Patch(ctx, o.GetName(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: "shadowbench", Force: &force}); err != nil {
			return 0, fmt.Errorf("apply %s/%s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	for {
		ready := true
		for _, o := range objs {
			m, _ := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
			live, err := dyn.Resource(m.Resource).Namespace(ns).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				return 0, err
			}
			res, err := status.Compute(live)
			if err != nil || res.Status != status.CurrentStatus {
				ready = false
				break
			}
		}
		if ready {
			return time.Since(start), nil
		}
		if time.Since(start) > 5*time.Minute {
			return 0, fmt.Errorf("objects not ready after 5 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
