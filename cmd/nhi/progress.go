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
	rates   map[string]rateStart
	now     func() time.Time
}

func newProgress(w io.Writer, mode, base string) *progress {
	p := &progress{w: w, started: time.Now(), base: base, now: time.Now}
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
	line := fmt.Sprintf("[%5.1fs] %s: %s%s%s", time.Since(p.started).Seconds(), displayName(e.Source, nil, p.base), e.Message,
		p.estimate(e), statLine(e.Stats))
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

// estimate is how much of a source's work is done and about how long the
// rest takes, once the source knows its size: the rate since it first
// reported work done, applied to what is left.
func (p *progress) estimate(e scanner.Event) string {
	w := e.Work
	if e.Final || w.Total <= 0 {
		return ""
	}
	done := min(max(w.Done, 0), w.Total)
	if p.rates == nil {
		p.rates = map[string]rateStart{}
	}
	r, ok := p.rates[e.Source]
	if !ok && done > 0 {
		r = rateStart{at: p.now(), done: done}
		p.rates[e.Source] = r
	}
	s := fmt.Sprintf(" (%d%%", done*100/w.Total)
	if ok && done > r.done && done < w.Total {
		left := time.Duration(float64(p.now().Sub(r.at)) * float64(w.Total-done) / float64(done-r.done))
		s += ", about " + roundETA(left) + " left"
	}
	return s + ")"
}

// rateStart is when a source first reported work done, and how much.
type rateStart struct {
	at   time.Time
	done int64
}

// roundETA rounds an estimate to what it is worth: seconds under a
// minute, then minutes, then hours and minutes.
func roundETA(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
