package ci

import "testing"

func TestPlaceholdersAndKeyNames(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "${DB_PASSWORD}", "$DB_PASSWORD", "${{ secrets.X }}", "$(dbPassword)", "<password>",
		"changeme", "example", "your-token-here", "********", "AWS_SECRET_ACCESS_KEY", "<< parameters.token >>", "credentials('x')", "write"} {
		if !placeholder(v, true) {
			t.Errorf("placeholder(%q) = false, want true", v)
		}
	}
	for _, v := range []string{"Pg7hQ2kLm9xZ", "postgres", "s3cr3t-Value_42"} {
		if placeholder(v, true) {
			t.Errorf("placeholder(%q) = true, want false", v)
		}
	}
	// A name is a value when a rule found it by its own format; the other
	// placeholders stay placeholders.
	for v, want := range map[string]bool{"AWS_SECRET_ACCESS_KEY": false, "AKIAQWERTYUIOPASDFGH": false, "${DB_PASSWORD}": true, "changeme": true} {
		if got := placeholder(v, false); got != want {
			t.Errorf("placeholder(%q, names false) = %t, want %t", v, got, want)
		}
	}
	for key, want := range map[string]string{
		"POSTGRES_PASSWORD": "password", "aws-secret-access-key": "key", "apiKey": "key", "NPM_TOKEN": "token",
		"client_secret": "secret", "secret_id": "secret", "id-token": "token",
		"aws-access-key-id": "", "key": "", "cache-key": "", "token_format": "", "password-stdin": "", "secret-name": "",
	} {
		if got := secretKeyKind(key); got != want {
			t.Errorf("secretKeyKind(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]string{
		".github/workflows/ci.yml": GitHubActions, "sub/.github/workflows/x.yaml": GitHubActions,
		".github/actions/setup/action.yml": GitHubActions, ".github/workflows/README.md": "",
		".gitlab-ci.yml": GitLabCI, ".circleci/config.yml": CircleCI, "azure-pipelines.yml": AzurePipelines,
		"bitbucket-pipelines.yml": Bitbucket, "Jenkinsfile": Jenkins, "ci/Jenkinsfile.release": Jenkins,
		"config.yml": "", "src/main.go": "",
	} {
		if got := Classify(p); got != want {
			t.Errorf("Classify(%q) = %q, want %q", p, got, want)
		}
	}
}
