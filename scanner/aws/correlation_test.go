package aws

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner/git"
)

// gitleaksAWSID is the shape gitleaks' aws-access-token rule detects;
// moto's random part may hold digits outside base32.
var gitleaksAWSID = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)

func TestAccessKeyInGitCorrelatesWithIAM(t *testing.T) {
	motoEnv(t)
	c := adminClient(t)
	ctx := context.Background()
	s := awssdk.String
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: s("leaky-bot"), Tags: []types.Tag{{Key: s("owner"), Value: s("payments")}}}); err != nil {
		t.Fatal(err)
	}
	var keyID string
	for i := 0; i < 50 && keyID == ""; i++ {
		k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: s("leaky-bot")})
		if err != nil {
			t.Fatal(err)
		}
		id := awssdk.ToString(k.AccessKey.AccessKeyId)
		if gitleaksAWSID.MatchString(id) {
			keyID = id
			break
		}
		if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: s("leaky-bot"), AccessKeyId: s(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if keyID == "" {
		t.Fatal("moto gave no key id of the detectable shape in 50 tries")
	}

	repo := t.TempDir()
	gitRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
			"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitRun("init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(repo, "deploy.env"), []byte("AWS_REGION=us-east-1\nAWS_ACCESS_KEY_ID="+keyID+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun("add", "deploy.env")
	gitRun("commit", "-q", "-m", "add deploy config")

	res := runScan(t, filepath.Join(t.TempDir(), "nhi.db"), git.New(repo, nil, git.Options{}), NewLive(LiveOptions{}))
	for _, r := range res.results {
		if r.Status != inventory.SourceOK {
			t.Fatalf("%s: %s %q", r.Name, r.Status, r.Error)
		}
	}
	// One credential row, joined in SQL: where it leaked, and its IAM status, owner and age.
	var (
		n                                        int
		typ, status, owner, identityKey, created string
		sources                                  string
	)
	err := res.store.DB().QueryRow(`SELECT count(DISTINCT o.id), c.type, c.status, COALESCE(i.owner,''), COALESCE(i.key,''),
		COALESCE(c.created_at,''), group_concat(DISTINCT o.source)
		FROM credentials c LEFT JOIN identities i ON i.id = c.identity_id JOIN occurrences o ON o.credential_id = c.id
		WHERE c.key = ? GROUP BY c.id`, inventory.AccessKeyCredentialKey(keyID)).Scan(&n, &typ, &status, &owner, &identityKey, &created, &sources)
	if err != nil {
		t.Fatalf("credential %s: %v", keyID, err)
	}
	if n != 2 || status != "Active" || owner != "payments" || identityKey != arnUser("leaky-bot") || created == "" || typ != TypeAccessKey {
		t.Errorf("joined credential: occurrences %d (%s) type %q status %q owner %q identity %q created %q", n, sources, typ, status, owner, identityKey, created)
	}
	var path, commit string
	if err := res.store.DB().QueryRow(`SELECT o.path, o.commit_sha FROM occurrences o JOIN credentials c ON c.id = o.credential_id
		WHERE c.key = ? AND o.source = 'git'`, inventory.AccessKeyCredentialKey(keyID)).Scan(&path, &commit); err != nil || path != "deploy.env" || commit == "" {
		t.Errorf("git occurrence: %q %q %v", path, commit, err)
	}
	var total int
	res.store.DB().QueryRow(`SELECT count(*) FROM credentials WHERE key LIKE 'aws-access-key:%'`).Scan(&total)
	if total != 1 {
		t.Errorf("%d access key credentials, want the one joined row", total)
	}
}
