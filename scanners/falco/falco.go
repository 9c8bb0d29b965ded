// Package falco owns the "falco" live scanner: the Falco runtime alerts
// raised in a side's shadow namespace during its soak window, as findings
// located at the source line of the workload whose pod raised them.
//
// aegis does not run Falco. It reads the alerts of a Falco that watches the
// cluster, from any of three sources (each a Source):
//
//   - Receiver: an HTTP endpoint aegis starts, to which Falco's
//     http_output or falcosidekick's webhook output posts one JSON event
//     per request;
//   - PodLogs: the logs of the Falco pods, read through the Kubernetes API
//     (Falco with json_output: true writes one JSON event per line);
//   - File and Stream: a file or a stream (stdin) of JSON lines.
//
// The package owns the Falco JSON event format (Event, ParseEvent), the
// priority-to-severity mapping (Severity), the attribution of a pod to the
// workload of the set that owns it, and the fingerprint key that makes the
// same alert on the base and on the head one finding.
package falco

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/shadow"
)

// Version is the version of the Falco alert intake: the JSON event format
// read (Falco's json_output, as http_output and falcosidekick send it) and
// the mapping to findings. Falco's own version is not known to aegis.
const Version = "1.0.0"

// Name is the scanner's id.
const Name = "falco"

// Defaults of Options.
const (
	DefaultWindow = 60 * time.Second
	DefaultSettle = 2 * time.Second
)

// Options configure the scanner.
type Options struct {
	// Window is the soak window: how long after a side became ready its
	// alerts are collected (DefaultWindow when 0).
	Window time.Duration
	// Settle is how long to wait after the window for alerts in flight
	// (Falco's output queue, falcosidekick, the kubelet's log writer) before
	// reading the sources (DefaultSettle when 0; negative for none).
	Settle time.Duration
	// Sources of alerts. With none, Scan fails with ErrNotInstalled.
	Sources []Source
	// ReadyAt is when a side became ready: the window's start. When nil,
	// or when it returns the zero time, the window starts when Scan is
	// called (the runner scans live scanners right after the deployment's
	// health wait).
	ReadyAt func(d *shadow.Deployment) time.Time
	// Logf hears warnings (skipped malformed records). Optional.
	Logf func(format string, args ...any)
}

// Scanner is the "falco" scanner.
type Scanner struct {
	opts Options
}

var _ scanners.LiveScanner = (*Scanner)(nil)

// New returns the scanner.
func New(opts Options) *Scanner {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Settle == 0 {
		opts.Settle = DefaultSettle
	}
	if opts.Settle < 0 {
		opts.Settle = 0
	}
	return &Scanner{opts: opts}
}

// NeedsShadow marks the scanner as live.
func (*Scanner) NeedsShadow() {}

// Name of the scanner.
func (*Scanner) Name() string { return Name }

// Version of the alert intake (see Version).
func (*Scanner) Version(context.Context) (string, error) { return Version, nil }

// Scan waits until the side's soak window has elapsed, reads every source,
// keeps the alerts of the side's shadow namespace raised within the window
// and returns one finding per rule, workload, container and normalized
// command line.
//
// It fails (the side was not watched, not found clean) when no source is
// configured (wrapping scanners.ErrNotInstalled), when a source cannot be
// read, when a source holds malformed records and not one valid event (the
// input is not Falco JSON), or when events of the namespace were dropped by
// a memory bound. Malformed records next to valid events are skipped, with
// a warning to Logf.
func (s *Scanner) Scan(ctx context.Context, t scanners.Target) ([]report.Finding, error) {
	if len(s.opts.Sources) == 0 {
		return nil, fmt.Errorf("no Falco source configured (receiver, pod logs or file): %w", scanners.ErrNotInstalled)
	}
	d := t.Shadow
	if d == nil || d.Namespace == "" {
		return nil, errors.New("falco: the side is not deployed in a shadow namespace")
	}
	var start time.Time
	if s.opts.ReadyAt != nil {
		start = s.opts.ReadyAt(d)
	}
	if start.IsZero() {
		start = time.Now()
	}
	q := Query{Namespace: d.Namespace, Since: start, Until: start.Add(s.opts.Window)}
	if err := sleepUntil(ctx, q.Until.Add(s.opts.Settle)); err != nil {
		return nil, fmt.Errorf("falco: soak window of %s in %s interrupted: %w", s.opts.Window, d.Namespace, err)
	}

	var events []Event
	seen := map[string]bool{}
	for _, src := range s.opts.Sources {
		b, err := src.Collect(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("falco source %s: %w", src.Name(), err)
		}
		if b.Malformed > 0 {
			if b.Valid == 0 {
				return nil, fmt.Errorf("falco source %s: all %d records are malformed, none is a Falco JSON event (first: %s)", src.Name(), b.Malformed, b.FirstError)
			}
			s.logf("falco source %s: skipped %d malformed records (first: %s)", src.Name(), b.Malformed, b.FirstError)
		}
		if b.Dropped > 0 {
			return nil, fmt.Errorf("falco source %s: %d events of namespace %s were dropped (memory bound reached): the side's alerts are incomplete", src.Name(), b.Dropped, d.Namespace)
		}
		for _, e := range b.Events {
			if k := e.dedupKey(); !seen[k] {
				seen[k] = true
				events = append(events, e)
			}
		}
	}
	for _, src := range s.opts.Sources {
		if f, ok := src.(forgetter); ok {
			f.Forget(d.Namespace)
		}
	}
	return s.findings(t, q, events), nil
}

func (s *Scanner) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func sleepUntil(ctx context.Context, at time.Time) error {
	wait := time.Until(at)
	if wait <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// group gathers the events of one finding.
type group struct {
	f           report.Finding
	first, last Event
	count       int
	pods        map[string]bool
}

// findings groups events by fingerprint: an alert that fires on every
// request is one finding with a count, not thousands.
func (s *Scanner) findings(t scanners.Target, q Query, events []Event) []report.Finding {
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	ws := workloads(t.Shadow)
	groups := map[string]*group{}
	var order []string
	for _, e := range events {
		f := finding(t, ws, e)
		g, ok := groups[f.Fingerprint]
		if !ok {
			g = &group{f: f, first: e, pods: map[string]bool{}}
			groups[f.Fingerprint] = g
			order = append(order, f.Fingerprint)
		}
		if sev, _ := Severity(e.Priority); sev.Rank() > g.f.Severity.Rank() {
			g.f.Severity = sev
		}
		g.count++
		g.last = e
		g.pods[e.Pod()] = true
	}
	out := make([]report.Finding, 0, len(order))
	for _, fp := range order {
		g := groups[fp]
		g.f.Message = message(g, q)
		out = append(out, g.f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		return a.Fingerprint < b.Fingerprint
	})
	return out
}

// finding makes the finding of one event. The rule id is Falco's rule name
// as written in its rules file, unchanged (stable across Falco versions
// unless the rule is renamed). The fingerprint covers the rule, the owning
// workload, the container and the normalized command line: not the pod,
// the namespace, the container id or the time, which differ between base
// and head.
func finding(t scanners.Target, ws []workload, e Event) report.Finding {
	sev, _ := Severity(e.Priority)
	f := report.Finding{
		Scanner:  Name,
		RuleID:   e.Rule,
		Severity: sev,
		Title:    e.Rule,
		Key:      normalizeCmdline(e.Field("proc.cmdline"), e.Namespace(), e.Pod()),
	}
	f.Resource.Container = e.Container()
	if w, ok := attribute(ws, e.Pod()); ok {
		f.Resource.Kind, f.Resource.Namespace, f.Resource.Name = w.id.Kind, w.id.Namespace, w.id.Name
		f.Resource.APIVersion = apiVersion(t.Set, w.id)
		f.Location = report.Location{Path: w.origin.Path, Line: w.origin.Line}
	} else {
		// A pod of no workload of the set (a pod an operator made, a
		// debug pod): reported on the namespace, without a source line.
		// The pod's name stays out of the fingerprint: it is random.
		f.Resource.Kind = "Pod"
	}
	f.Fingerprint = report.ComputeFingerprint(f)
	return f
}

func apiVersion(set *manifest.Set, id manifest.Identity) string {
	if set == nil {
		return ""
	}
	if obj, ok := set.Find(id); ok {
		return obj.GetAPIVersion()
	}
	return ""
}

// maxOutput bounds the Falco output text quoted in a message.
const maxOutput = 500

func message(g *group, q Query) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Falco rule %q (%s) fired %d time", g.first.Rule, g.first.Priority, g.count)
	if g.count != 1 {
		b.WriteString("s")
	}
	fmt.Fprintf(&b, " in shadow namespace %s during the %s soak window", q.Namespace, q.Until.Sub(q.Since))
	pods := make([]string, 0, len(g.pods))
	for p := range g.pods {
		if p != "" {
			pods = append(pods, p)
		}
	}
	sort.Strings(pods)
	if len(pods) > 0 {
		fmt.Fprintf(&b, " (pod %s", strings.Join(pods, ", "))
		if c := g.f.Resource.Container; c != "" {
			fmt.Fprintf(&b, ", container %s", c)
		}
		b.WriteString(")")
	}
	if cmd := g.first.Field("proc.cmdline"); cmd != "" {
		fmt.Fprintf(&b, "; command: %s", text.Truncate(cmd, 200))
	}
	if out := strings.TrimSpace(g.first.Output); out != "" {
		fmt.Fprintf(&b, ". First alert at %s: %s", g.first.Time.UTC().Format(time.RFC3339), text.Truncate(out, maxOutput))
	}
	return b.String()
}

// Rules lists the rules of Falco's default rule set (falco_rules.yaml of
// falcosecurity/rules, stable maturity) that a workload can trigger, so
// the reports carry their help. Other rules (custom, incubating) are still
// reported; the report then makes their metadata from the findings.
func (*Scanner) Rules() []report.Rule {
	out := make([]report.Rule, 0, len(knownRules))
	for _, r := range knownRules {
		sev, _ := Severity(r.priority)
		out = append(out, report.Rule{
			Scanner:     Name,
			ID:          r.name,
			Title:       r.name,
			Description: r.desc,
			Help: r.desc + " Falco raised it at runtime in the shadow namespace while the change was deployed: " +
				"reproduce it from the command line in the finding and fix the workload or its image, or, if the behaviour is intended, tune the rule's exceptions in Falco.",
			HelpURI:  "https://falco.org/docs/reference/rules/default-rules/",
			Severity: sev,
			Tags:     []string{"security", "runtime", "falco"},
		})
	}
	return out
}

type knownRule struct{ name, priority, desc string }

// knownRules: names and priorities as Falco's default rules file defines
// them; the descriptions are aegis's own summaries.
var knownRules = []knownRule{
	{"Terminal shell in container", "Notice", "A shell with an attached terminal was started in a container."},
	{"Run shell untrusted", "Notice", "A shell was spawned by a program that does not normally start one (a sign of remote code execution)."},
	{"Read sensitive file untrusted", "Warning", "A program that is not trusted to do so read a sensitive file such as /etc/shadow."},
	{"Read sensitive file trusted after startup", "Warning", "A trusted server process read a sensitive file after its startup phase."},
	{"Directory traversal monitored file read", "Warning", "A sensitive file was read through a path with directory traversal (../)."},
	{"Contact K8S API Server From Container", "Notice", "A container connected to the Kubernetes API server, which most workloads never need to."},
	{"Netcat Remote Code Execution in Container", "Warning", "Netcat was run in a container with options that allow remote code execution."},
	{"Search Private Keys or Passwords", "Warning", "A command searched the filesystem for private keys or passwords."},
	{"Clear Log Activities", "Warning", "A process truncated or deleted log files (covering tracks)."},
	{"Remove Bulk Data from Disk", "Warning", "A process removed data in bulk (shred, wipe, mkfs, dd on a device)."},
	{"Create Symlink Over Sensitive Files", "Warning", "A symbolic link was created over a sensitive file or directory."},
	{"Create Hardlink Over Sensitive Files", "Warning", "A hard link was created over a sensitive file."},
	{"Packet socket created in container", "Notice", "A raw packet socket was opened in a container (sniffing or spoofing)."},
	{"Redirect STDOUT/STDIN to Network Connection in Container", "Notice", "A process redirected its standard input or output to a network connection (a reverse shell)."},
	{"Linux Kernel Module Injection Detected", "Warning", "A kernel module was loaded from a container."},
	{"Debugfs Launched in Privileged Container", "Warning", "debugfs was run in a privileged container (host filesystem access)."},
	{"Detect release_agent File Container Escapes", "Critical", "A cgroup release_agent file was written: a known container escape."},
	{"PTRACE attached to process", "Warning", "A process attached to another with ptrace (code injection)."},
	{"PTRACE anti-debug attempt", "Notice", "A process called ptrace on itself to resist debugging."},
	{"Find AWS Credentials", "Warning", "A command searched for AWS credentials."},
	{"Execution from /dev/shm", "Warning", "A program was executed from /dev/shm."},
	{"Drop and execute new binary in container", "Critical", "A program that was not in the container image was written and executed in the container."},
	{"Disallowed SSH Connection Non Standard Port", "Notice", "An outbound SSH connection was made to a non-standard port."},
	{"Fileless execution via memfd_create", "Critical", "A program was executed from memory (memfd_create) without a file on disk."},
}
