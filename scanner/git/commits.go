package git

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// commitMarker starts the line git prints for each commit (see logFormat);
// no diff line can start with a NUL byte, so it cannot be confused with
// patch content.
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

// hunk is the added side of one "@@" block: its added lines, each with its
// newline (except where git says "\ No newline at end of file"), and the
// line number of the first one, exactly as gitleaks builds a fragment.
type hunk struct {
	start int
	raw   []byte
}

// change is one file change of one commit.
type change struct {
	commit *commitMeta
	path   string // new path
	blobs  string // "old..new" from the index line
	binary bool   // binary, or larger than the blob size limit
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

// parser reads `git log -p -U0` output and emits file changes. It is a
// small state machine over lines, with no regular expressions: hunks are
// delimited by the line counts of their headers, as git and go-gitdiff do.
type parser struct {
	emit func(*change) error

	commit *commitMeta
	cur    *change
	// inHunk: oldLeft/newLeft lines of the current hunk remain.
	inHunk           bool
	oldLeft, newLeft int
	lastAdded        bool // the last hunk line was an added one
}

var errMalformed = errors.New("malformed git log output")

// parsePatches reads r to the end, calling emit for each file change.
func parsePatches(r io.Reader, emit func(*change) error) error {
	p := &parser{emit: emit}
	br := bufio.NewReaderSize(r, 1<<20)
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			if perr := p.line(line); perr != nil {
				return perr
			}
		}
		if err == io.EOF {
			return p.flush()
		}
		if err != nil {
			return err
		}
	}
}

func (p *parser) flush() error {
	c := p.cur
	p.cur = nil
	p.inHunk = false
	if c == nil || c.path == "" {
		return nil
	}
	return p.emit(c)
}

func (p *parser) line(l []byte) error {
	if p.inHunk {
		switch l[0] {
		case '+':
			h := &p.cur.hunks[len(p.cur.hunks)-1]
			h.raw = append(h.raw, l[1:]...)
			p.newLeft--
			p.lastAdded = true
		case '-':
			p.oldLeft--
			p.lastAdded = false
		case ' ':
			p.oldLeft--
			p.newLeft--
			p.lastAdded = false
		case '\\':
			p.noNewline()
		default:
			return errMalformed
		}
		if p.oldLeft <= 0 && p.newLeft <= 0 {
			p.inHunk = false
		}
		return nil
	}
	switch {
	case bytes.HasPrefix(l, []byte(commitMarker)):
		if err := p.flush(); err != nil {
			return err
		}
		return p.commitLine(l[len(commitMarker):])
	case bytes.HasPrefix(l, []byte("diff --git ")):
		if err := p.flush(); err != nil {
			return err
		}
		if p.commit == nil {
			return errMalformed
		}
		p.cur = &change{commit: p.commit}
	case p.cur == nil:
		// blank separator lines between commits
	case bytes.HasPrefix(l, []byte("@@ ")):
		start, oldN, newN, ok := parseHunkHeader(l)
		if !ok {
			return errMalformed
		}
		p.cur.hunks = append(p.cur.hunks, hunk{start: start})
		p.oldLeft, p.newLeft = oldN, newN
		p.inHunk = oldN > 0 || newN > 0
		p.lastAdded = false
	case l[0] == '\\':
		p.noNewline()
	case len(p.cur.hunks) > 0:
		// nothing else follows hunks within one file
	case bytes.HasPrefix(l, []byte("+++ ")):
		name := trimEOL(l[4:])
		if string(name) == "/dev/null" {
			p.cur.path = ""
			return nil
		}
		p.cur.path = strings.TrimPrefix(unquoteName(name), "b/")
	case bytes.HasPrefix(l, []byte("index ")):
		f := trimEOL(l[6:])
		if i := bytes.IndexByte(f, ' '); i >= 0 {
			f = f[:i]
		}
		p.cur.blobs = string(f)
	case bytes.HasPrefix(l, []byte("Binary files ")):
		p.cur.binary = true
		if p.cur.path == "" {
			p.cur.path = "(binary)"
		}
	}
	return nil
}

// noNewline applies "\ No newline at end of file" to the line before it.
func (p *parser) noNewline() {
	if !p.lastAdded || p.cur == nil || len(p.cur.hunks) == 0 {
		return
	}
	h := &p.cur.hunks[len(p.cur.hunks)-1]
	if n := len(h.raw); n > 0 && h.raw[n-1] == '\n' {
		h.raw = h.raw[:n-1]
	}
	p.lastAdded = false
}

func (p *parser) commitLine(l []byte) error {
	f := bytes.Split(trimEOL(l), []byte{0})
	if len(f) != 4 {
		return errMalformed
	}
	m := &commitMeta{sha: string(f[0]), author: string(f[1]), email: string(f[2])}
	if t, err := time.Parse(time.RFC3339, string(f[3])); err == nil {
		m.date = t.UTC()
	}
	p.commit = m
	return nil
}

// parseHunkHeader reads "@@ -a[,b] +c[,d] @@...".
func parseHunkHeader(l []byte) (start, oldN, newN int, ok bool) {
	l = l[3:]
	if len(l) == 0 || l[0] != '-' {
		return 0, 0, 0, false
	}
	_, oldN, rest, ok := parseRange(l[1:])
	if !ok || len(rest) < 2 || rest[0] != ' ' || rest[1] != '+' {
		return 0, 0, 0, false
	}
	start, newN, rest, ok = parseRange(rest[2:])
	if !ok || len(rest) == 0 || rest[0] != ' ' {
		return 0, 0, 0, false
	}
	return start, oldN, newN, true
}

func parseRange(b []byte) (start, n int, rest []byte, ok bool) {
	start, b, ok = parseNum(b)
	if !ok {
		return 0, 0, nil, false
	}
	n = 1
	if len(b) > 0 && b[0] == ',' {
		n, b, ok = parseNum(b[1:])
		if !ok {
			return 0, 0, nil, false
		}
	}
	return start, n, b, true
}

func parseNum(b []byte) (int, []byte, bool) {
	i, v := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		v = v*10 + int(b[i]-'0')
		i++
	}
	return v, b[i:], i > 0
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
