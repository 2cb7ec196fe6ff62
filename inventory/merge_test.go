package inventory

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShardKeyCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(name string) *Store {
		s, err := Open(ctx, filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		return s
	}
	central := open("central.db")
	b, err := os.ReadFile(filepath.Join(dir, "central.db.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "same.db.key"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	open("same.db")
	open("other.db")
	for name, want := range map[string]bool{"same.db": true, "other.db": false} {
		// The shard's key file is not needed: its recorded check is.
		os.Remove(filepath.Join(dir, name+".key"))
		sh, err := OpenShard(ctx, filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		same, err := sh.SameKey(central.Keys())
		sh.Close()
		if err != nil || same != want {
			t.Errorf("%s: same key %v (%v), want %v", name, same, err, want)
		}
	}
	// A shard of another schema is refused, saying why.
	db, err := sql.Open("sqlite3", filepath.Join(dir, "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenShard(ctx, filepath.Join(dir, "other.db")); err == nil || !strings.Contains(err.Error(), "same nhi version") {
		t.Errorf("another schema: %v", err)
	}
	if _, err := OpenShard(ctx, filepath.Join(dir, "missing.db")); err == nil {
		t.Error("a missing shard opened")
	}
}

func TestAdoptKey(t *testing.T) {
	dir := t.TempDir()
	shard := filepath.Join(dir, "shard.db.key")
	k, err := LoadOrCreateKeyring(shard, true)
	if err != nil {
		t.Fatal(err)
	}
	central := filepath.Join(dir, "central.db")
	if ok, err := AdoptKey(central, shard); !ok || err != nil {
		t.Fatalf("adopt: %v %v", ok, err)
	}
	got, err := LoadOrCreateKeyring(central+".key", false)
	if err != nil || got.Fingerprint("x") != k.Fingerprint("x") {
		t.Fatalf("the central key is not the shard's: %v", err)
	}
	if fi, _ := os.Stat(central + ".key"); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	// An existing key is never replaced.
	if ok, _ := AdoptKey(central, filepath.Join(dir, "nope.key")); ok {
		t.Error("an existing key was replaced")
	}
}
