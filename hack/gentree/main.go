// Command gentree writes a kustomize tree (base + overlays/prod) for the
// base and the head of a change with a chosen number of resources, for
// `make bench`. Half the resources are Deployments, half Services; the head
// fixes a privileged container in every tenth Deployment.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
)

const perFile = 20

func main() {
	resources := flag.Int("resources", 1000, "resources per side")
	out := flag.String("out", "", "output directory (before/ and after/ are created)")
	flag.Parse()
	if *out == "" {
		log.Fatal("gentree: -out is required")
	}
	for _, side := range []string{"before", "after"} {
		if err := writeSide(filepath.Join(*out, side), *resources, side == "after"); err != nil {
			log.Fatal(err)
		}
	}
}

func writeSide(dir string, resources int, fixed bool) error {
	base := filepath.Join(dir, "base")
	overlay := filepath.Join(dir, "overlays", "prod")
	for _, d := range []string{base, overlay} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	apps := resources / 2
	var files []string
	for start := 0; start < apps; start += perFile {
		var b strings.Builder
		for i := start; i < start+perFile && i < apps; i++ {
			privileged := i%10 == 0 && !fixed
			fmt.Fprintf(&b, deployment, i, i, i, i, i, privileged)
			fmt.Fprintf(&b, service, i, i)
		}
		name := fmt.Sprintf("apps-%04d.yaml", start/perFile)
		files = append(files, name)
		if err := os.WriteFile(filepath.Join(base, name), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, f := range files {
		kust += "  - " + f + "\n"
	}
	if err := os.WriteFile(filepath.Join(base, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(overlayKustomization), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(overlay, "limits.yaml"), []byte(overlayPatch), 0o644)
}

const deployment = `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%d
  labels: {tier: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: app-%d}
  template:
    metadata:
      labels: {app: app-%d}
    spec:
      containers:
        - name: app
          image: ghcr.io/example/app-%d:1.%d.0
          securityContext:
            privileged: %t
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
`

const service = `---
apiVersion: v1
kind: Service
metadata:
  name: app-%d
spec:
  selector: {app: app-%d}
  ports:
    - port: 80
      targetPort: 8080
`

const overlayKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
namePrefix: prod-
commonLabels:
  env: prod
resources:
  - ../../base
patches:
  - path: limits.yaml
    target:
      kind: Deployment
`

const overlayPatch = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: any
spec:
  template:
    spec:
      containers:
        - name: app
          resources:
            limits: {cpu: 500m, memory: 256Mi}
`
