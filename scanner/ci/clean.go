package ci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/nhi-inventory/nhi/scanner"
)

// An unchanged re-scan of a repository parses every pipeline file of
// every branch head again (186 distinct contents on curl's 20 branches),
// and most of that time went to secret detection: compiling the rules
// (0.2 s) and running them (0.7 s) over contents an earlier scan had
// already found clean. The plaintext of a secret is never kept, so what is
// remembered is only which contents had none: a content found clean under
// the same rules, by the same build of nhi, is not searched again. A
// content with a hard-coded value is always searched again (its value is
// needed to report it).

// cleanMemo is the memo kind of the contents found free of hard-coded
// values. Bump its version when what the CI-aware checks find changes
// without a change of release (a development build is told apart by its
// executable, see buildStamp).
const cleanMemo = "ci-clean/1"

// cleanSet is what an engine knows of clean contents: those an earlier
// scan found clean (known) and those this scan found clean (now).
type cleanSet struct {
	salt  string // the rules and the build: part of every key
	known map[string]bool
	now   map[string]bool
	// skipped counts the contents not searched again: parsed only, or
	// not even parsed (their pipeline was kept, parsed.go).
	skipped int64
}

// key names one content of one pipeline file under the set's salt.
func (c *cleanSet) key(path, contentKey string) string {
	return memoKey(c.salt, path, contentKey)
}

// markKnown records that the content of key is known clean without it
// having been parsed: its pipeline was kept (parsed.go), which only one
// with no hard-coded value is, under the same salt.
func (c *cleanSet) markKnown(key string) {
	c.now[key] = true
	c.skipped++
}

// contentKey names one content of a pipeline file as its parse sees it:
// its provider, its content id and the GitLab variables it inherits.
func contentKey(provider, cid string, inherited map[string]bool) string {
	return provider + "\x00" + cid + "\x00" + strings.Join(sortedKeys(inherited), ",")
}

// memoKey names one content (contentKey) of the pipeline file at path
// under salt, in a memo.
func memoKey(salt, path, contentKey string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", salt, path, contentKey)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// loadClean returns the clean contents kept for target under rules (a
// rule set digest). A memo that cannot be read is no memo: every content
// is searched.
func loadClean(ctx context.Context, sink scanner.Sink, target, rules string) *cleanSet {
	c := &cleanSet{salt: rules + "\x00" + buildStamp(), known: map[string]bool{}, now: map[string]bool{}}
	var kept struct {
		Salt string   `json:"salt"`
		Keys []string `json:"keys"`
	}
	if !scanner.LoadMemo(ctx, sink, cleanMemo, target, &kept) || kept.Salt != saltDigest(c.salt) {
		return c
	}
	for _, k := range kept.Keys {
		c.known[k] = true
	}
	return c
}

// store keeps this scan's clean contents for target, when they differ
// from the kept ones.
func (c *cleanSet) store(ctx context.Context, sink scanner.Sink, target string) error {
	if len(c.now) == len(c.known) {
		same := true
		for k := range c.now {
			if !c.known[k] {
				same = false
				break
			}
		}
		if same {
			return nil
		}
	}
	keys := make([]string, 0, len(c.now))
	for k := range c.now {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b, err := json.Marshal(struct {
		Salt string   `json:"salt"`
		Keys []string `json:"keys"`
	}{saltDigest(c.salt), keys})
	if err != nil {
		return err
	}
	if err := sink.Ledger().PutMemo(ctx, cleanMemo, target, b); err != nil {
		return fmt.Errorf("keep the pipeline contents found clean: %w", err)
	}
	return nil
}

func saltDigest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

var (
	stampOnce sync.Once
	stamp     string
)

// buildStamp tells builds of nhi apart: its module version and VCS
// revision, and the size and time of its executable, so that a
// development build whose checks changed does not trust what an earlier
// build found.
func buildStamp() string {
	stampOnce.Do(func() {
		var parts []string
		if bi, ok := debug.ReadBuildInfo(); ok {
			parts = append(parts, bi.Main.Version)
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
					parts = append(parts, s.Value)
				}
			}
		}
		if exe, err := os.Executable(); err == nil {
			if st, err := os.Stat(exe); err == nil {
				parts = append(parts, fmt.Sprint(st.Size(), st.ModTime().UnixNano()))
			}
		}
		stamp = strings.Join(parts, "\x00")
	})
	return stamp
}
