package action

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/kube-sentient/aegis/sarif"
)

// MaxCommentChars is GitHub's limit on a comment body; above it the API
// answers 422 "Body is too long".
const MaxCommentChars = 65536

// compactCommentChars bounds the body of the retry after a 422: verdict,
// counts and the link to the job summary fit easily.
const compactCommentChars = 8000

// publisher talks to the GitHub REST and GraphQL APIs for one repository.
type publisher struct {
	gh          *github.Client
	owner, repo string
	graphqlURL  string
	log         func(format string, args ...any)
}

// newPublisher builds a client for the API at apiURL (GITHUB_API_URL:
// api.github.com, a GHES /api/v3, or a test server) authenticated with
// token. The token is sent only to apiURL's origin.
func newPublisher(apiURL, graphqlURL, repository, token string, hc *http.Client, log func(string, ...any)) (*publisher, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" {
		return nil, fmt.Errorf("GITHUB_REPOSITORY %q is not owner/name", repository)
	}
	if token == "" {
		return nil, errors.New("input token is empty")
	}
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(hc), github.WithAuthToken(token), github.WithUserAgent("aegis-action")}
	if apiURL != "" {
		opts = append(opts, github.WithURLs(&apiURL, &apiURL))
	}
	gh, err := github.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	if graphqlURL == "" {
		graphqlURL = strings.TrimSuffix(gh.BaseURL(), "/") + "/graphql"
	}
	return &publisher{gh: gh, owner: owner, repo: repo, graphqlURL: graphqlURL, log: log}, nil
}

// ---- the sticky comment ----

// commentMarker is the hidden first line that identifies aegis's comment
// for one category.
func commentMarker(category string) string {
	if category == "" {
		category = "default"
	}
	return "<!-- aegis:sticky-comment category=" + category + " -->"
}

// markedComments lists the PR's comments that start with marker, oldest
// first, following the Link header's rel="next" through every page. Anyone
// can write the marker: whose comment it is, is ownComments' question.
func (p *publisher) markedComments(ctx context.Context, pr int, marker string) ([]*github.IssueComment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var marked []*github.IssueComment
	for pages := 0; ; pages++ {
		if pages == 100 {
			return nil, fmt.Errorf("listing the comments of #%d: more than 100 pages", pr)
		}
		cs, resp, err := p.gh.Issues.ListComments(ctx, p.owner, p.repo, pr, opts)
		if err != nil {
			return nil, fmt.Errorf("listing the comments of #%d: %w", pr, err)
		}
		for _, c := range cs {
			if strings.HasPrefix(strings.TrimLeft(c.GetBody(), " \t\r\n"), marker) {
				marked = append(marked, c)
			}
		}
		if resp.NextPage == 0 {
			return marked, nil
		}
		opts.Page = resp.NextPage
	}
}

// commentBodies renders the body, and a compact one for the retry after a
// 422; both stay within MaxCommentChars.
type commentBodies func(maxChars int) string

// ownComments keeps the marked comments that the token's identity wrote.
// The marker proves nothing: anyone can start a comment with it, and GitHub
// lets a token that may write to the repository edit, delete and hide
// anyone's comment. Without this filter aegis would overwrite a reviewer's
// comment, or adopt one that its author can later edit to show another
// verdict. The identity is author (the comment-author input) or, when that
// is empty, what GitHub says the token is; it is looked up only when there
// is a marked comment to tell apart. It returns the identity, "" when
// unknown: then no comment is aegis's, and aegis only ever posts anew.
func (p *publisher) ownComments(ctx context.Context, pr int, marked []*github.IssueComment, author string) ([]*github.IssueComment, string) {
	if len(marked) == 0 {
		return nil, author
	}
	who := author
	if who == "" {
		login, err := p.viewer(ctx)
		if err != nil {
			p.log("warning: could not learn who the token is (%v): aegis edits, deletes and hides none of the comments that start with its marker and posts a new one; set the comment-author input to the token's login", err)
		}
		who = login
	}
	var mine []*github.IssueComment
	for _, c := range marked {
		login := c.GetUser().GetLogin()
		if who != "" && strings.EqualFold(login, who) {
			mine = append(mine, c)
			continue
		}
		switch {
		case who == "":
			p.log("warning: comment %d on #%d by %q starts with aegis's marker, but the token's identity is unknown: aegis leaves the comment as it is", c.GetID(), pr, login)
		default:
			p.log("warning: comment %d on #%d starts with aegis's marker but was written by %q, not by the token's identity %q: aegis leaves it as it is (if %q is the token's login, set the comment-author input to it)", c.GetID(), pr, login, who, login)
		}
	}
	return mine, who
}

// viewerQuery asks GitHub who the token is. Unlike GET /user, which answers
// 403 to installation tokens, it works for every kind: a personal token
// gives its user's login, the workflow's GITHUB_TOKEN "github-actions[bot]",
// a GitHub App's installation token "<app-slug>[bot]".
const viewerQuery = `query { viewer { login } }`

// viewer is the login of the token's identity.
func (p *publisher) viewer(ctx context.Context) (string, error) {
	var data struct {
		Viewer *struct {
			Login string `json:"login"`
		} `json:"viewer"`
	}
	if err := p.graphql(ctx, viewerQuery, nil, &data); err != nil {
		return "", err
	}
	if data.Viewer == nil || data.Viewer.Login == "" {
		return "", errors.New("GraphQL: the viewer has no login")
	}
	return data.Viewer.Login, nil
}

// upsertComment publishes the sticky comment per mode and returns its URL.
// Only the token's own comments are edited, deleted or hidden (see
// ownComments); author is the comment-author input.
func (p *publisher) upsertComment(ctx context.Context, pr int, marker, mode, author string, body commentBodies) (string, error) {
	marked, err := p.markedComments(ctx, pr, marker)
	if err != nil {
		return "", err
	}
	existing, who := p.ownComments(ctx, pr, marked, author)
	var latest *github.IssueComment
	if len(existing) > 0 {
		latest = existing[len(existing)-1]
	}
	switch mode {
	case CommentUpdate:
		if latest != nil {
			c, err := p.writeComment(ctx, pr, latest.GetID(), body)
			if err != nil {
				return "", err
			}
			p.log("updated comment %d on #%d", latest.GetID(), pr)
			return c.GetHTMLURL(), nil
		}
	case CommentRecreate:
		for _, c := range existing {
			if _, err := p.gh.Issues.DeleteComment(ctx, p.owner, p.repo, c.GetID()); err != nil {
				return "", fmt.Errorf("deleting the old comment %d: %w", c.GetID(), err)
			}
			p.log("deleted old comment %d on #%d", c.GetID(), pr)
		}
	case CommentHideOld:
		for _, c := range existing {
			if err := p.minimize(ctx, c.GetNodeID()); err != nil {
				return "", fmt.Errorf("hiding the old comment %d: %w", c.GetID(), err)
			}
			p.log("hid old comment %d on #%d as outdated", c.GetID(), pr)
		}
	}
	c, err := p.writeComment(ctx, pr, 0, body)
	if err != nil {
		return "", err
	}
	p.log("posted comment %d on #%d", c.GetID(), pr)
	// GitHub names the author of what the token writes: if that is not
	// who aegis took the token for, the next run will not find this
	// comment (a wrong comment-author input).
	if got := c.GetUser().GetLogin(); who != "" && got != "" && !strings.EqualFold(got, who) {
		p.log("warning: GitHub posted comment %d as %q, but aegis took the token for %q: the next run will not recognise the comment as its own; set the comment-author input to %q", c.GetID(), got, who, got)
	}
	return c.GetHTMLURL(), nil
}

// writeComment creates (id 0) or edits a comment. On 422 "Body is too
// long" (GitHub counts differently than aegis, or a limit changed) it
// retries once with the compact body.
func (p *publisher) writeComment(ctx context.Context, pr int, id int64, body commentBodies) (*github.IssueComment, error) {
	write := func(text string) (*github.IssueComment, error) {
		req := github.IssueCommentRequest{Body: text}
		if id == 0 {
			c, _, err := p.gh.Issues.CreateComment(ctx, p.owner, p.repo, pr, req)
			return c, err
		}
		c, _, err := p.gh.Issues.UpdateComment(ctx, p.owner, p.repo, id, req)
		return c, err
	}
	c, err := write(body(MaxCommentChars))
	if err != nil && isBodyTooLong(err) {
		p.log("GitHub refused the comment as too long; retrying with the compact comment (the job summary has everything)")
		c, err = write(body(compactCommentChars))
	}
	if err != nil {
		verb := "posting"
		if id != 0 {
			verb = "updating"
		}
		return nil, fmt.Errorf("%s the comment on #%d: %w", verb, pr, err)
	}
	return c, nil
}

func isBodyTooLong(err error) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	for _, e := range er.Errors {
		if strings.Contains(strings.ToLower(e.Message), "too long") {
			return true
		}
	}
	return strings.Contains(strings.ToLower(er.Message), "too long")
}

// minimizeMutation hides a comment as outdated (GitHub GraphQL API).
const minimizeMutation = `mutation($id: ID!) {
  minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) {
    minimizedComment { isMinimized minimizedReason }
  }
}`

// graphQLError is one entry of a GraphQL response's errors.
type graphQLError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// GraphQLError is a GraphQL request that answered 200 with errors (GitHub's
// way of refusing a mutation, e.g. type FORBIDDEN on a read-only token).
type GraphQLError struct{ Errors []graphQLError }

func (e *GraphQLError) Error() string {
	var msgs []string
	for _, x := range e.Errors {
		if x.Type != "" {
			msgs = append(msgs, x.Type+": "+x.Message)
		} else {
			msgs = append(msgs, x.Message)
		}
	}
	return "GraphQL: " + strings.Join(msgs, "; ")
}

func (p *publisher) minimize(ctx context.Context, nodeID string) error {
	if nodeID == "" {
		return errors.New("the comment has no node_id")
	}
	var data struct {
		MinimizeComment *struct {
			MinimizedComment struct {
				IsMinimized bool `json:"isMinimized"`
			} `json:"minimizedComment"`
		} `json:"minimizeComment"`
	}
	if err := p.graphql(ctx, minimizeMutation, map[string]any{"id": nodeID}, &data); err != nil {
		return err
	}
	if data.MinimizeComment == nil || !data.MinimizeComment.MinimizedComment.IsMinimized {
		return errors.New("GraphQL: the comment was not minimized")
	}
	return nil
}

// graphql posts query with vars to the GraphQL API and decodes its data
// into data; errors in a 200 answer are a *GraphQLError.
func (p *publisher) graphql(ctx context.Context, query string, vars map[string]any, data any) error {
	in := map[string]any{"query": query}
	if vars != nil {
		in["variables"] = vars
	}
	req, err := p.gh.NewRequest(ctx, http.MethodPost, p.graphqlURL, in)
	if err != nil {
		return err
	}
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []graphQLError  `json:"errors"`
	}
	if _, err := p.gh.Do(req, &out); err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		return &GraphQLError{Errors: out.Errors}
	}
	if len(out.Data) == 0 || string(out.Data) == "null" {
		return errors.New("GraphQL: the answer has no data")
	}
	return json.Unmarshal(out.Data, data)
}

// ---- the SARIF upload ----

// UploadResult is how a SARIF upload ended.
type UploadResult struct {
	ID     string
	Status string // complete, failed, pending (still pending when the wait ended)
	Errors []string
}

// sarifStatus is GET /repos/{o}/{r}/code-scanning/sarifs/{id}.
type sarifStatus struct {
	ProcessingStatus string   `json:"processing_status"`
	AnalysesURL      *string  `json:"analyses_url"`
	Errors           []string `json:"errors"`
}

// uploadSARIF gzips and base64-encodes data and uploads it for commitSHA
// and ref, then polls the processing status every interval until wait has
// passed. A file whose gzip exceeds GitHub's 10 MB is not sent.
func (p *publisher) uploadSARIF(ctx context.Context, data []byte, commitSHA, ref string, started time.Time, interval, wait time.Duration) (*UploadResult, error) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if gz.Len() > sarif.MaxGzipBytes {
		return nil, fmt.Errorf("the SARIF file is %d bytes gzipped, above code scanning's limit of %d: not uploaded (lower the results with the policy, or upload fewer scanners)", gz.Len(), sarif.MaxGzipBytes)
	}
	body := github.SarifAnalysis{
		CommitSHA: commitSHA,
		Ref:       ref,
		Sarif:     base64.StdEncoding.EncodeToString(gz.Bytes()),
		ToolName:  github.Ptr(sarif.DriverName),
	}
	if !started.IsZero() {
		body.StartedAt = &github.Timestamp{Time: started.UTC()}
	}
	id, _, err := p.gh.CodeScanning.UploadSarif(ctx, p.owner, p.repo, body)
	if err != nil {
		if isStatus(err, http.StatusRequestEntityTooLarge) {
			return nil, fmt.Errorf("code scanning refused the SARIF file as too large (413; %d bytes gzipped): %w", gz.Len(), err)
		}
		return nil, fmt.Errorf("uploading the SARIF file: %w", err)
	}
	res := &UploadResult{ID: id.GetID(), Status: "pending"}
	if res.ID == "" {
		return nil, errors.New("uploading the SARIF file: the answer has no id")
	}
	p.log("uploaded SARIF (%d bytes gzipped) for %s at %s: upload %s", gz.Len(), ref, short(commitSHA), res.ID)
	if wait <= 0 {
		return res, nil
	}
	return p.waitSARIF(ctx, res, interval, wait)
}

// waitSARIF polls the upload's processing status. 404 right after the
// upload means not registered yet: still pending.
func (p *publisher) waitSARIF(ctx context.Context, res *UploadResult, interval, wait time.Duration) (*UploadResult, error) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	deadline := time.Now().Add(wait)
	u := fmt.Sprintf("repos/%s/%s/code-scanning/sarifs/%s", url.PathEscape(p.owner), url.PathEscape(p.repo), url.PathEscape(res.ID))
	for {
		req, err := p.gh.NewRequest(ctx, http.MethodGet, u, nil)
		if err != nil {
			return res, err
		}
		var st sarifStatus
		_, err = p.gh.Do(req, &st)
		switch {
		case err != nil && isStatus(err, http.StatusNotFound):
			st.ProcessingStatus = "pending"
		case err != nil:
			return res, fmt.Errorf("reading the status of SARIF upload %s: %w", res.ID, err)
		}
		res.Status, res.Errors = st.ProcessingStatus, st.Errors
		switch st.ProcessingStatus {
		case "complete":
			return res, nil
		case "failed":
			return res, fmt.Errorf("code scanning could not process SARIF upload %s: %s", res.ID, strings.Join(orNone(st.Errors), "; "))
		}
		if !time.Now().Add(interval).Before(deadline) {
			res.Status = "pending"
			return res, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, ctx.Err()
		case <-t.C:
		}
	}
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"no error given"}
	}
	return s
}

// ---- errors ----

// statusOf returns the HTTP status of a go-github error, or 0.
func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		return rl.Response.StatusCode
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) && ab.Response != nil {
		return ab.Response.StatusCode
	}
	return 0
}

func isStatus(err error, code int) bool { return statusOf(err) == code }

// isForbidden reports a refusal for want of permission: 403 from REST, or a
// GraphQL FORBIDDEN. Rate limits are not (go-github gives them their own
// error types).
func isForbidden(err error) bool {
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return false
	}
	if isStatus(err, http.StatusForbidden) {
		return true
	}
	var ge *GraphQLError
	if errors.As(err, &ge) {
		for _, e := range ge.Errors {
			if e.Type == "FORBIDDEN" {
				return true
			}
		}
	}
	return false
}

// short abbreviates a full commit sha to 12 hex digits; any other
// revision or path is returned as it is.
func short(rev string) string {
	if len(rev) == 40 && strings.Trim(rev, "0123456789abcdef") == "" {
		return rev[:12]
	}
	return rev
}

// ---- publish mode: the pull request of a completed run ----

// maxPullRequestFiles is how many files GitHub lists for a pull request
// (3,000; the list endpoint stops there).
const maxPullRequestFiles = 3000

// openPullRequests returns the open pull requests of this repository whose
// head is headSHA on headRepo's branch: the pull request a completed
// pull_request run belongs to. GitHub leaves workflow_run.pull_requests
// empty for a fork's pull request, so aegis asks the pulls API by head
// (owner:branch) and keeps only those whose head commit and repository
// match what the event says the run built.
func (p *publisher) openPullRequests(ctx context.Context, headRepo, branch, headSHA string) ([]int, error) {
	owner, _, _ := strings.Cut(headRepo, "/")
	opts := &github.PullRequestListOptions{State: "open", Head: owner + ":" + branch, ListOptions: github.ListOptions{PerPage: 100}}
	var out []int
	for page := 0; page < 10; page++ {
		prs, resp, err := p.gh.PullRequests.List(ctx, p.owner, p.repo, opts)
		if err != nil {
			return nil, err
		}
		for _, pr := range prs {
			h := pr.GetHead()
			if pr.GetNumber() > 0 && strings.EqualFold(h.GetSHA(), headSHA) && strings.EqualFold(h.GetRepo().GetFullName(), headRepo) &&
				strings.EqualFold(pr.GetBase().GetRepo().GetFullName(), p.owner+"/"+p.repo) {
				out = append(out, pr.GetNumber())
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// pullRequestChanges reports whether pull request pr adds, changes,
// removes or renames the file at path.
func (p *publisher) pullRequestChanges(ctx context.Context, pr int, path string) (bool, error) {
	opts := &github.ListOptions{PerPage: 100}
	seen := 0
	for {
		files, resp, err := p.gh.PullRequests.ListFiles(ctx, p.owner, p.repo, pr, opts)
		if err != nil {
			return false, err
		}
		for _, f := range files {
			if f.GetFilename() == path || f.GetPreviousFilename() == path {
				return true, nil
			}
		}
		seen += len(files)
		if resp == nil || resp.NextPage == 0 || len(files) == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if seen >= maxPullRequestFiles {
		// GitHub lists no more than that: the file may be among the rest.
		return false, fmt.Errorf("pull request #%d changes %d files or more, and GitHub lists only the first %d: aegis cannot tell", pr, seen, maxPullRequestFiles)
	}
	return false, nil
}
