package scanner

import (
	"context"
	"fmt"
	"testing"
)

type shardedSource struct {
	target string
	all    bool
}

func (f shardedSource) Name() string                     { return "fake:" + f.target }
func (f shardedSource) Kind() string                     { return "fake" }
func (f shardedSource) Target() string                   { return f.target }
func (f shardedSource) Scan(context.Context, Sink) error { return nil }
func (f shardedSource) AllShards() bool                  { return f.all }

func TestParseShard(t *testing.T) {
	for _, bad := range []string{"", "3", "0/3", "4/3", "1/0", "a/b", "-1/3", "1/3/4"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if s, err := ParseShard(" 2/3 "); err != nil || s != (Shard{2, 3}) || s.String() != "2/3" {
		t.Errorf("2/3: %v %v", s, err)
	}
}

// TestShardTakePartitions: N shards take every source exactly once, the
// same on every run, and a source for all shards in each.
func TestShardTakePartitions(t *testing.T) {
	var sources []Source
	for i := 0; i < 200; i++ {
		sources = append(sources, shardedSource{target: fmt.Sprintf("https://github.com/acme/repo-%03d.git", i)})
	}
	sources = append(sources, shardedSource{target: "https://github.com/acme", all: true})
	taken := map[string]int{}
	for k := 1; k <= 4; k++ {
		got := Shard{k, 4}.Take(sources)
		if len(got) < 30 {
			t.Errorf("shard %d/4 took %d of 200: the hash does not spread", k, len(got))
		}
		for _, s := range got {
			taken[s.Target()]++
		}
		again := Shard{k, 4}.Take(sources)
		if fmt.Sprint(again) != fmt.Sprint(got) {
			t.Errorf("shard %d/4 is not deterministic", k)
		}
	}
	for _, s := range sources {
		want := 1
		if s.(shardedSource).all {
			want = 4
		}
		if taken[s.Target()] != want {
			t.Errorf("%s taken %d times, want %d", s.Target(), taken[s.Target()], want)
		}
	}
	if len((Shard{}).Take(sources)) != len(sources) {
		t.Error("the zero shard does not take everything")
	}
}
