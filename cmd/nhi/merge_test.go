package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// normalized is a JSON document with what differs between two
// inventories of the same estate taken apart (row ids, scan numbers and
// the times of the scans) removed, object keys sorted, lists sorted.
func normalized(t *testing.T, doc string) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("bad JSON: %v\n%.500s", err, doc)
	}
	var lines []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "id" || strings.HasSuffix(k, "_id") || strings.HasSuffix(k, "_scan") || k == "first_seen" || k == "scanned_at" {
					continue
				}
				// An identity's credentials are listed by row id.
				if l, ok := e.([]any); ok && k == "credentials" && len(l) > 0 {
					if _, num := l[0].(float64); num {
						continue
					}
				}
				walk(prefix+"."+k, e)
			}
		case []any:
			var items []string
			for _, e := range x {
				var sub []string
				lines, sub = nil, lines
				walk("", e)
				sort.Strings(lines)
				items = append(items, strings.Join(lines, ";"))
				lines = sub
			}
			sort.Strings(items)
			for _, it := range items {
				lines = append(lines, prefix+"[]{"+it+"}")
			}
		default:
			lines = append(lines, fmt.Sprintf("%s=%v", prefix, x))
		}
	}
	walk("", v)
	sort.Strings(lines)
	return lines
}

func sameLines(t *testing.T, what string, a, b []string) {
	t.Helper()
	if strings.Join(a, "\n") == strings.Join(b, "\n") {
		return
	}
	seen := map[string]int{}
	for _, l := range a {
		seen[l]++
	}
	for _, l := range b {
		seen[l]--
	}
	n := 0
	for l, c := range seen {
		if c != 0 && n < 8 {
			t.Errorf("%s differs (%+d): %.400s", what, c, l)
			n++
		}
	}
	if n == 0 {
		t.Errorf("%s differs in order only", what)
	}
}

// views are what a user reads of an inventory: identities and
// credentials with their occurrences, and every gap.
func views(t *testing.T, db string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, args := range map[string][]string{
		"inventory": {"inventory", "--format", "json"},
		"gaps":      {"gaps", "--format", "json", "--status", "all"},
	} {
		code, stdout, errs := nhi(t, append(args, "--db", db)...)
		if code != 0 {
			t.Fatalf("%v on %s: exit %d: %s", args, db, code, errs)
		}
		out[name] = normalized(t, stdout)
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOrgShardsMergeLikeOneScan is the done-when of org-scale scanning:
// an organisation of 12 generated repositories served over HTTP is
// enumerated, scanned as 3 shards (sharing one fingerprint key) and
// merged into one inventory that is what one scan of the whole
// organisation gives, ids aside; merging again changes nothing; a commit
// in one repository is merged as exactly that change; a missing shard
// is recorded and carries what it covers; a shard with another key is
// refused.
func TestOrgShardsMergeLikeOneScan(t *testing.T) {
	o := newTestOrg(t, "acme", 12)
	t.Setenv("GITHUB_TOKEN", o.token)
	work := t.TempDir()
	org := []string{"--github-org", "acme", "--github-url", o.srv.URL, "--cache-dir", filepath.Join(work, "cache")}
	scan := func(db string, extra ...string) scanSummary {
		t.Helper()
		code, out, errs := nhi(t, append(append([]string{"scan", "--db", db, "--format", "json"}, org...), extra...)...)
		if code != 0 {
			t.Fatalf("scan %s %v: exit %d\n%s\n%s", db, extra, code, out, errs)
		}
		o.noSecretIn(t, work, out, errs)
		return decode[scanSummary](t, out)
	}
	// The key is made by the first shard's first scan and handed to the
	// others before theirs (what a scheduler's secret does); the single
	// machine's scan has it too, so that fingerprints compare.
	shard := func(k int) string { return filepath.Join(work, fmt.Sprintf("shard-%d.db", k)) }
	single := filepath.Join(work, "single.db")
	repos := map[string]int{}
	busy := 0
	for k := 1; k <= 3; k++ {
		if k > 1 {
			copyFile(t, shard(1)+".key", shard(k)+".key")
		}
		sum := scan(shard(k), "--shard", fmt.Sprintf("%d/3", k))
		took := 0
		for _, s := range sum.Sources {
			if strings.HasPrefix(s.Name, "git:") {
				repos[s.Name]++
				took++
			}
		}
		if took > 0 {
			busy++
		}
	}
	// Ids carry the server's random port, so the split varies; two shards
	// left empty by a hash of 12 ids is a one-in-200,000 chance.
	if busy < 2 {
		t.Errorf("only %d of 3 shards took a repository", busy)
	}
	copyFile(t, shard(1)+".key", single+".key")
	scan(single)
	if len(repos) != 12 {
		t.Fatalf("the shards scanned %d repositories, want the 12 of the organisation: %v", len(repos), repos)
	}
	for r, n := range repos {
		if n != 1 {
			t.Errorf("%s scanned by %d shards", r, n)
		}
	}
	central := filepath.Join(work, "central.db")
	merge := func(wantCode int, shards ...string) (mergeSummary, string) {
		t.Helper()
		code, out, errs := nhi(t, append([]string{"merge", "--into", central, "--format", "json"}, shards...)...)
		if code != wantCode {
			t.Fatalf("merge %v: exit %d, want %d\n%s\n%s", shards, code, wantCode, out, errs)
		}
		if code == exitUsage {
			return mergeSummary{}, errs
		}
		o.noSecretIn(t, work, out, errs)
		var m mergeSummary
		m.scanSummary = &scanSummary{}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("merge JSON: %v\n%s", err, out)
		}
		return m, errs
	}
	m, _ := merge(0, filepath.Join(work, "shard-*.db"))
	if len(m.Shards) != 3 || m.Status != "complete" {
		t.Fatalf("merge: %+v", m)
	}
	want := views(t, single)
	got := views(t, central)
	for _, v := range []string{"inventory", "gaps"} {
		if len(want[v]) < 10 {
			t.Fatalf("%s of the single scan is almost empty: %v", v, want[v])
		}
		sameLines(t, v+" (merged vs single scan)", got[v], want[v])
	}

	// The same shards again: nothing changes.
	merge(0, shard(1), shard(2), shard(3), shard(2))
	sameLines(t, "inventory after merging the same shards again", views(t, central)["inventory"], want["inventory"])
	code, out, _ := nhi(t, "diff", "--db", central, "--format", "json")
	if d := decode[map[string]any](t, out); code != 0 || fmt.Sprint(d["summary"].(map[string]any)["new_credentials"]) != "0" ||
		fmt.Sprint(d["summary"].(map[string]any)["gaps_opened"]) != "0" || fmt.Sprint(d["summary"].(map[string]any)["gaps_resolved"]) != "0" {
		t.Errorf("merging the same shards again changed something: %s", out)
	}

	// One repository moves: the shards re-scan (the others incrementally,
	// their refs unchanged) and the merge brings exactly that change.
	leak := harness.SlackBotToken()
	if err := harness.AddCommit(filepath.Join(o.root, "acme", "repo-07.git"), map[string]string{"ops/slack.env": "SLACK_BOT_TOKEN=" + leak + "\n"}); err != nil {
		t.Fatal(err)
	}
	o.repos = append(o.repos, harness.OrgRepo{Name: "leak", Secrets: []string{leak}})
	unchanged := int64(0)
	for k := 1; k <= 3; k++ {
		sum := scan(shard(k), "--shard", fmt.Sprintf("%d/3", k))
		for _, s := range sum.Sources {
			unchanged += s.Stats["refs_unchanged"]
		}
	}
	if unchanged != 11 {
		t.Errorf("%d repositories re-scanned with unchanged refs, want 11", unchanged)
	}
	merge(0, filepath.Join(work, "shard-*.db"))
	code, out, _ = nhi(t, "diff", "--db", central, "--format", "json")
	d := decode[map[string]any](t, out)
	if sm := d["summary"].(map[string]any); code != 0 || fmt.Sprint(sm["new_credentials"]) != "1" || fmt.Sprint(sm["removed_credentials"]) != "0" {
		t.Errorf("the merge after one commit: %v", sm)
	}
	scan(single)
	want = views(t, single)
	sameLines(t, "inventory after the commit (merged vs single)", views(t, central)["inventory"], want["inventory"])

	// A missing shard is recorded as failed and what it covers carried.
	m, _ = merge(exitSourceFailed, shard(1), shard(2))
	failed := false
	for _, s := range m.Sources {
		if s.Name == "shard:3/3" && s.Status == "failed" {
			failed = true
		}
	}
	if !failed {
		t.Errorf("no failed shard:3/3 in the merged scan's sources: %+v", m.Sources)
	}
	sameLines(t, "inventory with shard 3 missing (carried)", views(t, central)["inventory"], want["inventory"])

	// An older database of a shard than the one merged is refused (as a
	// failed shard, what it covers carried), never merged back in time.
	old := filepath.Join(work, "old-2.db")
	copyFile(t, shard(2)+".key", old+".key")
	copyFile(t, shard(2), old)
	scan(shard(2), "--shard", "2/3")
	merge(0, shard(1), shard(2), shard(3))
	m, _ = merge(exitSourceFailed, shard(1), old, shard(3))
	stale := false
	for _, s := range m.Shards {
		if s.Path == old && s.Status == "failed" && strings.Contains(s.Error, "older than the scan of this shard merged before") {
			stale = true
		}
	}
	if !stale {
		t.Errorf("an older shard database was not refused: %+v", m.Shards)
	}
	sameLines(t, "inventory after an older shard was refused", views(t, central)["inventory"], want["inventory"])

	// A shard with its own key is refused, naming it.
	other := filepath.Join(work, "other.db")
	scan(other, "--shard", "1/3")
	_, errs := merge(exitUsage, other, shard(2), shard(3))
	if !strings.Contains(errs, "other.db was scanned with another fingerprint key") {
		t.Errorf("a shard with another key: %s", errs)
	}
}
