package git

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAddedHunksCases(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		want     []hunk
	}{
		{"added file", "\x00nil", "a\nb\n", []hunk{{1, "a\nb\n"}}},
		{"empty new", "a\n", "", nil},
		{"unchanged", "a\nb\n", "a\nb\n", nil},
		{"append", "a\n", "a\nb\nc\n", []hunk{{2, "b\nc\n"}}},
		{"prepend", "b\n", "a\nb\n", []hunk{{1, "a\n"}}},
		{"middle", "a\nb\nc\n", "a\nx\nc\n", []hunk{{2, "x\n"}}},
		{"insert before same line", "a\nb\n", "a\nx\nb\n", []hunk{{2, "x\n"}}},
		{"two runs", "a\nb\nc\nd\n", "x\na\nb\ny\nd\n", []hunk{{1, "x\n"}, {4, "y\n"}}},
		{"no newline at end, appended", "a\nb", "a\nb\nc\n", []hunk{{2, "b\nc\n"}}},
		{"no newline at end, kept", "a\nb", "x\nb", []hunk{{1, "x\n"}}},
		{"new has no newline", "a\nb\n", "a\nb", []hunk{{2, "b"}}},
		{"shared tail after head", "a\nb\n", "a\nx\nb\n", []hunk{{2, "x\n"}}},
		{"suffix not on line start", "a\nXY\nb\n", "a\nZXY\nb\n", []hunk{{2, "ZXY\n"}}},
		{"moved line", "a\nb\nc\n", "b\nc\na\n", []hunk{{3, "a\n"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var old []byte
			if tc.old != "\x00nil" {
				old = []byte(tc.old)
			}
			got := new(differ).addedHunks(old, []byte(tc.new))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("addedHunks(%q, %q) = %s, want %s", tc.old, tc.new, fmt.Sprint(got), fmt.Sprint(tc.want))
			}
		})
	}
}

// TestAddedHunksMatchGit compares the added lines with `git diff -U0` on
// random edits of files full of repeated lines: the same number of added
// lines (both diffs are minimal), the same runs when the choice is not
// ambiguous, and every line that the old version lacks is added by both.
func TestAddedHunksMatchGit(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 11))
	vocab := []string{"}\n", "\n", "return nil\n", "if err != nil {\n", "x := 1\n", "y := 2\n", "// note\n"}
	line := func() string {
		if rng.IntN(3) == 0 {
			return fmt.Sprintf("unique %d\n", rng.Int())
		}
		return vocab[rng.IntN(len(vocab))]
	}
	d := new(differ)
	for iter := range 300 {
		var oldL []string
		for range rng.IntN(60) {
			oldL = append(oldL, line())
		}
		newL := append([]string(nil), oldL...)
		for range 1 + rng.IntN(8) {
			switch op := rng.IntN(3); {
			case op == 0 || len(newL) == 0:
				i := rng.IntN(len(newL) + 1)
				newL = append(newL[:i], append([]string{line()}, newL[i:]...)...)
			case op == 1:
				i := rng.IntN(len(newL))
				newL = append(newL[:i], newL[i+1:]...)
			default:
				newL[rng.IntN(len(newL))] = line()
			}
		}
		old, nw := strings.Join(oldL, ""), strings.Join(newL, "")
		if rng.IntN(5) == 0 && len(nw) > 0 {
			nw = strings.TrimSuffix(nw, "\n")
		}
		op, np := filepath.Join(dir, "old"), filepath.Join(dir, "new")
		os.WriteFile(op, []byte(old), 0o644)
		os.WriteFile(np, []byte(nw), 0o644)
		out, _ := exec.Command("git", "diff", "--no-index", "-U0", "--no-color", op, np).Output()
		gitAdded := map[int]bool{}
		cur := 0
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "@@ ") {
				start, _, _, ok := parseHunkHeader([]byte(l))
				if !ok {
					t.Fatalf("bad hunk header %q", l)
				}
				cur = start
			} else if strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++ ") {
				gitAdded[cur] = true
				cur++
			}
		}
		ours := map[int]bool{}
		for _, h := range d.addedHunks([]byte(old), []byte(nw)) {
			for i := range strings.Count(h.raw, "\n") + boolInt(!strings.HasSuffix(h.raw, "\n")) {
				ours[h.start+i] = true
			}
		}
		if len(ours) != len(gitAdded) {
			t.Fatalf("iteration %d: %d added lines, git %d\nold:\n%s\nnew:\n%s\ngit:\n%s\nours %v", iter, len(ours), len(gitAdded), old, nw, out, ours)
		}
		oldSet := map[string]bool{}
		for _, l := range oldL {
			oldSet[strings.TrimSuffix(l, "\n")] = true
		}
		for i, l := range strings.SplitAfter(nw, "\n") {
			if l == "" {
				continue
			}
			if !oldSet[strings.TrimSuffix(l, "\n")] && (!ours[i+1] || !gitAdded[i+1]) {
				t.Fatalf("iteration %d: new line %d %q not added (ours %v, git %v)", iter, i+1, l, ours[i+1], gitAdded[i+1])
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestByPathBatches: every change comes out once; within a batch in
// path order, a path's changes in the order listed; batches in order.
func TestByPathBatches(t *testing.T) {
	q := make(chan *fileChange, 100)
	var in []*fileChange
	for i := range 23 {
		fc := &fileChange{path: fmt.Sprintf("p%d", (i*7)%5), new: fmt.Sprint(i)}
		in = append(in, fc)
		q <- fc
	}
	close(q)
	var out []*fileChange
	for fc := range byPath(q, 10) {
		out = append(out, fc)
	}
	if len(out) != len(in) {
		t.Fatalf("%d changes out of %d", len(out), len(in))
	}
	for b := 0; b < len(out); b += 10 {
		batch := out[b:min(b+10, len(out))]
		for i := 1; i < len(batch); i++ {
			x, y := batch[i-1], batch[i]
			if x.path > y.path || x.path == y.path && atoi(t, x.new) > atoi(t, y.new) {
				t.Errorf("batch %d: %s#%s before %s#%s", b/10, x.path, x.new, y.path, y.new)
			}
		}
		for _, fc := range batch {
			if n := atoi(t, fc.new); n < b || n >= b+10 {
				t.Errorf("change %d in batch %d", n, b/10)
			}
		}
	}
	// Stopping early stops.
	q2 := make(chan *fileChange, 3)
	q2 <- in[0]
	q2 <- in[1]
	close(q2)
	n := 0
	for range byPath(q2, 10) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("%d yielded after break", n)
	}
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
