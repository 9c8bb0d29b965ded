package falco

import (
	"regexp"
	"strings"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/shadow"
)

// Pod names are built by the controllers from the owner's name and random
// suffixes drawn from the alphabet of k8s.io/apimachinery/pkg/util/rand
// (consonants and digits without vowels or look-alikes). Matching the
// suffix's shape per owner kind tells "web-5d8f7c9b6-x2k4p" (Deployment
// web) from "web-api-7z9xq" (DaemonSet web-api).
const suffixChars = `[bcdfghjklmnpqrstvwxz2456789]`

var podSuffix = map[string]*regexp.Regexp{
	// <deployment>-<pod-template-hash>-<random>
	"Deployment": regexp.MustCompile(`^` + suffixChars + `{1,10}-` + suffixChars + `{5}$`),
	// <statefulset>-<ordinal>
	"StatefulSet": regexp.MustCompile(`^\d+$`),
	// <cronjob>-<scheduled time in minutes>-<random>
	"CronJob":               regexp.MustCompile(`^\d+-` + suffixChars + `{5}$`),
	"DaemonSet":             regexp.MustCompile(`^` + suffixChars + `{5}$`),
	"Job":                   regexp.MustCompile(`^` + suffixChars + `{5}$`),
	"ReplicaSet":            regexp.MustCompile(`^` + suffixChars + `{5}$`),
	"ReplicationController": regexp.MustCompile(`^` + suffixChars + `{5}$`),
}

// maxGenerateBase is how much of a generateName the API server keeps before
// appending 5 random characters (63 - 5): an owner with a long name gets
// pods whose names cut it short.
const maxGenerateBase = 58

// workload is an object of the set that owns pods.
type workload struct {
	id     manifest.Identity
	origin manifest.Origin
}

// workloads lists the pod-owning objects of a deployed side.
func workloads(d *shadow.Deployment) []workload {
	var out []workload
	for _, o := range d.Objects {
		if _, ok := podSuffix[o.ID.Kind]; ok || o.ID.Kind == "Pod" {
			out = append(out, workload{id: o.ID, origin: o.Origin})
		}
	}
	return out
}

// attribute finds the workload of the set that owns a pod, by name (the
// events carry the pod's name, not its owner; the pods may be gone when the
// scan runs, so the API is not asked). In order:
//
//  1. a Pod of the set with that very name;
//  2. the longest-named workload W where the pod is "W-<suffix>" and the
//     suffix has the shape W's kind gives its pods;
//  3. the longest-named workload W where the pod starts with "W-" (a name
//     shape this heuristic does not know, such as an Argo Rollout's);
//  4. for a pod name of 63 characters, the workload whose "W-" starts with
//     the pod's 58-character generated base, or the reverse (truncation).
//
// ok is false when nothing matches.
func attribute(ws []workload, pod string) (workload, bool) {
	if pod == "" {
		return workload{}, false
	}
	for _, w := range ws {
		if w.id.Kind == "Pod" && w.id.Name == pod {
			return w, true
		}
	}
	pick := func(match func(w workload) bool) (workload, bool) {
		var best workload
		found := false
		for _, w := range ws {
			if w.id.Kind == "Pod" || !match(w) {
				continue
			}
			if !found || len(w.id.Name) > len(best.id.Name) {
				best, found = w, true
			}
		}
		return best, found
	}
	if w, ok := pick(func(w workload) bool {
		rest, ok := strings.CutPrefix(pod, w.id.Name+"-")
		return ok && podSuffix[w.id.Kind].MatchString(rest)
	}); ok {
		return w, true
	}
	if w, ok := pick(func(w workload) bool { return strings.HasPrefix(pod, w.id.Name+"-") }); ok {
		return w, true
	}
	if len(pod) == 63 {
		base := pod[:maxGenerateBase]
		return pick(func(w workload) bool {
			prefix := w.id.Name + "-"
			return strings.HasPrefix(prefix, base) || strings.HasPrefix(base, prefix)
		})
	}
	return workload{}, false
}

var (
	uuidRE = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	hexRE  = regexp.MustCompile(`(?i)\b(?:0x)?[0-9a-f]*[0-9][0-9a-f]*\b`)
	numRE  = regexp.MustCompile(`[0-9]+`)
	podRE  = regexp.MustCompile(`\b[a-z0-9]([-a-z0-9]*[a-z0-9])?-` + suffixChars + `{5}\b`)
	wsRE   = regexp.MustCompile(`\s+`)
)

// maxKey bounds the command line kept in a finding's key.
const maxKey = 200

// normalizeCmdline makes a command line comparable across sides and runs:
// the shadow namespace and the pod name become placeholders, and UUIDs,
// hex ids and numbers (PIDs, ports of ephemeral sockets, container ids,
// timestamps), then any digits left inside a word, become "#". Both sides running "sh -c sleep 3600" in pod
// web-6f7b9-abcde of aegis-r1-head and web-57c4d-fghjk of aegis-r1-base
// then share a key.
func normalizeCmdline(cmd, namespace, pod string) string {
	if namespace != "" {
		cmd = strings.ReplaceAll(cmd, namespace, "<namespace>")
	}
	if pod != "" {
		cmd = strings.ReplaceAll(cmd, pod, "<pod>")
	}
	cmd = uuidRE.ReplaceAllString(cmd, "#")
	cmd = podRE.ReplaceAllStringFunc(cmd, func(s string) string { return s[:len(s)-5] + "#" })
	cmd = hexRE.ReplaceAllString(cmd, "#")
	cmd = numRE.ReplaceAllString(cmd, "#") // digits inside words: /tmp/x9f3a7, a random file name
	cmd = strings.TrimSpace(wsRE.ReplaceAllString(cmd, " "))
	if len(cmd) > maxKey {
		cmd = cmd[:maxKey]
	}
	return cmd
}
