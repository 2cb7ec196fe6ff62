package git

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestUnquoteName(t *testing.T) {
	for in, want := range map[string]string{
		"b/plain.txt":             "b/plain.txt",
		"b/with space.txt\t":      "b/with space.txt",
		`"b/tab\there"`:           "b/tab\there",
		`"b/esc\a\b\n\v\f\r\"\\"`: "b/esc\a\b\n\v\f\r\"\\",
		`"b/caf\303\251"`:         "b/café",
		`"b/not-octal\8"`:         "b/not-octal8",
		`"b/short\3"`:             "b/short3",
	} {
		if got := unquoteName([]byte(in)); got != want {
			t.Errorf("unquoteName(%q) = %q, want %q", in, got, want)
		}
	}
}

// parseHunkHeader reads "@@ -a[,b] +c[,d] @@...".
func parseHunkHeader(l []byte) (start, oldN, newN int, ok bool) {
	l = l[3:]
	if len(l) == 0 || l[0] != '-' {
		return 0, 0, 0, false
	}
	_, oldN, rest, ok := parseRange(l[1:])
	if !ok || len(rest) < 2 || rest[0] != ' ' || rest[1] != '+' {
		return 0, 0, 0, false
	}
	start, newN, rest, ok = parseRange(rest[2:])
	if !ok || len(rest) == 0 || rest[0] != ' ' {
		return 0, 0, 0, false
	}
	return start, oldN, newN, true
}

func parseRange(b []byte) (start, n int, rest []byte, ok bool) {
	start, b, ok = parseNum(b)
	if !ok {
		return 0, 0, nil, false
	}
	n = 1
	if len(b) > 0 && b[0] == ',' {
		n, b, ok = parseNum(b[1:])
		if !ok {
			return 0, 0, nil, false
		}
	}
	return start, n, b, true
}

func parseNum(b []byte) (int, []byte, bool) {
	i, v := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		v = v*10 + int(b[i]-'0')
		i++
	}
	return v, b[i:], i > 0
}

func TestParseRaw(t *testing.T) {
	z := strings.Repeat("0", 40)
	a, b, c := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)
	out := "\x00Cdeadbeef\x00Ann\x00ann@example.com\x002024-01-02T03:04:05+01:00\n" +
		"\n" +
		":000000 100644 " + z + " " + a + " A\tnew.txt\n" +
		":100644 100644 " + a + " " + b + " M\t\"tab\\there.txt\"\n" +
		":100644 100644 " + b + " " + c + " R087\told name.txt\tnew name.txt\n" +
		":100644 100755 " + c + " " + c + " M\tmode-only.sh\n" +
		":160000 160000 " + a + " " + b + " M\tvendor/sub\n" +
		":100644 000000 " + a + " " + z + " D\tgone.txt\n" +
		"\x00Cfeedface\x00Bob\x00bob@example.com\x002024-01-03T00:00:00Z\n" +
		":100644 100644 " + a + " " + b + " C075\t\"caf\\303\\251\"\t\"copy \\\"q\\\"\"\n"
	var got []string
	err := parseRaw(strings.NewReader(out), func(*commitMeta) {}, func(c *fileChange) {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%v|%s", c.commit.sha, c.path, c.old, c.new, c.skip, c.commit.date.Format(time.RFC3339)))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"deadbeef|new.txt||" + a + "|false|2024-01-02T02:04:05Z",
		"deadbeef|tab\there.txt|" + a + "|" + b + "|false|2024-01-02T02:04:05Z",
		"deadbeef|new name.txt|" + b + "|" + c + "|false|2024-01-02T02:04:05Z",
		"deadbeef|mode-only.sh|" + c + "|" + c + "|true|2024-01-02T02:04:05Z",
		"deadbeef|vendor/sub|" + a + "|" + b + "|true|2024-01-02T02:04:05Z",
		"feedface|copy \"q\"|" + a + "|" + b + "|false|2024-01-03T00:00:00Z",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("parseRaw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{
		":100644 100644 " + a + " " + b + " M\tno-commit-yet\n",
		"\x00Cx\x00y\n",
		"\x00Cdeadbeef\x00Ann\x00ann@example.com\x002024-01-02T03:04:05Z\n:100644 100644 " + a + " M\tshort\n",
		"\x00Cdeadbeef\x00Ann\x00ann@example.com\x002024-01-02T03:04:05Z\n:100644 100644 " + a + " " + b + " R100\tonly-one-name\n",
	} {
		if err := parseRaw(strings.NewReader(bad), func(*commitMeta) {}, func(*fileChange) {}); err == nil {
			t.Errorf("parseRaw(%q) accepted malformed output", bad)
		}
	}
}

// listStarts gives exactly the commits `rev-list --all` walks from:
// branches, tags (annotated ones peeled, one naming a blob left out), a
// ref naming a tree, notes, a stash, a detached HEAD and a linked
// worktree's detached HEAD (11 commits). countCommits, which gives progress its total,
// counts what listCommits lists from them.
func TestStartsAreRevListAll(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=a", "-c", "user.email=a@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	ctx := context.Background()
	if s, err := listStarts(ctx, dir+"/none"); err == nil {
		t.Fatalf("listStarts of no repository = %v, want an error", s)
	}
	git("init", "-q", "-b", "main")
	if s, err := listStarts(ctx, dir); err != nil || len(s) != 0 {
		t.Fatalf("listStarts of an empty repository = %v, %v", s, err)
	}
	if all, err := listCommits(ctx, dir, nil); err != nil || len(all) != 0 {
		t.Fatalf("listCommits from no start = %v, %v", all, err)
	}
	for i := 0; i < 5; i++ {
		git("commit", "-q", "--allow-empty", "-m", fmt.Sprint(i))
	}
	git("checkout", "-q", "-b", "side")
	git("commit", "-q", "--allow-empty", "-m", "side")
	git("tag", "-a", "-m", "annotated", "t1", "HEAD~2")
	if err := os.WriteFile(dir+"/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("tag", "-a", "-m", "a blob", "tblob", git("hash-object", "-w", "f"))
	git("update-ref", "refs/x/tree", git("write-tree"))
	git("notes", "add", "-m", "a note", "HEAD~1")
	git("checkout", "-q", "--detach", "main")
	git("commit", "-q", "--allow-empty", "-m", "detached")
	git("worktree", "add", "-q", "--detach", dir+"/wt", "main~1")
	git("-C", dir+"/wt", "commit", "-q", "--allow-empty", "-m", "in the worktree")
	git("add", "f")
	git("stash", "-q")
	starts, err := listStarts(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	all, err := listCommits(ctx, dir, starts)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(git("rev-list", "--all"))
	slices.Sort(all)
	slices.Sort(want)
	if !slices.Equal(all, want) || len(want) != 11 {
		t.Fatalf("from the starts %v:\n%v\nrev-list --all (%d):\n%v", starts, all, len(want), want)
	}
	n, err := countCommits(ctx, dir, starts)
	if err != nil || n != int64(len(all)) {
		t.Fatalf("countCommits = %d, %v; listCommits has %d", n, err, len(all))
	}
}
