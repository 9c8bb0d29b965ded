package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/dast"
	"github.com/kube-sentient/aegis/scanners/dast/wapiti"
	"github.com/kube-sentient/aegis/scanners/dast/zap"
	"github.com/kube-sentient/aegis/scanners/falco"
	"github.com/kube-sentient/aegis/scanners/health"
	"github.com/kube-sentient/aegis/scanners/posture"
	"github.com/kube-sentient/aegis/scanners/semgrep"
	"github.com/kube-sentient/aegis/scanners/trivy"
	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/verify"
)

// scannerSet is every scanner of a run and what must be released after it
// (the Falco receiver's listener).
type scannerSet struct {
	scanners []scanners.Scanner
	closers  []func() error
}

func (s *scannerSet) close() {
	for _, c := range s.closers {
		_ = c()
	}
}

// buildScanners turns the policy into scanners. Every scanner aegis has is
// in the list, enabled or not, so that the report says which ones did not
// run and why; a disabled scanner is built without its side effects (no
// listener is opened for a disabled Falco). kube is nil with --shadow=off.
//
// A live scanner (zap, wapiti, falco) that the policy enables but the
// shadow mode can never run is a configuration error (exit 2), unless the
// policy allows it to be skipped: see config.CheckShadow.
func buildScanners(cfg *config.Config, shadowMode string, kube *rest.Config, progress func(string, ...any)) (*scannerSet, error) {
	if shadowMode == "" {
		shadowMode = verify.ShadowOff
	}
	if err := cfg.CheckShadow(shadowMode); err != nil {
		return nil, err
	}
	set := &scannerSet{}
	add := func(s ...scanners.Scanner) { set.scanners = append(set.scanners, s...) }

	add(posture.New())
	if shadowMode != verify.ShadowOff {
		add(health.Health{}, health.Admission{})
	}
	tc := cfg.Scanner(trivy.Name)
	add(trivy.New(trivy.Options{Binary: tc.Binary, ExtraArgs: tc.Args}))
	ic := cfg.Scanner(trivy.ImageName)
	add(trivy.NewImage(trivy.ImageOptions{
		Binary:      ic.Binary,
		CacheDir:    ic.CacheDir, // absolute: config refuses a relative path
		UpdateDB:    !ic.Offline,
		ResultCache: ic.ResultCache,
		Archives:    ic.Archives,
		Insecure:    ic.Insecure,
		ExtraArgs:   ic.Args,

		// The policy's (read from the base revision), never the change's.
		DBRepositories: ic.DBRepository,
	}))

	sc := cfg.Scanner(semgrep.Name)
	add(semgrep.New(semgrep.Options{Binary: sc.Binary, Configs: rulesRelativeTo(cfg, sc.Rules), ExtraArgs: sc.Args}))

	zs, err := zapScanner(cfg, kube, progress)
	if err != nil {
		return nil, err
	}
	add(zs)
	wc := cfg.Scanner(wapiti.Name)
	add(dast.New(
		wapiti.New(wapiti.Options{Binary: wc.Binary, Modules: wc.Modules, ExtraArgs: wc.Args, Logf: progress}),
		dast.Options{Kube: kube, Services: wc.Services, Ports: wc.Ports, Logf: progress}))

	fs, err := falcoScanner(cfg, kube, progress, set)
	if err != nil {
		set.close()
		return nil, err
	}
	add(fs)
	return set, nil
}

// zapScanner drives a running ZAP daemon; its API key comes from the
// environment variable the policy names, never from the policy itself.
func zapScanner(cfg *config.Config, kube *rest.Config, progress func(string, ...any)) (scanners.Scanner, error) {
	zc := cfg.Scanner(zap.Name)
	opts := zap.Options{APIURL: zc.APIURL, ActiveScan: zc.ActiveScan, Logf: progress}
	if zc.APIKeyEnv != "" {
		opts.APIKey = os.Getenv(zc.APIKeyEnv)
		secret.Add(opts.APIKey) // never printed, whatever message carries it
		if opts.APIKey == "" && cfg.Enabled(zap.Name) {
			return nil, &config.Error{Path: cfg.Path, Msg: fmt.Sprintf("scanners.zap.apiKeyEnv names %s, which is not set in the environment", zc.APIKeyEnv)}
		}
	}
	backend, err := zap.New(opts)
	if err != nil {
		return nil, &config.Error{Path: cfg.Path, Msg: err.Error()}
	}
	return dast.New(backend, dast.Options{Kube: kube, Services: zc.Services, Ports: zc.Ports, Logf: progress}), nil
}

// falcoScanner builds Falco's intake from the policy: an HTTP receiver
// opened now (so that alerts raised while the shadows come up are kept),
// the logs of Falco's pods, and/or a file of events.
func falcoScanner(cfg *config.Config, kube *rest.Config, progress func(string, ...any), set *scannerSet) (scanners.Scanner, error) {
	fc := cfg.Scanner(falco.Name)
	opts := falco.Options{Logf: progress}
	if fc.Window != "" {
		opts.Window, _ = time.ParseDuration(fc.Window) // validated by config
	}
	if !cfg.Enabled(falco.Name) {
		return falco.New(opts), nil
	}
	if fc.Receiver != "" {
		r := falco.NewReceiver()
		addr, err := r.Start(fc.Receiver)
		if err != nil {
			return nil, &config.Error{Path: cfg.Path, Msg: fmt.Sprintf("scanners.falco.receiver %q: %v", fc.Receiver, err)}
		}
		progress("falco: receiving alerts at http://%s/ (point Falco's http_output or falcosidekick here)", addr)
		set.closers = append(set.closers, r.Close)
		opts.Sources = append(opts.Sources, r)
	}
	if fc.PodLogs != nil && kube != nil {
		client, err := kubernetes.NewForConfig(kube)
		if err != nil {
			return nil, err
		}
		opts.Sources = append(opts.Sources, falco.PodLogs{Client: client, Namespace: fc.PodLogs.Namespace, Selector: fc.PodLogs.Selector})
	}
	if fc.File != "" {
		opts.Sources = append(opts.Sources, falco.File{Path: fc.File}) // absolute: config refuses a relative path
	}
	return falco.New(opts), nil
}

// relativeTo resolves a Semgrep rules path written in the policy against
// the policy file's directory, where its author meant it; never against a
// side's tree, which the pull request controls. (The policy's other paths
// must be absolute: see config's pathKeys.)
func relativeTo(cfg *config.Config, p string) string {
	if cfg.Path == "" || p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(cfg.Path), p)
}

// rulesRelativeTo resolves Semgrep --config values that are local paths,
// leaving registry references alone.
func rulesRelativeTo(cfg *config.Config, rules []string) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r
		if isLocalPath(r) {
			out[i] = relativeTo(cfg, r)
		}
	}
	return out
}

// isLocalPath tells a rules path from a registry reference or URL.
func isLocalPath(p string) bool {
	for _, prefix := range []string{"p/", "r/", "s/", "http://", "https://"} {
		if len(p) >= len(prefix) && p[:len(prefix)] == prefix {
			return false
		}
	}
	return p != "auto"
}
