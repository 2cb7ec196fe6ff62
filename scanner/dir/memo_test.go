package dir_test

import (
	"slices"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// A re-scan reads only the files that changed; when the kept file states
// cannot be decoded it reads every file again, finds the same, and says
// so in memos_unreadable.
func TestDamagedStatesCostAReadNotAResult(t *testing.T) {
	root := t.TempDir()
	harness.WriteFiles(t, root, map[string]string{"deploy.env": "GITHUB_TOKEN=" + harness.GitHubPAT() + "\n"})
	st := openStore(t)
	first, sc := scanTree(t, st, root)
	want := seenIn(t, st, sc)
	if len(want) == 0 || first.Stats["memos_unreadable"] != 0 {
		t.Fatalf("first scan: occurrences %v, stats %v", want, first.Stats)
	}
	if _, err := st.DB().Exec(`UPDATE memos SET value = x'1f8b00' WHERE kind LIKE 'dir-files/%'`); err != nil {
		t.Fatal(err)
	}
	damaged, sc := scanTree(t, st, root)
	if got := seenIn(t, st, sc); !slices.Equal(got, want) || damaged.Stats["memos_unreadable"] != 1 {
		t.Errorf("re-scan over damaged states: occurrences %v (want %v), stats %v", got, want, damaged.Stats)
	}
}

// File states kept by an earlier version of what a state holds are not
// reused: a scan after the upgrade reads every file again (an unchanged
// .p12 file, kept with no hits before binary files met the rules on their
// names, would otherwise stay unreported), and finds the same.
func TestStatesOfAnEarlierVersionAreReadAgain(t *testing.T) {
	root := t.TempDir()
	harness.WriteFiles(t, root, map[string]string{
		"deploy.env":       "GITHUB_TOKEN=" + harness.GitHubPAT() + "\n",
		"certs/client.p12": "\x30\x82\x0a\x00binary",
	})
	st := openStore(t)
	_, sc := scanTree(t, st, root)
	want := seenIn(t, st, sc)
	// As an earlier release left them: the same states under version 1.
	if _, err := st.DB().Exec(`UPDATE memos SET kind = 'dir-files/1' WHERE kind LIKE 'dir-files/%'`); err != nil {
		t.Fatal(err)
	}
	res, sc := scanTree(t, st, root)
	if res.Stats["files_unchanged"] != 0 || res.Stats["files"] != 2 {
		t.Errorf("states of version 1 were reused: %v", res.Stats)
	}
	if got := seenIn(t, st, sc); !slices.Equal(got, want) {
		t.Errorf("occurrences %v, want %v", got, want)
	}
}
