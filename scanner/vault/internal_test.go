package vault

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWanted(t *testing.T) {
	for _, c := range []struct {
		include, exclude []string
		mount            string
		auth, want       bool
	}{
		{nil, nil, "secret/", false, true},
		{nil, []string{"secret"}, "secret/", false, false},
		{nil, []string{"secret/"}, "secret/", false, false},
		{[]string{"apps"}, nil, "secret/", false, false},
		{[]string{"apps"}, nil, "apps/", false, true},
		{[]string{"apps"}, nil, "approle/", true, true},              // no auth/ include: auth mounts all read
		{[]string{"apps", "auth/approle"}, nil, "jwt/", true, false}, // an auth/ include limits auth mounts
		{[]string{"apps", "auth/approle"}, nil, "approle/", true, true},
		{nil, []string{"auth/token"}, "token/", true, false},
		{nil, []string{"auth/token"}, "token/", false, true}, // a secret mount named token/
	} {
		s := &source{opts: Options{IncludeMounts: c.include, ExcludeMounts: c.exclude}}
		if got := s.wanted(c.mount, c.auth); got != c.want {
			t.Errorf("include %v exclude %v: wanted(%q, auth=%v) = %v", c.include, c.exclude, c.mount, c.auth, got)
		}
	}
}

// runPool runs every task, including ones added by tasks, never more than
// n at once.
func TestRunPool(t *testing.T) {
	var running, peak, done atomic.Int64
	var mu sync.Mutex
	var node func(depth int) task
	node = func(depth int) task {
		return func(ctx context.Context, add func(task)) {
			n := running.Add(1)
			mu.Lock()
			if n > peak.Load() {
				peak.Store(n)
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
			if depth < 3 {
				for range 4 {
					add(node(depth + 1))
				}
			}
			running.Add(-1)
			done.Add(1)
		}
	}
	runPool(context.Background(), 3, []task{node(0), node(0)})
	if want := int64(2 * (1 + 4 + 16 + 64)); done.Load() != want {
		t.Errorf("ran %d tasks, want %d", done.Load(), want)
	}
	if peak.Load() > 3 || peak.Load() < 2 {
		t.Errorf("peak concurrency %d, want 2..3", peak.Load())
	}

	// Cancellation stops the pool.
	ctx, cancel := context.WithCancel(context.Background())
	var forever func() task
	forever = func() task {
		return func(ctx context.Context, add func(task)) { add(forever()); add(forever()) }
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	finished := make(chan struct{})
	go func() { runPool(ctx, 2, []task{forever()}); close(finished) }()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("runPool did not stop after cancellation")
	}
}

func TestTimeOf(t *testing.T) {
	if timeOf("0001-01-01T00:00:00Z") != nil || timeOf("") != nil || timeOf(nil) != nil {
		t.Error("Vault's zero time must mean no time")
	}
	if got := timeOf("2025-03-04T05:06:07.123456Z"); got == nil || got.Nanosecond() != 123456000 {
		t.Errorf("timeOf = %v", got)
	}
}
