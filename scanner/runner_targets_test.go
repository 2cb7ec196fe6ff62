package scanner

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nhi-inventory/nhi/inventory"
)

// fakeSource writes one identity, covering targets around it as told.
type fakeSource struct {
	name          string
	before, after string // targets covered before and after the write ("" none)
	unit          string // a unit error after the write
	fail          bool
}

func (f *fakeSource) Name() string   { return f.name }
func (f *fakeSource) Kind() string   { return "aws" }
func (f *fakeSource) Target() string { return "profile:" + f.name }
func (f *fakeSource) Scan(ctx context.Context, sink Sink) error {
	if f.before != "" {
		sink.Cover(f.before)
	}
	if err := sink.Identity(ctx, &inventory.Identity{Key: "id:" + f.name, Kind: inventory.KindIAMUser, Name: f.name, Source: "aws", Unit: "arn:" + f.name}); err != nil {
		return err
	}
	if f.after != "" {
		sink.Cover(f.after)
	}
	if f.unit != "" {
		sink.UnitError(f.unit, errors.New("AccessDenied"))
	}
	if f.fail {
		return errors.New("endpoint down")
	}
	return nil
}

func TestRunnerTargets(t *testing.T) {
	ctx := context.Background()
	store, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w, err := store.BeginScan(ctx, "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	srcs := []Source{
		// Learns its account first: the profile gives way to it.
		&fakeSource{name: "a", before: "aws:111111111111"},
		// Writes under its default, then covers another target.
		&fakeSource{name: "b", after: "aws:222222222222", unit: "arn:x"},
		// Never learns: keeps its default, and fails.
		&fakeSource{name: "c", fail: true},
	}
	res, err := Run(ctx, w, srcs, Options{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"aws:111111111111"}, {"aws:profile:b", "aws:222222222222"}, {"aws:profile:c"}}
	for i, r := range res {
		if !reflect.DeepEqual(r.Targets, want[i]) {
			t.Errorf("source %s covered %v, want %v", r.Name, r.Targets, want[i])
		}
	}
	if ie := res[1].ItemErrors; len(ie) != 1 || ie[0].Unit != "arn:x" || ie[0].Target != "aws:222222222222" {
		t.Errorf("unit error %+v, want unit arn:x of aws:222222222222", ie)
	}
	if res[2].Status != inventory.SourceFailed || res[0].Status != inventory.SourceOK {
		t.Errorf("statuses %s %s", res[0].Status, res[2].Status)
	}
	if err := w.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := store.Identities(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, i := range ids {
		got[i.Identity.Key] = i.Identity.Target
	}
	if got["id:a"] != "aws:111111111111" || got["id:b"] != "aws:profile:b" || got["id:c"] != "aws:profile:c" {
		t.Errorf("rows stamped %v", got)
	}
}
