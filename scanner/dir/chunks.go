package dir

import (
	"iter"
	"strings"
)

// What gitleaks dir gives its detector of a file: fragments of about
// 100 kB (its read buffer), each grown until it ends in two newlines
// (other whitespace between them allowed) or by 25 kB at most, the next
// one starting where it stopped. nhi cuts a file where gitleaks does, so
// a secret across a cut is missed by both, never found by gitleaks alone;
// and a large file is detected piece by piece, as in gitleaks: only the
// pieces holding an encoded segment go through the decoding passes, and
// no lowered or decoded copy of a whole 10 MiB file is made.
const (
	chunkRead = 100 * 1000 // gitleaks' defaultBufferSize
	chunkPeek = 25 * 1000  // gitleaks' maxPeekSize
	// bufioSize is the default size of the bufio.Reader gitleaks reads
	// the file through: after a chunk has been grown byte by byte, the
	// next read returns only what that reader still holds.
	bufioSize = 4096
)

// chunk is one fragment of a file: its text and its first line.
type chunk struct {
	raw       string
	startLine int
}

// chunks cuts b as gitleaks' File source does (sources.File.Fragments
// over a bufio.Reader of the file), which a test checks against it; one
// chunk's text at a time. An empty b is one empty chunk, which the rules
// on a file's name still see (gitleaks gives its detector none).
func chunks(b []byte) iter.Seq[chunk] {
	return func(yield func(chunk) bool) {
		if len(b) == 0 {
			yield(chunk{startLine: 1})
			return
		}
		cut(b, yield)
	}
}

func cut(b []byte, yield func(chunk) bool) {
	lines := 0
	pos := 0
	buffered := 0 // bytes the bufio.Reader holds past pos
	for pos < len(b) {
		n := chunkRead
		if buffered > 0 {
			n = min(n, buffered)
		}
		n = min(n, len(b)-pos)
		end := pos + n
		buffered = max(buffered-n, 0)
		if !endsSafe(b[pos:end]) {
			// Grown byte by byte, each ReadByte filling the reader's
			// buffer when it is empty.
			count := 0
			for {
				c := b[end-1]
				switch {
				case c == '\n':
					count++
				case isSpace(c):
				default:
					count = 0
				}
				if count >= 2 || end-pos-n >= chunkPeek || end == len(b) {
					break
				}
				if buffered == 0 {
					buffered = min(bufioSize, len(b)-end)
				}
				end++
				buffered--
			}
		}
		raw := string(b[pos:end])
		if !yield(chunk{raw: raw, startLine: lines + 1}) {
			return
		}
		lines += strings.Count(raw, "\n")
		pos = end
	}
}

// endsSafe reports whether s ends in two newlines with only whitespace
// after the first (gitleaks' first check: then the chunk is not grown).
func endsSafe(s []byte) bool {
	if len(s) == 0 || !isSpace(s[len(s)-1]) {
		return false
	}
	count := 0
	for i := len(s) - 1; i >= 0; i-- {
		switch c := s[i]; {
		case c == '\n':
			if count++; count >= 2 {
				return true
			}
		case isSpace(c):
		default:
			return false
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
