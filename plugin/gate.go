package plugin

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-sentient/aegis/manifest"
)

// GateSpec is what the gate objects are built from.
type GateSpec struct {
	Settings Settings
	// Namespace is the Application's destination namespace.
	Namespace string
	Revision  string
	RepoURL   string
	// Set is the rendered app and Policy its .aegis.yaml.
	Set    *manifest.Set
	Policy Policy
	// PolicyNamespace holds the cluster policy's ConfigMap, which the gate
	// reads (default DefaultPolicyNamespace).
	PolicyNamespace string
}

// Gate returns the objects generate appends to the rendered set: the
// ConfigMap hooks holding the set (and, when it has Secrets, one Secret
// hook holding them), then the PreSync Job that verifies it.
// The waves are below every PreSync hook of the set (HookWaves).
func Gate(spec GateSpec) ([]*unstructured.Unstructured, error) {
	s := spec.Settings
	enc, err := EncodeSet(spec.Set, spec.Policy)
	if err != nil {
		return nil, fmt.Errorf("encoding the rendered set for the gate: %w", err)
	}
	chunks := Chunks(enc.Public)
	if len(chunks) > MaxChunks {
		return nil, fmt.Errorf("the rendered set compresses to %d bytes, above the gate's limit of %d ConfigMaps of %d bytes", len(enc.Public), MaxChunks, ChunkBytes)
	}
	if len(enc.Secrets) > MaxSecretsBytes {
		return nil, fmt.Errorf("the rendered set's Secrets compress to %d bytes, above the gate's limit of %d", len(enc.Secrets), MaxSecretsBytes)
	}
	digest, policyDigest := spec.Set.Digest(), spec.Policy.Digest()
	setName := SetName(s.App, digest)
	cmWave, jobWave := HookWaves(spec.Set)
	appLabel := label(s.App, 63)

	annotations := func(wave int) map[string]string {
		a := map[string]string{
			AnnotationHook:             HookPreSync,
			AnnotationHookDeletePolicy: DeleteBeforeHookCreation,
			AnnotationSyncWave:         strconv.Itoa(wave),
			AnnotationApp:              s.App,
			AnnotationDigest:           digest,
		}
		if policyDigest != "" {
			a[AnnotationPolicy] = policyDigest
		}
		if spec.Revision != "" {
			a[AnnotationRevision] = spec.Revision
		}
		if spec.RepoURL != "" {
			a[AnnotationRepo] = spec.RepoURL
		}
		return a
	}
	labels := func(component string) map[string]string {
		return map[string]string{
			LabelName:      "aegis",
			LabelComponent: component,
			LabelApp:       appLabel,
			LabelSet:       setName,
		}
	}

	var out []*unstructured.Unstructured
	for i, c := range chunks {
		a := annotations(cmWave)
		a[AnnotationChunk] = fmt.Sprintf("%d/%d", i, len(chunks))
		cm := &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: chunkName(setName, i), Namespace: s.GateNamespace, Labels: labels(ComponentSet), Annotations: a},
			BinaryData: map[string][]byte{chunkKey: c},
		}
		u, err := toUnstructured(cm)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if enc.Secrets != nil {
		sec := &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: secretsName(setName), Namespace: s.GateNamespace, Labels: labels(ComponentSet), Annotations: annotations(cmWave)},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{secretsKey: enc.Secrets},
		}
		u, err := toUnstructured(sec)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}

	policyNS := spec.PolicyNamespace
	if policyNS == "" {
		policyNS = DefaultPolicyNamespace
	}
	deadline := int64(s.GateTimeout / time.Second)
	args := []string{"argocd", "presync",
		"--app", s.App,
		"--app-namespace", s.AppNamespace,
		"--namespace", spec.Namespace,
		"--gate-namespace", s.GateNamespace,
		"--set-name", setName,
		"--chunks", strconv.Itoa(len(chunks)),
		"--digest", digest,
		"--policy-digest", policyDigest,
		"--policy-namespace", policyNS,
		"--shadow", s.Shadow,
		"--shadow-timeout", s.ShadowTimeout.String(),
		"--verdict-ttl", s.VerdictTTL.String(),
		// The Job's own deadline kills the pod; the gate stops earlier so
		// that its teardown always runs.
		"--deadline", (s.GateTimeout - gateMargin/2).String(),
	}
	if s.FailOn != "" {
		args = append(args, "--fail-on", s.FailOn)
	}
	if spec.Revision != "" {
		args = append(args, "--revision", spec.Revision)
	}
	no, yes := false, true
	backoff := int32(0)
	grace := int64(gateMargin / 2 / time.Second)
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: JobName(s.App), Namespace: s.GateNamespace, Labels: labels(ComponentGate), Annotations: annotations(jobWave)},
		Spec: batchv1.JobSpec{
			BackoffLimit:          &backoff,
			ActiveDeadlineSeconds: &deadline,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(ComponentGate)},
				Spec: corev1.PodSpec{
					ServiceAccountName:            GateServiceAccount,
					RestartPolicy:                 corev1.RestartPolicyNever,
					TerminationGracePeriodSeconds: &grace,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &yes,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "gate",
						Image:           s.Image,
						ImagePullPolicy: GatePullPolicy(s.Image),
						Command:         []string{"aegis"},
						Args:            args,
						Env:             []corev1.EnvVar{{Name: "HOME", Value: "/tmp"}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("2Gi")},
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: &no,
							ReadOnlyRootFilesystem:   &yes,
							RunAsNonRoot:             &yes,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
					}},
					Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
	u, err := toUnstructured(job)
	if err != nil {
		return nil, err
	}
	return append(out, u), nil
}

// pinnedImage matches the end of a reference pinned by digest:
// ...@sha256:<64 hex digits> (or sha512), with or without a tag before it.
var pinnedImage = regexp.MustCompile(`@(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$`)

// ImagePinned reports whether image names its content by digest.
func ImagePinned(image string) bool { return pinnedImage.MatchString(image) }

// GatePullPolicy is the gate Job's imagePullPolicy for image. A reference
// with a digest is immutable: a node's cached copy is that image, so
// IfNotPresent saves the pull. A tag can be moved, and a node may hold an
// older (or a planted) image under it: Always makes every gate run what the
// registry names now, never a stale copy that runs as the gate's
// ServiceAccount.
func GatePullPolicy(image string) corev1.PullPolicy {
	if ImagePinned(image) {
		return corev1.PullIfNotPresent
	}
	return corev1.PullAlways
}

// GateImageWarning says what is wrong with a gate image that is the
// mutable :latest, written or implied (no tag), and without a digest; ""
// for any other. Such an image is warned about, not refused: it is what a
// development build and the development install use, and refusing it would
// stop every Application's generate (no sync at all) over what the Always
// pull policy already bounds: each gate runs what the tag names now. The
// risk left is the tag's owner moving it, and a release pins by digest.
func GateImageWarning(image string) string {
	if ImagePinned(image) {
		return ""
	}
	last := image[strings.LastIndex(image, "/")+1:]
	tag := ""
	if i := strings.LastIndex(last, ":"); i >= 0 {
		tag = last[i+1:]
	}
	if tag != "" && tag != "latest" {
		return ""
	}
	return fmt.Sprintf("the gate image %s is the mutable tag :latest without a digest: the gate Job pulls it on every run (imagePullPolicy Always), "+
		"but what it runs is whatever the tag names then; pin it by digest (a release install does: docs/argocd.md#pinning)", image)
}

// toUnstructured converts a typed object, dropping the empty
// creationTimestamp and status the typed structs carry.
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return u, nil
}

// HookWaves returns the sync waves of the gate's ConfigMaps and Job: below
// every PreSync hook of the set (Argo CD's own annotation, or a Helm
// pre-install/pre-upgrade hook, which Argo CD runs as PreSync with its
// weight as wave) and below 0, ConfigMaps first.
func HookWaves(set *manifest.Set) (cmWave, jobWave int) {
	lowest := 0
	for _, o := range set.Objects {
		a := o.GetAnnotations()
		var wave string
		switch {
		case hasHook(a[AnnotationHook], HookPreSync):
			wave = a[AnnotationSyncWave]
		case a[AnnotationHook] == "" && (hasHook(a["helm.sh/hook"], "pre-install") || hasHook(a["helm.sh/hook"], "pre-upgrade")):
			wave = a["helm.sh/hook-weight"]
		default:
			continue
		}
		if w, err := strconv.Atoi(strings.TrimSpace(wave)); err == nil && w < lowest {
			lowest = w
		}
	}
	return lowest - 2, lowest - 1
}

func hasHook(csv, hook string) bool {
	for _, h := range strings.Split(csv, ",") {
		if strings.TrimSpace(h) == hook {
			return true
		}
	}
	return false
}
