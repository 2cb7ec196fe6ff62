package git_test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/git"
)

// importCommits appends n commits to the main branch of the repository at
// dir, each changing one of twenty files, through git fast-import.
func importCommits(t *testing.T, dir string, from, n int) {
	t.Helper()
	var b strings.Builder
	for i := from; i < from+n; i++ {
		content := fmt.Sprintf("line %d of the history\nvalue = %d\n", i, i*7)
		fmt.Fprintf(&b, "commit refs/heads/main\ncommitter Alice <alice@example.com> %d +0000\ndata %d\n%s\n", 1700000000+i, len("c"+strconv.Itoa(i)), "c"+strconv.Itoa(i))
		if i == from && from > 0 {
			b.WriteString("from refs/heads/main^0\n")
		}
		fmt.Fprintf(&b, "M 644 inline file%02d.txt\ndata %d\n%s\n", i%20, len(content), content)
	}
	cmd := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git fast-import: %v\n%s", err, out)
	}
}

var commitTotal = regexp.MustCompile(`of (\d+) commits listed|^(\d+) commits, `)

// A scan reports the number of commits to read, and its work (file
// changes) with a total, as soon as the commit count is known: the first
// scan counts every ref's commits, a later one has the new commits.
func TestProgressHasATotal(t *testing.T) {
	r := newRepo(t)
	importCommits(t, r.Dir, 0, 300)
	st := openStore(t)
	for _, step := range []struct{ from, n int }{{0, 300}, {300, 120}} {
		if step.from > 0 {
			importCommits(t, r.Dir, step.from, step.n)
		}
		var mu sync.Mutex
		var events []scanner.Event
		ctx := context.Background()
		w, err := st.BeginScan(ctx, "test", "test", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		src := git.New(r.Dir, nil, git.Options{ProgressEvery: time.Millisecond})
		if _, err := scanner.Run(ctx, w, []scanner.Source{src}, scanner.Options{OnEvent: func(e scanner.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Finish(ctx, nil); err != nil {
			t.Fatal(err)
		}
		sized := 0
		for _, e := range events {
			if e.Final {
				continue
			}
			if m := commitTotal.FindStringSubmatch(e.Message); m != nil {
				if got := m[1] + m[2]; got != strconv.Itoa(step.n) {
					t.Errorf("scan of %d new commits says %q", step.n, e.Message)
				}
				if e.Work.Total <= 0 || e.Work.Done > e.Work.Total || e.Work.Unit != "file changes" {
					t.Errorf("event %q has work %+v", e.Message, e.Work)
				}
				sized++
			}
		}
		if sized == 0 {
			t.Fatalf("no progress event of the scan of %d commits gave a total (%d events: %+v)", step.n, len(events), events)
		}
	}
}
