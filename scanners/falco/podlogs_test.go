package falco

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

func falcoPod(name string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "falco",
		Labels: map[string]string{"app.kubernetes.io/name": "falco"}}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "falcosecurity/falco:0.40.0"})
	}
	return p
}

// logReactor serves pod logs in turn (the fake's log action does not name
// the pod) and records the options of every log request.
type logReactor struct {
	mu    sync.Mutex
	logs  []string
	calls []*corev1.PodLogOptions
	err   error
}

func (l *logReactor) react(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "log" {
		return false, nil, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	opts := a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions)
	l.calls = append(l.calls, opts)
	if l.err != nil {
		return true, nil, l.err
	}
	i := len(l.calls) - 1
	return true, &runtime.Unknown{Raw: []byte(l.logs[i%len(l.logs)])}, nil
}

// TestPodLogs reads the fixture as the logs of two Falco pods (a DaemonSet
// on two nodes; the first also carries Falco's startup log and the
// falcoctl sidecar) through client-go's fake clientset.
func TestPodLogs(t *testing.T) {
	data, err := os.ReadFile("testdata/events.jsonl")
	require.NoError(t, err)
	lines := strings.SplitAfter(string(data), "\n")
	half := len(lines) / 2
	// The second half is served twice: the same alert seen through two
	// sources is one event.
	logs := &logReactor{logs: []string{strings.Join(lines[:half+2], ""), strings.Join(lines[half:], "")}}
	cs := fake.NewClientset(
		falcoPod("falco-7xk2p", "falco", "falcoctl-artifact-follow"),
		falcoPod("falco-q9z4m", "falco", "falcoctl-artifact-follow"),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "falcosidekick-5b8c9d-abcde", Namespace: "falco",
			Labels: map[string]string{"app.kubernetes.io/name": "falcosidekick"}}},
	)
	cs.PrependReactor("get", "pods", logs.react)

	src := PodLogs{Client: cs}
	assert.Equal(t, "pod logs falco/app.kubernetes.io/name=falco", src.Name())
	fs, err := scanner(src).Scan(context.Background(), side(t, scanners.Head, headNS))
	require.NoError(t, err)
	assertHead(t, fs)
	require.Len(t, logs.calls, 2, "one log request per Falco pod, none for falcosidekick")
	for _, o := range logs.calls {
		assert.Equal(t, "falco", o.Container)
		require.NotNil(t, o.SinceTime)
		assert.True(t, o.SinceTime.Time.Equal(windowStart), "logs are read from the window's start")
	}

	// The events of the other side come from the same logs.
	base, err := scanner(src).Scan(context.Background(), side(t, scanners.Base, baseNS))
	require.NoError(t, err)
	assert.Len(t, base, 2)
}

func TestPodLogsFailures(t *testing.T) {
	ctx := context.Background()
	head := side(t, scanners.Head, headNS)

	// No Falco pod: Falco is not installed; allowMissing applies.
	_, err := scanner(PodLogs{Client: fake.NewClientset()}).Scan(ctx, head)
	require.Error(t, err)
	assert.True(t, errors.Is(err, scanners.ErrNotInstalled), err)

	// A log that cannot be read: that node was not watched.
	cs := fake.NewClientset(falcoPod("falco-7xk2p", "falco"))
	cs.PrependReactor("get", "pods", (&logReactor{err: errors.New("container \"falco\" in pod \"falco-7xk2p\" is waiting to start")}).react)
	_, err = scanner(PodLogs{Client: cs}).Scan(ctx, head)
	require.Error(t, err)
	assert.False(t, errors.Is(err, scanners.ErrNotInstalled))
	assert.Contains(t, err.Error(), "waiting to start")

	// A pod without the container, among several.
	cs = fake.NewClientset(falcoPod("falco-7xk2p", "main", "sidecar"))
	_, err = scanner(PodLogs{Client: cs}).Scan(ctx, head)
	require.ErrorContains(t, err, `no container "falco"`)
	// With a single container, that one is read; custom namespace and label.
	single := falcoPod("falco-7xk2p", "main")
	single.Namespace, single.Labels = "security", map[string]string{"app": "falco"}
	cs = fake.NewClientset(single)
	logs := &logReactor{logs: []string{""}}
	cs.PrependReactor("get", "pods", logs.react)
	fs, err := scanner(PodLogs{Client: cs, Namespace: "security", Selector: "app=falco"}).Scan(ctx, head)
	require.NoError(t, err)
	assert.Empty(t, fs, "an empty log: no alert, a clean side")
	require.Len(t, logs.calls, 1)
	assert.Equal(t, "main", logs.calls[0].Container)

	// Falco without json_output: its alerts are text, which fails closed;
	// its own log lines (and client-go's fake "fake logs") do not count.
	cs = fake.NewClientset(falcoPod("falco-7xk2p", "falco"))
	cs.PrependReactor("get", "pods", (&logReactor{logs: []string{
		"Mon Mar  2 09:58:11 2026: Falco version: 0.40.0 (x86_64)\n" +
			"10:00:07.550129004: Warning Sensitive file opened for reading by non-trusted program | file=/etc/shadow k8s_ns_name=aegis-7f3c2-head\n",
	}}).react)
	_, err = scanner(PodLogs{Client: cs}).Scan(ctx, head)
	require.ErrorContains(t, err, "json_output")

	cs = fake.NewClientset(falcoPod("falco-7xk2p", "falco"))
	fs, err = scanner(PodLogs{Client: cs}).Scan(ctx, head)
	require.NoError(t, err)
	assert.Empty(t, fs)
	assert.Equal(t, []report.Finding{}, fs)
}
