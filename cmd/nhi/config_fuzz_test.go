package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzConfig: any nhi.yaml (seeded with the demo estate's form and the
// typo cases of TestConfigRejectsTypos) is read or refused with an error
// naming the file; nothing panics.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"db: nhi.db\ncache_dir: .cache\ngit:\n  repos: [., https://example.com/r.git]\n  max_blob_size: 1048576\n  token_env: GIT_TOKEN\nci:\n  paths: [pipelines]\n",
		"controls:\n  NHI-ROTATE-90:\n    threshold_days: 30\n  NHI-OWNER:\n    disabled: true\nowners:\n  - match: {repo: \"app-*\"}\n    owner: team-a\ndetection:\n  disable_rules: [generic-api-key]\n",
		"gti:\n  repos: [.]\n", "git:\n  repos: [a\nci: x\n", "- a\n- b\n", "~\n", "git: &a {repos: *a}\n",
		"vault:\n  addr: http://127.0.0.1:8200\naws:\n  regions: [us-east-1]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(t.TempDir(), "nhi.yaml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadConfig(p); err != nil && !strings.Contains(err.Error(), "nhi.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
