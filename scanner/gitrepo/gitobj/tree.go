package gitobj

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Modes of tree entries, as git writes them.
const (
	ModeDir        = 0o40000
	ModeFile       = 0o100644
	ModeExecutable = 0o100755
	// ModeGroupWritable is a regular file of trees written by old gits.
	ModeGroupWritable = 0o100664
	ModeSymlink       = 0o120000
	ModeSubmodule     = 0o160000 // a commit of another repository
)

// TreeEntry is one entry of a tree: a file, a directory, a symbolic link
// or a submodule.
type TreeEntry struct {
	Mode uint32
	Name string
	ID   string // hexadecimal
}

// Regular reports a regular file (executable or not), as opposed to a
// directory, a symbolic link or a submodule.
func (e *TreeEntry) Regular() bool {
	return e.Mode == ModeFile || e.Mode == ModeExecutable || e.Mode == ModeGroupWritable
}

var errMalformedTree = errors.New("malformed tree")

// ParseTree reads a tree object: entries of "<octal mode> <name>", a NUL
// and the entry's id in idLen raw bytes (20 for SHA-1, 32 for SHA-256).
// A name that is empty, "." or "..", or holds a slash is malformed (git
// fsck refuses it too): it could not be joined into a path.
func ParseTree(data []byte, idLen int) ([]TreeEntry, error) {
	if idLen <= 0 {
		return nil, fmt.Errorf("object id length %d", idLen)
	}
	var out []TreeEntry
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 || sp > 7 {
			return nil, fmt.Errorf("%w: bad mode", errMalformedTree)
		}
		var mode uint32
		for _, c := range data[:sp] {
			if c < '0' || c > '7' {
				return nil, fmt.Errorf("%w: bad mode %q", errMalformedTree, data[:sp])
			}
			mode = mode<<3 | uint32(c-'0')
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 {
			return nil, fmt.Errorf("%w: entry without an end", errMalformedTree)
		}
		name := data[:nul]
		if len(name) == 0 || string(name) == "." || string(name) == ".." || bytes.IndexByte(name, '/') >= 0 {
			return nil, fmt.Errorf("%w: bad name %q", errMalformedTree, name)
		}
		data = data[nul+1:]
		if len(data) < idLen {
			return nil, fmt.Errorf("%w: entry %q without an id", errMalformedTree, name)
		}
		out = append(out, TreeEntry{Mode: mode, Name: string(name), ID: hex.EncodeToString(data[:idLen])})
		data = data[idLen:]
	}
	return out, nil
}

// CommitTree returns the id of the tree of a commit object: its first
// line is "tree <hexadecimal id>".
func CommitTree(data []byte) (string, error) {
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	id, ok := bytes.CutPrefix(line, []byte("tree "))
	if !ok || (len(id) != 40 && len(id) != 64) || !isHex(string(id)) {
		return "", errors.New("malformed commit: no tree on its first line")
	}
	return string(id), nil
}

// File returns the content of the regular file at path p (slash-separated)
// in the tree of commit, or an error wrapping fs.ErrNotExist when there is
// none. The content is the caller's.
func (r *Reader) File(ctx context.Context, commit, p string) ([]byte, error) {
	typ, data, _, err := r.Read(ctx, commit, 0, 0)
	if err != nil {
		return nil, err
	}
	if typ != Commit {
		return nil, fmt.Errorf("object %s is a %s, not a commit", commit, typ)
	}
	id, err := CommitTree(data)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	for {
		name, rest, more := strings.Cut(p, "/")
		typ, data, _, err := r.Read(ctx, id, 0, 0)
		if err != nil {
			return nil, err
		}
		if typ != Tree {
			return nil, fmt.Errorf("object %s is a %s, not a tree", id, typ)
		}
		entries, err := ParseTree(data, r.s.idLen)
		if err != nil {
			return nil, fmt.Errorf("tree %s: %w", id, err)
		}
		i := slices.IndexFunc(entries, func(e TreeEntry) bool { return e.Name == name })
		switch {
		case i < 0:
			return nil, fs.ErrNotExist
		case more && entries[i].Mode == ModeDir:
			id, p = entries[i].ID, rest
			continue
		case more || !entries[i].Regular():
			return nil, fs.ErrNotExist
		}
		typ, data, _, err = r.Read(ctx, entries[i].ID, 0, 0)
		if err != nil {
			return nil, err
		}
		if typ != Blob {
			return nil, fmt.Errorf("object %s is a %s, not a blob", entries[i].ID, typ)
		}
		return bytes.Clone(data), nil
	}
}
