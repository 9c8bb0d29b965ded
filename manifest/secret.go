package manifest

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// IsSecret says whether an object of this kind is treated as a Kubernetes
// Secret: its values are masked in what aegis prints and kept out of what
// it hands to scanners, Argo CD and clusters it reads back from.
//
// The rule is the kind alone, trimmed of spaces and compared without case,
// whatever the group or apiVersion. A change under review is hostile input:
// it may spell the apiVersion "v1 ", "core/v1" or "V1", which the API server
// (or a later tool) may still read as a core Secret, to slip past a check
// on group "" and version "v1"; a CRD may name its kind Secret too. Taking
// more objects for Secrets only masks more, so the wide rule errs on the
// safe side. Related kinds (SecretList, ExternalSecret, SealedSecret) are
// not Secrets: they are matched on the whole kind, not a substring.
func IsSecret(kind string) bool {
	return strings.EqualFold(strings.TrimSpace(kind), "Secret")
}

// IsSecretObject is IsSecret for u's kind; a nil u is no Secret.
func IsSecretObject(u *unstructured.Unstructured) bool {
	return u != nil && u.Object != nil && IsSecret(u.GetKind())
}
