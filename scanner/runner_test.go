package scanner_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// source is a source whose Scan is the test's function.
type source struct {
	name string
	scan func(ctx context.Context, sink scanner.Sink) error
}

func (s *source) Name() string   { return s.name }
func (s *source) Kind() string   { return "test" }
func (s *source) Target() string { return s.name }
func (s *source) Scan(ctx context.Context, sink scanner.Sink) error {
	return s.scan(ctx, sink)
}

// beginScan opens a real inventory in a temporary directory and starts a
// scan of it.
func beginScan(t *testing.T) *inventory.ScanWriter {
	t.Helper()
	ctx := context.Background()
	st, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w, err := st.BeginScan(ctx, "test", "test", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func identity(key string) *inventory.Identity {
	return &inventory.Identity{Key: key, Kind: inventory.KindIAMUser, Name: key, Source: "test"}
}

// Outcomes come back in the order the sources were given, whatever order
// they finish in; a failing source and a panicking one fail only
// themselves, and the run itself succeeds.
func TestRunOutcomesInOrderFailuresIsolated(t *testing.T) {
	w := beginScan(t)
	// Each source finishes only after the one after it: the reverse order.
	const n = 4
	finished := make([]chan struct{}, n+1)
	for i := range finished {
		finished[i] = make(chan struct{})
	}
	close(finished[n])
	var srcs []scanner.Source
	names := []string{"a", "b-fails", "c-panics", "d"}
	for i, name := range names {
		srcs = append(srcs, &source{name: name, scan: func(ctx context.Context, sink scanner.Sink) error {
			defer close(finished[i])
			<-finished[i+1]
			if err := sink.Identity(ctx, identity("id-"+name)); err != nil {
				return err
			}
			switch name {
			case "b-fails":
				return errors.New("the server said no")
			case "c-panics":
				var m map[string]int
				m["x"]++ // a nil map: a real runtime panic
			}
			return nil
		}})
	}
	res, err := scanner.Run(context.Background(), w, srcs, scanner.Options{Concurrency: n})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res) != n {
		t.Fatalf("%d results for %d sources", len(res), n)
	}
	for i, r := range res {
		if r.Name != names[i] {
			t.Errorf("result %d is %q, want %q: outcomes are not in the order given", i, r.Name, names[i])
		}
		wantFailed := strings.Contains(r.Name, "-")
		if (r.Status == inventory.SourceFailed) != wantFailed {
			t.Errorf("%s: status %s (%s)", r.Name, r.Status, r.Error)
		}
	}
	if !strings.Contains(res[1].Error, "the server said no") {
		t.Errorf("failed source's error %q", res[1].Error)
	}
	if !strings.Contains(res[2].Error, "internal error in source") || !strings.Contains(res[2].Error, "nil map") {
		t.Errorf("panicking source's error %q", res[2].Error)
	}
}

// Cancelled while sources run and others wait for a slot: Run returns
// ctx.Err() only once every source it started has returned, and starts no
// other.
func TestRunCancellationWaitsForEverySource(t *testing.T) {
	w := beginScan(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started, running atomic.Int32
	bothRunning := make(chan struct{})
	release := make(chan struct{})
	var srcs []scanner.Source
	for _, name := range []string{"a", "b", "c", "d"} {
		srcs = append(srcs, &source{name: name, scan: func(ctx context.Context, sink scanner.Sink) error {
			running.Add(1)
			defer running.Add(-1)
			if started.Add(1) == 2 {
				close(bothRunning)
			}
			<-ctx.Done()
			<-release // a source that takes its time to stop
			return ctx.Err()
		}})
	}
	done := make(chan error, 1)
	go func() {
		_, err := scanner.Run(ctx, w, srcs, scanner.Options{Concurrency: 2})
		done <- err
	}()
	<-bothRunning
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while %d sources were still running", err, running.Load())
	case <-time.After(100 * time.Millisecond):
		// Not a synchronisation: a bounded wait for what must not happen.
	}
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if n := running.Load(); n != 0 {
		t.Fatalf("%d sources still running after Run returned", n)
	}
	if n := started.Load(); n != 2 {
		t.Fatalf("%d sources started, want 2 (none after the cancellation)", n)
	}
}

// A write the inventory refuses is returned by Run (the scan cannot be
// trusted), while the sources still all run.
func TestRunReturnsInventoryWriteError(t *testing.T) {
	w := beginScan(t)
	var ran atomic.Int32
	bad := &source{name: "bad", scan: func(ctx context.Context, sink scanner.Sink) error {
		ran.Add(1)
		// The store refuses an identity without a kind when it writes
		// the batch.
		return sink.Identity(ctx, &inventory.Identity{Key: "no-kind"})
	}}
	good := &source{name: "good", scan: func(ctx context.Context, sink scanner.Sink) error {
		ran.Add(1)
		return nil
	}}
	res, err := scanner.Run(context.Background(), w, []scanner.Source{bad, good}, scanner.Options{Concurrency: 1})
	if err == nil || !strings.Contains(err.Error(), "identity without key or kind") {
		t.Fatalf("Run returned %v, want the inventory's refusal", err)
	}
	if ran.Load() != 2 || len(res) != 2 || res[1].Name != "good" {
		t.Fatalf("a write error stopped the run: %d ran, results %+v", ran.Load(), res)
	}
}

// Each source's last event is marked Final by the runner, and only that
// one: a source reporting progress that reads like an ending ("done",
// "failed to list") does not end its line of progress.
func TestRunMarksEachSourceFinalEventOnce(t *testing.T) {
	w := beginScan(t)
	srcs := []scanner.Source{
		&source{name: "ok", scan: func(ctx context.Context, sink scanner.Sink) error {
			sink.Progress(scanner.MessageDone)
			sink.Progress("failed to list one thing, going on")
			return nil
		}},
		&source{name: "fails", scan: func(ctx context.Context, sink scanner.Sink) error {
			return errors.New("the server said no")
		}},
	}
	var mu sync.Mutex
	var events []scanner.Event
	_, err := scanner.Run(context.Background(), w, srcs, scanner.Options{Concurrency: 1, OnEvent: func(e scanner.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	final := map[string][]string{}
	for _, e := range events {
		if e.Final {
			final[e.Source] = append(final[e.Source], e.Message)
		}
	}
	if got := final["ok"]; len(got) != 1 || got[0] != scanner.MessageDone {
		t.Errorf("ok: final events %q, want one %q", got, scanner.MessageDone)
	}
	if got := final["fails"]; len(got) != 1 || !strings.HasPrefix(got[0], "failed: ") {
		t.Errorf("fails: final events %q, want one failed: ...", got)
	}
	if last := events[len(events)-1]; !last.Final {
		t.Errorf("last event %+v is not final", last)
	}
}
