package forge

import (
	"context"
	"time"

	"github.com/nhi-inventory/nhi/scanner"
)

// SourceKind is the kind of the sources this package makes, and the
// family of their scope targets ("forge:https://github.com/acme").
const SourceKind = "forge"

// Listing is what enumerating one owner gave: the repositories selected
// (sorted by id), the counts, or the error that stopped it.
type Listing struct {
	Lister Lister
	Filter Filter
	Repos  []Repo
	Counts Counts
	Err    error
	Took   time.Duration
	// Secrets, when set, are the owner's Actions secret stores: the
	// listing's source inventories the organisation's own.
	Secrets *Secrets
}

// Enumerate lists l's repositories and selects them with f. A failure is
// kept in the Listing (its source reports it), not returned: the rest of
// the scan goes on.
func Enumerate(ctx context.Context, l Lister, f Filter) *Listing {
	start := time.Now()
	repos, err := l.List(ctx)
	li := &Listing{Lister: l, Filter: f, Err: err}
	if err == nil {
		li.Repos, li.Counts = f.Select(repos)
	}
	li.Took = time.Since(start)
	return li
}

// source reports a listing in the scan: its counts, or the error that
// stopped it (the repositories it would have listed are then carried
// from earlier scans, as every target not read is).
type source struct {
	li *Listing
}

// NewSource is the source that records li in the scan. It runs in every
// shard of a sharded scan (each shard enumerates, then takes its share).
func NewSource(li *Listing) scanner.Source { return &source{li: li} }

func (s *source) Name() string   { return SourceKind + ":" + s.Target() }
func (s *source) Kind() string   { return SourceKind }
func (s *source) Target() string { return Target(s.li.Lister) }

// AllShards keeps the source in every shard (scanner.Shard).
func (s *source) AllShards() bool { return true }

func (s *source) Scan(ctx context.Context, sink scanner.Sink) error {
	if s.li.Err != nil {
		return s.li.Err
	}
	c := s.li.Counts
	sink.Add("repos_listed", c.Listed)
	sink.Add("repos_selected", c.Selected)
	sink.Add("repos_excluded", c.Excluded)
	sink.Add("repos_archived_skipped", c.Archived)
	sink.Add("repos_forks_skipped", c.Forks)
	sink.Add("list_ms", s.li.Took.Milliseconds())
	return s.li.Secrets.writeOrg(ctx, sink)
}
