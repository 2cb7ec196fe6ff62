package evidence

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
	"github.com/nhi-inventory/nhi/scanner/dir"
	"github.com/nhi-inventory/nhi/scanner/git"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// column returns the values of the named column of a CSV (header first).
func column(t *testing.T, recs [][]string, name string) []string {
	t.Helper()
	i := slices.Index(recs[0], name)
	if i < 0 {
		t.Fatalf("no column %s in %v", name, recs[0])
	}
	var out []string
	for _, r := range recs[1:] {
		out = append(out, r[i])
	}
	return out
}

// TestScopeRestrictsThePackage: an inventory of two repositories (git
// history and CI), a plain directory, over three days (the last reading
// only the first repository), exported restricted to the first
// repository's targets, holds only its identities, its credentials (the
// secret it shares with the other repository too), their gaps and
// decisions, control rows that count only their gaps, and the scan
// outcomes of its targets; the manifest states the restriction, the
// package verifies, the OSCAL documents still validate, and a target no
// scan covered is refused with the known targets listed.
func TestScopeRestrictsThePackage(t *testing.T) {
	h := newEmptyHistory(t)
	ctx := context.Background()
	patA, patB, shared, dirPAT := harness.GitHubPAT(), harness.GitHubPAT(), harness.StripeLiveKey(), harness.GitHubPAT()
	a, b := harness.NewGitRepo(t), harness.NewGitRepo(t)
	a.Commit(alice, "init", map[string]string{
		"deploy/config.yml": "github_token: " + patA + "\n",
		"billing/keys.go":   "package billing\n\nconst stripeKey = \"" + shared + "\"\n",
		".github/workflows/deploy.yml": "name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n" +
			"      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n" +
			"          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n          aws-region: eu-west-1\n",
	})
	b.Commit(bob, "init", map[string]string{
		"ops/token.txt":  "token: " + patB + "\n",
		"pay/stripe.env": "STRIPE_KEY=" + shared + "\n",
	})
	plain := t.TempDir()
	if err := os.WriteFile(filepath.Join(plain, "notes.txt"), []byte("github "+dirPAT+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repos := &gitrepo.Repos{CacheDir: t.TempDir()}
	all := func() []scanner.Source {
		return []scanner.Source{git.New(a.Dir, repos, git.Options{Workers: 2}), ci.NewRepo(a.Dir, repos, ci.Options{}),
			git.New(b.Dir, repos, git.Options{Workers: 2}), dir.New(plain, dir.Options{})}
	}
	h.scanWith(t, day0, all()...)
	b.Commit(bob, "more", map[string]string{"ops/more.txt": "again " + patB + "\n"})
	h.scanWith(t, day0.Add(24*time.Hour), all()...)
	// Triage: a risk accepted on each repository's token.
	gaps, err := h.store.Gaps(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	fp := func(s string) string { return "fp:" + h.store.Keys().Fingerprint(s) }
	decided := map[string]bool{}
	exp := day0.Add(30 * 24 * time.Hour)
	for _, g := range gaps {
		if g.ControlID != "NHI-SEC-01" || g.Status != inventory.GapOpen || decided[g.SubjectKey] || (g.SubjectKey != fp(patA) && g.SubjectKey != fp(patB)) {
			continue
		}
		decided[g.SubjectKey] = true
		if err := h.svc.Decide(ctx, g, &inventory.Decision{Action: inventory.ActionAcceptRisk, Reason: "reason for " + g.SubjectKey[:12],
			Actor: "carol@example.com", At: day0.Add(26 * time.Hour), ExpiresAt: &exp}); err != nil {
			t.Fatal(err)
		}
	}
	if len(decided) != 2 {
		t.Fatalf("no secret gap on both tokens to accept: %v", decided)
	}
	h.scanWith(t, day0.Add(48*time.Hour), git.New(a.Dir, repos, git.Options{Workers: 2}), ci.NewRepo(a.Dir, repos, ci.Options{}))

	gitA, ciA := "git:"+repoID(t, a.Dir), "ci:"+repoID(t, a.Dir)
	opts := h.options()
	opts.Scope = []string{ciA, gitA}
	pkg := h.export(t, opts)
	v, err := Verify(bytes.NewReader(pkg), h.pub(t))
	if err != nil {
		t.Fatalf("the restricted package does not verify: %v\n%+v", err, v.Checks)
	}
	es := unpack(t, pkg)
	m := manifestOf(t, es)
	want := []string{ciA, gitA}
	slices.Sort(want)
	if m.RestrictedTo == nil || !slices.Equal(m.RestrictedTo.Targets, want) {
		t.Fatalf("restricted_to %+v, want %v", m.RestrictedTo, want)
	}
	var scoped []string
	for _, s := range m.Scope {
		scoped = append(scoped, s.Target)
	}
	if !slices.Equal(scoped, want) {
		t.Errorf("manifest scope %v, want %v", scoped, want)
	}
	for _, s := range m.Scans {
		for _, tr := range s.Targets {
			if !slices.Contains(want, tr.Target) {
				t.Errorf("scan %d lists target %s", s.ID, tr.Target)
			}
		}
		for _, src := range s.Sources {
			if !strings.HasSuffix(src.Name, repoID(t, a.Dir)) {
				t.Errorf("scan %d lists source %s", s.ID, src.Name)
			}
		}
		if len(s.Sources) != 2 {
			t.Errorf("scan %d lists %d sources, want the 2 of the repository", s.ID, len(s.Sources))
		}
	}

	if !slices.ContainsFunc(v.Checks, func(c Check) bool { return c.Name == "restriction" && c.OK && strings.Contains(c.Detail, gitA) }) {
		t.Errorf("verify made no restriction check: %+v", v.Checks)
	}
	// A manifest re-signed with a target outside its restriction.
	forged := h.resignWith(t, es, nil, func(m *Manifest) {
		m.Scans[0].Targets = append(m.Scans[0].Targets, TargetRef{Target: "git:" + repoID(t, b.Dir), Status: inventory.TargetOK})
	})
	if v, err := Verify(bytes.NewReader(forged), h.pub(t)); err == nil || !strings.HasPrefix(v.Reason, "restriction: the package is restricted to ") ||
		!strings.Contains(v.Reason, "scan 1 lists git:"+repoID(t, b.Dir)) {
		t.Errorf("a target outside the restriction: %v", err)
	}

	creds := readCSV(t, fileOf(t, es, "credentials.csv"))
	ids := column(t, creds, "id")
	for _, c := range []struct {
		name, key string
		in        bool
	}{{"A's token", fp(patA), true}, {"the key A shares with B", fp(shared), true}, {"B's token", fp(patB), false}, {"the directory's token", fp(dirPAT), false}} {
		if slices.Contains(ids, c.key) != c.in {
			t.Errorf("%s in credentials.csv: %v, want %v (%v)", c.name, !c.in, c.in, ids)
		}
	}
	identities := readCSV(t, fileOf(t, es, "identities.csv"))
	for _, tg := range column(t, identities, "target") {
		if !slices.Contains(want, tg) {
			t.Errorf("identities.csv holds an identity of %s", tg)
		}
	}
	if len(identities) < 2 {
		t.Errorf("identities.csv holds no identity of the repository (its CI workflow)")
	}
	subjects := append(append([]string(nil), ids...), column(t, identities, "id")...)
	gapRecs := readCSV(t, fileOf(t, es, "gaps.csv"))
	gapSubjects := column(t, gapRecs, "subject_id")
	for _, s := range gapSubjects {
		if !slices.Contains(subjects, s) {
			t.Errorf("gaps.csv holds a gap of %s, which is not in the package's inventory", s)
		}
	}
	if !slices.Contains(gapSubjects, fp(patA)) || slices.Contains(gapSubjects, fp(patB)) {
		t.Errorf("gaps.csv: A's token %v (want it), B's %v (want not)", slices.Contains(gapSubjects, fp(patA)), slices.Contains(gapSubjects, fp(patB)))
	}
	decisions := readCSV(t, fileOf(t, es, "decisions.csv"))
	if got := column(t, decisions, "subject_id"); !slices.Equal(got, []string{fp(patA)}) {
		t.Errorf("decisions.csv subjects %v, want only A's token's", got)
	}
	// Control rows: evaluated and passing are not known per target;
	// failing is the scope's unresolved gaps, as gaps.csv shows them at
	// the end.
	controls := readCSV(t, fileOf(t, es, "controls.csv"))
	unresolved := map[string]int{}
	for i, st := range column(t, gapRecs, "status") {
		if st != inventory.GapResolved {
			unresolved[column(t, gapRecs, "control_id")[i]]++
		}
	}
	last := map[string]string{}
	for _, r := range controls[1:] {
		if r[6] != "" || r[7] != "" {
			t.Fatalf("a restricted controls.csv row has evaluated/passing %q/%q: %v", r[6], r[7], r)
		}
		if r[0] == "3" {
			last[r[3]] = r[8]
		}
	}
	if unresolved["NHI-SEC-01"] < 2 {
		t.Fatalf("the scope has %d unresolved NHI-SEC-01 gaps, want A's token and the shared key", unresolved["NHI-SEC-01"])
	}
	for c, n := range unresolved {
		if last[c] != itoa(int64(n)) {
			t.Errorf("controls.csv scan 3 %s failing %q, gaps.csv has %d unresolved", c, last[c], n)
		}
	}
	for _, n := range []string{"oscal/assessment-results.json", "oscal/poam.json"} {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(fileOf(t, es, n)))
		if err != nil {
			t.Fatal(err)
		}
		if err := oscalSchema(t).Validate(inst); err != nil {
			t.Errorf("restricted %s does not validate: %v", n, err)
		}
	}

	// The whole package holds B's token and the directory's, and counts.
	whole := unpack(t, h.export(t, h.options()))
	wids := column(t, readCSV(t, fileOf(t, whole, "credentials.csv")), "id")
	if !slices.Contains(wids, fp(patB)) || !slices.Contains(wids, fp(dirPAT)) || manifestOf(t, whole).RestrictedTo != nil {
		t.Errorf("the unrestricted package lacks B's or the directory's token, or says it is restricted")
	}
	if r := readCSV(t, fileOf(t, whole, "controls.csv")); r[1][6] == "" {
		t.Errorf("the unrestricted controls.csv has no evaluated count: %v", r[1])
	}

	// A target no scan covered.
	opts.Scope = []string{gitA, "git:/no/such/repo"}
	_, err = Export(ctx, h.store, opts, &bytes.Buffer{})
	if !errors.Is(err, ErrUnknownTarget) || !strings.Contains(err.Error(), "git:/no/such/repo") || !strings.Contains(err.Error(), "dir:"+plain) {
		t.Errorf("unknown target: %v; want ErrUnknownTarget naming it and listing the known targets", err)
	}
}
