package shadow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Names of the isolation objects aegis creates in every shadow namespace.
const (
	PolicyDefaultDeny   = "aegis-default-deny"
	PolicyAllowDNS      = "aegis-allow-dns"
	PolicySameNamespace = "aegis-allow-same-namespace"
	QuotaName           = "aegis-quota"
	LimitRangeName      = "aegis-limits"
)

// ErrNamespaceExists: the run's namespace for a side exists already (a run
// id used twice). Deploy leaves that namespace alone.
var ErrNamespaceExists = errors.New("shadow namespace exists")

const podSecurityLabel = "pod-security.kubernetes.io/"

// namespaceObject is the shadow namespace of side: aegis's labels, the
// expiry annotation and the Pod Security labels.
func (m *Manager) namespaceObject(name, side string) *corev1.Namespace {
	l := map[string]string{
		LabelManagedBy:                     ManagedByValue,
		LabelRun:                           m.opts.RunID,
		LabelSide:                          side,
		podSecurityLabel + "warn":          "restricted",
		podSecurityLabel + "warn-version":  "latest",
		podSecurityLabel + "audit":         "restricted",
		podSecurityLabel + "audit-version": "latest",
	}
	if m.opts.Enforce != "" {
		l[podSecurityLabel+"enforce"] = m.opts.Enforce
		l[podSecurityLabel+"enforce-version"] = "latest"
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        name,
		Labels:      l,
		Annotations: map[string]string{AnnotationExpires: m.opts.Now().Add(m.opts.TTL).UTC().Format(time.RFC3339)},
	}}
}

func managedMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelManagedBy: ManagedByValue}}
}

// isolation returns the objects created in a shadow namespace before
// anything of the set. NetworkPolicies are additive: every pod is isolated
// for ingress and egress, then DNS (port 53 to any destination, so that
// node-local caches and resolvers outside kube-system keep working) and the
// namespace's own pods are allowed. No pod of another namespace is let in:
// aegis runs no scanner pods (DAST reaches the shadow pods through a
// port-forward, which NetworkPolicy does not see), and a rule admitting
// pods by a label would admit any pod anyone labels so.
func (m *Manager) isolation() (policies []*networkingv1.NetworkPolicy, quota *corev1.ResourceQuota, limits *corev1.LimitRange) {
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dns := intstr.FromInt32(53)
	all := metav1.LabelSelector{}
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	policies = []*networkingv1.NetworkPolicy{
		{ObjectMeta: managedMeta(PolicyDefaultDeny), Spec: networkingv1.NetworkPolicySpec{
			PodSelector: all, PolicyTypes: both,
		}},
		{ObjectMeta: managedMeta(PolicyAllowDNS), Spec: networkingv1.NetworkPolicySpec{
			PodSelector: all, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{
				{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns},
			}}},
		}},
		{ObjectMeta: managedMeta(PolicySameNamespace), Spec: networkingv1.NetworkPolicySpec{
			PodSelector: all, PolicyTypes: both,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
			Egress:  []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
		}},
	}
	quota = &corev1.ResourceQuota{ObjectMeta: managedMeta(QuotaName), Spec: corev1.ResourceQuotaSpec{Hard: m.opts.Quota}}
	limits = &corev1.LimitRange{ObjectMeta: managedMeta(LimitRangeName), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type:           corev1.LimitTypeContainer,
		Default:        m.opts.LimitDefault,
		DefaultRequest: m.opts.LimitDefaultRequest,
	}}}}
	return policies, quota, limits
}

// createNamespace creates the namespace and its isolation, then waits
// (bounded) until the quota has been counted and the default ServiceAccount
// exists: before that the API server refuses pods ("status unknown for
// quota", "serviceaccount default not found") and controllers would report
// FailedCreate for reasons that are not the change's.
//
// created reports whether the namespace itself was created (an error
// after that leaves it behind until torn down).
func (m *Manager) createNamespace(ctx context.Context, name, side string) (created bool, err error) {
	if _, err := m.client.CoreV1().Namespaces().Create(ctx, m.namespaceObject(name, side), metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("shadow: namespace %s already exists: run id %s was used before; use another run id or run `aegis gc --run %s`: %w", name, m.opts.RunID, m.opts.RunID, ErrNamespaceExists)
		}
		return false, clusterError(m.host, "creating namespace "+name, err)
	}
	return true, m.isolate(ctx, name, side)
}

// isolate creates the isolation objects of a new shadow namespace and waits
// for its quota and default ServiceAccount (see createNamespace).
func (m *Manager) isolate(ctx context.Context, name, side string) error {
	policies, quota, limits := m.isolation()
	create := metav1.CreateOptions{FieldManager: FieldManager}
	for _, p := range policies {
		if _, err := m.client.NetworkingV1().NetworkPolicies(name).Create(ctx, p, create); err != nil {
			return clusterError(m.host, "creating NetworkPolicy "+p.Name+" in "+name, err)
		}
	}
	if _, err := m.client.CoreV1().ResourceQuotas(name).Create(ctx, quota, create); err != nil {
		return clusterError(m.host, "creating ResourceQuota in "+name, err)
	}
	if _, err := m.client.CoreV1().LimitRanges(name).Create(ctx, limits, create); err != nil {
		return clusterError(m.host, "creating LimitRange in "+name, err)
	}
	ready := func() bool {
		q, err := m.client.CoreV1().ResourceQuotas(name).Get(ctx, QuotaName, metav1.GetOptions{})
		if err != nil || len(q.Status.Hard) == 0 {
			return false
		}
		_, err = m.client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			m.opts.Progress("shadow %s: quota status or default ServiceAccount still missing after 30s; going on", side)
			return nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Teardown deletes the deployment's namespace and waits until it is gone,
// bounded by Options.TeardownTimeout. It is safe to call twice, on a nil or
// partial Deployment, and with a context that is already cancelled (it
// works on a fresh bounded context, so SIGINT handlers can call it).
func (m *Manager) Teardown(ctx context.Context, d *Deployment) error {
	if d == nil || d.Namespace == "" {
		return nil
	}
	return m.deleteNamespaces(ctx, []string{d.Namespace})
}

// TeardownRun deletes every namespace labelled with this manager's run id
// and waits until they are gone (bounded like Teardown).
func (m *Manager) TeardownRun(ctx context.Context) error {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.TeardownTimeout)
	defer cancel()
	names, err := listManaged(tctx, m.client, m.opts.RunID)
	if err != nil {
		return clusterError(m.host, "listing the namespaces of run "+m.opts.RunID, err)
	}
	var ns []string
	for _, n := range names {
		ns = append(ns, n.Name)
	}
	return m.deleteNamespaces(ctx, ns)
}

func (m *Manager) deleteNamespaces(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.TeardownTimeout)
	defer cancel()
	err := deleteAndWait(tctx, m.client, names, m.opts.PollInterval)
	if err != nil {
		return clusterError(m.host, fmt.Sprintf("tearing down %v (bounded by %s)", names, m.opts.TeardownTimeout), err)
	}
	for _, n := range names {
		m.opts.Progress("shadow: namespace %s deleted", n)
	}
	return nil
}

// deleteAndWait deletes namespaces (their content goes with them) and polls
// until none is left or ctx ends.
func deleteAndWait(ctx context.Context, client kubernetes.Interface, names []string, poll time.Duration) error {
	bg := metav1.DeletePropagationBackground
	for _, n := range names {
		err := client.CoreV1().Namespaces().Delete(ctx, n, metav1.DeleteOptions{PropagationPolicy: &bg})
		// A namespace already terminating answers Conflict: keep waiting.
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
		// Pods of a terminating namespace are not recreated; deleting them
		// without grace spares the namespace controller its wait for their
		// graceful shutdown (a throw-away copy needs none). Best effort.
		zero := int64(0)
		_ = client.CoreV1().Pods(n).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	}
	if poll > time.Second || poll <= 0 {
		poll = time.Second
	}
	left := append([]string(nil), names...)
	for {
		var still []string
		for _, n := range left {
			_, err := client.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				if ctx.Err() != nil {
					return fmt.Errorf("namespaces %v still terminating: %w", left, ctx.Err())
				}
				return err
			default:
				still = append(still, n)
			}
		}
		if len(still) == 0 {
			return nil
		}
		left = still
		if err := sleep(ctx, poll); err != nil {
			return fmt.Errorf("namespaces %v still terminating: %w", left, err)
		}
	}
}

func listManaged(ctx context.Context, client kubernetes.Interface, runID string) ([]corev1.Namespace, error) {
	sel := labels.Set{LabelManagedBy: ManagedByValue}
	if runID != "" {
		sel[LabelRun] = runID
	}
	list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel.AsSelector().String()})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// gcGrace is how old an aegis namespace without a readable expires-at
// annotation must be before GC deletes it.
const gcGrace = 24 * time.Hour

// GC deletes every aegis-managed namespace whose expires-at has passed, or
// with runID != "" every namespace of that run regardless of expiry, and
// waits (at most 2 minutes) until they are gone. A namespace whose
// annotation is missing or unreadable is deleted once it is older than 24h.
// Namespaces already terminating are waited for but not reported. It
// returns the names it deleted, sorted.
func GC(ctx context.Context, cfg *rest.Config, runID string, now time.Time) ([]string, error) {
	if cfg == nil {
		return nil, errors.New("shadow: no cluster configuration (check --kubeconfig)")
	}
	cfg = clientConfig(cfg)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("shadow: building a client for %s: %w; check --kubeconfig", cfg.Host, err)
	}
	items, err := listManaged(ctx, client, runID)
	if err != nil {
		return nil, clusterError(cfg.Host, "listing aegis namespaces", err)
	}
	var deleted, wait []string
	for _, ns := range items {
		if ns.DeletionTimestamp != nil {
			wait = append(wait, ns.Name)
			continue
		}
		if runID == "" && !expired(ns, now) {
			continue
		}
		deleted = append(deleted, ns.Name)
	}
	sort.Strings(deleted)
	if len(deleted)+len(wait) == 0 {
		return nil, nil
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := deleteAndWait(tctx, client, append(deleted, wait...), time.Second); err != nil {
		return deleted, clusterError(cfg.Host, "deleting expired aegis namespaces", err)
	}
	return deleted, nil
}

func expired(ns corev1.Namespace, now time.Time) bool {
	t, err := time.Parse(time.RFC3339, ns.Annotations[AnnotationExpires])
	if err != nil {
		return now.Sub(ns.CreationTimestamp.Time) > gcGrace
	}
	return !now.Before(t)
}
