package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"crypto"
)

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func manifestOf(t *testing.T, es []entry) *Manifest {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(fileOf(t, es, ManifestName), &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestExportOfDatedHistoryVerifies(t *testing.T) {
	h := newHistory(t)
	pkg := h.export(t, h.options())
	v, err := Verify(bytes.NewReader(pkg), h.pub(t))
	if err != nil {
		t.Fatalf("a fresh package does not verify: %v\n%+v", err, v.Checks)
	}
	for _, want := range []string{"format", "signature", "signed files", "file digests", "ledger chain", "manifest scans", "period"} {
		found := false
		for _, c := range v.Checks {
			found = found || (c.Name == want && c.OK)
		}
		if !found {
			t.Errorf("check %q was not made: %+v", want, v.Checks)
		}
	}
	es := unpack(t, pkg)
	if es[0].name != ManifestName || es[len(es)-1].name != BundleName {
		t.Errorf("archive order: first %s, last %s", es[0].name, es[len(es)-1].name)
	}
	m := manifestOf(t, es)
	if len(m.Scans) != 4 || m.Completeness.Complete != 4 || m.InventoryScan != 4 {
		t.Errorf("scans: %d (%d complete), inventory of %d; want 4, 4, 4", len(m.Scans), m.Completeness.Complete, m.InventoryScan)
	}
	if !m.Period.Since.Equal(day0) || !m.Period.AsOf.Equal(day0.Add(5*24*time.Hour+90*time.Second)) {
		t.Errorf("period %+v: want since %s and as of the last scan's end", m.Period, day0)
	}
	// Day 2 to day 5 without a scan: one schedule gap of 72 hours.
	if g := m.Completeness.ScheduleGaps; len(g) != 1 || g[0].Hours != 72 || g[0].AfterScan != 3 || g[0].BeforeScan != 4 {
		t.Errorf("schedule gaps %+v: want one of 72 h between scans 3 and 4", g)
	}
	if !m.Completeness.ChainVerified || !m.Ledger.Genesis {
		t.Errorf("ledger: %+v, chain verified %v", m.Ledger, m.Completeness.ChainVerified)
	}
	fams := map[string]bool{}
	for _, s := range m.Scope {
		fams[s.Family] = s.OK == 4
	}
	if !fams["git"] || !fams["ci"] {
		t.Errorf("scope %+v: want the repository's git and CI targets read in full 4 times", m.Scope)
	}

	// The per-control time series: every enabled control in every scan.
	controls := readCSV(t, fileOf(t, es, "controls.csv"))
	enabled := 0
	for _, c := range h.cat.Controls {
		if c.Enabled {
			enabled++
		}
	}
	if len(controls)-1 != 4*enabled {
		t.Errorf("controls.csv has %d rows, want %d controls x 4 scans", len(controls)-1, enabled)
	}
	head := strings.Join(controls[0], ",")
	for _, col := range []string{"scan_id", "control_id", "evaluated", "passing", "failing", "unresolved_high", "soc2", "nist_csf", "owasp_nhi"} {
		if !strings.Contains(head, col) {
			t.Errorf("controls.csv has no %s column: %s", col, head)
		}
	}
	// NHI-SEC-01 fails more after day 2's commit than after day 1's.
	failing := map[string]string{}
	for _, r := range controls[1:] {
		if r[3] == "NHI-SEC-01" {
			failing[r[0]] = r[8]
		}
	}
	if failing["1"] == "" || failing["1"] == failing["2"] {
		t.Errorf("NHI-SEC-01 failing per scan %v: want it to grow after the second commit", failing)
	}

	// The lifecycle: gaps opened by scans, one accepted with who and why;
	// the owner decision resolved the workflow's owner gap.
	events := string(fileOf(t, es, "gap-events.csv"))
	for _, want := range []string{",opened,1,", ",accepted,,", "carol@example.com,rotation scheduled with the vendor,2026-04-01T09:00:00Z", ",resolved,3,"} {
		if !strings.Contains(events, want) {
			t.Errorf("gap-events.csv has no %q:\n%s", want, events)
		}
	}
	gaps := string(fileOf(t, es, "gaps.csv"))
	if !strings.Contains(gaps, ",accepted,") || !strings.Contains(gaps, "accept-risk,carol@example.com") {
		t.Errorf("gaps.csv shows no accepted gap with its decision:\n%s", gaps)
	}
	decisions := readCSV(t, fileOf(t, es, "decisions.csv"))
	if len(decisions) != 3 {
		t.Errorf("decisions.csv: %d rows, want the 2 decisions", len(decisions)-1)
	}
	creds := readCSV(t, fileOf(t, es, "credentials.csv"))
	if len(creds) < 4 {
		t.Errorf("credentials.csv: %d rows, want the token, the Stripe key and the AWS key pair", len(creds)-1)
	}
	ids := readCSV(t, fileOf(t, es, "identities.csv"))
	if len(ids) < 2 || !strings.Contains(string(fileOf(t, es, "identities.csv")), "platform-team") {
		t.Errorf("identities.csv: want the workflow with its assigned owner:\n%s", fileOf(t, es, "identities.csv"))
	}
	ledger := strings.Split(strings.TrimSpace(string(fileOf(t, es, "ledger.jsonl"))), "\n")
	if len(ledger) != 4 {
		t.Errorf("ledger.jsonl: %d rows, want 4", len(ledger))
	}
}

// The signature is checked here with sigstore-go's verifier directly, as a
// third party would, not through nhi's Verify: the bundle, the public key
// and each file's digest as the artifact.
func TestSigstoreVerifierAcceptsEveryFile(t *testing.T) {
	h := newHistory(t)
	es := unpack(t, h.export(t, h.options()))
	var b bundle.Bundle
	if err := b.UnmarshalJSON(fileOf(t, es, BundleName)); err != nil {
		t.Fatal(err)
	}
	pub := h.pub(t)
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(v, time.Time{}, time.Time{}), nil
	})
	ver, err := verify.NewSignedEntityVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.name == BundleName {
			continue
		}
		res, err := ver.Verify(&b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(e.body)), verify.WithKey()))
		if err != nil {
			t.Errorf("%s: sigstore-go refuses it: %v", e.name, err)
			continue
		}
		if res.Statement.GetPredicateType() != PredicateType {
			t.Errorf("predicate type %s", res.Statement.GetPredicateType())
		}
	}
	// A changed file is not covered by the signature.
	changed := append([]byte(nil), fileOf(t, es, "credentials.csv")...)
	changed[len(changed)/2] ^= 1
	if _, err := ver.Verify(&b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(changed)), verify.WithKey())); err == nil {
		t.Error("sigstore-go accepts a changed credentials.csv")
	}
	// Another key does not verify it.
	dir := t.TempDir()
	if err := Keygen(filepath.Join(dir, "o.key"), filepath.Join(dir, "o.pub")); err != nil {
		t.Fatal(err)
	}
	other, _ := LoadPublicKey(filepath.Join(dir, "o.pub"))
	ov, _ := signature.LoadVerifier(other, crypto.SHA256)
	otm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(ov, time.Time{}, time.Time{}), nil
	})
	over, _ := verify.NewSignedEntityVerifier(otm, verify.WithNoObserverTimestamps())
	if _, err := over.Verify(&b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(fileOf(t, es, ManifestName))), verify.WithKey())); err == nil {
		t.Error("sigstore-go accepts the bundle with another key")
	}
}

func TestTamperedPackagesFailWithTheReason(t *testing.T) {
	h := newHistory(t)
	pkg := h.export(t, h.options())
	es := unpack(t, pkg)
	edit := func(name string, f func([]byte) []byte) []entry {
		out := make([]entry, 0, len(es))
		for _, e := range es {
			if e.name == name {
				e.body = f(append([]byte(nil), e.body...))
			}
			out = append(out, e)
		}
		return out
	}
	without := func(name string) []entry {
		var out []entry
		for _, e := range es {
			if e.name != name {
				out = append(out, e)
			}
		}
		return out
	}
	// resign rewrites the manifest's digest of a changed file and signs
	// again with the same key: what an insider holding the key could do.
	resign := func(changed []entry, name string) []entry {
		var m Manifest
		if err := json.Unmarshal(fileOf(t, changed, ManifestName), &m); err != nil {
			t.Fatal(err)
		}
		body := fileOf(t, changed, name)
		sum := sha256.Sum256(body)
		for i := range m.Files {
			if m.Files[i].Name == name {
				m.Files[i].SHA256, m.Files[i].Size = hex.EncodeToString(sum[:]), int64(len(body))
			}
		}
		mb, _ := json.MarshalIndent(&m, "", "  ")
		bb, err := h.signer.sign(context.Background(), &m, mb)
		if err != nil {
			t.Fatal(err)
		}
		var out []entry
		for _, e := range changed {
			switch e.name {
			case ManifestName:
				e.body = mb
			case BundleName:
				e.body = bb
			}
			out = append(out, e)
		}
		return out
	}
	flipped := append([]byte(nil), pkg...)
	flipped[len(flipped)/2] ^= 0x20
	editedLedger := edit("ledger.jsonl", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"status":"complete","tool_version":"test"`), []byte(`"status":"complete","tool_version":"tEst"`), 1)
	})
	dir := t.TempDir()
	if err := Keygen(filepath.Join(dir, "o.key"), filepath.Join(dir, "o.pub")); err != nil {
		t.Fatal(err)
	}
	other, _ := LoadPublicKey(filepath.Join(dir, "o.pub"))

	for _, c := range []struct {
		name   string
		pkg    []byte
		key    crypto.PublicKey
		reason string
	}{
		{"one byte of a CSV", repack(t, edit("credentials.csv", func(b []byte) []byte { b[len(b)/2] ^= 1; return b })), nil,
			"signed files: credentials.csv has SHA-256 "},
		{"a file removed", repack(t, without("gaps.csv")), nil, "signed files: gaps.csv is in the signed statement but not in the archive (a file was removed)"},
		{"a file added", repack(t, append(append([]entry(nil), es...), entry{"extra.csv", []byte("a,b\n")})), nil,
			"signed files: extra.csv is in the archive but not in the signed statement (a file was added)"},
		{"manifest changed", repack(t, edit(ManifestName, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"tool_version": "test"`), []byte(`"tool_version": "tesT"`), 1)
		})), nil,
			"signature: attestation.sigstore.json does not verify with this key"},
		{"a scan row edited in the chain, manifest re-signed", repack(t, resign(editedLedger, "ledger.jsonl")), nil,
			"ledger chain: scan 1's fields hash to "},
		{"the wrong key", pkg, other, "signature: attestation.sigstore.json does not verify with this key"},
		{"unsigned", repack(t, without(BundleName)), nil, "signature: the package is not signed"},
		{"one byte of the archive", flipped, nil, "archive: "},
		{"the gzip header's time (outside the CRC)", func() []byte { b := append([]byte(nil), pkg...); b[5] = 1; return b }(), nil, "archive: the gzip header is "},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := c.key
			if key == nil {
				key = h.pub(t)
			}
			v, err := Verify(bytes.NewReader(c.pkg), key)
			if err == nil || v.OK {
				t.Fatalf("verifies: %+v", v.Checks)
			}
			if !strings.HasPrefix(v.Reason, c.reason) {
				t.Errorf("reason %q, want it to start %q", v.Reason, c.reason)
			}
			if !strings.Contains(err.Error(), v.Reason) {
				t.Errorf("error %q does not carry the reason", err)
			}
		})
	}
}

// A scan row edited in the inventory itself is caught at export (the
// manifest says the chain is broken) and by Verify from the package.
func TestEditedInventoryLedgerFailsVerification(t *testing.T) {
	h := newHistory(t)
	if _, err := h.store.DB().Exec(`UPDATE scans SET counts = '{"credentials_total":0}' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	pkg := h.export(t, h.options())
	m := manifestOf(t, unpack(t, pkg))
	if m.Completeness.ChainVerified {
		t.Error("the manifest says the chain verified")
	}
	v, err := Verify(bytes.NewReader(pkg), h.pub(t))
	if err == nil {
		t.Fatal("a package of an edited ledger verifies")
	}
	if !strings.HasPrefix(v.Reason, "ledger chain: scan 2's fields hash to ") {
		t.Errorf("reason %q", v.Reason)
	}
}

func TestExportIsDeterministic(t *testing.T) {
	h := newHistory(t)
	a, b := unpack(t, h.export(t, h.options())), unpack(t, h.export(t, h.options()))
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].name != b[i].name {
			t.Fatalf("file %d: %s, then %s", i, a[i].name, b[i].name)
		}
		if a[i].name == BundleName {
			continue // ECDSA signatures are randomised
		}
		if !bytes.Equal(a[i].body, b[i].body) {
			t.Errorf("%s differs between two exports of the same period", a[i].name)
		}
	}
}

func TestPeriodSelectsScans(t *testing.T) {
	h := newHistory(t)
	opts := h.options()
	opts.Since, opts.Until = day0.Add(24*time.Hour), day0.Add(72*time.Hour)
	pkg := h.export(t, opts)
	if _, err := Verify(bytes.NewReader(pkg), h.pub(t)); err != nil {
		t.Fatal(err)
	}
	es := unpack(t, pkg)
	m := manifestOf(t, es)
	if len(m.Scans) != 2 || m.Scans[0].ID != 2 || m.InventoryScan != 3 || m.Ledger.Genesis {
		t.Errorf("scans %+v, inventory %d, ledger %+v: want scans 2 and 3, anchored to scan 1", m.Scans, m.InventoryScan, m.Ledger)
	}
	for _, r := range readCSV(t, fileOf(t, es, "controls.csv"))[1:] {
		if r[0] != "2" && r[0] != "3" {
			t.Fatalf("controls.csv holds scan %s", r[0])
		}
	}
	opts.Since, opts.Until = day0.Add(72*time.Hour), day0.Add(96*time.Hour)
	if _, err := Export(context.Background(), h.store, opts, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no complete scan in the period") {
		t.Errorf("an empty period: %v", err)
	}
}

func TestNoSecretInThePackage(t *testing.T) {
	h := newHistory(t)
	pkg := h.export(t, h.options())
	es := unpack(t, pkg)
	for _, s := range h.secrets {
		if bytes.Contains(pkg, []byte(s)) {
			t.Errorf("the archive holds a planted secret")
		}
		for _, e := range es {
			if bytes.Contains(e.body, []byte(s)) || bytes.Contains(e.body, []byte(s[:len(s)-4])) {
				t.Errorf("%s holds a planted secret (or most of one)", e.name)
			}
		}
	}
	// The secrets were found: the grep is not vacuous.
	if n := len(readCSV(t, fileOf(t, es, "credentials.csv"))) - 1; n < 3 {
		t.Fatalf("only %d credentials: the planted secrets were not found", n)
	}
}

// Decisions have their own times: an acceptance that expires, and one
// revoked, inside the period are lifecycle events; after it they are not.
func TestDecisionEventsFollowThePeriod(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	var accept int64
	if err := h.store.EachDecision(ctx, time.Now().Add(time.Hour), nil, func(d inventory.Decision) error {
		if d.Action == inventory.ActionAcceptRisk {
			accept = d.ID
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Revoke(ctx, accept, "dave@example.com"); err != nil { // revoked now, on the wall clock
		t.Fatal(err)
	}
	events := func(until time.Time) string {
		opts := h.options()
		opts.Until = until
		return string(fileOf(t, unpack(t, h.export(t, opts)), "gap-events.csv"))
	}
	// The whole history: the revocation is after it, so the acceptance
	// still reads as in force and its expiry (1 April) is later too.
	if ev := events(time.Time{}); strings.Contains(ev, "decision-revoked") || strings.Contains(ev, "acceptance-expired") {
		t.Errorf("events after the period are in it:\n%s", ev)
	}
	// ... and the gap is accepted at the period's end, by carol, as the
	// package written before the revocation said.
	gaps := string(fileOf(t, unpack(t, h.export(t, h.options())), "gaps.csv"))
	if !strings.Contains(gaps, ",accepted,") || !strings.Contains(gaps, "accept-risk,carol@example.com") {
		t.Errorf("a later revocation rewrote the period's gap status:\n%s", gaps)
	}
	// To the end of May: the expiry is in the period, the revocation not.
	if ev := events(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)); !strings.Contains(ev, "2026-04-01T09:00:00Z,acceptance-expired") || strings.Contains(ev, "decision-revoked") {
		t.Errorf("to June: want the expiry and not the revocation:\n%s", ev)
	}
	// Up to tomorrow: the revocation is in, by who revoked it.
	if ev := events(time.Now().Add(24 * time.Hour)); !strings.Contains(ev, "decision-revoked") || !strings.Contains(ev, "dave@example.com") {
		t.Errorf("to tomorrow: want the revocation by dave:\n%s", ev)
	}
}
