package git

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// This file reads a history as git stores it: which blobs each commit
// changes (`git log --raw`, tree comparisons only, about a tenth of the
// cost of `git log -p`); package gitobj reads the blobs (pack files and
// loose objects in-process, `git cat-file --batch` for the rest) and
// added.go computes the added lines from the two versions of a file
// in-process. `git log -p` inflates every blob twice (as the new and as
// the old side) and diffs whole files: on the 10,000-commit benchmark
// history it spends 2.3-3.3 s of CPU where these parts spend about 1.2 s.

// fileChange is one file change of `git log --raw`: the old and new blob
// of a path (old is "" for an added file).
type fileChange struct {
	commit *commitMeta
	path   string
	old    string
	new    string
	// skip: nothing to read (a submodule commit, or a mode change only).
	skip bool
}

// zeroOID reports whether id is git's all-zero object id.
func zeroOID(id string) bool { return strings.Trim(id, "0") == "" }

// parseRaw reads `git log --raw --no-abbrev` output with logFormat
// headers, calling commit for each commit and emit for each added,
// modified, renamed or copied file.
func parseRaw(r io.Reader, commit func(*commitMeta), emit func(*fileChange)) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var cur *commitMeta
	paths := map[string]string{} // interned: a path changes many times
	intern := func(s string) string {
		if p, ok := paths[s]; ok {
			return p
		}
		paths[s] = s
		return s
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			l := trimEOL(line)
			switch {
			case bytes.HasPrefix(l, []byte(commitMarker)):
				m, perr := parseCommitLine(l[len(commitMarker):])
				if perr != nil {
					return perr
				}
				cur = m
				commit(m)
			case len(l) > 0 && l[0] == ':':
				if cur == nil {
					return errMalformed
				}
				c, perr := parseRawLine(l[1:])
				if perr != nil {
					return perr
				}
				if c != nil {
					c.commit = cur
					c.path = intern(c.path)
					emit(c)
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseRawLine reads "<old mode> <new mode> <old> <new> <status>\t<path>
// [\t<new path>]" (the text after the colon).
func parseRawLine(l []byte) (*fileChange, error) {
	tab := bytes.IndexByte(l, '\t')
	if tab < 0 {
		return nil, errMalformed
	}
	f := strings.Fields(string(l[:tab]))
	if len(f) != 5 || f[4] == "" {
		return nil, errMalformed
	}
	names := l[tab+1:]
	status := f[4][0]
	c := &fileChange{old: f[2], new: f[3]}
	switch status {
	case 'A':
		c.old = ""
		c.path, _ = readName(names)
	case 'M':
		c.path, _ = readName(names)
	case 'R', 'C':
		_, rest := readName(names)
		if len(rest) == 0 || rest[0] != '\t' {
			return nil, errMalformed
		}
		c.path, _ = readName(rest[1:])
	default:
		// Type changes, deletions, unmerged, unknown and broken pairs:
		// what gitleaks leaves out with --diff-filter=tuxdb.
		return nil, nil
	}
	if c.path == "" {
		return nil, errMalformed
	}
	// A submodule's commit is not in this repository (git log -p shows
	// "Subproject commit <id>"); a mode change has no content change.
	if f[1] == "160000" || (c.old != "" && f[0] == "160000") || c.old == c.new {
		c.skip = true
	}
	return c, nil
}

// readName reads one path of a raw line: C-quoted when it holds special
// characters, else up to a tab; it returns the rest of the line.
func readName(b []byte) (string, []byte) {
	if len(b) > 0 && b[0] == '"' {
		for i := 1; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return unquoteName(b[:i+1]), b[i+1:]
			}
		}
		return unquoteName(b), nil
	}
	if i := bytes.IndexByte(b, '\t'); i >= 0 {
		return string(b[:i]), b[i:]
	}
	return string(b), nil
}

// isBinary is git's test: a NUL byte in the first 8,000 bytes.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0
}
