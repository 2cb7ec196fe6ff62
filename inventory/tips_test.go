package inventory

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestTipsFollowTheScope: the tips a git source records stay in its scan
// only when the scan read the repository; an unchanged re-scan that is
// given no tips carries those of the scan that recorded the refs; a
// failed source's tips and a carried target's are gone.
func TestTipsFollowTheScope(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	tips := []Tip{{Ref: "refs/heads/main", Commit: "c1"}, {Ref: "refs/tags/v1", Commit: "c0"}}
	result := func(repo, status string) SourceResult {
		return SourceResult{Name: "git:" + repo, Kind: SourceGit, Target: repo, Status: status, StartedAt: time.Now(), FinishedAt: time.Now()}
	}
	scan := func(do func(w *ScanWriter), results ...SourceResult) int64 {
		t.Helper()
		w, err := s.BeginScan(ctx, "t", "d", 0)
		if err != nil {
			t.Fatal(err)
		}
		do(w)
		for _, r := range results {
			if err := w.RecordSource(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.ApplyScope(ctx, results); err != nil {
			t.Fatal(err)
		}
		sc, err := w.Finish(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sc.ID
	}
	// Scan 1 reads both repositories; scan 2 carries "a" unchanged and
	// fails on "b" after recording its tips; scan 3 leaves "b" out.
	s1 := scan(func(w *ScanWriter) {
		for _, r := range []string{"a", "b"} {
			if err := w.MarkRepoScanned(ctx, r, "dg", RepoHistory{Refs: "refs-1", Tips: tips}, []string{"c0", "c1"}); err != nil {
				t.Fatal(err)
			}
		}
	}, result("a", SourceOK), result("b", SourceOK))
	s2 := scan(func(w *ScanWriter) {
		r, ok, err := w.RepoRefs(ctx, "a", "dg")
		if err != nil || !ok || !r.HasTips || r.Scan != s1 {
			t.Fatalf("recorded refs of a: %+v %v %v; want those of scan %d with tips", r, ok, err, s1)
		}
		if err := w.CarryRepo(ctx, "a", "dg", r, nil); err != nil {
			t.Fatal(err)
		}
		if err := w.MarkRepoScanned(ctx, "b", "dg", RepoHistory{Refs: "refs-2", Tips: tips}, []string{"c0", "c1"}); err != nil {
			t.Fatal(err)
		}
	}, result("a", SourceOK), result("b", SourceFailed))
	s3 := scan(func(w *ScanWriter) {
		if err := w.MarkRepoScanned(ctx, "a", "dg", RepoHistory{Refs: "refs-3", Tips: tips[:1]}, []string{"c0", "c1", "c2"}); err != nil {
			t.Fatal(err)
		}
	}, result("a", SourceOK))
	got, err := s.TipsBetween(ctx, s1, s3)
	if err != nil {
		t.Fatal(err)
	}
	want := ScanTips{
		s1: {"git:a": tips, "git:b": tips},
		s2: {"git:a": tips},
		s3: {"git:a": tips[:1]},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tips %+v\nwant %+v", got, want)
	}
}

// TestMergeFoldsTips: a merged scan holds the tips its shards' scans
// recorded, for the targets the merge covered.
func TestMergeFoldsTips(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tips := []Tip{{Ref: "refs/heads/main", Commit: "c9"}}
	shard, err := Open(ctx, filepath.Join(dir, "shard.db"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := shard.BeginScan(ctx, "t", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.MarkRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "refs-1", Tips: tips}, []string{"c9"}); err != nil {
		t.Fatal(err)
	}
	res := SourceResult{Name: "git:repo", Kind: SourceGit, Target: "repo", Status: SourceOK, StartedAt: time.Now(), FinishedAt: time.Now()}
	w.RecordSource(ctx, res)
	if _, err := w.ApplyScope(ctx, []SourceResult{res}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	shard.Close()
	b, err := os.ReadFile(filepath.Join(dir, "shard.db.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "central.db.key"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	central, err := Open(ctx, filepath.Join(dir, "central.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer central.Close()
	sh, err := OpenShard(ctx, filepath.Join(dir, "shard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	cw, err := central.BeginScan(ctx, "t", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	for pass := 0; pass < 3; pass++ {
		if _, err := sh.Fold(ctx, cw, pass); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cw.ApplyScope(ctx, []SourceResult{res}); err != nil {
		t.Fatal(err)
	}
	sc, err := cw.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := central.TipsBetween(ctx, sc.ID, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ScanTips{sc.ID: {"git:repo": tips}}); !reflect.DeepEqual(got, want) {
		t.Errorf("merged tips %+v, want %+v", got, want)
	}
}
