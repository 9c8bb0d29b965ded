package plugin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/shadow"
	"github.com/kube-sentient/aegis/verify"
)

// PresyncOptions of one gate run. The generated Job passes them as flags.
type PresyncOptions struct {
	Kube *rest.Config
	// App is the Application's instance name; AppNamespace the namespace it
	// lives in when the instance name does not say (default argocd).
	App, AppNamespace string
	// Namespace is the Application's destination namespace.
	Namespace string
	// GateNamespace holds the set's ConfigMaps and the verdicts.
	GateNamespace string
	// SetName and Chunks name the set's ConfigMaps; Digest and PolicyDigest
	// are what they must hold.
	SetName              string
	Chunks               int
	Digest, PolicyDigest string
	Revision             string
	// Verdicts is the verdict ConfigMap's name (default VerdictsConfigMap)
	// and VerdictTTL how long a recorded verdict holds.
	Verdicts   string
	VerdictTTL time.Duration
	// Shadow is verify.ShadowHead or verify.ShadowBoth.
	Shadow        string
	ShadowOptions shadow.Options
	// PolicyNamespace holds the cluster policy's ConfigMap
	// (ClusterPolicyConfigMap), which the gate reads itself (default
	// DefaultPolicyNamespace). Cluster, when set, is used instead of reading
	// it (tests). Config, when set, replaces the cluster policy's
	// policy.yaml (an administrator's file in the gate's pod). The
	// revision's .aegis.yaml carried with the set and FailOn may only
	// tighten the result (ClusterPolicy.Apply).
	PolicyNamespace string
	Cluster         *ClusterPolicy
	Config          *config.Config
	FailOn          string
	// Scanners builds the scanners for the policy (the CLI's buildScanners);
	// the returned func releases them.
	Scanners    func(cfg *config.Config, shadowMode string) ([]scanners.Scanner, func(), error)
	ToolVersion string
	Progress    func(format string, args ...any)
	Now         func() time.Time
}

// PresyncResult is the gate's decision.
type PresyncResult struct {
	Verdict report.Verdict
	// Cached is the recorded verdict the fast path used (nil otherwise).
	Cached *VerdictRecord
	// Report is the verification's report (nil on the fast path).
	Report *report.Report
	Policy *config.Config
	// Event is the Event emitted on the Application (nil if that failed).
	Event *corev1.Event
}

// Presync is the PreSync gate. It fails closed: an error means the sync must
// stop (exit non-zero), as does a verdict other than pass. Shadow namespaces
// are always torn down (verify.RunSets), whatever happens.
func Presync(ctx context.Context, o PresyncOptions) (*PresyncResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	appNS, appName := AppInstance(o.App)
	if appNS == "" {
		appNS = o.AppNamespace
	}
	client, err := kubernetes.NewForConfig(o.Kube)
	if err != nil {
		return nil, fmt.Errorf("building a client for %s: %w", o.Kube.Host, err)
	}
	dyn, err := dynamic.NewForConfig(o.Kube)
	if err != nil {
		return nil, fmt.Errorf("building a client for %s: %w", o.Kube.Host, err)
	}
	g := &gate{o: o, client: client, dyn: dyn, appNS: appNS, appName: appName}
	res, err := g.run(ctx)
	if err != nil {
		// Tell the Application why the sync stopped; the error stays the answer.
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, eerr := emitEvent(ectx, client, dyn, appNS, appName, corev1.EventTypeWarning, ReasonError,
			fmt.Sprintf("aegis gate could not decide on %s (%s): %v", shortDigest(o.Digest), revisionText(o.Revision), err), o.Now()); eerr != nil {
			o.Progress("%v", eerr)
		}
		return nil, err
	}
	return res, nil
}

func (o *PresyncOptions) defaults() error {
	if o.Kube == nil {
		return &verify.InputError{Msg: "presync needs a cluster: run it in the cluster (in-cluster config) or pass --kubeconfig"}
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"--app", o.App}, {"--digest", o.Digest}, {"--set-name", o.SetName}, {"--gate-namespace", o.GateNamespace}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return &verify.InputError{Msg: "presync needs " + strings.Join(missing, ", ") + " (the gate Job that generate writes passes them)"}
	}
	if o.Chunks < 1 || o.Chunks > MaxChunks {
		return &verify.InputError{Msg: fmt.Sprintf("--chunks must be between 1 and %d, got %d", MaxChunks, o.Chunks)}
	}
	if !strings.HasPrefix(o.Digest, "sha256:") {
		return &verify.InputError{Msg: fmt.Sprintf("--digest %q is not a sha256: digest", o.Digest)}
	}
	if o.AppNamespace == "" {
		o.AppNamespace = DefaultAppNamespace
	}
	if o.PolicyNamespace == "" {
		o.PolicyNamespace = DefaultPolicyNamespace
	}
	if o.Verdicts == "" {
		o.Verdicts = VerdictsConfigMap
	}
	if o.VerdictTTL <= 0 {
		o.VerdictTTL = DefaultVerdictTTL
	}
	if o.Shadow == "" {
		o.Shadow = DefaultShadow
	}
	if o.Shadow != verify.ShadowHead && o.Shadow != verify.ShadowBoth {
		return &verify.InputError{Msg: fmt.Sprintf("--shadow must be head or both, got %q", o.Shadow)}
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Scanners == nil {
		return errors.New("plugin: Presync needs a Scanners builder")
	}
	return nil
}

type gate struct {
	o              PresyncOptions
	client         kubernetes.Interface
	dyn            dynamic.Interface
	appNS, appName string
}

func (g *gate) run(ctx context.Context) (*PresyncResult, error) {
	o := g.o
	start := o.Now()
	set, err := ReadSet(ctx, g.client, o.GateNamespace, o.SetName, o.Chunks, o.Digest, o.PolicyDigest)
	if err != nil {
		return nil, err
	}
	o.Progress("gate %s: rendered set %s read back (%d objects)%s", o.App, shortDigest(o.Digest), set.Set.Len(), policyText(set.Policy))

	applied, err := g.policy(ctx, set.Policy)
	if err != nil {
		return nil, err
	}
	cfg := applied.Config
	note := ""
	if n := applied.Note(); n != "" {
		o.Progress("%s", n)
		note = " (" + n + ")"
	}
	store := &VerdictStore{Client: g.client, Namespace: o.GateNamespace, Name: o.Verdicts}
	key, err := PolicyKey(cfg, o.Shadow)
	if err != nil {
		return nil, err
	}
	if rec, err := store.Lookup(ctx, o.App, o.Digest, key, o.Now()); err != nil {
		o.Progress("no recorded verdict used: %v", err)
	} else if rec != nil {
		msg := fmt.Sprintf("aegis gate passed %s (%s): a passing verdict for this rendered set and policy was recorded at %s (valid until %s)%s",
			shortDigest(o.Digest), revisionText(o.Revision), rec.RecordedAt.UTC().Format(time.RFC3339), rec.ExpiresAt.UTC().Format(time.RFC3339), note)
		o.Progress("%s", msg)
		ev := g.event(ctx, corev1.EventTypeNormal, ReasonPassed, msg)
		g.collectOldSets(ctx)
		return &PresyncResult{Verdict: report.Pass, Cached: rec, Policy: cfg, Event: ev}, nil
	}

	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(g.client.Discovery()))
	head := set.Set
	base, err := ReadLive(ctx, g.dyn, mapper, head, LiveOptions{App: o.App, Namespace: o.Namespace, Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	scs, release, err := o.Scanners(cfg, o.Shadow)
	if err != nil {
		return nil, err
	}
	defer release()
	so := o.ShadowOptions
	if so.RunID == "" {
		so.RunID = "argo-" + randomHex(4)
	}
	res, err := verify.RunSets(ctx,
		verify.SetSide{Set: base, Source: liveSource(o.Namespace, head)},
		verify.SetSide{Set: head, Source: fmt.Sprintf("argocd app %s at %s", o.App, revisionText(o.Revision))},
		verify.Options{
			Config:        cfg,
			Scanners:      scs,
			Shadow:        o.Shadow,
			Kube:          o.Kube,
			ShadowOptions: so,
			ToolVersion:   o.ToolVersion,
			Progress:      o.Progress,
			Now:           o.Now,
		})
	if err != nil {
		return nil, err
	}
	r := res.Report
	now := o.Now()
	rec := VerdictRecord{App: o.App, Digest: o.Digest, PolicyDigest: key, Verdict: r.Verdict,
		RecordedAt: now.UTC(), ExpiresAt: now.Add(o.VerdictTTL).UTC(), Revision: o.Revision, RunID: so.RunID, Reason: firstReason(r)}
	if err := store.Record(ctx, rec); err != nil {
		o.Progress("%v", err) // the verdict stands; only the fast path of a later sync is lost
	}
	evType, reason := corev1.EventTypeNormal, ReasonPassed
	switch r.Verdict {
	case report.Fail:
		evType, reason = corev1.EventTypeWarning, ReasonFailed
	case report.Error:
		evType, reason = corev1.EventTypeWarning, ReasonError
	}
	msg := fmt.Sprintf("aegis gate %s %s (%s) in %s: %s%s", verdictVerb(r.Verdict), shortDigest(o.Digest), revisionText(o.Revision),
		now.Sub(start).Round(time.Second), strings.Join(eventReasons(r), " "), note)
	ev := g.event(ctx, evType, reason, msg)
	g.collectOldSets(ctx)
	return &PresyncResult{Verdict: r.Verdict, Report: r, Policy: cfg, Event: ev}, nil
}

// PolicyKey is what a recorded verdict was decided under, beside the set:
// the policy the gate applied (the cluster policy as tightened by the
// revision and fail-on, ClusterPolicy.Apply) and the shadow mode. A verdict
// recorded under laxer settings never lets a sync under stricter ones pass
// at once; what the gate did not honour of a revision's policy does not
// change the key, as it did not change the verdict.
func PolicyKey(applied *config.Config, shadowMode string) (string, error) {
	// yaml, not json: config's derived fields (a waiver's line, its parsed
	// expiry) are yaml:"-", and only what the policy says belongs in the key.
	b, err := yaml.Marshal(applied)
	if err != nil {
		return "", fmt.Errorf("the applied policy: %w", err)
	}
	sum := sha256.Sum256(append(append(b, "\nshadow="...), shadowMode...))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// policy is the policy the gate applies: the cluster policy it reads
// itself (ClusterPolicyConfigMap in PolicyNamespace; none is the built-in
// one; --config replaces its policy.yaml), which the Job's arguments may
// not loosen (CheckGate), tightened by the revision's policy p and
// --fail-on (ClusterPolicy.Apply).
func (g *gate) policy(ctx context.Context, p Policy) (*Applied, error) {
	var cp ClusterPolicy
	if g.o.Cluster != nil {
		cp = *g.o.Cluster
	} else {
		var err error
		if cp, err = ReadClusterPolicy(ctx, g.client, g.o.PolicyNamespace); err != nil {
			return nil, err
		}
	}
	if g.o.Config != nil {
		c := *g.o.Config
		cp.Config, cp.Source = &c, cp.Source+", with policy.yaml replaced by "+g.o.Config.Path
	}
	g.o.Progress("cluster policy: %s", cp.source())
	if err := cp.CheckGate(g.o.GateNamespace, g.o.FailOn, g.o.VerdictTTL); err != nil {
		return nil, err
	}
	return cp.Apply(p, g.o.FailOn)
}

// ReadClusterPolicy reads the ConfigMap ClusterPolicyConfigMap in
// namespace from the API. A missing ConfigMap is the built-in policy; any
// other error stops the gate (it cannot know the policy: fail closed).
func ReadClusterPolicy(ctx context.Context, client kubernetes.Interface, namespace string) (ClusterPolicy, error) {
	cm, err := client.CoreV1().ConfigMaps(namespace).Get(ctx, ClusterPolicyConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return BuiltinClusterPolicy("no ConfigMap " + namespace + "/" + ClusterPolicyConfigMap), nil
	}
	if err != nil {
		return ClusterPolicy{}, fmt.Errorf("reading the cluster policy %s/%s: %w (the gate's Role in %s must allow get on it: see plugin/install/gate)", namespace, ClusterPolicyConfigMap, err, namespace)
	}
	if len(cm.BinaryData) > 0 {
		return ClusterPolicy{}, &config.Error{Path: "ConfigMap " + namespace + "/" + ClusterPolicyConfigMap, Msg: "holds binaryData: the cluster policy is text (keys " + ClusterPolicyKey + " and " + GateRulesKey + ")"}
	}
	return ParseClusterPolicy("ConfigMap "+namespace+"/"+ClusterPolicyConfigMap, cm.Data)
}

func (g *gate) event(ctx context.Context, evType, reason, msg string) *corev1.Event {
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	ev, err := emitEvent(ectx, g.client, g.dyn, g.appNS, g.appName, evType, reason, msg, g.o.Now())
	if err != nil {
		g.o.Progress("%v", err)
		return nil
	}
	return ev
}

// collectOldSets deletes the ConfigMaps of this app's earlier rendered sets
// (their names hold another digest, so Argo CD's BeforeHookCreation never
// replaces them). Best effort.
func (g *gate) collectOldSets(ctx context.Context) {
	sel := labels.Set{LabelApp: label(g.o.App, 63), LabelComponent: ComponentSet}.AsSelector().String()
	cms := g.client.CoreV1().ConfigMaps(g.o.GateNamespace)
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		g.o.Progress("earlier rendered sets not collected: %v", err)
		return
	}
	n := 0
	for _, cm := range list.Items {
		if cm.Labels[LabelSet] == g.o.SetName || cm.Annotations[AnnotationApp] != g.o.App {
			continue
		}
		if err := cms.Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			g.o.Progress("earlier rendered set %s not deleted: %v", cm.Name, err)
			continue
		}
		n++
	}
	secrets := g.client.CoreV1().Secrets(g.o.GateNamespace)
	if slist, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: sel}); err == nil {
		for _, s := range slist.Items {
			if s.Labels[LabelSet] == g.o.SetName || s.Annotations[AnnotationApp] != g.o.App {
				continue
			}
			if err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{}); err == nil {
				n++
			}
		}
	}
	if n > 0 {
		g.o.Progress("deleted %d hook(s) of earlier rendered sets of %s", n, g.o.App)
	}
}

// ReadSet reads the rendered set from its ConfigMaps (and its Secrets from
// its Secret hook) and checks it: every chunk present and naming the same
// digest, the content's recomputed digest equal to digest, the policy's to
// policyDigest. Anything else is an
// *IntegrityError: the gate fails closed.
func ReadSet(ctx context.Context, client kubernetes.Interface, namespace, setName string, chunks int, digest, policyDigest string) (*DecodedSet, error) {
	var data []byte
	for i := 0; i < chunks; i++ {
		name := chunkName(setName, i)
		cm, err := client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, &IntegrityError{Msg: fmt.Sprintf("the rendered set's ConfigMap %s/%s is missing: the gate verifies only the set generate wrote for it", namespace, name)}
		}
		if err != nil {
			return nil, fmt.Errorf("reading the rendered set's ConfigMap %s/%s: %w", namespace, name, err)
		}
		ci, cn, ok := parseChunk(cm.Annotations[AnnotationChunk])
		if !ok || ci != i || cn != chunks || cm.Annotations[AnnotationDigest] != digest {
			return nil, &IntegrityError{Msg: fmt.Sprintf("the ConfigMap %s/%s is not chunk %d/%d of the rendered set %s", namespace, name, i, chunks, shortDigest(digest))}
		}
		part, ok := cm.BinaryData[chunkKey]
		if !ok {
			return nil, &IntegrityError{Msg: fmt.Sprintf("the ConfigMap %s/%s holds no %s", namespace, name, chunkKey)}
		}
		data = append(data, part...)
	}
	enc := Encoded{Public: data}
	n, err := PeekSecrets(data)
	if err != nil {
		return nil, &IntegrityError{Msg: fmt.Sprintf("the rendered set %s in %s: %v", setName, namespace, err)}
	}
	if n > 0 {
		name := secretsName(setName)
		sec, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, &IntegrityError{Msg: fmt.Sprintf("the rendered set's Secret %s/%s is missing: the gate verifies only the set generate wrote for it", namespace, name)}
		}
		if err != nil {
			return nil, fmt.Errorf("reading the rendered set's Secret %s/%s: %w", namespace, name, err)
		}
		if sec.Annotations[AnnotationDigest] != digest {
			return nil, &IntegrityError{Msg: fmt.Sprintf("the Secret %s/%s does not hold the Secrets of the rendered set %s", namespace, name, shortDigest(digest))}
		}
		if enc.Secrets = sec.Data[secretsKey]; enc.Secrets == nil {
			return nil, &IntegrityError{Msg: fmt.Sprintf("the Secret %s/%s holds no %s", namespace, name, secretsKey)}
		}
	}
	set, err := DecodeSet(enc, manifest.DefaultLimits.MaxTotalBytes)
	if err != nil {
		return nil, &IntegrityError{Msg: fmt.Sprintf("the rendered set %s in %s: %v", setName, namespace, err)}
	}
	if set.Digest != digest {
		return nil, &IntegrityError{Msg: fmt.Sprintf("the rendered set in %s/%s* has digest %s, not %s: it is not the set this gate was generated for (forged or stale); refusing", namespace, setName, shortDigest(set.Digest), shortDigest(digest))}
	}
	if set.PolicyDigest != policyDigest {
		return nil, &IntegrityError{Msg: fmt.Sprintf("the policy carried with the rendered set %s has digest %q, not %q: refusing", setName, set.PolicyDigest, policyDigest)}
	}
	return set, nil
}

func liveSource(dest string, head *manifest.Set) string {
	ns := map[string]bool{}
	if dest != "" {
		ns[dest] = true
	}
	for _, o := range head.Objects {
		if o.GetNamespace() != "" {
			ns[o.GetNamespace()] = true
		}
	}
	names := make([]string, 0, len(ns))
	for n := range ns {
		names = append(names, n)
	}
	sort.Strings(names)
	return "live objects of namespace " + strings.Join(names, ", ")
}

func firstReason(r *report.Report) string {
	if len(r.Reasons) == 0 {
		return ""
	}
	return r.Reasons[0]
}

// eventReasons are the verdict's first reasons, enough for one Event.
func eventReasons(r *report.Report) []string {
	if len(r.Reasons) > 4 {
		return append(append([]string{}, r.Reasons[:4]...), fmt.Sprintf("(%d more in the gate Job's log)", len(r.Reasons)-4))
	}
	return r.Reasons
}

func verdictVerb(v report.Verdict) string {
	switch v {
	case report.Pass:
		return "passed"
	case report.Fail:
		return "failed"
	}
	return "could not decide on"
}

func shortDigest(d string) string {
	h := digestHex(d)
	if len(h) > 12 {
		h = h[:12]
	}
	return "sha256:" + h
}

func revisionText(rev string) string {
	if rev == "" {
		return "revision unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "revision " + rev
}

func policyText(p Policy) string {
	if len(p.Data) == 0 {
		return ", no policy file"
	}
	return ", policy " + p.Path
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
