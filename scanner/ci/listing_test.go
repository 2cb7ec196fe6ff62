package ci

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

// listingDigests are the digests of what Classify and includable keep of
// listingCorpus, per listingVersion.
var listingDigests = map[int]string{
	1: "2892e1c61b7ebe3cdd4d5fd2cfd585514c50c1a14463eb4192db7802455a21cd",
}

func listingCorpus() []string {
	dirs := []string{"", ".github/workflows", "svc/.github/workflows", ".github", ".circleci", "svc/.circleci", "ci", "deploy/k8s",
		".gitlab", "jenkins", ".azure", "vendor/x"}
	names := []string{"build.yml", "build.yaml", "BUILD.YML", "Build.Yaml", "action.yml", "action.yaml", "Action.YML",
		".gitlab-ci.yml", ".gitlab-ci.yaml", "config.yml", "config.yaml", "azure-pipelines.yml", "azure-pipelines-ci.yaml",
		"Azure-Pipelines.yml", "bitbucket-pipelines.yml", "bitbucket-pipelines.yaml", "Jenkinsfile", "Jenkinsfile.release",
		"jenkinsfile", "deploy.jenkinsfile", "deploy.Jenkinsfile", "pipeline.json", ".drone.yml", ".travis.yml", "appveyor.yml",
		"cloudbuild.yaml", "buildspec.yml", ".buildkite.yml", "Taskfile.yml", "Makefile", "Earthfile", "Dockerfile", "README.md",
		"values.yml", "x.yml.txt", "yml", ".yaml", "workflow.json", "pipeline.groovy", "main.tf"}
	var out []string
	for _, d := range dirs {
		for _, n := range names {
			if d != "" {
				n = d + "/" + n
			}
			out = append(out, n)
		}
	}
	return out
}

// TestListingVersion: listings of head trees are kept between scans under
// listingVersion; what Classify and includable keep must not change
// without a new version.
func TestListingVersion(t *testing.T) {
	h := sha256.New()
	for _, p := range listingCorpus() {
		fmt.Fprintf(h, "%s\x00%v\n", p, Classify(p) != "" || includable(p))
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want := listingDigests[listingVersion]; got != want {
		t.Fatalf("Classify or includable keep other files than listing version %d did (digest %s, was %s): "+
			"set listingVersion in source.go to a new number and add its digest %s to listingDigests", listingVersion, got, want, got)
	}
}
