package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/verify"
)

// Events aegis knows how to read base and head from.
const (
	EventPullRequest       = "pull_request"
	EventPullRequestTarget = "pull_request_target"
	EventPush              = "push"
	EventWorkflowDispatch  = "workflow_dispatch"
	EventMergeGroup        = "merge_group"
)

// maxEventBytes bounds the event payload read (GitHub's are far smaller).
const maxEventBytes = 25 << 20

// payload is the part of an event payload aegis reads. The shapes are
// GitHub's webhook payloads (pull_request, push, workflow_dispatch,
// merge_group).
type payload struct {
	Number      int          `json:"number"`
	PullRequest *pullRequest `json:"pull_request"`
	// push
	Before  string `json:"before"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
	// workflow_dispatch
	Inputs map[string]any `json:"inputs"`
	// merge_group
	MergeGroup *struct {
		HeadSHA string `json:"head_sha"`
		BaseSHA string `json:"base_sha"`
		HeadRef string `json:"head_ref"`
	} `json:"merge_group"`
	Repository *repository `json:"repository"`
	// workflow_run (publish mode)
	WorkflowRun *workflowRun `json:"workflow_run"`
}

type pullRequest struct {
	Number int     `json:"number"`
	Head   prSide  `json:"head"`
	Base   prSide  `json:"base"`
	User   *person `json:"user"`
}

type prSide struct {
	SHA  string      `json:"sha"`
	Ref  string      `json:"ref"`
	Repo *repository `json:"repo"`
}

type repository struct {
	FullName string `json:"full_name"`
	Fork     bool   `json:"fork"`
}

type person struct {
	Login string `json:"login"`
}

// Target is what one run verifies and where it publishes.
type Target struct {
	Event string
	// Base and Head are what verify renders: the event's revisions, or
	// the inputs' revisions or directories.
	Base, Head verify.Source
	// PR is the pull request number, 0 when the event has none (then no
	// comment is posted).
	PR int
	// CommitSHA and Ref are where the SARIF upload is filed: for a pull
	// request its head commit and refs/pull/N/head, so that the alerts land
	// on the lines of the PR's diff.
	CommitSHA, Ref string
	// Fork is set when the pull request's head lives in another repository:
	// its token is read-only and comments and uploads are refused (403).
	Fork     bool
	HeadRepo string
}

// zeroSHA is the "before" of a push that created its branch.
const zeroSHA = "0000000000000000000000000000000000000000"

// readPayload reads the event payload at path ("" or absent: an empty
// payload, as when aegis runs outside Actions).
func readPayload(path string) (*payload, error) {
	p := &payload{}
	if path == "" {
		return p, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, &verify.InputError{Msg: fmt.Sprintf("reading the event payload: %v", err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxEventBytes+1))
	if err != nil {
		return nil, &verify.InputError{Msg: fmt.Sprintf("reading the event payload: %v", err)}
	}
	if len(data) > maxEventBytes {
		return nil, &verify.InputError{Msg: fmt.Sprintf("the event payload %s is larger than %d bytes", path, maxEventBytes)}
	}
	if !utf8.Valid(data) {
		return nil, &verify.InputError{Msg: fmt.Sprintf("the event payload %s is not valid UTF-8: it is not the JSON of a GitHub event", path)}
	}
	if err := json.Unmarshal(data, p); err != nil {
		return nil, &verify.InputError{Msg: fmt.Sprintf("the event payload %s is not the JSON of a GitHub event: %v", path, err)}
	}
	return p, nil
}

// resolveTarget decides base, head and where to publish from the event and
// the inputs; explicit base and head inputs always win. githubRef and
// githubSHA are GITHUB_REF and GITHUB_SHA.
func resolveTarget(event string, p *payload, in Inputs, githubRef, githubSHA string) (*Target, error) {
	t := &Target{Event: event, Ref: githubRef, CommitSHA: githubSHA}
	switch event {
	case EventPullRequest, EventPullRequestTarget:
		pr := p.PullRequest
		if pr == nil {
			return nil, &verify.InputError{Msg: fmt.Sprintf("the %s event payload has no pull_request: is GITHUB_EVENT_PATH the event's payload?", event)}
		}
		t.PR = pr.Number
		if t.PR == 0 {
			t.PR = p.Number
		}
		if t.PR < 0 {
			return nil, &verify.InputError{Msg: fmt.Sprintf("the %s event payload has pull request number %d: not a pull request", event, t.PR)}
		}
		t.Base, t.Head = rev(pr.Base.SHA), rev(pr.Head.SHA)
		t.CommitSHA = pr.Head.SHA
		if t.PR > 0 {
			t.Ref = fmt.Sprintf("refs/pull/%d/head", t.PR)
		}
		baseRepo := ""
		if pr.Base.Repo != nil {
			baseRepo = pr.Base.Repo.FullName
		}
		if pr.Head.Repo != nil {
			t.HeadRepo = pr.Head.Repo.FullName
		}
		// A deleted fork has head.repo null: still someone else's code.
		t.Fork = t.HeadRepo == "" || !strings.EqualFold(t.HeadRepo, baseRepo)
		if event == EventPullRequestTarget && t.Fork && !in.AllowUntrustedHead {
			return nil, &verify.InputError{Msg: untrustedHeadMessage(t)}
		}
	case EventPush:
		if p.Deleted || p.After == zeroSHA {
			return nil, &verify.InputError{Msg: "this push deleted its branch: there is no head to verify"}
		}
		t.Head = rev(p.After)
		t.CommitSHA = p.After
		t.Base = rev(p.Before)
		if p.Before == "" || p.Before == zeroSHA {
			// A new branch: compare the pushed commit with its first parent.
			t.Base = rev(p.After + "^1")
		}
	case EventMergeGroup:
		if mg := p.MergeGroup; mg != nil {
			t.Base, t.Head, t.CommitSHA = rev(mg.BaseSHA), rev(mg.HeadSHA), mg.HeadSHA
			if mg.HeadRef != "" {
				t.Ref = mg.HeadRef
			}
		}
	case EventWorkflowDispatch:
		t.Base, t.Head = rev(dispatchInput(p, "base")), rev(dispatchInput(p, "head"))
	}
	// Inputs win over the event. The event's shas are always revisions: a
	// directory of the pull request's checkout named like one (a sha,
	// HEAD, origin/main) never stands in for it.
	for _, side := range []struct {
		name, rev, dir string
		into           *verify.Source
	}{{"base", in.Base, in.BaseDir, &t.Base}, {"head", in.Head, in.HeadDir, &t.Head}} {
		switch {
		case side.rev != "" && side.dir != "":
			return nil, &verify.InputError{Msg: fmt.Sprintf("inputs %s and %s-dir are both set: give the %s as a git revision or as a directory, not both", side.name, side.name, side.name)}
		case side.rev != "":
			*side.into = verify.Source{Revision: side.rev}
		case side.dir != "":
			*side.into = verify.Source{Dir: side.dir}
		}
	}
	if t.Base == (verify.Source{}) || t.Head == (verify.Source{}) {
		what := "the event"
		if event != "" {
			what = "the " + event + " event"
		}
		return nil, &verify.InputError{Msg: fmt.Sprintf("inputs base and head (git revisions) or base-dir and head-dir (directories) are required with %s; only pull_request, pull_request_target, push and merge_group events supply them", what)}
	}
	for _, side := range []struct {
		name     string
		src      verify.Source
		explicit bool
	}{{"base", t.Base, in.Base != "" || in.BaseDir != ""}, {"head", t.Head, in.Head != "" || in.HeadDir != ""}} {
		revFrom, dirFrom := "input "+side.name, "input "+side.name+"-dir"
		if !side.explicit {
			revFrom = fmt.Sprintf("the %s event's %s revision", orDash(event), side.name)
		}
		if err := verify.CheckSource(side.name, side.src, revFrom, dirFrom); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// rev is a revision side; "" stays unset.
func rev(r string) verify.Source {
	if r == "" {
		return verify.Source{}
	}
	return verify.Source{Revision: r}
}

// dispatchInput reads a workflow_dispatch input of the payload.
func dispatchInput(p *payload, name string) string {
	if s, ok := p.Inputs[name].(string); ok {
		return strings.TrimSpace(s)
	}
	return ""
}

// untrustedHeadMessage says why a pull_request_target run from a fork is
// refused and what to do instead.
func untrustedHeadMessage(t *Target) string {
	from := t.HeadRepo
	if from == "" {
		from = "a deleted fork"
	}
	return fmt.Sprintf("refusing to verify pull request #%d from %s on a pull_request_target event: that event runs with the base repository's secrets "+
		"(the kubeconfig of the shadow cluster) and a write token, and verifying the head renders the fork's charts and kustomizations and, with shadow, "+
		"deploys its workloads into your cluster. Use the pull_request event, whose token is read-only and which gets no secrets, or, after a maintainer "+
		"has reviewed the head (for example behind a label or an environment approval), set allow-untrusted-head: true", t.PR, from)
}
