// Package scanner defines what a source is and runs sources into one scan
// of the inventory: bounded concurrency, per-source outcomes, and errors
// that fail one source (or one item of it) without aborting the run.
package scanner

import (
	"context"
	"encoding/json"

	"github.com/nhi-inventory/nhi/inventory"
)

// Source is one place nhi reads from (a repository, a CI directory, an AWS
// account, a Vault server). Sources are listed explicitly by the caller.
type Source interface {
	// Name is unique within a scan, e.g. "git:/src/app".
	Name() string
	// Kind is the source family: inventory.SourceGit, SourceCI, ...
	Kind() string
	// Target is what the source reads, canonical (an absolute,
	// symlink-resolved path; a URL without credentials; an account; an
	// address). Kind()+":"+Target() is the scope target the source covers
	// unless it declares another with Sink.Cover.
	Target() string
	// Scan reads the source and reports what it sees to sink. Failures of
	// one unit (a file, a path, an API call) go to sink.ItemError and the
	// scan goes on; the returned error fails this source only.
	Scan(ctx context.Context, sink Sink) error
}

// Sink receives a source's observations. Implementations are safe for
// concurrent use.
type Sink interface {
	Identity(ctx context.Context, id *inventory.Identity) error
	Credential(ctx context.Context, c *inventory.Credential) error
	Occurrence(ctx context.Context, o *inventory.Occurrence) error
	// ItemError records an item that failed while the source went on.
	// Some data is lost: the target is then read only in part, so what
	// it held and was not seen again is carried forward, not removed.
	ItemError(item string, err error)
	// UnitError records that one unit of the current target (a CI file,
	// an IAM principal's ARN, a Vault path: the Unit its rows carry)
	// could not be read: the unit's earlier state is carried forward
	// unchanged, and its gaps neither open nor resolve.
	UnitError(unit string, err error)
	// Cover declares the scope target the source is reading once it is
	// known (the AWS account id behind a profile, say); rows written
	// afterwards are stamped with it. A source may cover several targets
	// in turn.
	Cover(target string)
	// Add adds delta to a named counter of this source (commits, bytes...).
	Add(stat string, delta int64)
	// Progress reports a human-readable step of long work.
	Progress(msg string)
	// Keys fingerprints secret values; sources never keep them.
	Keys() *inventory.Keyring
	// Ledger remembers what was scanned before, for incremental sources.
	Ledger() Ledger
}

// Ledger is what the inventory remembers for incremental sources: the
// git commits already scanned, the refs that reached them, and memos.
type Ledger interface {
	ScannedCommits(ctx context.Context, repo, digest string) (map[string]bool, error)
	// ScannedAmong is ScannedCommits asked of a few commits only.
	ScannedAmong(ctx context.Context, repo, digest string, commits []string) (map[string]bool, error)
	// MarkRepoScanned, ExtendRepoScanned and CarryRepo also record the
	// branch and tag heads (tips) the scan read; CarryRepo given nil
	// tips carries those of the scan that recorded r.
	MarkRepoScanned(ctx context.Context, repo, digest string, h inventory.RepoHistory, reachable []string) error
	ExtendRepoScanned(ctx context.Context, repo, digest string, h inventory.RepoHistory, prev inventory.RepoRefs, added []string) (int64, error)
	RepoRefs(ctx context.Context, repo, digest string) (inventory.RepoRefs, bool, error)
	CarryRepo(ctx context.Context, repo, digest string, r inventory.RepoRefs, tips []inventory.Tip) error
	// Memo and PutMemo keep derived data between scans (what a source
	// need not read again); never a secret value.
	Memo(ctx context.Context, kind, key string) ([]byte, bool, error)
	PutMemo(ctx context.Context, kind, key string, value []byte) error
}

// Event is a progress report from a running source.
type Event struct {
	Source  string
	Message string
	Stats   map[string]int64
	// Final marks the source's last event, sent by the runner once it has
	// finished: Message is then MessageDone or "failed: " and the error.
	// A source's own Progress is never final, whatever it says.
	Final bool
	// Work is how far the source is through work of a known size (zero
	// when it did not say).
	Work Work
}

// Work is progress through work whose size is known: Done of Total
// units (commits, say). Total 0: not known yet.
type Work struct {
	Unit        string
	Done, Total int64
}

// WorkSink is a Sink that takes progress with its size (the runner's
// does); a source reports through it when it knows how much is left, so
// the user can be told an estimate of the time remaining.
type WorkSink interface {
	ProgressWork(msg string, w Work)
}

// MessageDone is the Message of the final event of a source that succeeded.
const MessageDone = "done"

// LoadMemo decodes the JSON memo (kind, key) of the sink's ledger into v
// and says whether it did. A memo only saves work: one that is missing is
// false, and so is one that cannot be read or decoded, which is counted
// in the source's memos_unreadable stat, so that a re-scan that did the
// work again says why.
func LoadMemo(ctx context.Context, sink Sink, kind, key string, v any) bool {
	b, ok, err := sink.Ledger().Memo(ctx, kind, key)
	if err == nil && ok {
		if err = json.Unmarshal(b, v); err == nil {
			return true
		}
	}
	if err != nil {
		sink.Add("memos_unreadable", 1)
	}
	return false
}
