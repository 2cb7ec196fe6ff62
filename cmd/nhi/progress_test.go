package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/scanner"
)

// Once a source gives the size of its work, progress shows how much is
// done and, from the rate since it first did some, about how long is left.
func TestProgressEstimate(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "always", "/estate")
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return clock }
	ev := func(done, total int64) string {
		return p.estimate(scanner.Event{Source: "git:/estate/repo", Work: scanner.Work{Unit: "file changes", Done: done, Total: total}})
	}
	if got := ev(0, 0); got != "" {
		t.Errorf("no size yet: %q", got)
	}
	if got := ev(0, 1000); got != " (0%)" {
		t.Errorf("nothing done: %q", got)
	}
	if got := ev(100, 1000); got != " (10%)" { // the rate starts here
		t.Errorf("first work done: %q", got)
	}
	clock = clock.Add(10 * time.Second)
	if got := ev(300, 1000); got != " (30%, about 35s left)" { // 200 in 10s, 700 to go
		t.Errorf("after 10s: %q", got)
	}
	clock = clock.Add(50 * time.Second)
	if got := ev(500, 100000); got != " (0%, about 4h08m left)" { // 400 in 60s, 99500 to go
		t.Errorf("a larger total: %q", got)
	}
	if got := p.estimate(scanner.Event{Source: "git:/estate/repo", Final: true, Work: scanner.Work{Done: 1, Total: 2}}); got != "" {
		t.Errorf("final event: %q", got)
	}
	// The line names the source relative to the configuration.
	p.event(scanner.Event{Source: "git:/estate/repo", Message: "3 commits, 600 of 1000 file changes read", Work: scanner.Work{Done: 600, Total: 1000}})
	if line := b.String(); !strings.Contains(line, "git:./repo: 3 commits, 600 of 1000 file changes read (60%, about ") {
		t.Errorf("progress line %q", line)
	}
}
