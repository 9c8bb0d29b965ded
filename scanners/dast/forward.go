package dast

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// portForward forwards a port of 127.0.0.1 that the OS picks to the pod's
// port (SPDY, through the API server and the kubelet, as kubectl
// port-forward does) and returns it with the function that closes the
// forward, waits until it is closed and returns what the forward reported
// on its error stream (connections it could not forward). It fails when
// the forward is not ready within timeout or when ctx ends first.
func portForward(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, ns, pod string, port int32, timeout time.Duration) (uint16, func() string, error) {
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return 0, nil, err
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	errOut := &lockedBuffer{}
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stopCh, readyCh, io.Discard, errOut)
	if err != nil {
		return 0, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	var once sync.Once
	stop := func() string {
		once.Do(func() {
			close(stopCh)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
			}
		})
		return strings.TrimSpace(errOut.String())
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-readyCh:
	case err := <-done:
		once.Do(func() {}) // ForwardPorts has returned: nothing to stop
		if err == nil {
			err = errors.New("port-forward ended before it was ready")
		}
		return 0, nil, fmt.Errorf("%w %s", err, strings.TrimSpace(errOut.String()))
	case <-timer.C:
		stop()
		return 0, nil, fmt.Errorf("port-forward not ready after %s", timeout)
	case <-ctx.Done():
		stop()
		return 0, nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 || ports[0].Local == 0 {
		stop()
		if err == nil {
			err = fmt.Errorf("port-forward reported ports %v", ports)
		}
		return 0, nil, err
	}
	return ports[0].Local, stop, nil
}

// lockedBuffer is the port-forward's error stream: the forwarder writes to
// it from its own goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 4<<10 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// insecureTLS: the probe reaches a pod through a local forward under the
// name 127.0.0.1, which no pod certificate names; it only asks whether an
// HTTP server answers, as the backends do (Wapiti checks no certificate by
// default, nor does ZAP).
func insecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // see above
}
