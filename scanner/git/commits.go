package git

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"
)

// commitMarker starts the line git prints for each commit (see logFormat);
// no raw diff line starts with a NUL byte.
const commitMarker = "\x00C"

// logFormat prints one marker line per commit: sha, author (mailmap
// applied, as in git's default log format that gitleaks parses), email
// and strict ISO date, NUL-separated.
const logFormat = "--format=%x00C%H%x00%aN%x00%aE%x00%aI"

// commitMeta is who and when of one commit.
type commitMeta struct {
	sha    string
	author string
	email  string
	date   time.Time
}

// hunk is a run of consecutive added lines, each with its newline (the
// last line of a file may have none), and the number of the first one:
// the added side of one `git log -p -U0` hunk, which is what gitleaks
// makes a fragment of.
type hunk struct {
	start int
	raw   string
}

// change is one file change of one commit.
type change struct {
	commit *commitMeta
	path   string // new path
	blobs  string // "old..new" object ids
	hunks  []hunk
	key    [20]byte // cache key, set when queued for detection
}

// addedBytes is the size of the added lines.
func (c *change) addedBytes() int64 {
	var n int64
	for _, h := range c.hunks {
		n += int64(len(h.raw))
	}
	return n
}

// errMalformed: git printed something this reader does not understand.
var errMalformed = errors.New("malformed git log output")

// parseCommitLine reads the fields of a commit marker line.
func parseCommitLine(l []byte) (*commitMeta, error) {
	f := bytes.Split(l, []byte{0})
	if len(f) != 4 {
		return nil, errMalformed
	}
	m := &commitMeta{sha: string(f[0]), author: string(f[1]), email: string(f[2])}
	if t, err := time.Parse(time.RFC3339, string(f[3])); err == nil {
		m.date = t.UTC()
	}
	return m, nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	return b
}

// unquoteName reads a file name from a "+++ " line: C-quoted when it holds
// special characters, else up to a tab (git appends one after names with
// spaces).
func unquoteName(b []byte) string {
	if len(b) == 0 || b[0] != '"' {
		if i := bytes.IndexByte(b, '\t'); i >= 0 {
			b = b[:i]
		}
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 1; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			break
		}
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		i++
		e := b[i]
		if k := strings.IndexByte(cEscapes, e); k >= 0 {
			out = append(out, cEscaped[k])
			continue
		}
		if e >= '0' && e <= '3' && i+2 < len(b) {
			if v, err := strconv.ParseUint(string(b[i:i+3]), 8, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, e)
	}
	return string(out)
}

// cEscapes are the letters of git's C-style escapes, standing for the
// byte at the same index of cEscaped.
const cEscapes, cEscaped = "abtnvfr", "\a\b\t\n\v\f\r"
