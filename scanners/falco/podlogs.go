package falco

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-sentient/aegis/scanners"
)

// Defaults of the pod-log source: the namespace, label and container of
// the falcosecurity/falco Helm chart.
const (
	DefaultPodNamespace = "falco"
	DefaultPodSelector  = "app.kubernetes.io/name=falco"
	DefaultContainer    = "falco"
)

// PodLogs reads the alerts Falco writes to its stdout (json_output: true)
// from the logs of the Falco pods, through the Kubernetes API, from the
// window's start. Every matching pod is read: a DaemonSet has one per node
// and the shadow pods may run on any of them.
type PodLogs struct {
	Client kubernetes.Interface
	// Namespace and Selector find the Falco pods (DefaultPodNamespace and
	// DefaultPodSelector when empty).
	Namespace string
	Selector  string
	// Container is the container whose log holds the alerts: DefaultContainer
	// when empty, or the pod's only container if it has no such one.
	Container string
}

// Name of the source.
func (p PodLogs) Name() string {
	return fmt.Sprintf("pod logs %s/%s", p.namespace(), p.selector())
}

func (p PodLogs) namespace() string { return firstNonEmpty(p.Namespace, DefaultPodNamespace) }
func (p PodLogs) selector() string  { return firstNonEmpty(p.Selector, DefaultPodSelector) }

// Collect reads every Falco pod's log since the window's start. No Falco
// pod at all is ErrNotInstalled (policy allowMissing applies); a pod whose
// log cannot be read is an error: its node was not watched.
func (p PodLogs) Collect(ctx context.Context, q Query) (Batch, error) {
	if p.Client == nil {
		return Batch{}, errors.New("falco pod logs: no Kubernetes client")
	}
	pods, err := p.Client.CoreV1().Pods(p.namespace()).List(ctx, metav1.ListOptions{LabelSelector: p.selector()})
	if err != nil {
		return Batch{}, fmt.Errorf("listing Falco pods in %s (%s): %w", p.namespace(), p.selector(), err)
	}
	if len(pods.Items) == 0 {
		return Batch{}, fmt.Errorf("no Falco pod in namespace %s matches %s: %w", p.namespace(), p.selector(), scanners.ErrNotInstalled)
	}
	var b Batch
	for i := range pods.Items {
		pod := &pods.Items[i]
		container, err := p.container(pod)
		if err != nil {
			return Batch{}, err
		}
		// SinceTime has a resolution of a second: the window filter
		// trims what it lets in before the window.
		since := metav1.NewTime(q.Since)
		stream, err := p.Client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: container, SinceTime: &since}).Stream(ctx)
		if err != nil {
			return Batch{}, fmt.Errorf("reading the log of Falco pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		err = readLines(stream, func(line []byte, tooLong bool) {
			e, kind, perr := classify(line, tooLong, false)
			tally(&b, q, e, kind, perr)
		})
		stream.Close()
		if err != nil {
			return Batch{}, fmt.Errorf("reading the log of Falco pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	return b, nil
}

func (p PodLogs) container(pod *corev1.Pod) (string, error) {
	want := firstNonEmpty(p.Container, DefaultContainer)
	for _, c := range pod.Spec.Containers {
		if c.Name == want {
			return want, nil
		}
	}
	if p.Container == "" && len(pod.Spec.Containers) == 1 {
		return pod.Spec.Containers[0].Name, nil
	}
	return "", fmt.Errorf("Falco pod %s/%s has no container %q", pod.Namespace, pod.Name, want)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
