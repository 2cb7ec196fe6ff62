package scanner

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nhi-inventory/nhi/inventory"
)

// Writer is the part of the inventory's scan writer the runner needs.
type Writer interface {
	PutIdentity(ctx context.Context, id *inventory.Identity) error
	PutCredential(ctx context.Context, c *inventory.Credential) error
	PutOccurrence(ctx context.Context, o *inventory.Occurrence) error
	RecordSource(ctx context.Context, r inventory.SourceResult) error
	Keys() *inventory.Keyring
	Ledger
}

// Options tune a run.
type Options struct {
	// Concurrency bounds how many sources run at once (default 2).
	Concurrency int
	// OnEvent, when set, receives progress events (from several goroutines).
	OnEvent func(Event)
}

// Run scans every source into w. Each source's outcome is recorded and
// returned in the order given; a failing source never stops the others.
// Only cancellation of ctx (or a failing inventory write) is returned as
// an error, and only once every source started has returned.
func Run(ctx context.Context, w Writer, sources []Source, opts Options) ([]inventory.SourceResult, error) {
	n := opts.Concurrency
	if n <= 0 {
		n = 2
	}
	results := make([]inventory.SourceResult, len(sources))
	writeErrs := make([]error, len(sources))
	// A plain Group, not WithContext: one source's failure must not
	// cancel the others, so the goroutines return no error and each
	// outcome goes to its own slot.
	var g errgroup.Group
	g.SetLimit(n)
	for i, src := range sources {
		if ctx.Err() != nil {
			break
		}
		// Go waits for a free slot; a source still running when ctx is
		// cancelled returns soon after, and the next one then sees ctx.
		g.Go(func() error {
			if ctx.Err() == nil {
				results[i], writeErrs[i] = runOne(ctx, w, src, opts.OnEvent)
			}
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return results, err
	}
	return results, errors.Join(writeErrs...)
}

func runOne(ctx context.Context, w Writer, src Source, onEvent func(Event)) (res inventory.SourceResult, writeErr error) {
	s := &sink{w: w, name: src.Name(), onEvent: onEvent, stats: map[string]int64{}}
	s.Cover(src.Kind() + ":" + src.Target())
	s.provisional = true
	res = inventory.SourceResult{Name: src.Name(), Kind: src.Kind(), Target: src.Target(), StartedAt: time.Now().UTC()}
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("internal error in source: %v\n%s", r, debug.Stack())
			}
		}()
		return src.Scan(ctx, s)
	}()
	res.FinishedAt = time.Now().UTC()
	s.mu.Lock()
	res.ItemErrors = s.items
	res.Stats = s.stats
	res.Targets = s.targets
	writeErr = s.writeErr
	s.mu.Unlock()
	switch {
	case err == nil && writeErr == nil:
		res.Status = inventory.SourceOK
	case writeErr != nil:
		res.Status = inventory.SourceFailed
		res.Error = "writing to the inventory: " + writeErr.Error()
	default:
		res.Status = inventory.SourceFailed
		res.Error = err.Error()
	}
	if ctx.Err() != nil {
		return res, writeErr
	}
	if e := w.RecordSource(ctx, res); e != nil && writeErr == nil {
		writeErr = e
	}
	if onEvent != nil {
		msg := MessageDone
		if res.Status != inventory.SourceOK {
			msg = "failed: " + res.Error
		}
		onEvent(Event{Source: src.Name(), Message: msg, Stats: res.Stats, Final: true})
	}
	return res, writeErr
}

type sink struct {
	w       Writer
	name    string
	onEvent func(Event)

	mu       sync.Mutex
	items    []inventory.ItemError
	stats    map[string]int64
	writeErr error
	target   string   // the target rows are stamped with
	targets  []string // every target covered, in order
	// provisional is set while target is the source's default and nothing
	// was stamped with it: a Cover then replaces it (the AWS profile gives
	// way to the account it reaches).
	provisional bool
}

func (s *sink) track(err error) error {
	if err != nil {
		s.mu.Lock()
		if s.writeErr == nil {
			s.writeErr = err
		}
		s.mu.Unlock()
	}
	return err
}

// current is the target to stamp on a row or an error.
func (s *sink) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.provisional = false
	return s.target
}

func (s *sink) Identity(ctx context.Context, id *inventory.Identity) error {
	if id.Target == "" {
		id.Target = s.current()
	}
	return s.track(s.w.PutIdentity(ctx, id))
}

func (s *sink) Credential(ctx context.Context, c *inventory.Credential) error {
	if c.Target == "" {
		c.Target = s.current()
	}
	return s.track(s.w.PutCredential(ctx, c))
}

func (s *sink) Occurrence(ctx context.Context, o *inventory.Occurrence) error {
	if o.Target == "" {
		o.Target = s.current()
	}
	return s.track(s.w.PutOccurrence(ctx, o))
}

func (s *sink) ItemError(item string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.provisional = false
	s.items = append(s.items, inventory.ItemError{Item: item, Error: err.Error(), Target: s.target})
}

func (s *sink) UnitError(unit string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.provisional = false
	s.items = append(s.items, inventory.ItemError{Item: unit, Error: err.Error(), Target: s.target, Unit: unit})
}

func (s *sink) Cover(target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provisional && len(s.targets) == 1 {
		s.targets = s.targets[:0]
	}
	s.provisional = false
	s.target = target
	for _, t := range s.targets {
		if t == target {
			return
		}
	}
	s.targets = append(s.targets, target)
}

func (s *sink) Add(stat string, delta int64) {
	s.mu.Lock()
	s.stats[stat] += delta
	s.mu.Unlock()
}

func (s *sink) Progress(msg string) { s.ProgressWork(msg, Work{}) }

// ProgressWork is Progress with how far through its work the source is.
func (s *sink) ProgressWork(msg string, w Work) {
	if s.onEvent == nil {
		return
	}
	s.mu.Lock()
	stats := make(map[string]int64, len(s.stats))
	for k, v := range s.stats {
		stats[k] = v
	}
	s.mu.Unlock()
	s.onEvent(Event{Source: s.name, Message: msg, Stats: stats, Work: w})
}

func (s *sink) Keys() *inventory.Keyring { return s.w.Keys() }

func (s *sink) Ledger() Ledger { return s.w }
