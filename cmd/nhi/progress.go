package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/nhi-inventory/nhi/scanner"
)

// progress prints source progress to stderr when it is a terminal (or
// when forced), at most a few lines per second.
type progress struct {
	w       io.Writer
	on      bool
	mu      sync.Mutex
	last    time.Time
	tty     bool
	started time.Time
	base    string // source paths are shown relative to it
}

func newProgress(w io.Writer, mode, base string) *progress {
	p := &progress{w: w, started: time.Now(), base: base}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	switch mode {
	case "always":
		p.on = true
	case "never":
	default:
		p.on = p.tty
	}
	return p
}

func (p *progress) event(e scanner.Event) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	final := e.Final
	if !final && time.Since(p.last) < 250*time.Millisecond {
		return
	}
	p.last = time.Now()
	line := fmt.Sprintf("[%5.1fs] %s: %s%s", time.Since(p.started).Seconds(), displayName(e.Source, nil, p.base), e.Message, statLine(e.Stats))
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		if final {
			fmt.Fprintln(p.w)
		}
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if p.on && p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
