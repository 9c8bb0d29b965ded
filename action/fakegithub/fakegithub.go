// Package fakegithub is a local stand-in for the GitHub endpoints the aegis
// Action uses, for tests: issue comments (list with Link pagination,
// create, update, delete), the GraphQL minimizeComment mutation and viewer
// query, GET /user, and the code-scanning SARIF upload with its processing
// status. Bodies, status codes and headers follow GitHub's REST
// documentation: the issue-comment object, `link` pagination, 422 "Body is
// too long (maximum is 65536 characters)", 403 "Resource not accessible by
// integration" for a read-only token, 202 {id, url} for an upload, 413 for
// a SARIF file too large, and a processing status that is pending before it
// is complete or failed. It records every request and decodes every upload
// (base64, then gzip) so that a test can assert what aegis sent.
//
// Every token has an Identity: who it is and whether it may write. The
// server applies GitHub's rules for comments: a comment's author is the
// token that created it; a token that may write to the repository may
// edit, delete and hide anyone's comment (GitHub's moderation: "If you
// have write permissions to a repository, you can hide, edit, or delete
// comments"), and that is why aegis itself must tell its comments from
// others'; a personal token without write may edit and delete only its
// user's own comments and hide none.
package fakegithub

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits GitHub applies.
const (
	MaxCommentChars = 65536
	MaxSarifGzip    = 10 << 20
	RepositoryID    = 1300192 // used in Link headers, as GitHub does
)

// Request is one request the server received.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Comment is an issue comment held by the server.
type Comment struct {
	ID        int64
	NodeID    string
	PR        int
	Body      string
	User      string
	Minimized bool
	Reason    string
	Created   time.Time
	Updated   time.Time
}

// Upload is one SARIF upload, decoded.
type Upload struct {
	ID        string
	CommitSHA string
	Ref       string
	ToolName  string
	StartedAt string
	// SARIF is the uploaded log after base64 and gzip decoding.
	SARIF []byte
	// GzipBytes is the size of the gzip stream.
	GzipBytes int
	polls     int
}

// PullRequest is a pull request the pulls endpoints answer about.
type PullRequest struct {
	Number int
	// State is open (the default) or closed.
	State string
	// HeadRepo is the head's repository, owner/name (a fork's, or the
	// base's own); HeadRef its branch; HeadSHA its commit.
	HeadRepo, HeadRef, HeadSHA string
	// BaseRepo is owner/name (default: the repository asked about).
	BaseRepo string
	// Files are the paths the pull request changes; Renamed maps a new
	// path among them to its previous one.
	Files   []string
	Renamed map[string]string
}

// Token kinds, as GitHub tells them apart.
const (
	// KindInstallation is an installation access token: the workflow's
	// GITHUB_TOKEN (the github-actions app's, github-actions[bot]) or a
	// GitHub App's (<app-slug>[bot]). GET /user refuses it (403).
	KindInstallation = "installation"
	// KindPersonal is a personal access token (classic or fine-grained):
	// it acts as its user.
	KindPersonal = "personal"
)

// Identity is who a token authenticates as and what it may do in the
// repository.
type Identity struct {
	Login string
	Kind  string
	// Write: the token may write issues and pull requests (an installation
	// token with pull-requests: write, a user with write access).
	Write bool
}

// Server is the fake GitHub. Configure it before the code under test runs.
type Server struct {
	*httptest.Server

	// Token is the only token accepted (as "Bearer T" or "token T").
	Token string
	// ReadOnly answers every write (comments, minimize, upload) as GitHub
	// does for the read-only token of a fork's pull request: 403.
	ReadOnly bool
	// CodeScanningDisabled answers SARIF uploads as GitHub does for a
	// repository without code scanning (Advanced Security off): 403.
	CodeScanningDisabled bool
	// MaxCommentChars is the body limit in characters (default 65536).
	MaxCommentChars int
	// MaxSarifGzip is the upload limit in gzip bytes (default 10 MB): 413.
	MaxSarifGzip int
	// PendingPolls is how many status reads answer pending before the
	// final status.
	PendingPolls int
	// ProcessingFails makes the final status failed with ProcessingErrors.
	ProcessingFails  bool
	ProcessingErrors []string
	// BotLogin is the login of Token, an installation token (the workflow's
	// GITHUB_TOKEN by default): the author of the comments it writes.
	BotLogin string

	mu       sync.Mutex
	owner    string // of the last /repos/{owner}/{repo}/ request, for
	repo     string // the /repositories/{id}/ URLs of the Link header
	requests []Request
	comments []*Comment
	uploads  []*Upload
	pulls    []PullRequest
	nextID   int64
	tokens   map[string]Identity
}

// New starts a server; close it with Close.
func New(token string) *Server {
	s := &Server{Token: token, BotLogin: "github-actions[bot]", nextID: 1000, tokens: map[string]Identity{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}/comments", s.listComments)
	mux.HandleFunc("GET /repositories/{id}/issues/{number}/comments", s.listComments)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", s.createComment)
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/issues/comments/{id}", s.updateComment)
	mux.HandleFunc("DELETE /repos/{owner}/{repo}/issues/comments/{id}", s.deleteComment)
	mux.HandleFunc("POST /graphql", s.graphql)
	mux.HandleFunc("GET /user", s.user)
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls", s.listPulls)
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/files", s.listPullFiles)
	mux.HandleFunc("POST /repos/{owner}/{repo}/code-scanning/sarifs", s.uploadSarif)
	mux.HandleFunc("GET /repos/{owner}/{repo}/code-scanning/sarifs/{id}", s.sarifStatus)
	s.Server = httptest.NewServer(s.record(s.auth(mux)))
	return s
}

// AddToken makes the server accept another token, authenticated as id.
func (s *Server) AddToken(token string, id Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = id
}

// AddComment seeds an existing comment on pull request pr and returns it.
func (s *Server) AddComment(pr int, user, body string) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newComment(pr, user, body)
	return *c
}

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestsTo returns the requests whose "METHOD path" matches the regular
// expression.
func (s *Server) RequestsTo(pattern string) []Request {
	re := regexp.MustCompile(pattern)
	var out []Request
	for _, r := range s.Requests() {
		if re.MatchString(r.Method + " " + r.Path) {
			out = append(out, r)
		}
	}
	return out
}

// Comments returns the comments of pull request pr that still exist, oldest first.
func (s *Server) Comments(pr int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.PR == pr {
			out = append(out, *c)
		}
	}
	return out
}

// AddPullRequest makes the pulls endpoints know pr.
func (s *Server) AddPullRequest(pr PullRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr.State == "" {
		pr.State = "open"
	}
	s.pulls = append(s.pulls, pr)
}

// Uploads returns the SARIF uploads accepted so far.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Upload
	for _, u := range s.uploads {
		out = append(out, *u)
	}
	return out
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		if parts := strings.Split(r.URL.Path, "/"); len(parts) > 3 && parts[1] == "repos" {
			s.owner, s.repo = parts[2], parts[3]
		}
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

type callerKey struct{}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			token, ok = strings.CutPrefix(h, "token ")
		}
		var id Identity
		s.mu.Lock()
		switch {
		case !ok || token == "":
			ok = false
		case token == s.Token:
			id = Identity{Login: s.BotLogin, Kind: KindInstallation, Write: !s.ReadOnly}
		default:
			id, ok = s.tokens[token]
		}
		s.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusUnauthorized, basicError("Bad credentials", "https://docs.github.com/rest", 401))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, id)))
	})
}

// caller is the identity of the request's token.
func caller(r *http.Request) Identity {
	id, _ := r.Context().Value(callerKey{}).(Identity)
	return id
}

// readOnly is an installation token without write permission: GitHub
// refuses it every write (the token of a fork's pull request).
func readOnly(id Identity) bool { return id.Kind == KindInstallation && !id.Write }

// mayChange says whether id may edit or delete c: its author (a personal
// token's user; an installation token needs write even for its own), or
// anyone who may write to the repository (moderation).
func mayChange(id Identity, c *Comment) bool {
	return id.Write || (id.Kind == KindPersonal && strings.EqualFold(c.User, id.Login))
}

// refuseChange is GitHub's answer to a change of someone else's comment by
// a user without write access to the repository.
func refuseChange(w http.ResponseWriter, doc string) {
	writeJSON(w, http.StatusForbidden, basicError("Must have admin rights to Repository.", doc, 403))
}

// ---- issue comments ----

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	pr, err := strconv.Atoi(r.PathValue("number"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, basicError("Not Found", "https://docs.github.com/rest/issues/comments#list-issue-comments", 404))
		return
	}
	perPage, page := 30, 1
	if v, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && v > 0 {
		page = v
	}
	all := s.Comments(pr)
	last := max(1, (len(all)+perPage-1)/perPage)
	from := min(len(all), (page-1)*perPage)
	to := min(len(all), from+perPage)
	items := make([]map[string]any, 0, to-from)
	for i := from; i < to; i++ {
		items = append(items, s.commentJSON(r, all[i]))
	}
	// GitHub omits the link header when everything fits on one page, and
	// otherwise lists prev, next, last and first as they apply, with
	// repository-id URLs.
	if last > 1 {
		link := func(p int, rel string) string {
			q := url.Values{"per_page": {strconv.Itoa(perPage)}, "page": {strconv.Itoa(p)}}
			return fmt.Sprintf("<%s/repositories/%d/issues/%d/comments?%s>; rel=%q", s.URL, RepositoryID, pr, q.Encode(), rel)
		}
		var links []string
		if page > 1 {
			links = append(links, link(page-1, "prev"))
		}
		if page < last {
			links = append(links, link(page+1, "next"), link(last, "last"))
		}
		if page > 1 {
			links = append(links, link(1, "first"))
		}
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
	pr, err := strconv.Atoi(r.PathValue("number"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, basicError("Not Found", doc, 404))
		return
	}
	body, ok := s.commentBody(w, r, doc)
	if !ok {
		return
	}
	s.mu.Lock()
	c := s.newComment(pr, caller(r).Login, body)
	cc := *c
	s.mu.Unlock()
	w.Header().Set("Location", s.commentAPIURL(r, cc.ID))
	writeJSON(w, http.StatusCreated, s.commentJSON(r, cc))
}

func (s *Server) updateComment(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/issues/comments#update-an-issue-comment"
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	body, ok := s.commentBody(w, r, doc)
	if !ok {
		return
	}
	s.mu.Lock()
	c := s.find(id)
	if c == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, basicError("Not Found", doc, 404))
		return
	}
	if !mayChange(caller(r), c) {
		s.mu.Unlock()
		refuseChange(w, doc)
		return
	}
	c.Body, c.Updated = body, time.Now().UTC()
	cc := *c
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.commentJSON(r, cc))
}

func (s *Server) deleteComment(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/issues/comments#delete-an-issue-comment"
	if readOnly(caller(r)) {
		forbidden(w, doc, "issues=write; pull_requests=write")
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	i := slices.IndexFunc(s.comments, func(c *Comment) bool { return c.ID == id })
	if i < 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, basicError("Not Found", doc, 404))
		return
	}
	if !mayChange(caller(r), s.comments[i]) {
		s.mu.Unlock()
		refuseChange(w, doc)
		return
	}
	s.comments = slices.Delete(s.comments, i, i+1)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// commentBody decodes {"body": ...} and applies the read-only token and the
// length limit as GitHub does.
func (s *Server) commentBody(w http.ResponseWriter, r *http.Request, doc string) (string, bool) {
	if readOnly(caller(r)) {
		forbidden(w, doc, "issues=write; pull_requests=write")
		return "", false
	}
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message": "Invalid request.\n\n\"body\" wasn't supplied.", "documentation_url": doc, "status": "422",
		})
		return "", false
	}
	limit := s.MaxCommentChars
	if limit <= 0 {
		limit = MaxCommentChars
	}
	if utf8.RuneCountInString(*in.Body) > limit {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message": "Validation Failed",
			"errors": []map[string]string{{
				"resource": "IssueComment", "code": "unprocessable", "field": "data",
				"message": "Body is too long (maximum is 65536 characters)",
			}},
			"documentation_url": doc,
			"status":            "422",
		})
		return "", false
	}
	return *in.Body, true
}

// newComment adds a comment; s.mu is held.
func (s *Server) newComment(pr int, user, body string) *Comment {
	s.nextID++
	now := time.Now().UTC().Truncate(time.Second)
	c := &Comment{
		ID: s.nextID, PR: pr, Body: body, User: user, Created: now, Updated: now,
		NodeID: "IC_kwDOAT" + base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(s.nextID, 10))),
	}
	s.comments = append(s.comments, c)
	return c
}

// find returns the comment with id; s.mu is held.
func (s *Server) find(id int64) *Comment {
	for _, c := range s.comments {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (s *Server) commentAPIURL(r *http.Request, id int64) string {
	return fmt.Sprintf("%s/repos/%s/%s/issues/comments/%d", s.URL, r.PathValue("owner"), r.PathValue("repo"), id)
}

// commentJSON is the issue-comment object of the REST API.
func (s *Server) commentJSON(r *http.Request, c Comment) map[string]any {
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	if owner == "" {
		s.mu.Lock()
		owner, repo = s.owner, s.repo
		s.mu.Unlock()
	}
	return map[string]any{
		"id":                       c.ID,
		"node_id":                  c.NodeID,
		"url":                      fmt.Sprintf("%s/repos/%s/%s/issues/comments/%d", s.URL, owner, repo, c.ID),
		"html_url":                 fmt.Sprintf("https://github.com/%s/%s/pull/%d#issuecomment-%d", owner, repo, c.PR, c.ID),
		"body":                     c.Body,
		"user":                     s.userJSON(c.User),
		"created_at":               c.Created.Format(time.RFC3339),
		"updated_at":               c.Updated.Format(time.RFC3339),
		"issue_url":                fmt.Sprintf("%s/repos/%s/%s/issues/%d", s.URL, owner, repo, c.PR),
		"author_association":       "NONE",
		"performed_via_github_app": nil,
		"reactions": map[string]any{
			"url":         fmt.Sprintf("%s/repos/%s/%s/issues/comments/%d/reactions", s.URL, owner, repo, c.ID),
			"total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
		},
	}
}

// userJSON is the simple-user object of login: a Bot for an app's
// "<slug>[bot]", else a User.
func (s *Server) userJSON(login string) map[string]any {
	typ, html := "User", "https://github.com/"+url.PathEscape(login)
	if slug, ok := strings.CutSuffix(login, "[bot]"); ok {
		typ, html = "Bot", "https://github.com/apps/"+url.PathEscape(slug)
	}
	id := int64(41898282) // github-actions[bot]
	if login != "github-actions[bot]" {
		h := fnv.New32a()
		_, _ = h.Write([]byte(strings.ToLower(login)))
		id = int64(h.Sum32())
	}
	return map[string]any{
		"login": login, "id": id, "node_id": base64.RawURLEncoding.EncodeToString([]byte(login)), "type": typ, "site_admin": false,
		"url": s.URL + "/users/" + url.PathEscape(login), "html_url": html,
	}
}

// user is GET /user: the user of a personal token; an installation token
// (the GITHUB_TOKEN or an App's) is not a user and is refused with 403.
func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
	id := caller(r)
	if id.Kind != KindPersonal {
		writeJSON(w, http.StatusForbidden, basicError("Resource not accessible by integration", doc, 403))
		return
	}
	writeJSON(w, http.StatusOK, s.userJSON(id.Login))
}

// ---- GraphQL ----

func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql", "status": "400"})
		return
	}
	who := caller(r)
	if !strings.Contains(in.Query, "minimizeComment") {
		// { viewer { login } } answers every kind of token: a personal
		// token's user, an installation token's "<app-slug>[bot]".
		if strings.Contains(in.Query, "viewer") && !strings.Contains(in.Query, "mutation") {
			writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"viewer": map[string]any{"login": who.Login}}})
			return
		}
		writeJSON(w, http.StatusOK, gqlErrors("undefinedField", "this fake implements only minimizeComment and viewer"))
		return
	}
	if !strings.Contains(in.Query, "classifier: OUTDATED") {
		writeJSON(w, http.StatusOK, gqlErrors("INVALID", "expected classifier OUTDATED"))
		return
	}
	id, _ := in.Variables["id"].(string)
	if !who.Write {
		// Hiding a comment is moderation: it needs write access, also
		// for the comment's author.
		msg := "Resource not accessible by integration"
		if who.Kind == KindPersonal {
			msg = who.Login + " does not have the correct permissions to execute `MinimizeComment`"
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"data": map[string]any{"minimizeComment": nil},
			"errors": []map[string]any{{
				"type": "FORBIDDEN", "path": []string{"minimizeComment"},
				"extensions": map[string]any{"saml_failure": false},
				"locations":  []map[string]int{{"line": 2, "column": 3}},
				"message":    msg,
			}},
		})
		return
	}
	s.mu.Lock()
	var found *Comment
	for _, c := range s.comments {
		if c.NodeID == id {
			found = c
		}
	}
	if found != nil {
		found.Minimized, found.Reason = true, "outdated"
	}
	s.mu.Unlock()
	if found == nil {
		writeJSON(w, http.StatusOK, map[string]any{
			"data": map[string]any{"minimizeComment": nil},
			"errors": []map[string]any{{
				"type": "NOT_FOUND", "path": []string{"minimizeComment"},
				"locations": []map[string]int{{"line": 2, "column": 3}},
				"message":   fmt.Sprintf("Could not resolve to a node with the global id of '%s'", id),
			}},
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"minimizeComment": map[string]any{
		"minimizedComment": map[string]any{"isMinimized": true, "minimizedReason": "outdated"},
	}}})
}

func gqlErrors(typ, msg string) map[string]any {
	return map[string]any{"errors": []map[string]any{{"type": typ, "message": msg}}}
}

// ---- code scanning ----

var shaPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)
var refPattern = regexp.MustCompile(`^refs/(heads|tags)/.+$|^refs/pull/\d+/(head|merge)$`)

func (s *Server) uploadSarif(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/code-scanning/code-scanning#upload-an-analysis-as-sarif-data"
	if readOnly(caller(r)) {
		forbidden(w, doc, "security_events=write")
		return
	}
	if s.CodeScanningDisabled {
		// GitHub's answer for a private repository without Advanced Security.
		writeJSON(w, http.StatusForbidden, basicError("Advanced Security must be enabled for this repository to use code scanning.", doc, 403))
		return
	}
	var in struct {
		CommitSHA string `json:"commit_sha"`
		Ref       string `json:"ref"`
		Sarif     string `json:"sarif"`
		ToolName  string `json:"tool_name"`
		StartedAt string `json:"started_at"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, basicError("Problems parsing JSON", doc, 400))
		return
	}
	var invalid []string
	if !shaPattern.MatchString(in.CommitSHA) {
		invalid = append(invalid, fmt.Sprintf("%q is not a valid commit_sha", in.CommitSHA))
	}
	if !refPattern.MatchString(in.Ref) {
		invalid = append(invalid, fmt.Sprintf("%q is not a valid ref", in.Ref))
	}
	if in.StartedAt != "" {
		if _, err := time.Parse(time.RFC3339, in.StartedAt); err != nil {
			invalid = append(invalid, fmt.Sprintf("%q is not a valid started_at", in.StartedAt))
		}
	}
	if len(invalid) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request.\n\n" + strings.Join(invalid, "\n"), "documentation_url": doc, "status": "422"})
		return
	}
	gz, err := base64.StdEncoding.DecodeString(in.Sarif)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, basicError("Bad Request: the sarif field is not base64", doc, 400))
		return
	}
	limit := s.MaxSarifGzip
	if limit <= 0 {
		limit = MaxSarifGzip
	}
	if len(gz) > limit {
		writeJSON(w, http.StatusRequestEntityTooLarge, basicError("Payload Too Large", doc, 413))
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, basicError("Bad Request: the sarif field is not gzip", doc, 400))
		return
	}
	data, err := io.ReadAll(io.LimitReader(zr, 512<<20))
	if err != nil || !json.Valid(data) {
		writeJSON(w, http.StatusBadRequest, basicError("Bad Request: the sarif field is not valid SARIF JSON", doc, 400))
		return
	}
	id := uuid()
	s.mu.Lock()
	s.uploads = append(s.uploads, &Upload{ID: id, CommitSHA: in.CommitSHA, Ref: in.Ref, ToolName: in.ToolName, StartedAt: in.StartedAt, SARIF: data, GzipBytes: len(gz)})
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]string{
		"id":  id,
		"url": fmt.Sprintf("%s/repos/%s/%s/code-scanning/sarifs/%s", s.URL, r.PathValue("owner"), r.PathValue("repo"), id),
	})
}

func (s *Server) sarifStatus(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/code-scanning/code-scanning#get-information-about-a-sarif-upload"
	id := r.PathValue("id")
	s.mu.Lock()
	var u *Upload
	for _, x := range s.uploads {
		if x.ID == id {
			u = x
		}
	}
	if u == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, basicError("Not Found", doc, 404))
		return
	}
	u.polls++
	polls := u.polls
	s.mu.Unlock()
	switch {
	case polls <= s.PendingPolls:
		writeJSON(w, http.StatusOK, map[string]any{"processing_status": "pending", "analyses_url": nil})
	case s.ProcessingFails:
		writeJSON(w, http.StatusOK, map[string]any{"processing_status": "failed", "analyses_url": nil, "errors": s.ProcessingErrors})
	default:
		writeJSON(w, http.StatusOK, map[string]any{
			"processing_status": "complete",
			"analyses_url":      fmt.Sprintf("%s/repos/%s/%s/code-scanning/analyses?sarif_id=%s", s.URL, r.PathValue("owner"), r.PathValue("repo"), id),
		})
	}
}

// ---- responses ----

func basicError(msg, doc string, status int) map[string]any {
	return map[string]any{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)}
}

// forbidden is GitHub's answer to a token without the permission, with the
// header that names the permissions the endpoint accepts.
func forbidden(w http.ResponseWriter, doc, accepted string) {
	w.Header().Set("X-Accepted-GitHub-Permissions", accepted)
	writeJSON(w, http.StatusForbidden, basicError("Resource not accessible by integration", doc, 403))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "4999")
	h.Set("X-RateLimit-Used", "1")
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ---- pull requests ----

// listPulls answers GET /repos/{owner}/{repo}/pulls with its state (open,
// closed, all; default open) and head ("user:ref-name" or
// "organization:ref-name") filters, as GitHub documents them.
func (s *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	s.mu.Lock()
	pulls := slices.Clone(s.pulls)
	s.mu.Unlock()
	items := []map[string]any{}
	for _, pr := range pulls {
		base := pr.BaseRepo
		if base == "" {
			base = repo
		}
		if !strings.EqualFold(base, repo) || (state != "all" && pr.State != state) {
			continue
		}
		owner, _, _ := strings.Cut(pr.HeadRepo, "/")
		if h := q.Get("head"); h != "" && !strings.EqualFold(h, owner+":"+pr.HeadRef) {
			continue
		}
		items = append(items, map[string]any{
			"number":   pr.Number,
			"state":    pr.State,
			"html_url": fmt.Sprintf("https://github.com/%s/pull/%d", base, pr.Number),
			"head": map[string]any{
				"label": owner + ":" + pr.HeadRef, "ref": pr.HeadRef, "sha": pr.HeadSHA,
				"repo": map[string]any{"full_name": pr.HeadRepo, "owner": map[string]any{"login": owner}, "fork": !strings.EqualFold(pr.HeadRepo, base)},
			},
			"base": map[string]any{"ref": "main", "repo": map[string]any{"full_name": base}},
		})
	}
	writeJSON(w, http.StatusOK, items)
}

// maxListedFiles is where GitHub stops listing a pull request's files.
const maxListedFiles = 3000

// listPullFiles answers GET /repos/{owner}/{repo}/pulls/{number}/files:
// 30 per page by default, at most 100, at most 3,000 in all, with a Link
// header while there are more.
func (s *Server) listPullFiles(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	var pr *PullRequest
	s.mu.Lock()
	for i := range s.pulls {
		if s.pulls[i].Number == n {
			p := s.pulls[i]
			pr = &p
		}
	}
	s.mu.Unlock()
	if pr == nil {
		writeJSON(w, http.StatusNotFound, basicError("Not Found", "https://docs.github.com/rest/pulls/pulls#list-pull-requests-files", 404))
		return
	}
	perPage, page := 30, 1
	if v, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && v > 0 {
		page = v
	}
	files := pr.Files[:min(len(pr.Files), maxListedFiles)]
	last := max(1, (len(files)+perPage-1)/perPage)
	from := min(len(files), (page-1)*perPage)
	to := min(len(files), from+perPage)
	items := []map[string]any{}
	for _, f := range files[from:to] {
		item := map[string]any{"filename": f, "status": "modified"}
		if prev, ok := pr.Renamed[f]; ok {
			item["status"], item["previous_filename"] = "renamed", prev
		}
		items = append(items, item)
	}
	if page < last {
		q := url.Values{"per_page": {strconv.Itoa(perPage)}, "page": {strconv.Itoa(page + 1)}}
		w.Header().Set("Link", fmt.Sprintf("<%s%s?%s>; rel=\"next\"", s.URL, r.URL.Path, q.Encode()))
	}
	writeJSON(w, http.StatusOK, items)
}
