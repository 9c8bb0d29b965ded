package verify

import (
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/secret"
)

// registerSecrets registers with secret.Default every secret value the
// side's tree holds, by its source, before rendering can print one.
func registerSecrets(root string) {
	secret.RegisterTree(root)
}

// registerRendered registers the values of every rendered Secret (a Helm
// chart's Secret takes its values from values files and --set, which the
// tree walk cannot tell apart from other values).
func registerRendered(sets ...*manifest.Set) {
	for _, set := range sets {
		if set == nil {
			continue
		}
		for _, o := range set.Objects {
			secret.RegisterObject(o.Object)
		}
	}
}
