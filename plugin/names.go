package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/kube-sentient/aegis/shadow"
)

// Labels and annotations of the gate's objects.
const (
	LabelApp       = "aegis.dev/app" // the app's instance name, label-safe
	LabelSet       = "aegis.dev/set" // the rendered set's name (SetName)
	LabelComponent = "app.kubernetes.io/component"
	LabelName      = "app.kubernetes.io/name"

	ComponentSet  = "rendered-set"
	ComponentGate = "gate"

	AnnotationApp      = "aegis.dev/app"
	AnnotationDigest   = "aegis.dev/digest"
	AnnotationPolicy   = "aegis.dev/policy-digest"
	AnnotationChunk    = "aegis.dev/chunk" // "<i>/<n>"
	AnnotationRevision = "aegis.dev/revision"
	AnnotationRepo     = "aegis.dev/repo"

	// Argo CD's hook annotations (Argo CD's "Resource Hooks" documentation).
	AnnotationHook             = "argocd.argoproj.io/hook"
	AnnotationHookDeletePolicy = "argocd.argoproj.io/hook-delete-policy"
	AnnotationSyncWave         = "argocd.argoproj.io/sync-wave"
	HookPreSync                = "PreSync"
	DeleteBeforeHookCreation   = "BeforeHookCreation"
)

// label returns s as a DNS-1123 label of at most max characters: lower
// case, characters outside [a-z0-9-] as '-', runs of '-' collapsed. A value
// that had to be cut or changed keeps a hash of the original, so distinct
// apps keep distinct names.
func label(s string, max int) string {
	out := shadow.DNSPart(s)
	if out == s && len(out) <= max && out != "" {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:])[:8]
	room := max - len(h) - 1
	if len(out) > room {
		out = strings.Trim(out[:room], "-")
	}
	if out == "" {
		return h
	}
	return out + "-" + h
}

// digestHex is the hex part of a "sha256:<hex>" digest.
func digestHex(d string) string {
	return strings.TrimPrefix(d, "sha256:")
}

// JobName is the gate Job of an app: one per app, so that Argo CD's
// BeforeHookCreation replaces the previous sync's Job.
func JobName(app string) string { return "aegis-gate-" + label(app, 63-len("aegis-gate-")) }

// SetName names the rendered set of an app at a digest: the ConfigMaps are
// SetName-0, SetName-1, ... It is a label value (at most 63 characters).
func SetName(app, digest string) string {
	d := digestHex(digest)
	if len(d) > 12 {
		d = d[:12]
	}
	return "aegis-set-" + label(app, 63-len("aegis-set-")-1-len(d)) + "-" + d
}

// secretsName is the Secret holding a set's Secrets.
func secretsName(setName string) string { return setName + "-secrets" }

// chunkName is the ConfigMap holding chunk i of a set.
func chunkName(setName string, i int) string {
	return setName + "-" + strconv.Itoa(i)
}
