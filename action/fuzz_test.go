package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-sentient/aegis/verify"
)

// fuzzEvents are the events the fuzzer picks from: every event aegis knows,
// none, and two it does not.
var fuzzEvents = []string{EventPullRequest, EventPullRequestTarget, EventPush, EventWorkflowDispatch, EventMergeGroup, "", "issue_comment", "schedule"}

// FuzzEvent feeds the event payload reader and the resolution of base and
// head arbitrary payloads, events and inputs (run it with hack/fuzz.sh, or
// `go test -run '^$' -fuzz FuzzEvent ./action/`). Without -fuzz, `go test`
// runs the seeds and every crasher kept under testdata/fuzz/FuzzEvent as a
// regression test.
//
// Invariants: every error is a *verify.InputError (bad input, exit 2) with a
// message; a payload that is not JSON is an error; a resolved target has a
// non-empty base and head, explicit inputs win over the event, a
// pull_request_target from a fork is refused unless allow-untrusted-head
// says otherwise, a pull request number is never negative, and a pull
// request's SARIF is filed on its head commit and refs/pull/N/head.
func FuzzEvent(f *testing.F) {
	for _, p := range []string{"testdata/pull_request.json", "testdata/push.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for ev := range fuzzEvents {
			f.Add(data, uint8(ev), "", "", false)
		}
		f.Add(data, uint8(0), "main", "HEAD", false)
		f.Add(data, uint8(1), "", "", true)
	}
	sha := strings.Repeat("a", 40)
	for _, s := range []string{
		`{"inputs":{"base":"origin/main","head":"fix/cve"},"ref":"refs/heads/fix/cve"}`,
		`{"inputs":{"base":"  ","head":7}}`,
		`{"action":"checks_requested","merge_group":{"head_sha":"` + sha + `","head_ref":"refs/heads/gh-readonly-queue/main/pr-2","base_sha":"` + sha + `","base_ref":"refs/heads/main"}}`,
		`{"merge_group":{}}`,
		`{"merge_group":null}`,
		`{"before":"` + zeroSHA + `","after":"` + sha + `"}`,
		`{"before":"` + sha + `","after":"` + zeroSHA + `","deleted":true}`,
		`{"after":"","before":""}`,
		`{"number":-1,"pull_request":{"number":-7,"head":{"sha":"h","repo":null},"base":{"sha":"b","repo":{"full_name":"a/b"}}}}`,
		`{"number":9223372036854775807,"pull_request":{"head":{"sha":"h","repo":{"full_name":"A/B"}},"base":{"sha":"b","repo":{"full_name":"a/b"}}}}`,
		`{"number":1e400}`,
		`{"pull_request":{"head":{"sha":"` + strings.Repeat("\u0000", 4) + `"},"base":{"sha":"-x"}}}`,
		`{"pull_request":null}`,
		`{"pull_request":{}}`,
		`{"pull_request":[]}`,
		`{"inputs":[]}`,
		`{"repository":{"full_name":"x","fork":true},"pull_request":{"number":3,"head":{"sha":"h","ref":"r","repo":{"full_name":"x"}},"base":{"sha":"b","repo":{"full_name":"X"}}}}`,
		`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		`{"after":"\xff\xfe"}`,
		`{"after":"a","after":"b"}`,
		`{"after":"a"} trailing`,
		`null`,
		`[]`,
		``,
		`{`,
		"\xef\xbb\xbf{}",
	} {
		for ev := range fuzzEvents {
			f.Add([]byte(s), uint8(ev), "", "", false)
		}
	}
	// One file per fuzzing process, rewritten for each input (inputs run one
	// at a time in a process): a directory per input would cost more than
	// the code under test.
	path := filepath.Join(f.TempDir(), "event.json")
	f.Fuzz(func(t *testing.T, data []byte, ev uint8, base, head string, allow bool) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := readPayload(path)
		if err != nil {
			checkInputError(t, err)
			return
		}
		if p == nil {
			t.Fatal("readPayload returned neither a payload nor an error")
		}
		if !json.Valid(data) {
			t.Fatalf("a payload that is not JSON was read: %q", data)
		}
		event := fuzzEvents[int(ev)%len(fuzzEvents)]
		in := Inputs{Base: base, Head: head, AllowUntrustedHead: allow}
		tg, err := resolveTarget(event, p, in, "refs/heads/main", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
		if err != nil {
			checkInputError(t, err)
			return
		}
		checkTarget(t, event, p, in, tg)
	})
}

func checkInputError(t *testing.T, err error) {
	t.Helper()
	var ie *verify.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %T %q is not a *verify.InputError", err, err)
	}
	if strings.TrimSpace(ie.Msg) == "" {
		t.Fatal("an input error without a message")
	}
}

func checkTarget(t *testing.T, event string, p *payload, in Inputs, tg *Target) {
	t.Helper()
	if tg == nil {
		t.Fatal("resolveTarget returned neither a target nor an error")
	}
	if tg.Base == (verify.Source{}) || tg.Head == (verify.Source{}) {
		t.Fatalf("empty base or head without an error: %+v", tg)
	}
	if in.Base != "" && tg.Base.Revision != in.Base || in.Head != "" && tg.Head.Revision != in.Head {
		t.Fatalf("explicit inputs base %q, head %q lost: %+v", in.Base, in.Head, tg)
	}
	if tg.Event != event {
		t.Fatalf("event %q became %q", event, tg.Event)
	}
	if tg.PR < 0 {
		t.Fatalf("negative pull request number %d", tg.PR)
	}
	switch event {
	case EventPullRequest, EventPullRequestTarget:
		if event == EventPullRequestTarget && tg.Fork && !in.AllowUntrustedHead {
			t.Fatalf("pull_request_target from a fork accepted without allow-untrusted-head: %+v", tg)
		}
		if tg.CommitSHA != p.PullRequest.Head.SHA {
			t.Fatalf("SARIF filed on %q, not the head commit %q", tg.CommitSHA, p.PullRequest.Head.SHA)
		}
		if tg.PR > 0 && tg.Ref != fmt.Sprintf("refs/pull/%d/head", tg.PR) {
			t.Fatalf("pull request %d filed on %q", tg.PR, tg.Ref)
		}
	case EventPush:
		if p.Deleted || p.After == zeroSHA {
			t.Fatalf("a push that deleted its branch resolved to %+v", tg)
		}
	default:
		if tg.PR != 0 {
			t.Fatalf("event %q has no pull request but got #%d", event, tg.PR)
		}
	}
}
