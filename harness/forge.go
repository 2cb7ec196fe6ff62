package harness

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GitHTTPHandler is GitHTTP's handler, for servers that are not a test's
// (benchmarks): git http-backend over root, basic auth user:pass when
// user is not empty.
func GitHTTPHandler(root, user, pass string) (http.Handler, error) {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git is required: install it (apt-get install git): %w", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	h := &cgi.Handler{Path: backend, Env: []string{
		"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}), nil
}

// ForgeRepo is a repository a Forge lists.
type ForgeRepo struct {
	Name     string
	Archived bool
	Fork     bool
	// Missing: listed, but its clone URL answers 404 (deleted since, or
	// not readable by the token).
	Missing bool
	// Hang: its clone URL accepts the request and never answers (until
	// the client gives up): a clone that times out.
	Hang bool
}

// ForgeSecret is an Actions secret a Forge lists (name and date only, as
// GitHub answers).
type ForgeSecret struct {
	Name      string
	UpdatedAt time.Time
	// Visibility of an organisation secret: all, private or selected.
	Visibility string
}

// Forge is a stand-in for GitHub's and GitLab's REST APIs with the shapes
// they answer with (recorded from their documentation: field names,
// Link and X-Next-Page pagination, rate-limit answers), in front of real
// bare repositories served by git's own smart-HTTP server on the same
// host, as a GitHub Enterprise or a self-managed GitLab serves both.
//
//	GET /api/v3/orgs/{org}/repos, /api/v3/users/{user}/repos    (GitHub)
//	GET /api/v3/orgs/{org}/actions/secrets, /api/v3/repos/{o}/{r}/actions/secrets,
//	    /api/v3/repos/{o}/{r}/environments, /api/v3/repositories/{id}/environments/{env}/secrets
//	GET /api/v4/groups/{group}/projects                          (GitLab)
//	/{owner}/{name}.git/...                                      (git, basic auth)
//
// Every API call must carry Token (GitHub: Authorization: Bearer, GitLab:
// PRIVATE-TOKEN); clones must authenticate with it as the password.
type Forge struct {
	Owner    string
	Token    string
	PageSize int
	Repos    []ForgeRepo
	// OrgSecrets, RepoSecrets[name] and EnvSecrets[name][env] are the
	// Actions secrets listed.
	OrgSecrets  []ForgeSecret
	RepoSecrets map[string][]ForgeSecret
	EnvSecrets  map[string]map[string][]ForgeSecret
	// SecretsForbidden are the repositories whose secrets the token may
	// not read (403, as GitHub answers a token without secrets: read).
	SecretsForbidden map[string]bool

	git http.Handler
	mu  sync.Mutex
	// faults are answers given once, in order, to the listing of a page.
	faults map[int][]fault
	calls  []string
}

type fault struct {
	status int
	header http.Header
	body   string
}

// NewForge serves the bare repositories root/{owner}/{name}.git.
func NewForge(root, owner, token string, repos []ForgeRepo) (*Forge, error) {
	// Clones authenticate with the token as the password, whatever the
	// user name (GitHub wants x-access-token, GitLab takes any, oauth2).
	g, err := GitHTTPHandler(root, "", "")
	if err != nil {
		return nil, err
	}
	return &Forge{Owner: owner, Token: token, PageSize: 5, Repos: repos, git: g, faults: map[int][]fault{}}, nil
}

// Fail makes the next listing of page answer status with header and body
// once (a rate limit, a server error); later requests are answered.
func (f *Forge) Fail(page, status int, header http.Header, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[page] = append(f.faults[page], fault{status, header, body})
}

// Calls are the API requests answered so far (method path?query).
func (f *Forge) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *Forge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/api/") {
		// git: a missing repository is a 404 as a forge gives it.
		owner, rest, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		name, _, _ := strings.Cut(rest, ".git")
		for _, repo := range f.Repos {
			if owner == f.Owner && repo.Name == name && repo.Missing {
				http.NotFound(w, r)
				return
			}
			if owner == f.Owner && repo.Name == name && repo.Hang {
				<-r.Context().Done()
				return
			}
		}
		if _, pass, ok := r.BasicAuth(); !ok || subtle.ConstantTimeCompare([]byte(pass), []byte(f.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		f.git.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.RequestURI())
	f.mu.Unlock()
	gh := strings.HasPrefix(p, "/api/v3/")
	if !f.authorized(r, gh) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		if gh {
			fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`)
		} else {
			fmt.Fprint(w, `{"message":"401 Unauthorized"}`)
		}
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	base := "http://" + r.Host
	switch {
	case p == "/api/v3/orgs/"+f.Owner+"/repos" || p == "/api/v3/users/"+f.Owner+"/repos":
		if f.fault(w, page) {
			return
		}
		var items []map[string]any
		for i, repo := range f.Repos {
			items = append(items, map[string]any{
				"id": 1000 + i, "node_id": "R_" + strconv.Itoa(i), "name": repo.Name, "full_name": f.Owner + "/" + repo.Name,
				"private": true, "fork": repo.Fork, "archived": repo.Archived, "disabled": false,
				"html_url":       base + "/" + f.Owner + "/" + repo.Name,
				"clone_url":      base + "/" + f.Owner + "/" + repo.Name + ".git",
				"ssh_url":        "git@" + r.Host + ":" + f.Owner + "/" + repo.Name + ".git",
				"default_branch": "main", "owner": map[string]any{"login": f.Owner, "type": "Organization"},
			})
		}
		f.page(w, r, items, page, true)
	case p == "/api/v4/groups/"+f.Owner+"/projects" || r.URL.RawPath == "/api/v4/groups/"+url.PathEscape(f.Owner)+"/projects":
		if f.fault(w, page) {
			return
		}
		var items []map[string]any
		for i, repo := range f.Repos {
			item := map[string]any{
				"id": 2000 + i, "name": repo.Name, "path": repo.Name, "path_with_namespace": f.Owner + "/" + repo.Name,
				"archived": repo.Archived, "default_branch": "main",
				"http_url_to_repo": base + "/" + f.Owner + "/" + repo.Name + ".git",
				"ssh_url_to_repo":  "git@" + r.Host + ":" + f.Owner + "/" + repo.Name + ".git",
				"web_url":          base + "/" + f.Owner + "/" + repo.Name,
			}
			if repo.Fork {
				item["forked_from_project"] = map[string]any{"id": 1, "path_with_namespace": "upstream/" + repo.Name}
			}
			items = append(items, item)
		}
		f.page(w, r, items, page, false)
	case p == "/api/v3/orgs/"+f.Owner+"/actions/secrets":
		f.secrets(w, r, f.OrgSecrets, page)
	case strings.HasPrefix(p, "/api/v3/repos/"+f.Owner+"/"):
		rest := strings.TrimPrefix(p, "/api/v3/repos/"+f.Owner+"/")
		name, what, _ := strings.Cut(rest, "/")
		if f.SecretsForbidden[name] && what != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/actions/secrets","status":"403"}`)
			return
		}
		switch what {
		case "actions/secrets":
			f.secrets(w, r, f.RepoSecrets[name], page)
		case "environments":
			var envs []map[string]any
			for env := range f.EnvSecrets[name] {
				envs = append(envs, map[string]any{"name": env})
			}
			writeJSON(w, map[string]any{"total_count": len(envs), "environments": envs})
		default:
			http.NotFound(w, r)
		}
	case strings.HasPrefix(p, "/api/v3/repositories/"):
		// /api/v3/repositories/{id}/environments/{env}/secrets
		parts := strings.Split(strings.TrimPrefix(p, "/api/v3/repositories/"), "/")
		if len(parts) != 4 || parts[1] != "environments" || parts[3] != "secrets" {
			http.NotFound(w, r)
			return
		}
		id, _ := strconv.Atoi(parts[0])
		if id < 1000 || id-1000 >= len(f.Repos) {
			http.NotFound(w, r)
			return
		}
		f.secrets(w, r, f.EnvSecrets[f.Repos[id-1000].Name][parts[2]], page)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`)
	}
}

func (f *Forge) authorized(r *http.Request, gh bool) bool {
	got := r.Header.Get("PRIVATE-TOKEN")
	if gh {
		got = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	return f.Token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(f.Token)) == 1
}

func (f *Forge) fault(w http.ResponseWriter, page int) bool {
	f.mu.Lock()
	q := f.faults[page]
	if len(q) == 0 {
		f.mu.Unlock()
		return false
	}
	ft := q[0]
	f.faults[page] = q[1:]
	f.mu.Unlock()
	for k, vs := range ft.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ft.status)
	fmt.Fprint(w, ft.body)
	return true
}

// page writes one page of items with the forge's pagination headers:
// GitHub's Link, GitLab's X-Page / X-Next-Page / X-Total-Pages (and Link).
func (f *Forge) page(w http.ResponseWriter, r *http.Request, items []map[string]any, page int, gh bool) {
	size := f.PageSize
	pages := (len(items) + size - 1) / size
	lo, hi := min((page-1)*size, len(items)), min(page*size, len(items))
	link := func(n int) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		q := u.Query()
		q.Set("page", strconv.Itoa(n))
		u.RawQuery = q.Encode()
		return u.String()
	}
	var links []string
	if page < pages {
		links = append(links, fmt.Sprintf(`<%s>; rel="next"`, link(page+1)), fmt.Sprintf(`<%s>; rel="last"`, link(pages)))
	}
	if page > 1 {
		links = append(links, fmt.Sprintf(`<%s>; rel="prev"`, link(page-1)), fmt.Sprintf(`<%s>; rel="first"`, link(1)))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	if !gh {
		w.Header().Set("X-Page", strconv.Itoa(page))
		w.Header().Set("X-Per-Page", strconv.Itoa(size))
		w.Header().Set("X-Total", strconv.Itoa(len(items)))
		w.Header().Set("X-Total-Pages", strconv.Itoa(pages))
		next := ""
		if page < pages {
			next = strconv.Itoa(page + 1)
		}
		w.Header().Set("X-Next-Page", next)
	}
	out := items[lo:hi]
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, out)
}

func (f *Forge) secrets(w http.ResponseWriter, r *http.Request, ss []ForgeSecret, page int) {
	items := []map[string]any{}
	for _, s := range ss {
		item := map[string]any{"name": s.Name, "created_at": s.UpdatedAt.Add(-time.Hour).Format(time.RFC3339),
			"updated_at": s.UpdatedAt.Format(time.RFC3339)}
		if s.Visibility != "" {
			item["visibility"] = s.Visibility
		}
		items = append(items, item)
	}
	writeJSON(w, map[string]any{"total_count": len(items), "secrets": items})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// OrgRepo is a generated repository of MakeOrg: its name and the secrets
// planted in its history (generated, never committed to nhi).
type OrgRepo struct {
	Name    string
	Secrets []string
}

// MakeOrg creates n bare repositories root/{owner}/repo-NN.git, each with
// a short history: a secret of its own added then deleted, a workflow
// that uses Actions secrets, and every fifth repository a secret shared
// with the next one (a reuse across repositories).
func MakeOrg(root, owner string, n int) ([]OrgRepo, error) {
	work, err := os.MkdirTemp("", "nhi-org-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	shared := ""
	var out []OrgRepo
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("repo-%02d", i)
		dir := filepath.Join(work, name)
		own := GitHubPAT()
		files := []map[string]string{
			{"README.md": "# " + name + "\n"},
			{"deploy/config.yml": "service: " + name + "\ngithub_token: " + own + "\n"},
			{".github/workflows/deploy.yml": "name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n" +
				"      - run: ./deploy.sh\n        env:\n          TOKEN: ${{ secrets.DEPLOY_TOKEN }}\n          NPM: ${{ secrets.ORG_NPM_TOKEN }}\n"},
			{"deploy/config.yml": "service: " + name + "\n"},
		}
		secrets := []string{own}
		if i%5 == 0 {
			shared = StripeLiveKey()
		}
		if i%5 <= 1 {
			files = append(files, map[string]string{"billing/.env": "STRIPE_KEY=" + shared + "\n"})
			secrets = append(secrets, shared)
		}
		// Each repository's history starts an hour after the previous
		// one's: the first place a shared secret was seen is one place.
		if err := commitAll(dir, time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour), files); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		bare := filepath.Join(root, owner, name+".git")
		if err := os.MkdirAll(filepath.Dir(bare), 0o755); err != nil {
			return nil, err
		}
		if b, err := exec.Command("git", "clone", "-q", "--bare", dir, bare).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("git clone --bare: %v: %s", err, b)
		}
		out = append(out, OrgRepo{Name: name, Secrets: secrets})
	}
	return out, nil
}

// AddCommit commits files to the bare repository bare (through a clone)
// and pushes it: a repository that moved since the last scan.
func AddCommit(bare string, files map[string]string) error {
	work, err := os.MkdirTemp("", "nhi-push-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dir := filepath.Join(work, "w")
	if b, err := exec.Command("git", "clone", "-q", bare, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("git clone: %v: %s", err, b)
	}
	if err := commitAll(dir, time.Now().UTC().Truncate(time.Second), []map[string]string{files}); err != nil {
		return err
	}
	return gitIn(dir, time.Now(), "push", "-q", "origin", "HEAD")
}

func commitAll(dir string, when time.Time, commits []map[string]string) error {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := gitIn(dir, when, "init", "-q", "-b", "main"); err != nil {
			return err
		}
	}
	for i, files := range commits {
		for name, body := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				return err
			}
		}
		if err := gitIn(dir, when, "add", "-A"); err != nil {
			return err
		}
		if err := gitIn(dir, when, "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("change %d", i)); err != nil {
			return err
		}
		when = when.Add(24 * time.Hour)
	}
	return nil
}

func gitIn(dir string, when time.Time, args ...string) error {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	w := when.Format(time.RFC3339)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Dev Example", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_AUTHOR_DATE="+w,
		"GIT_COMMITTER_NAME=Dev Example", "GIT_COMMITTER_EMAIL=dev@example.com", "GIT_COMMITTER_DATE="+w,
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, b)
	}
	return nil
}
