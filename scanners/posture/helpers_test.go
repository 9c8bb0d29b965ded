package posture

import (
	"k8s.io/pod-security-admission/policy"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/scanners"
)

func policyResult(detail string) policy.CheckResult {
	return policy.CheckResult{ForbiddenReason: "test", ForbiddenDetail: detail}
}

func scannersTarget(set *manifest.Set) scanners.Target {
	return scanners.Target{Side: scanners.Head, Set: set}
}
