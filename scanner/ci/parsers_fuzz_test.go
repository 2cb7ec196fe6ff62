package ci

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/scanner/ci/ciyaml"
)

// The fuzz targets of the CI parsers, one per CI system: any file (seeded
// with the estate's and the real-world pipelines of testdata/ci, then
// mutated) is read to a pipeline or to a *ParseError that names the file
// and one of its lines, with what the line-wise reading found in it;
// nothing panics and every reference and hard-coded value found is on a
// line of the file. `make fuzz` runs each target.

// parseOnly is engine.parse without secret detection (the detector is a
// library of its own, fuzzed upstream): the YAML reading, the provider's
// walk and the CI-aware hard-coded value checks.
func parseOnly(p string, data []byte, provider string) (*pipeline, error) {
	f := newFile(p, data, provider)
	if provider == Jenkins {
		f.parseJenkins()
		var pe *ParseError
		if err := jenkinsBalance(p, data); err != nil && !errors.As(err, &pe) {
			return nil, err
		}
		return f.p, nil
	}
	root, notes, err := ciyaml.Parse(p, data)
	if err != nil {
		// Not YAML: read line by line, as engine.parse does.
		f.lineWise()
		return f.p, err
	}
	if root == nil || !isMap(root) {
		return nil, nil
	}
	f.p.lenient = notes
	switch provider {
	case GitHubActions:
		f.parseGitHub(root)
	case GitLabCI:
		f.parseGitLab(root, map[string]bool{"INHERITED": true})
	case CircleCI:
		f.parseCircleCI(root)
	case AzurePipelines:
		f.parseAzure(root)
	case Bitbucket:
		f.parseBitbucket(root)
	}
	f.walkHardcoded(root)
	return f.p, nil
}

// ciSeeds adds every pipeline file of testdata/ci of the provider, and
// extra, as seeds.
func ciSeeds(f *testing.F, provider string, prefix string, extra ...string) {
	root := filepath.Join("..", "..", "testdata", "ci")
	n := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(root, "estate"), p)
		base := filepath.Base(p)
		if Classify(filepath.ToSlash(rel)) == provider || prefix != "" && strings.HasPrefix(base, prefix) {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			f.Add(b)
			n++
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	if n == 0 {
		f.Fatalf("no %s files under %s", provider, root)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

func fuzzParser(f *testing.F, provider, name string) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseOnly(name, b, provider)
		lines := strings.Count(string(b), "\n") + 1
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Path != name || pe.Line < 1 || pe.Line > lines {
				t.Fatalf("error %v is not a ParseError on a line of %s", err, name)
			}
			if p == nil || !p.lineWise && provider != Jenkins {
				t.Fatalf("a file that is not YAML was not read line by line")
			}
		}
		if p == nil {
			return
		}
		for _, r := range p.refs {
			if r.line < 0 || r.line > lines {
				t.Fatalf("reference %q on line %d of a %d-line file", r.name, r.line, lines)
			}
		}
		for _, h := range p.hard {
			if h.line < 0 || h.line > lines {
				t.Fatalf("hard-coded value on line %d of a %d-line file", h.line, lines)
			}
		}
	})
}

func FuzzGitHubActions(f *testing.F) {
	ciSeeds(f, GitHubActions, "gh-",
		"on: pull_request_target\npermissions: {id-token: write}\njobs:\n  a:\n    steps:\n    - uses: x/y@v1\n      with: {token: '${{ secrets.T }}'}\n")
	fuzzParser(f, GitHubActions, path.Join(".github", "workflows", "w.yml"))
}

func FuzzGitLabCI(f *testing.F) {
	ciSeeds(f, GitLabCI, "gl-",
		"include:\n  - local: a/*.yml\nvariables:\n  A: $INHERITED\njob:\n  script: [\"echo $B\"]\n  secrets:\n    S: {vault: p/q@r}\n")
	fuzzParser(f, GitLabCI, ".gitlab-ci.yml")
}

func FuzzCircleCI(f *testing.F) {
	ciSeeds(f, CircleCI, "circle-",
		"version: 2.1\norbs: {aws: circleci/aws-cli@1}\njobs:\n  a:\n    environment: {AWS_SECRET_ACCESS_KEY: x}\n    steps: [aws/setup: {role-arn: r}]\n")
	fuzzParser(f, CircleCI, ".circleci/config.yml")
}

func FuzzAzurePipelines(f *testing.F) {
	ciSeeds(f, AzurePipelines, "azure-",
		"variables:\n- group: g\n- name: A\n  value: $(B)\nstages:\n- stage: s\n  jobs:\n  - job: j\n    steps:\n    - script: echo $(C)\n      env: {D: $(E)}\n")
	fuzzParser(f, AzurePipelines, "azure-pipelines.yml")
}

func FuzzBitbucket(f *testing.F) {
	ciSeeds(f, Bitbucket, "bitbucket-",
		"image: {name: x, password: $P}\npipelines:\n  default:\n  - parallel:\n    - step: {script: [echo $A, {pipe: 'atlassian/x:1', variables: {K: $S}}]}\n")
	fuzzParser(f, Bitbucket, "bitbucket-pipelines.yml")
}

func FuzzJenkins(f *testing.F) {
	ciSeeds(f, Jenkins, "Jenkinsfile",
		"pipeline {\n  environment { A = credentials('x') }\n  stages { stage('s') { steps { withCredentials([string(credentialsId: 'y', variable: 'Y')]) { sh \"echo $Y\" } } } }\n}\n",
		"node { sh '''\n${",
		"/* unterminated\n\"x\" { ' } ")
	fuzzParser(f, Jenkins, "Jenkinsfile")
}
