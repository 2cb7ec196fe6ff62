package dir

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/h2non/filetype"
	"github.com/zricethezav/gitleaks/v8/sources"
)

// TestChunksAreGitleaks: chunks cuts a file exactly where gitleaks' File
// source does, over files of every size around its 100 kB reads, with
// lines long and short, blank lines, CRLF, runs of spaces, and none at all.
func TestChunksAreGitleaks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(size int, style int) []byte {
		var b bytes.Buffer
		for b.Len() < size {
			switch style {
			case 0: // code: short lines, blank ones now and then
				b.WriteString(strings.Repeat("x", rng.IntN(80)))
				b.WriteString("\n")
				if rng.IntN(20) == 0 {
					b.WriteString("\n")
				}
			case 1: // one long line
				b.WriteString("abcdefghij")
			case 2: // CRLF with trailing spaces between blank lines
				b.WriteString(strings.Repeat("y", rng.IntN(200)) + " \r\n")
				if rng.IntN(10) == 0 {
					b.WriteString(" \t\r\n")
				}
			default: // long lines, no blank ones
				b.WriteString(strings.Repeat("z", 1000+rng.IntN(30000)) + "\n")
			}
		}
		return b.Bytes()[:size]
	}
	sizes := []int{0, 1, 2, 99999, 100000, 100001, 100002, 104095, 104096, 104097, 125000, 125001, 200000, 250123, 400000, 1 << 20}
	for style := range 4 {
		for _, size := range sizes {
			b := gen(size, style)
			if err := sameCuts(b); err != nil {
				t.Errorf("style %d, %d bytes: %v", style, size, err)
			}
		}
	}
	if got := slices.Collect(chunks(nil)); len(got) != 1 || got[0] != (chunk{startLine: 1}) {
		t.Errorf("an empty file is %v, want one empty chunk (for the rules on its name)", got)
	}
}

// sameCuts reports where cut and gitleaks' File source cut b differently.
func sameCuts(b []byte) error {
	var want []chunk
	f := sources.File{Content: bytes.NewReader(b), Path: "file.txt"}
	err := f.Fragments(context.Background(), func(fr sources.Fragment, err error) error {
		if err != nil {
			return err
		}
		want = append(want, chunk{raw: fr.Raw, startLine: fr.StartLine})
		return nil
	})
	if err != nil {
		return err
	}
	got := slices.Collect(func(yield func(chunk) bool) { cut(b, yield) })
	if len(got) != len(want) {
		return fmt.Errorf("%d chunks, gitleaks %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("chunk %d is %d bytes from line %d, gitleaks' %d bytes from line %d",
				i, len(got[i].raw), got[i].startLine, len(want[i].raw), want[i].startLine)
		}
	}
	return nil
}

// FuzzChunks: cut agrees with gitleaks' File source on any content,
// given as a piece repeated up to 3,000 times so that inputs reach past
// the 100 kB reads and the 25 kB growth.
func FuzzChunks(f *testing.F) {
	f.Add([]byte("line\n"), uint16(30000))
	f.Add([]byte("x"), uint16(3000))
	f.Add([]byte("a \r\n\n  \t"), uint16(12000))
	f.Add([]byte(strings.Repeat("y", 999)+"\n\n"), uint16(150))
	f.Fuzz(func(t *testing.T, piece []byte, reps uint16) {
		if len(piece) == 0 {
			return
		}
		n := int(reps) % 3001
		if len(piece)*n > 1<<20 {
			n = (1 << 20) / len(piece)
		}
		b := bytes.Repeat(piece, n)
		if kind, _ := filetype.Match(b); kind.MIME.Type == "application" {
			return // gitleaks skips the file
		}
		if err := sameCuts(b); err != nil {
			t.Fatal(err)
		}
	})
}
