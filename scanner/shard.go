package scanner

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

// Shard is share K of N of a scan's sources (1 <= K <= N): N runs with
// the same sources, one per K, cover each source exactly once between
// them. The zero Shard takes everything.
type Shard struct {
	K, N int
}

// ParseShard reads "K/N".
func ParseShard(s string) (Shard, error) {
	k, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	ki, err1 := strconv.Atoi(k)
	ni, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || ni < 1 || ki < 1 || ki > ni {
		return Shard{}, fmt.Errorf("--shard must be K/N with 1 <= K <= N (e.g. 2/3), not %q", s)
	}
	return Shard{K: ki, N: ni}, nil
}

// String is "K/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// Sharded reports a shard other than the whole.
func (s Shard) Sharded() bool { return s.N > 1 || s.K > 0 }

// Of returns the shard (1..n) that key belongs to: the first 8 bytes of
// its SHA-256, modulo n. It depends on key and n only, so every run of
// every machine agrees.
func Of(key string, n int) int {
	h := sha256.Sum256([]byte(key))
	return int(binary.BigEndian.Uint64(h[:8])%uint64(n)) + 1
}

// ShardKey is what assigns a source to a shard: its Target (a
// repository's canonical id, so that its history and its CI files go to
// one shard; an AWS profile; a directory).
func ShardKey(src Source) string { return src.Target() }

// Take returns the sources of this shard, in their order. A source that
// says AllShards (the enumeration of an organisation, which every shard
// needs) is in every shard.
func (s Shard) Take(sources []Source) []Source {
	if !s.Sharded() {
		return sources
	}
	var out []Source
	for _, src := range sources {
		if a, ok := src.(interface{ AllShards() bool }); ok && a.AllShards() {
			out = append(out, src)
			continue
		}
		if Of(ShardKey(src), s.N) == s.K {
			out = append(out, src)
		}
	}
	return out
}

// shardSource records in a sharded scan which share it took, so that a
// merge knows the shards there are and which of them it was given.
type shardSource struct {
	s            Shard
	taken, total int
}

// NewShardSource is the source that records shard s of a scan that took
// taken of total sources. Its scope target is "shard:K/N".
func NewShardSource(s Shard, taken, total int) Source {
	return &shardSource{s: s, taken: taken, total: total}
}

func (s *shardSource) Name() string   { return inventory.SourceShard + ":" + s.s.String() }
func (s *shardSource) Kind() string   { return inventory.SourceShard }
func (s *shardSource) Target() string { return s.s.String() }

func (s *shardSource) Scan(_ context.Context, sink Sink) error {
	sink.Add("shard", int64(s.s.K))
	sink.Add("shards", int64(s.s.N))
	sink.Add("sources_taken", int64(s.taken))
	sink.Add("sources_total", int64(s.total))
	return nil
}
