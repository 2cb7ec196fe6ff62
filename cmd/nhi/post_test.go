package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/notify"
)

// hookReceiver is a webhook receiver (there is no local Slack or Teams):
// it records every request and answers as its mode says.
type hookReceiver struct {
	mu       sync.Mutex
	mode     string // "ok", "500", "hang"
	requests []hookRequest
}

type hookRequest struct {
	path   string
	header http.Header
	body   []byte
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.requests = append(h.requests, hookRequest{r.URL.Path, r.Header.Clone(), b})
	mode := h.mode
	h.mu.Unlock()
	switch mode {
	case "500":
		w.WriteHeader(http.StatusInternalServerError)
	case "hang":
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
}

func (h *hookReceiver) set(mode string) {
	h.mu.Lock()
	h.mode = mode
	h.mu.Unlock()
}

// since returns the requests after the first n.
func (h *hookReceiver) since(n int) []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests[n:])
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.requests)
}

// nhi scan --post on a schedule: announce once, a heartbeat only when
// asked, exactly the new leak, and a receiver that is down or hangs loses
// nothing: every item reaches it exactly once.
func TestScanPostsOnceAndLosesNothing(t *testing.T) {
	p := newPlantedRepo(t)
	r := p.repo
	dir := t.TempDir()
	db := filepath.Join(dir, "nhi.db")
	rc := &hookReceiver{mode: "ok"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	urlToken := harness.RandomString("abcdefghijklmnopqrstuvwxyz0123456789", 24)
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte(harness.RandomString("abcdefghijklmnop", 32)))
	t.Setenv("NHI_TEST_HOOK_URL", srv.URL+"/hooks/"+urlToken)
	t.Setenv("NHI_TEST_HOOK_SECRET", secret)
	cfg := filepath.Join(dir, "nhi.yaml")
	must(t, os.WriteFile(cfg, []byte(`notify:
  destinations:
    - name: audit-hook
      kind: webhook
      url_env: NHI_TEST_HOOK_URL
      secret_env: NHI_TEST_HOOK_SECRET
      timeout: 300ms
      retries: 1
`), 0o600))
	wh, err := standardwebhooks.NewWebhook(secret)
	must(t, err)
	var outputs []string
	scan := func(want int, extra ...string) (string, string) {
		t.Helper()
		code, out, errs := nhi(t, append([]string{"scan", "--db", db, "--config", cfg, "--git", r.Dir}, extra...)...)
		if code != want {
			t.Fatalf("scan %v: exit %d, want %d: %s", extra, code, want, errs)
		}
		outputs = append(outputs, out, errs)
		return out, errs
	}
	delivered := map[string]int{}
	// post checks the requests since n: each signed (verified by the
	// specification's library), and counts the items of the 2xx ones.
	post := func(n int, ok bool) []notify.WebhookPayload {
		t.Helper()
		var out []notify.WebhookPayload
		for _, q := range rc.since(n) {
			if err := wh.Verify(q.body, q.header); err != nil {
				t.Fatalf("the Standard Webhooks verifier rejects the post: %v", err)
			}
			var pl notify.WebhookPayload
			must(t, json.Unmarshal(q.body, &pl))
			out = append(out, pl)
			if ok {
				for _, it := range pl.Data.Items() {
					delivered[it]++
				}
			}
		}
		return out
	}

	// First scan: everything is news, posted once.
	scan(0)
	first := post(0, true)
	if len(first) != 1 || first[0].Type != notify.EventDiff || first[0].Data.To.ID != 1 || len(first[0].Data.Leaks) == 0 {
		t.Fatalf("first scan posted %d messages: %+v", len(first), first)
	}

	// Unchanged: nothing posted, said so.
	n := rc.count()
	if _, errs := scan(0); !strings.Contains(errs, "nothing new for audit-hook") || rc.count() != n {
		t.Fatalf("unchanged re-scan posted %d (stderr %q)", rc.count()-n, errs)
	}
	// --always: a heartbeat, carrying no item.
	scan(0, "--always")
	if hb := post(n, true); len(hb) != 1 || hb[0].Type != notify.EventHeartbeat || len(hb[0].Data.Items()) != 0 {
		t.Fatalf("--always: %+v", hb)
	}

	// A new leak: exactly that leak is posted.
	stripe := harness.StripeLiveKey()
	r.Commit(alice, "payments", map[string]string{"svc/pay.env": "STRIPE_KEY=" + stripe + "\n"})
	n = rc.count()
	scan(0)
	got := post(n, true)
	if len(got) != 1 || leakPaths(*got[0].Data) == nil || !slices.Equal(leakPaths(*got[0].Data), []string{"svc/pay.env"}) {
		t.Fatalf("new leak: %d posts, leaks %v", len(got), leakPaths(*got[0].Data))
	}

	// The receiver fails (500), then hangs: the scans complete, exit 4,
	// and the failure is recorded.
	stripe2 := harness.StripeLiveKey()
	r.Commit(bob, "billing", map[string]string{"svc/billing.env": "STRIPE_KEY=" + stripe2 + "\n"})
	rc.set("500")
	n = rc.count()
	if _, errs := scan(exitPostFailed); !strings.Contains(errs, "could not post") || !strings.Contains(errs, "HTTP 500") {
		t.Fatalf("500: stderr %q", errs)
	}
	if tries := rc.count() - n; tries != 2 {
		t.Errorf("500: %d attempts, want 2 (retries: 1)", tries)
	}
	rc.set("hang")
	start := time.Now()
	if _, errs := scan(exitPostFailed); !strings.Contains(errs, "no answer within 300ms") {
		t.Fatalf("hang: stderr %q", errs)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("a hanging receiver held the scan %s", el)
	}
	code, out, _ := nhi(t, "scans", "--db", db)
	if code != 0 || !strings.Contains(out, "audit-hook") || !strings.Contains(out, "failed") || !strings.Contains(out, "no answer within 300ms") {
		t.Fatalf("nhi scans does not show the failed delivery:\n%s", out)
	}
	outputs = append(outputs, out)

	// --dry-run posts nothing and records nothing.
	rc.set("ok")
	n = rc.count()
	if dry, _ := scan(0, "--dry-run"); !strings.Contains(dry, "would post to audit-hook") || rc.count() != n {
		t.Fatalf("--dry-run posted %d:\n%s", rc.count()-n, dry)
	}

	// Recovered: what it missed goes out, once.
	n = rc.count()
	scan(0)
	got = post(n, true)
	if len(got) != 1 || !slices.Contains(leakPaths(*got[0].Data), "svc/billing.env") || got[0].Data.From.ID != 4 {
		t.Fatalf("after recovery: %d posts, from %d, leaks %v", len(got), got[0].Data.From.ID, leakPaths(*got[0].Data))
	}
	for it, k := range delivered {
		if k != 1 {
			t.Errorf("item %s delivered %d times", it, k)
		}
	}
	// Every event of the whole history reached it once (controls,
	// sources and coverage compare two ends, so their items name the
	// window).
	all := diffOf(t, db, "--from", "0")
	for _, it := range all.Items() {
		if strings.HasPrefix(it, "control:") || strings.HasPrefix(it, "source:") || strings.HasPrefix(it, "target:") {
			continue
		}
		if delivered[it] != 1 {
			t.Errorf("item %s of the whole history was delivered %d times", it, delivered[it])
		}
	}

	// No planted secret, and not the URL's secret path, in anything
	// posted, printed or stored.
	for _, q := range rc.since(0) {
		h, _ := json.Marshal(q.header)
		outputs = append(outputs, string(q.body), string(h))
	}
	dbBytes, _ := os.ReadFile(db)
	wal, _ := os.ReadFile(db + "-wal")
	for _, s := range append(p.secrets, stripe, stripe2, urlToken, strings.TrimPrefix(secret, "whsec_")) {
		for _, o := range outputs {
			if strings.Contains(o, s) {
				t.Fatalf("a secret (%.6s…) is in a post or an output", s)
			}
		}
		if bytes.Contains(dbBytes, []byte(s)) || bytes.Contains(wal, []byte(s)) {
			t.Fatalf("a secret (%.6s…) is in the database", s)
		}
	}
}

// Slack and Teams get their own formats; nhi diff posts only with --post
// or --notify; a URL or secret in the file is refused.
func TestDiffPostsToSlackAndTeams(t *testing.T) {
	p := newPlantedRepo(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "nhi.db")
	rc := &hookReceiver{mode: "ok"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("NHI_TEST_SLACK", srv.URL+"/slack")
	t.Setenv("NHI_TEST_TEAMS", srv.URL+"/teams")
	cfg := filepath.Join(dir, "nhi.yaml")
	must(t, os.WriteFile(cfg, []byte(`notify:
  destinations:
    - {name: sec-slack, kind: slack, url_env: NHI_TEST_SLACK, limit: 2, link_template: "https://git.example/acme/{repo_name}/blob/{commit}/{path}#L{line}"}
    - {name: sec-teams, kind: teams, url_env: NHI_TEST_TEAMS}
`), 0o600))
	scanOK(t, "--db", db, "--git", p.repo.Dir)
	if code, _, errs := nhi(t, "diff", "--db", db, "--config", cfg); code != 0 || rc.count() != 0 {
		t.Fatalf("nhi diff without --notify posted %d (exit %d %s)", rc.count(), code, errs)
	}
	code, _, errs := nhi(t, "diff", "--db", db, "--config", cfg, "--notify")
	if code != 0 || rc.count() != 2 {
		t.Fatalf("diff --notify: exit %d, %d posts: %s", code, rc.count(), errs)
	}
	for _, q := range rc.since(0) {
		for _, s := range p.secrets {
			if bytes.Contains(q.body, []byte(s)) {
				t.Fatal("a planted secret was posted")
			}
		}
		switch q.path {
		case "/slack":
			var m slack.WebhookMessage
			must(t, json.Unmarshal(q.body, &m))
			h, ok := m.Blocks.BlockSet[0].(*slack.HeaderBlock)
			if !ok || !strings.HasPrefix(h.Text.Text, "nhi: ") || !strings.Contains(string(q.body), "more (nhi diff --from 0 --to 1)") ||
				!strings.Contains(string(q.body), "https://git.example/acme/") {
				t.Errorf("slack message %s", q.body)
			}
		case "/teams":
			var m notify.TeamsMessage
			dec := json.NewDecoder(bytes.NewReader(q.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil || m.Attachments[0].Content.Type != "AdaptiveCard" {
				t.Errorf("teams message %v %s", err, q.body)
			}
		}
	}
	// Posted once: a second run has nothing new.
	if code, _, errs := nhi(t, "diff", "--db", db, "--config", cfg, "--notify"); code != 0 || rc.count() != 2 || !strings.Contains(errs, "nothing new for sec-slack") {
		t.Fatalf("second diff --notify: exit %d, %d posts, %s", code, rc.count(), errs)
	}

	for _, c := range []struct{ yaml, want string }{
		{"notify:\n  destinations:\n    - {name: x, url: https://hooks.slack.com/services/a/b/c}\n", "are not read from the file"},
		{"notify:\n  destinations:\n    - {name: x, url_env: NHI_TEST_UNSET_VAR}\n", "NHI_TEST_UNSET_VAR (url_env) is not set"},
		{"notify:\n  destinations:\n    - {name: x, kind: webhook, url_env: NHI_TEST_SLACK}\n", "needs a signing secret"},
		{"notify:\n  destinations:\n    - {name: x, kind: irc, url_env: NHI_TEST_SLACK}\n", "kind must be slack, teams or webhook"},
	} {
		must(t, os.WriteFile(cfg, []byte(c.yaml), 0o600))
		code, _, errs := nhi(t, "diff", "--db", db, "--config", cfg, "--notify")
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d %q, want %q", c.yaml, code, errs, c.want)
		}
	}
	if code, _, errs := nhi(t, "diff", "--db", db, "--post", "env:NHI_TEST_UNSET_VAR"); code != exitUsage || !strings.Contains(errs, "NHI_TEST_UNSET_VAR is not set") {
		t.Errorf("--post env: unset: %d %s", code, errs)
	}
}

// Two runs posting from one inventory at once post once: the second
// waits for the first and finds nothing new.
func TestConcurrentPostsPostOnce(t *testing.T) {
	p := newPlantedRepo(t)
	db := filepath.Join(t.TempDir(), "nhi.db")
	scanOK(t, "--db", db, "--git", p.repo.Dir)
	var mu sync.Mutex
	posts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond) // slow enough for the runs to overlap
		mu.Lock()
		posts++
		mu.Unlock()
	}))
	defer srv.Close()
	t.Setenv("NHI_TEST_HOOK", srv.URL+"/hook")
	t.Setenv("NHI_WEBHOOK_SECRET", "whsec_"+base64.StdEncoding.EncodeToString([]byte(harness.RandomString("abcdef0123456789", 32))))
	var wg sync.WaitGroup
	errs := make([]string, 2)
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, errs[i] = nhi(t, "diff", "--db", db, "--post", "env:NHI_TEST_HOOK")
		}()
	}
	wg.Wait()
	if posts != 1 || codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("%d posts, exits %v: %q", posts, codes, errs)
	}
	if !strings.Contains(errs[0]+errs[1], "nothing new for") {
		t.Errorf("neither run says it had nothing new: %q", errs)
	}
}
