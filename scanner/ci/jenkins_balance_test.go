package ci

import (
	"strings"
	"testing"
)

func TestJenkinsBalance(t *testing.T) {
	good := `pipeline {
  agent any
  // a comment with { an open brace
  environment {
    URL = "https://example.com/{path}"
    MSG = '''multi
line { string'''
  }
  stages { stage('x') { steps { sh "echo \"}\"" } } }
}
/* block { comment */
`
	if err := jenkinsBalance("Jenkinsfile", []byte(good)); err != nil {
		t.Fatalf("valid Jenkinsfile rejected: %v", err)
	}
	for _, c := range []struct{ src, want string }{
		{"pipeline {\n  agent any\n  stages {\n", "Jenkinsfile:3: cannot parse: '{' is never closed"},
		{"pipeline {\n  agent any\n}}\n", "Jenkinsfile:3: cannot parse: unexpected '}'"},
		{"pipeline {\n  sh 'echo\n}\n", "Jenkinsfile:2: cannot parse: unterminated string"},
	} {
		err := jenkinsBalance("Jenkinsfile", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
	}
}
