package falco

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
)

// Event is one Falco alert as Falco writes it with json_output: true (to
// stdout, a file, or http_output) and as falcosidekick forwards it (which
// adds a uuid).
type Event struct {
	UUID     string   `json:"uuid,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	Output   string   `json:"output"`
	Priority string   `json:"priority"`
	Rule     string   `json:"rule"`
	Source   string   `json:"source,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	// Time is the event's time: the "time" field, or output_fields
	// "evt.time" (nanoseconds since the epoch) when "time" is absent.
	Time time.Time `json:"time"`
	// OutputFields holds the fields the rule's output names. Values are
	// strings, json.Number or nil (Falco writes null for a field it could
	// not extract).
	OutputFields map[string]any `json:"output_fields"`
}

// Field returns an output field as a string; "" when it is absent, null or
// Falco's "<NA>" placeholder (which older Falco versions write for missing
// values).
func (e Event) Field(name string) string {
	switch v := e.OutputFields[name].(type) {
	case string:
		if v == "<NA>" {
			return ""
		}
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// Namespace is the Kubernetes namespace of the event's pod.
func (e Event) Namespace() string { return e.Field("k8s.ns.name") }

// Pod is the name of the event's pod.
func (e Event) Pod() string { return e.Field("k8s.pod.name") }

// Container is the Kubernetes container name of the event. With the
// dockershim naming ("k8s_<container>_<pod>_<namespace>_<uid>_<attempt>")
// only the container part is kept: the rest changes from pod to pod and
// would break the fingerprint.
func (e Event) Container() string {
	name := e.Field("container.name")
	if strings.HasPrefix(name, "k8s_") {
		if parts := strings.Split(name, "_"); len(parts) >= 6 {
			return parts[1]
		}
	}
	return name
}

// dedupKey identifies an event seen through two sources (the receiver and
// the pod logs): Falco emits one record per alert, so rule, time, host and
// text together are unique.
func (e Event) dedupKey() string {
	if e.UUID != "" {
		return "uuid\x00" + e.UUID
	}
	return strings.Join([]string{e.Rule, e.Time.UTC().Format(time.RFC3339Nano), e.Hostname, e.Output}, "\x00")
}

// Severity maps a Falco priority to a finding severity:
//
//	Emergency, Alert, Critical -> critical
//	Error                      -> high
//	Warning                    -> medium
//	Notice                     -> low
//	Informational, Debug       -> info
//
// Falco's own names are matched case-insensitively, with "info" accepted
// for Informational (the spelling of falco.yaml's priority setting).
func Severity(priority string) (report.Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(priority)) {
	case "emergency", "alert", "critical":
		return report.Critical, true
	case "error":
		return report.High, true
	case "warning":
		return report.Medium, true
	case "notice":
		return report.Low, true
	case "informational", "info", "debug":
		return report.Info, true
	}
	return "", false
}

// wireEvent is the JSON record before validation; time is a string so a
// missing or malformed one can be told apart.
type wireEvent struct {
	UUID         string         `json:"uuid"`
	Hostname     string         `json:"hostname"`
	Output       string         `json:"output"`
	Priority     string         `json:"priority"`
	Rule         string         `json:"rule"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Time         *string        `json:"time"`
	OutputFields map[string]any `json:"output_fields"`
}

// ParseEvent parses one Falco JSON alert. A record is an event only with a
// rule, a known priority, a time and output_fields: anything less is
// malformed, never silently an empty event.
func ParseEvent(b []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // evt.time is an int64 of nanoseconds: keep it exact
	var w wireEvent
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("not a Falco JSON event: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("not a Falco JSON event: trailing data after the object")
	}
	return w.event()
}

func (w wireEvent) event() (Event, error) {
	if strings.TrimSpace(w.Rule) == "" {
		return Event{}, errors.New("not a Falco JSON event: no rule")
	}
	if _, ok := Severity(w.Priority); !ok {
		return Event{}, fmt.Errorf("not a Falco JSON event: unknown priority %q", w.Priority)
	}
	if w.OutputFields == nil {
		return Event{}, errors.New("not a Falco JSON event: no output_fields (is json_output: true set?)")
	}
	e := Event{UUID: w.UUID, Hostname: w.Hostname, Output: w.Output, Priority: w.Priority, Rule: strings.TrimSpace(w.Rule),
		Source: w.Source, Tags: w.Tags, OutputFields: w.OutputFields}
	switch {
	case w.Time != nil:
		t, err := time.Parse(time.RFC3339Nano, *w.Time)
		if err != nil {
			return Event{}, fmt.Errorf("not a Falco JSON event: time %q: %w", *w.Time, err)
		}
		e.Time = t
	default:
		n, ok := w.OutputFields["evt.time"].(json.Number)
		ns, err := strconv.ParseInt(n.String(), 10, 64)
		if !ok || err != nil {
			return Event{}, errors.New("not a Falco JSON event: no time")
		}
		e.Time = time.Unix(0, ns).UTC()
	}
	return e, nil
}

// ParseBody parses an HTTP request body: one event, as Falco's http_output
// and falcosidekick's webhook send it, or, tolerated for forwarders that
// batch, a JSON array of events or several events one after the other.
func ParseBody(b []byte) ([]Event, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var ws []wireEvent
	if trimmed[0] == '[' {
		if err := dec.Decode(&ws); err != nil {
			return nil, fmt.Errorf("not a JSON array of Falco events: %w", err)
		}
	} else {
		for dec.More() {
			var w wireEvent
			if err := dec.Decode(&w); err != nil {
				return nil, fmt.Errorf("not a Falco JSON event (Falco needs json_output: true): %w", err)
			}
			ws = append(ws, w)
		}
	}
	out := make([]Event, 0, len(ws))
	for _, w := range ws {
		e, err := w.event()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// falcoLogLine matches Falco's own log lines ("Wed Jan  9 08:57:28 2019:
// Loading rules from ..."), which its stdout carries next to the alerts.
var falcoLogLine = regexp.MustCompile(`^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}: `)

// textAlert matches an alert Falco wrote as text ("10:00:07.550129004:
// Warning Sensitive file opened ..."): Falco runs without json_output:
// true, and its alerts cannot be read. It is malformed in every mode, so a
// text-only log fails instead of looking clean.
var textAlert = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{9}: (Emergency|Alert|Critical|Error|Warning|Notice|Informational|Info|Debug) `)

// lineKind classifies one line of a JSON-lines stream.
type lineKind int

const (
	lineSkip lineKind = iota // blank, or Falco's own log
	lineEvent
	lineMalformed
)

// maxLine bounds one line; a longer one is malformed, not a reason to hold
// an unbounded buffer.
const maxLine = 1 << 20

// readLines calls fn for each line of r, without its newline. A line
// longer than maxLine is passed truncated with tooLong set.
func readLines(r io.Reader, fn func(line []byte, tooLong bool)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLine {
			tooLong = true
		} else {
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 || tooLong {
			fn(bytes.TrimRight(buf, "\r\n"), tooLong)
		}
		buf, tooLong = buf[:0], false
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// classify parses one line. In strict mode (a file or stdin, meant to hold
// Falco's JSON output) a line that is neither JSON nor Falco's own log is
// malformed; in lenient mode (pod logs, where stderr is interleaved with
// the alerts and other text is normal) only lines that start like a JSON
// object count, and alerts in text form (see textAlert).
func classify(line []byte, tooLong, strict bool) (Event, lineKind, error) {
	s := bytes.TrimSpace(line)
	if tooLong {
		return Event{}, lineMalformed, fmt.Errorf("line longer than %d bytes", maxLine)
	}
	if len(s) == 0 {
		return Event{}, lineSkip, nil
	}
	if textAlert.Match(s) {
		return Event{}, lineMalformed, fmt.Errorf("a Falco alert in text form (set json_output: true): %q", text.Truncate(string(s), 80))
	}
	if s[0] != '{' {
		if !strict || falcoLogLine.Match(s) {
			return Event{}, lineSkip, nil
		}
		return Event{}, lineMalformed, fmt.Errorf("not a Falco JSON event: %q", text.Truncate(string(s), 80))
	}
	e, err := ParseEvent(s)
	if err != nil {
		return Event{}, lineMalformed, err
	}
	return e, lineEvent, nil
}
