package gitobj

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// catFile is one `git cat-file --batch` process, for the objects the
// pack reader cannot find (alternates, an object format other than
// SHA-1).
type catFile struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	in     *bufio.Writer
	out    *bufio.Reader
	stderr *bytes.Buffer
	done   bool
	err    error // of close
}

func startCatFile(ctx context.Context, path string) (*catFile, error) {
	cmd := Command(ctx, path, "cat-file", "--batch")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdin.Close()
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = LimitWriter(&stderr, 64<<10)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run git cat-file (is git installed and on PATH?): %w", err)
	}
	return &catFile{cmd: cmd, stdin: stdin, in: bufio.NewWriterSize(stdin, 4<<10),
		out: bufio.NewReaderSize(stdout, 256<<10), stderr: &stderr}, nil
}

func (c *catFile) request(id string) error {
	c.in.WriteString(id)
	return c.in.WriteByte('\n')
}

func (c *catFile) flush() error { return c.in.Flush() }

var errMissing = errors.New("missing or unreadable (check the repository with git fsck, or clone it again)")

// errTooLarge: the object is larger than the store's maximum; it was read
// past, and the process goes on.
var errTooLarge = errors.New("more than the largest object read")

// read reads the next answer ("<id> <type> <size>", the content and a
// newline) into buf (grown as needed) and returns the content. An object
// larger than limit (when limit > 0) is read past and returned as nil
// with its size.
func (c *catFile) read(id string, buf []byte, limit, max int64) (Type, []byte, int64, error) {
	hdr, err := c.out.ReadSlice('\n')
	if err != nil {
		return 0, nil, 0, fmt.Errorf("read object %s: %w", id, err)
	}
	f := strings.Fields(string(hdr))
	if len(f) == 2 && f[1] == "missing" {
		return 0, nil, 0, fmt.Errorf("object %s: %w", id, errMissing)
	}
	if len(f) != 3 || f[0] != id {
		return 0, nil, 0, fmt.Errorf("read object %s: unexpected answer %q", id, strings.TrimSpace(string(hdr)))
	}
	typ, ok := parseType(f[1])
	size, err := strconv.ParseInt(f[2], 10, 64)
	if !ok || err != nil || size < 0 {
		return 0, nil, 0, fmt.Errorf("read object %s: unexpected answer %q", id, strings.TrimSpace(string(hdr)))
	}
	if limit > 0 && size > limit {
		if _, err := c.out.Discard(int(size) + 1); err != nil {
			return 0, nil, size, fmt.Errorf("read object %s: %w", id, err)
		}
		return typ, nil, size, nil
	}
	if size > max {
		// Not allocated: the answer is skipped, the process goes on.
		if _, err := c.out.Discard(int(size) + 1); err != nil {
			return 0, nil, size, fmt.Errorf("read object %s: %w", id, err)
		}
		return 0, nil, size, fmt.Errorf("object %s is %d bytes: %w (%d bytes)", id, size, errTooLarge, max)
	}
	if int64(cap(buf)) < size+1 {
		buf = make([]byte, size+1)
	}
	buf = buf[:size+1]
	if _, err := io.ReadFull(c.out, buf); err != nil {
		return 0, nil, size, fmt.Errorf("read object %s: %w", id, err)
	}
	return typ, buf[:size], size, nil
}

// failure is the error of a failed request: a missing object as such,
// any other with what git said before it stopped.
func (c *catFile) failure(err error) error {
	if errors.Is(err, errMissing) || errors.Is(err, errTooLarge) {
		return err
	}
	if cerr := c.close(); cerr != nil {
		return fmt.Errorf("%w (%v)", err, cerr)
	}
	return err
}

// close ends the process; its error says why git failed, if it did.
func (c *catFile) close() error {
	if c.done {
		return c.err
	}
	c.done = true
	c.err = c.wait()
	return c.err
}

func (c *catFile) wait() error {
	c.in.Flush()
	c.stdin.Close()
	io.Copy(io.Discard, c.out)
	if err := c.cmd.Wait(); err != nil {
		return fmt.Errorf("git cat-file: %v: %s", err, strings.TrimSpace(c.stderr.String()))
	}
	return nil
}

// LimitWriter returns a writer that passes the first n bytes written to
// w (git's error message on stderr) and discards the rest.
func LimitWriter(w io.Writer, n int) io.Writer { return &limitedWriter{w: w, n: n} }

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
