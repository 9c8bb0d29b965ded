// Command imagecheck checks what `aegis action` did when hack/image-test.sh
// ran it from the image's file system: the report's verdict, that the
// tools inside the image ran (git read the revisions; Trivy scanned; no
// scanner missing but trivy-image, whose database the repository's policy
// keeps offline), that the head was deployed into a shadow namespace and
// was healthy, and that the namespace is gone (or going) from the cluster.
//
//	imagecheck -report aegis-report.json -kubeconfig FILE
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kube-sentient/aegis/report"
)

func main() {
	path := flag.String("report", "", "the JSON report the action wrote")
	kubeconfig := flag.String("kubeconfig", "", "the local control plane's kubeconfig")
	flag.Parse()
	problems, err := check(*path, *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagecheck:", err)
		os.Exit(1)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "imagecheck:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Println("imagecheck: the report and the cluster are as expected")
}

func check(path, kubeconfig string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		return nil, err
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if r.Verdict != report.Fail {
		bad("verdict %q, want fail (the example's new hostPath volume)", r.Verdict)
	}
	ran := map[string]bool{}
	for _, run := range r.Scanners {
		switch {
		case run.Status == report.StatusOK:
			ran[run.Name] = true
		case run.Missing && run.Name != "trivy-image":
			bad("scanner %s is missing in the image (%s): %s", run.Name, run.Side, run.Error)
		case run.Status == report.StatusError && run.Name != "trivy-image":
			bad("scanner %s failed on %s: %s", run.Name, run.Side, run.Error)
		}
	}
	for _, want := range []string{"posture", "trivy"} {
		if !ran[want] {
			bad("scanner %s did not run", want)
		}
	}
	sh := r.Shadow
	if sh == nil || sh.Head == nil {
		bad("the head was not deployed into a shadow namespace")
		return problems, nil
	}
	if sh.Head.Health != "Healthy" {
		bad("the head's shadow deployment is %s, want Healthy", sh.Head.Health)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, sh.Head.Namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, err
	case ns.DeletionTimestamp == nil:
		bad("the shadow namespace %s was left behind", sh.Head.Namespace)
	}
	return problems, nil
}
