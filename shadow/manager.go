package shadow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Options configure a Manager. Zero values take the documented defaults.
type Options struct {
	// RunID names the run: the aegis.dev/run label and part of every
	// namespace name. Lowercase letters, digits and '-', at most 40
	// characters. Default: 8 random lowercase hex characters.
	RunID string
	// TTL is how long a shadow namespace may live before GC may delete it
	// (the aegis.dev/expires-at annotation). Default 30m.
	TTL time.Duration
	// HealthTimeout bounds the health wait. Default 5m.
	HealthTimeout time.Duration
	// PollInterval is the health poll period. Default 1s.
	PollInterval time.Duration
	// Enforce is the Pod Security enforce level: "" (none), privileged,
	// baseline or restricted. warn and audit are always restricted.
	Enforce string
	// Quota is the namespace's ResourceQuota. Default: DefaultQuota().
	Quota corev1.ResourceList
	// LimitDefault and LimitDefaultRequest are the LimitRange's container
	// defaults (limits and requests), so that pods without resources pass
	// the quota. Defaults: 500m/512Mi and 100m/128Mi.
	LimitDefault        corev1.ResourceList
	LimitDefaultRequest corev1.ResourceList
	// TeardownTimeout bounds the wait for a namespace to be gone. Default 2m.
	TeardownTimeout time.Duration
	// Progress receives one-line progress messages (never object bodies).
	Progress func(format string, args ...any)
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// DefaultQuota is the ResourceQuota of a shadow namespace when
// Options.Quota is empty.
func DefaultQuota() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourcePods:           resource.MustParse("50"),
		corev1.ResourceRequestsCPU:    resource.MustParse("8"),
		corev1.ResourceRequestsMemory: resource.MustParse("16Gi"),
		corev1.ResourceLimitsCPU:      resource.MustParse("16"),
		corev1.ResourceLimitsMemory:   resource.MustParse("32Gi"),
	}
}

var runIDPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (o *Options) defaults() error {
	if o.RunID == "" {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("shadow: generating a run id: %w", err)
		}
		o.RunID = hex.EncodeToString(b)
	}
	if len(o.RunID) > 40 || !runIDPattern.MatchString(o.RunID) {
		return fmt.Errorf("shadow: run id %q must be lowercase letters, digits and '-' (at most 40, starting and ending with a letter or digit)", o.RunID)
	}
	switch o.Enforce {
	case "", "privileged", "baseline", "restricted":
	default:
		return fmt.Errorf("shadow: Pod Security enforce level %q is not one of privileged, baseline, restricted", o.Enforce)
	}
	if o.TTL <= 0 {
		o.TTL = 30 * time.Minute
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = 5 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.TeardownTimeout <= 0 {
		o.TeardownTimeout = 2 * time.Minute
	}
	if len(o.Quota) == 0 {
		o.Quota = DefaultQuota()
	}
	if len(o.LimitDefault) == 0 {
		o.LimitDefault = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("500m"),
			corev1.ResourceMemory: resource.MustParse("512Mi"),
		}
	}
	if len(o.LimitDefaultRequest) == 0 {
		o.LimitDefaultRequest = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		}
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Manager deploys the sides of one run into shadow namespaces. It is safe
// for concurrent use: base and head may be deployed at the same time.
type Manager struct {
	opts   Options
	host   string
	client kubernetes.Interface
	dyn    dynamic.Interface
	mapper meta.ResettableRESTMapper
	mu     sync.Mutex // serialises mapper resets
}

// NewManager builds the clients for cfg. It does not contact the cluster:
// the first Deploy reports an unreachable cluster or missing permissions.
func NewManager(cfg *rest.Config, opts Options) (*Manager, error) {
	if cfg == nil {
		return nil, errors.New("shadow: no cluster configuration (check --kubeconfig)")
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	cfg = clientConfig(cfg)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("shadow: building a client for %s: %w; check --kubeconfig", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("shadow: building a client for %s: %w; check --kubeconfig", cfg.Host, err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	return &Manager{opts: opts, host: cfg.Host, client: client, dyn: dyn, mapper: mapper}, nil
}

// clientConfig copies cfg with aegis's rate limits and a warning handler
// that records admission warnings into the object being applied (see
// withWarnings) and drops every other warning.
func clientConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	if c.QPS == 0 {
		c.QPS = 100
	}
	if c.Burst == 0 {
		c.Burst = 200
	}
	if c.UserAgent == "" {
		c.UserAgent = "aegis-shadow"
	}
	if c.Timeout == 0 {
		// An API server that accepts connections but never answers (hung,
		// stopped with SIGSTOP, a black-holed load balancer) must not hang
		// the run past --shadow-timeout: every request is bounded.
		c.Timeout = requestTimeout
	}
	c.WarningHandler = nil
	c.WarningHandlerWithContext = warningRecorder{}
	return c
}

// requestTimeout bounds each API request of a Manager and of GC (a var for
// tests). No request of theirs streams or watches.
var requestTimeout = 30 * time.Second

// RunID returns the run id (generated when Options.RunID was empty).
func (m *Manager) RunID() string { return m.opts.RunID }

// NamespaceName returns the shadow namespace of a run's side:
// "aegis-<run>-<side>", a DNS-1123 label of at most 63 characters. Characters
// outside [a-z0-9-] become '-'; a name that would be too long keeps a prefix
// of the run and a hash of run and side, so distinct inputs stay distinct.
func NamespaceName(runID, side string) string {
	run, sd := DNSPart(runID), DNSPart(side)
	if sd == "" {
		sd = "side"
	}
	if len(sd) > 20 {
		sd = strings.TrimRight(sd[:20], "-")
	}
	name := "aegis-" + run + "-" + sd
	if run != "" && run == strings.ToLower(runID) && sd == strings.ToLower(side) && len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(runID + "\x00" + side))
	h := hex.EncodeToString(sum[:])[:10]
	room := 63 - len("aegis-") - len("-"+h) - len("-"+sd)
	if len(run) > room {
		run = strings.TrimRight(run[:room], "-")
	}
	if run == "" {
		return "aegis-" + h + "-" + sd
	}
	return "aegis-" + run + "-" + h + "-" + sd
}

// DNSPart lowercases s, turns characters outside [a-z0-9-] into '-',
// collapses runs of '-' and trims them at both ends: the raw material of a
// DNS-1123 label (namespace names here, the gate's object names in plugin).
func DNSPart(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// clusterError turns a client error into one that says what to do. API
// refusals of an object are not handled here (see ApplyError).
func clusterError(host, what string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("shadow: %s: %w", what, err)
	case unreachable(err):
		// Before DeadlineExceeded: a request that ran out of time (its
		// requestTimeout or the caller's deadline) got no answer.
		return &UnreachableError{What: what, Host: host, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("shadow: %s: %w", what, err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("shadow: %s: the cluster at %s rejected the credentials (%v); check --kubeconfig and that the token is valid", what, host, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("shadow: %s: forbidden (%v); grant aegis's identity the ClusterRole of deploy/rbac.yaml", what, err)
	}
	return fmt.Errorf("shadow: %s: %w", what, err)
}

// UnreachableError: the Kubernetes API server did not answer (connection
// refused or reset, DNS, TLS, a request timeout, the server shutting down).
// It is an infrastructure error, never the change's fault.
type UnreachableError struct {
	What string // what aegis was doing, e.g. "reading pods in aegis-1234-head"
	Host string // the API server's URL
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("shadow: %s: cannot reach the cluster at %s: its Kubernetes API server did not answer (%v); check that the cluster is up and that --kubeconfig names it", e.What, e.Host, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// unreachable reports whether err means the API server did not answer,
// rather than answered with a refusal.
func unreachable(err error) bool {
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return true
	}
	// The API server answers 503/429 "apiserver is shutting down" while it
	// drains, and client-go reports a lost HTTP/2 connection without a url.Error.
	msg := err.Error()
	return apierrors.IsServiceUnavailable(err) && strings.Contains(msg, "shutting down") ||
		strings.Contains(msg, "http2: client connection lost") || strings.Contains(msg, "connection refused")
}
