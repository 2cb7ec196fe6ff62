package dir

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

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
				t.Fatal(err)
			}
			got := slices.Collect(chunks(b))
			if len(got) != len(want) {
				t.Errorf("style %d, %d bytes: %d chunks, gitleaks %d", style, size, len(got), len(want))
				continue
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("style %d, %d bytes: chunk %d is %d bytes from line %d, gitleaks' %d bytes from line %d",
						style, size, i, len(got[i].raw), got[i].startLine, len(want[i].raw), want[i].startLine)
					break
				}
			}
		}
	}
}
