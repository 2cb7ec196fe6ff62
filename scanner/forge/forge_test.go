package forge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
)

func TestSelect(t *testing.T) {
	repos := []Repo{
		{FullName: "acme/api", CloneURL: "https://github.com/acme/api.git"},
		{FullName: "acme/api-legacy", CloneURL: "https://github.com/acme/api-legacy.git", Archived: true},
		{FullName: "acme/web", CloneURL: "https://github.com/acme/web.git", Fork: true},
		{FullName: "acme/infra", CloneURL: "https://github.com/acme/infra.git"},
		{FullName: "acme/API", CloneURL: "https://GitHub.com/acme/api.git/"}, // the first, spelt otherwise
	}
	for _, tc := range []struct {
		f    Filter
		want string
		c    Counts
	}{
		{Filter{}, "api infra", Counts{Listed: 5, Selected: 2, Archived: 1, Forks: 1}},
		{Filter{Archived: true, Forks: true}, "api-legacy api infra web", Counts{Listed: 5, Selected: 4}},
		{Filter{Include: []string{"acme/api*"}, Archived: true}, "api-legacy api", Counts{Listed: 5, Selected: 2, Excluded: 2}},
		{Filter{Exclude: []string{"infra"}}, "api", Counts{Listed: 5, Selected: 1, Excluded: 1, Archived: 1, Forks: 1}},
	} {
		got, c := tc.f.Select(repos)
		var names []string
		for _, r := range got {
			names = append(names, r.FullName[strings.Index(r.FullName, "/")+1:])
		}
		if strings.Join(names, " ") != tc.want || c != tc.c {
			t.Errorf("%+v: %v %+v, want %s %+v", tc.f, names, c, tc.want, tc.c)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second, true},
		{http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}, time.Hour, true},
		{http.Header{"X-Ratelimit-Reset": {strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)}}, time.Minute, true},
		{http.Header{}, 0, false},
	} {
		got, ok := retryAfter(tc.h)
		if ok != tc.ok || got < tc.want-2*time.Second || got > tc.want+2*time.Second {
			t.Errorf("%v: %v %v, want about %v", tc.h, got, ok, tc.want)
		}
	}
}

func forgeServer(t *testing.T, owner string, n int) (*harness.Forge, *httptest.Server) {
	t.Helper()
	var repos []harness.ForgeRepo
	for i := 0; i < n; i++ {
		repos = append(repos, harness.ForgeRepo{Name: "r" + strconv.Itoa(i)})
	}
	f, err := harness.NewForge(t.TempDir(), owner, "tok", repos)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// TestGitHubPrimaryRateLimit: a 403 with X-RateLimit-Remaining 0 waits
// for the reset and goes on; a reset further away than MaxWait fails the
// listing, saying until when.
func TestGitHubPrimaryRateLimit(t *testing.T) {
	f, srv := forgeServer(t, "acme", 7)
	reset := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	f.Fail(2, http.StatusForbidden, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Limit": {"5000"}, "X-Ratelimit-Reset": {reset}},
		`{"message":"API rate limit exceeded","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`)
	l, err := NewGitHub("acme", false, Options{BaseURL: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	repos, err := l.List(context.Background())
	if err != nil || len(repos) != 7 {
		t.Fatalf("%d repositories, %v", len(repos), err)
	}
	if repos[0].CloneURL != srv.URL+"/acme/r0.git" || repos[0].FullName != "acme/r0" || Target(l) != strings.ToLower(srv.URL)+"/acme" {
		t.Errorf("%+v, target %s", repos[0], Target(l))
	}

	f.Fail(1, http.StatusForbidden, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)}},
		`{"message":"API rate limit exceeded"}`)
	l, _ = NewGitHub("acme", false, Options{BaseURL: srv.URL, Token: "tok", MaxWait: time.Minute})
	if _, err := l.List(context.Background()); err == nil || !strings.Contains(err.Error(), "rate limited until") {
		t.Errorf("a reset an hour away: %v", err)
	}
	// Unknown organisation and a bad token say what to do.
	l, _ = NewGitHub("nobody", false, Options{BaseURL: srv.URL, Token: "tok"})
	if _, err := l.List(context.Background()); err == nil || !strings.Contains(err.Error(), "--github-user") {
		t.Errorf("unknown organisation: %v", err)
	}
	l, _ = NewGitHub("acme", false, Options{BaseURL: srv.URL, Token: "wrong"})
	if _, err := l.List(context.Background()); err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad token: %v", err)
	}
}

// TestGitLabServerErrorRetried: a 502 is retried with backoff.
func TestGitLabServerErrorRetried(t *testing.T) {
	f, srv := forgeServer(t, "grp", 3)
	f.Fail(1, http.StatusBadGateway, nil, `{"message":"502 Bad Gateway"}`)
	l, err := NewGitLab("grp", Options{BaseURL: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	repos, err := l.List(context.Background())
	if err != nil || len(repos) != 3 || repos[2].CloneURL != srv.URL+"/grp/r2.git" {
		t.Fatalf("%+v, %v", repos, err)
	}
}
