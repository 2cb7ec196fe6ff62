package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// The scan's text output: what each source did, what was carried, and on
// stderr what could not be read.

func (s *scanSummary) writeText(w io.Writer) {
	fmt.Fprintf(w, "scan %d %s in %s\n", s.ScanID, s.Status, (time.Duration(s.DurationMS) * time.Millisecond).Round(time.Millisecond))
	for _, r := range s.Sources {
		if r.Status == inventory.SourceOK {
			fmt.Fprintf(w, "  ok      %s%s\n", s.display(r), statLine(r.Stats))
		} else {
			fmt.Fprintf(w, "  FAILED  %s: %s\n", s.display(r), r.Error)
		}
		for i, ie := range r.ItemErrors {
			if i == 5 {
				fmt.Fprintf(w, "          ... and %d more item errors (nhi scans --format json)\n", len(r.ItemErrors)-5)
				break
			}
			fmt.Fprintf(w, "          item error: %s: %s\n", ie.Item, ie.Error)
		}
	}
	if s.Commits > 0 {
		fmt.Fprintf(w, "git: %d commits, %d scanned, %d changes skipped, %s read\n", s.Commits, s.CommitsScanned, s.ChangesSkipped, bytesHuman(s.BytesScanned))
	}
	fmt.Fprintf(w, "credentials: %d total, %d new\n", s.CredentialsTotal, s.CredentialsNew)
	fmt.Fprintf(w, "identities:  %d total, %d new\n", s.IdentitiesTotal, s.IdentitiesNew)
	var carried []inventory.TargetState
	for _, t := range s.Scope {
		if t.Carried() {
			carried = append(carried, t)
		}
	}
	if len(carried) > 0 {
		fmt.Fprintf(w, "carried from earlier scans (not read in full by this one):\n")
		for _, t := range carried {
			fmt.Fprintf(w, "  %-8s %s  last read in full: %s\n", t.Status, t.Target, lastScanned(t, s.now))
		}
	}
}

func statLine(st map[string]int64) string {
	if len(st) == 0 {
		return ""
	}
	keys := make([]string, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := st[k]
		if strings.HasPrefix(k, "bytes") {
			parts = append(parts, k+" "+bytesHuman(v))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// writeProblems says on stderr what the scan could not read and what it
// therefore carried, so a cron log shows it even when stdout is JSON.
func (s *scanSummary) writeProblems(w io.Writer) {
	for _, r := range s.Sources {
		if r.Status != inventory.SourceOK {
			fmt.Fprintf(w, "nhi: source %s failed: %s\n", s.display(r), r.Error)
		}
		for _, ie := range r.ItemErrors {
			fmt.Fprintf(w, "nhi: %s: %s: %s\n", s.display(r), ie.Item, ie.Error)
		}
	}
	for _, t := range s.Scope {
		if t.Status == inventory.TargetFailed || t.Status == inventory.TargetPartial {
			fmt.Fprintf(w, "nhi: %s was not read in full (%s): what it held is kept from %s\n", t.Target, t.Status, lastScanned(t, s.now))
		}
	}
}

// lastScanned says when a target was last read in full: "scan 3, 2 days ago".

// display is how the text output names source r: shorter than its stored
// name (displayName).
func (s *scanSummary) display(r sourceSummary) string { return displayName(r.Name, r.targets, s.base) }

// displayName shortens a source's stored name for people: paths under
// base (the configuration file's directory, else the working directory)
// are shown relative to it, and offline IAM exports by the accounts they
// hold (their scope targets, aws:<account id>) with their files. The
// stored name is unchanged: it is what scans are compared by.
func displayName(name string, targets []string, base string) string {
	kind, rest, ok := strings.Cut(name, ":")
	if !ok {
		return name
	}
	if kind == "aws" {
		for _, form := range []string{"offline", "credential-report", "authorization-details"} {
			files, ok := strings.CutPrefix(rest, form+":")
			if !ok {
				continue
			}
			var accounts []string
			for _, t := range targets {
				if a, ok := strings.CutPrefix(t, "aws:"); ok {
					accounts = append(accounts, a)
				}
			}
			var rel []string
			for _, f := range strings.Split(files, ",") {
				rel = append(rel, relTo(base, f))
			}
			if len(accounts) == 0 {
				return "aws:" + form + " " + strings.Join(rel, ", ")
			}
			return "aws:" + strings.Join(accounts, ",") + " (" + form + ": " + strings.Join(rel, ", ") + ")"
		}
		return name
	}
	// git:/abs/repo, ci:/abs/dir, ci:git:/abs/repo, dir:/abs/tree
	if i := strings.Index(name, ":/"); i >= 0 {
		if r := relTo(base, name[i+1:]); r == "." {
			return name[:i+1] + "."
		} else if !filepath.IsAbs(r) {
			return name[:i+1] + "./" + r
		}
	}
	return name
}

// relTo is path p relative to base when it is under it, else p.
func relTo(base, p string) string {
	if base == "" || !filepath.IsAbs(p) {
		return p
	}
	if r, err := filepath.Rel(base, p); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return r
	}
	return p
}
