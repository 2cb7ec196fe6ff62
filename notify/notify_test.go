package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/slack-go/slack"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/nhi-inventory/nhi/inventory"
)

// sampleDiff is a diff with n gaps opened, one live key leak and a
// failed source: enough to see ordering and the "and N more" cut.
func sampleDiff(n int) *inventory.Diff {
	d := &inventory.Diff{SchemaVersion: inventory.DiffSchemaVersion, From: inventory.DiffScan{ID: 3}, To: inventory.DiffScan{ID: 4}}
	for i := range n {
		d.GapsOpened = append(d.GapsOpened, inventory.DiffGap{Item: fmt.Sprintf("gap:NHI-AGE-01:cred:%d", i), ID: int64(10 + i),
			ControlID: "NHI-AGE-01", Severity: "low", Title: "key older than 90 days", SubjectKey: fmt.Sprintf("cred:%d", i), SubjectName: fmt.Sprintf("key <%d> & co", i)})
	}
	d.Leaks = []inventory.DiffLeak{{Item: "leak:7", OccurrenceID: 7, Type: "aws-access-key", Redacted: "AKIA…WXYZ", Source: "git:app",
		Repo: "/src/app", Path: "infra/main tf/x.tf", Line: 3, Commit: "0123456789abcdef", Author: "bob", LiveKey: true}}
	d.Sources = []inventory.DiffSource{{Item: "source:aws:failed", Name: "aws", Kind: "aws", Change: "failed", Error: "AccessDenied"}}
	d.Summary = inventory.DiffCounts{GapsOpened: n, Leaks: 1, LiveKeyLeaks: 1, SourcesChanged: 1, OpenBySeverity: map[string]int{"critical": 1, "low": n}}
	return d
}

func TestSlackBlockKit(t *testing.T) {
	dest := Destination{Name: "sec", Kind: Slack, Limit: 3, LinkTemplate: "https://git.example/acme/{repo_name}/blob/{commit}/{path}#L{line}"}
	msg, err := Build(dest, sampleDiff(5), false)
	if err != nil {
		t.Fatal(err)
	}
	var m slack.WebhookMessage
	if err := json.Unmarshal(msg.Body, &m); err != nil {
		t.Fatalf("not a Slack webhook message: %v\n%s", err, msg.Body)
	}
	if m.Blocks == nil || len(m.Blocks.BlockSet) < 4 {
		t.Fatalf("blocks: %s", msg.Body)
	}
	h, ok := m.Blocks.BlockSet[0].(*slack.HeaderBlock)
	if !ok || !strings.HasPrefix(h.Text.Text, "nhi: 1 live key leaked, 5 gaps opened") || m.Text != h.Text.Text {
		t.Fatalf("header %#v, text %q", m.Blocks.BlockSet[0], m.Text)
	}
	var sections []string
	var contexts []string
	for _, b := range m.Blocks.BlockSet[1:] {
		switch b := b.(type) {
		case *slack.SectionBlock:
			sections = append(sections, b.Text.Text)
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if to, ok := e.(*slack.TextBlockObject); ok {
					contexts = append(contexts, to.Text)
				}
			}
		}
	}
	body := strings.Join(sections, "\n")
	items := strings.Split(strings.TrimSpace(body), "\n")
	if len(items) != 3 {
		t.Fatalf("want the top 3 items, got %d:\n%s", len(items), body)
	}
	// Most severe first: the live key, then the failed source.
	if !strings.Contains(items[0], "*critical* Live cloud key leaked") || !strings.Contains(items[1], "*high* Source aws failed: AccessDenied") {
		t.Errorf("order:\n%s", body)
	}
	if !strings.Contains(items[0], "<https://git.example/acme/app/blob/0123456789abcdef/infra/main%20tf/x.tf#L3|view>") {
		t.Errorf("link template not applied: %s", items[0])
	}
	if !strings.Contains(items[2], "key &lt;0&gt; &amp; co") {
		t.Errorf("mrkdwn not escaped: %s", items[2])
	}
	if !strings.Contains(strings.Join(contexts, "\n"), "and 4 more (nhi diff --from 3 --to 4)") {
		t.Errorf("no \"and N more\": %v", contexts)
	}

	// A heartbeat says only that nothing changed.
	empty := &inventory.Diff{SchemaVersion: 1, From: inventory.DiffScan{ID: 4}, To: inventory.DiffScan{ID: 5}}
	if _, err := Build(dest, empty, false); err != ErrNothing {
		t.Fatalf("empty diff without heartbeat: %v", err)
	}
	hb, err := Build(dest, empty, true)
	if err != nil || !strings.Contains(string(hb.Body), "nhi: no change (scan 5 vs scan 4)") || hb.ID == msg.ID {
		t.Fatalf("heartbeat %v %s", err, hb.Body)
	}
}

func adaptiveCardSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/adaptive-card-1.4.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("adaptive-card.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("adaptive-card.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTeamsAdaptiveCard(t *testing.T) {
	schema := adaptiveCardSchema(t)
	for _, heartbeat := range []bool{false, true} {
		msg, err := Build(Destination{Name: "t", Kind: Teams, Limit: 2}, sampleDiff(3), heartbeat)
		if err != nil {
			t.Fatal(err)
		}
		var m TeamsMessage
		dec := json.NewDecoder(bytes.NewReader(msg.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("body: %v\n%s", err, msg.Body)
		}
		if m.Type != "message" || len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
			t.Fatalf("envelope %s", msg.Body)
		}
		card, _ := json.Marshal(m.Attachments[0].Content)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(card))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(inst); err != nil {
			t.Fatalf("card does not validate against the Adaptive Card 1.4 schema: %v\n%s", err, card)
		}
		body := m.Attachments[0].Content.Body
		if heartbeat {
			if len(body) != 2 || !strings.Contains(body[0].Text, "no change") {
				t.Errorf("heartbeat card %s", card)
			}
			continue
		}
		if len(body) != 5 || !strings.HasPrefix(body[2].Text, "**CRITICAL** Live cloud key leaked") || body[2].Color != "Attention" ||
			!strings.Contains(body[4].Text, "and 3 more") {
			t.Errorf("card %s", card)
		}
	}
}

// receiver records requests and answers as told.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
	answer func(n int, w http.ResponseWriter, r *http.Request)
	n      atomic.Int32
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, b)
	rc.heads = append(rc.heads, r.Header.Clone())
	rc.mu.Unlock()
	n := int(rc.n.Add(1))
	if rc.answer != nil {
		rc.answer(n, w, r)
	}
}

func TestWebhookSignedPerStandardWebhooks(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	// Two secrets while rotating: a receiver holding either verifies.
	old, next := "whsec_"+b64("old secret for the test"), "whsec_"+b64("next secret for the test")
	dest := Destination{Name: "hook", Kind: Webhook, URL: srv.URL + "/in/tok3n", Secrets: []string{old, next}}
	msg, err := Build(dest, sampleDiff(2), false)
	if err != nil {
		t.Fatal(err)
	}
	res := Post(context.Background(), srv.Client(), dest, msg)
	if res.Err != nil || res.Attempts != 1 || res.Status != 200 {
		t.Fatalf("post: %+v", res)
	}
	for _, s := range []string{old, next} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(rc.bodies[0], rc.heads[0]); err != nil {
			t.Errorf("the spec library does not verify with %s: %v", s[:10], err)
		}
	}
	other, _ := standardwebhooks.NewWebhook("whsec_" + b64("a secret nobody has"))
	if err := other.Verify(rc.bodies[0], rc.heads[0]); err == nil {
		t.Error("a wrong secret verifies")
	}
	if rc.heads[0].Get("webhook-id") != msg.ID {
		t.Errorf("webhook-id %q, want %q", rc.heads[0].Get("webhook-id"), msg.ID)
	}
	var p WebhookPayload
	if err := json.Unmarshal(rc.bodies[0], &p); err != nil || p.Type != EventDiff || p.Data.SchemaVersion != 1 || len(p.Data.GapsOpened) != 2 {
		t.Fatalf("payload %v %s", err, rc.bodies[0])
	}
	// A webhook carries every item, not the top few.
	if got := len(p.Data.Items()); got != 4 {
		t.Errorf("webhook carries %d items, want 4", got)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestPostRetriesAndGivesUp(t *testing.T) {
	ctx := context.Background()
	msg := Message{ID: "msg_1", Body: []byte(`{"text":"x"}`), ContentType: "application/json"}
	fast := func(url string) Destination {
		return Destination{Name: "d", Kind: Slack, URL: url, Timeout: 200 * time.Millisecond, Retries: 2, Backoff: 10 * time.Millisecond}
	}
	cases := []struct {
		name     string
		answer   func(n int, w http.ResponseWriter, r *http.Request)
		attempts int
		ok       bool
		errHas   string
	}{
		{"500 then ok", func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.WriteHeader(500)
			}
		}, 2, true, ""},
		{"429 with Retry-After", func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(429)
			}
		}, 2, true, ""},
		{"always 503", func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, 3, false, "HTTP 503"},
		{"400 is final", func(n int, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			io.WriteString(w, "invalid_payload\n")
		}, 1, false, "HTTP 400: invalid_payload"},
		{"hangs", func(n int, w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}, 3, false, "no answer within 200ms"},
		{"redirect not followed", func(n int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		}, 1, false, "redirect, not followed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := &receiver{answer: c.answer}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			url := srv.URL + "/services/T0/B0/s3cr3tpath"
			res := Post(ctx, client, fast(url), msg)
			if res.Attempts != c.attempts || (res.Err == nil) != c.ok || int(rc.n.Load()) != c.attempts {
				t.Fatalf("attempts %d (server saw %d), err %v; want %d attempts, ok=%v", res.Attempts, rc.n.Load(), res.Err, c.attempts, c.ok)
			}
			if c.errHas != "" && !strings.Contains(res.Err.Error(), c.errHas) {
				t.Errorf("error %q, want %q", res.Err, c.errHas)
			}
			if res.Err != nil && strings.Contains(res.Err.Error(), "s3cr3tpath") {
				t.Errorf("error carries the URL's secret path: %v", res.Err)
			}
		})
	}
	// Nothing listens: a connection error, retried, redacted.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T0/B0/s3cr3tpath"
	srv.Close()
	res := Post(ctx, http.DefaultClient, fast(url), msg)
	if res.Attempts != 3 || res.Err == nil || strings.Contains(res.Err.Error(), "s3cr3tpath") {
		t.Fatalf("refused: %+v", res)
	}
}

func TestKindAndRedact(t *testing.T) {
	for url, want := range map[string]Kind{
		"https://hooks.slack.com/services/T0/B0/x":                                                        Slack,
		"https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x": Teams,
		"https://default1234.environment.api.powerplatform.com/powerautomate/x":                           Teams,
		"https://example.com/hooks/nhi":                                                                   Webhook,
	} {
		if got := KindOf(url); got != want {
			t.Errorf("KindOf(%s) = %s, want %s", url, got, want)
		}
	}
	for url, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/secret":  "https://hooks.slack.com/…",
		"https://u:p@example.com/":                       "https://example.com/…",
		"https://example.com":                            "https://example.com",
		"https://x.logic.azure.com:443/w?sig=secret&a=b": "https://x.logic.azure.com:443/…",
	} {
		if got := Redact(url); got != want {
			t.Errorf("Redact(%s) = %s, want %s", url, got, want)
		}
	}
}
