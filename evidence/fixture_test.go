package evidence

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/readiness"
	"github.com/nhi-inventory/nhi/rules"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
	"github.com/nhi-inventory/nhi/scanner/git"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

var (
	alice = harness.Author{Name: "Alice Example", Email: "alice@example.com"}
	bob   = harness.Author{Name: "Bob Example", Email: "bob@example.com"}
	day0  = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
)

// history is an inventory built by real scans (git and CI sources over a
// real repository, judged by the readiness service) on several days, with
// a triage decision between them and a missed schedule.
type history struct {
	store   *inventory.Store
	cat     *rules.Catalogue
	svc     *readiness.Service
	repo    *harness.GitRepo
	secrets []string
	signer  *Signer
	pubPath string
	clock   time.Time
}

func newHistory(t *testing.T) *history {
	t.Helper()
	ctx := context.Background()
	h := newEmptyHistory(t)

	pat, stripe, akid, awsSecret := harness.GitHubPAT(), harness.StripeLiveKey(), harness.AWSAccessKeyID(), harness.AWSSecretAccessKey()
	h.secrets = []string{pat, stripe, awsSecret}
	h.repo = harness.NewGitRepo(t)
	h.repo.Commit(alice, "init", map[string]string{
		"README.md": "# app\n",
		".github/workflows/deploy.yml": "name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n" +
			"      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n" +
			"          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n          aws-region: eu-west-1\n",
		"deploy/config.yml": "name: deploy\ngithub_token: " + pat + "\n",
	})
	h.scan(t, day0)
	h.repo.Commit(bob, "billing", map[string]string{
		"billing/keys.go":   "package billing\n\nconst stripeKey = \"" + stripe + "\"\n",
		"infra/main.tf":     "provider \"aws\" {\n  access_key = \"" + akid + "\"\n  secret_key = \"" + awsSecret + "\"\n}\n",
		"deploy/config.yml": "name: deploy\n",
	})
	h.scan(t, day0.Add(24*time.Hour))
	// Triage on day 2: the token is accepted as a risk for a month, the
	// workflow gets an owner.
	gaps, err := h.store.Gaps(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	var accepted, owned bool
	for _, g := range gaps {
		switch {
		case !accepted && g.ControlID == "NHI-SEC-01" && g.SubjectKind == inventory.SubjectCredential && g.Status == inventory.GapOpen:
			exp := day0.Add(30 * 24 * time.Hour)
			if err := h.svc.Decide(ctx, g, &inventory.Decision{Action: inventory.ActionAcceptRisk, Reason: "rotation scheduled with the vendor",
				Actor: "carol@example.com", At: day0.Add(26 * time.Hour), ExpiresAt: &exp}); err != nil {
				t.Fatal(err)
			}
			accepted = true
		case !owned && g.ControlID == "NHI-OWN-01" && g.SubjectKind == inventory.SubjectIdentity:
			if err := h.svc.Decide(ctx, g, &inventory.Decision{Action: inventory.ActionOwner, Value: "platform-team",
				Reason: "deploys are platform's", Actor: "carol@example.com", At: day0.Add(26 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			owned = true
		}
	}
	if !accepted || !owned {
		t.Fatalf("the history has no secret gap to accept (%v) or owner gap to assign (%v): %d gaps", accepted, owned, len(gaps))
	}
	h.scan(t, day0.Add(48*time.Hour))
	// Days 3 and 4 are missed; day 5 scans again.
	h.scan(t, day0.Add(5*24*time.Hour))
	return h
}

// scan runs a real scan of the repository (git history and CI) at time at.
func (h *history) scan(t *testing.T, at time.Time) {
	t.Helper()
	ctx := context.Background()
	h.clock = at
	w, err := h.store.BeginScan(ctx, "test", "digest-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	repos := &gitrepo.Repos{CacheDir: t.TempDir()}
	sources := []scanner.Source{git.New(h.repo.Dir, repos, git.Options{Workers: 2}), ci.NewRepo(h.repo.Dir, repos, ci.Options{})}
	results, err := scanner.Run(ctx, w, sources, scanner.Options{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	h.clock = at.Add(90 * time.Second)
	if _, err := h.svc.FinishScan(ctx, w, results, at, nil); err != nil {
		t.Fatal(err)
	}
}

func (h *history) options() Options {
	return Options{ToolVersion: "test", Catalogue: h.cat, Signer: h.signer, Interval: 24 * time.Hour}
}

// export writes the package of the whole history.
func (h *history) export(t *testing.T, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Export(context.Background(), h.store, opts, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (h *history) pub(t *testing.T) crypto.PublicKey {
	t.Helper()
	k, err := LoadPublicKey(h.pubPath)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// entry is one file of an archive.
type entry struct {
	name string
	body []byte
}

func unpack(t *testing.T, pkg []byte) []entry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(pkg))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{h.Name, b})
	}
}

func repack(t *testing.T, es []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	// The header nhi writes (level, no time), so only the change made
	// differs.
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	gz.ModTime = time.Unix(0, 0)
	tw := tar.NewWriter(gz)
	for _, e := range es {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Size: int64(len(e.body)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fileOf(t *testing.T, es []entry, name string) []byte {
	t.Helper()
	for _, e := range es {
		if e.name == name {
			return e.body
		}
	}
	t.Fatalf("the package has no %s", name)
	return nil
}
