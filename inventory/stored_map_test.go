package inventory

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// TestDamagedObjectColumnIsAnError: the JSON object columns (a
// credential's or identity's attrs, an occurrence's detail) that no longer
// decode fail the read naming the row and column; before, they read as no
// facts at all, and a damaged inventory looked like a clean one.
func TestDamagedObjectColumnIsAnError(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	w, err := s.BeginScan(ctx, "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	writeSome(t, w, 1)
	if _, err := w.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	creds, err := s.Credentials(ctx, 1)
	if err != nil || len(creds) != 1 || len(creds[0].Occurrences) != 1 {
		t.Fatalf("intact inventory: %v %+v", err, creds)
	}
	if _, err := s.Identities(ctx, 1); err != nil {
		t.Fatalf("intact inventory: %v", err)
	}
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, c := range []struct {
		damage, repair, want string
		read                 func() error
	}{
		{`UPDATE credentials SET attrs = '{"x": '`, `UPDATE credentials SET attrs = '{}'`, ": attrs holds invalid JSON",
			func() error { _, err := s.Credentials(ctx, 1); return err }},
		{`UPDATE occurrences SET detail = '[1'`, `UPDATE occurrences SET detail = '{}'`, "occurrence of credential",
			func() error { _, err := s.Credentials(ctx, 1); return err }},
		{`UPDATE identities SET attrs = 'nope'`, `UPDATE identities SET attrs = '{}'`, "identity arn:aws:iam::1:user/ci: attrs holds invalid JSON",
			func() error { _, err := s.Identities(ctx, 1); return err }},
	} {
		if _, err := raw.Exec(c.damage); err != nil {
			t.Fatal(err)
		}
		if err := c.read(); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("%s: %v, want an error with %q", c.damage, err, c.want)
		}
		if _, err := raw.Exec(c.repair); err != nil {
			t.Fatal(err)
		}
		if err := c.read(); err != nil {
			t.Errorf("after %s: %v", c.repair, err)
		}
	}
}
