package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nhi-inventory/nhi/report"
)

// wideFlag adds --wide to a command with a table.
func wideFlag(cmd *cobra.Command, wide *bool) {
	cmd.Flags().BoolVar(wide, "wide", false, "show every table column in full (default: fit the table to the terminal; piped output is never cut)")
}

// tableWidth is the width a table is written at: everything with --wide;
// the terminal's width when stdout is one; NHI_COLUMNS when it is set
// (for a fixed width in a pipe); otherwise as wide as its cells, as nhi
// always wrote tables to a pipe.
func tableWidth(stdout io.Writer, wide bool) int {
	if wide {
		return report.Wide
	}
	if isTerminal(stdout) {
		f := stdout.(*os.File)
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(os.Getenv("NHI_COLUMNS")); err == nil && n > 0 {
		return n
	}
	return report.Natural
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// forPeople reports whether a table goes to a person (a terminal, or a
// width set with NHI_COLUMNS) rather than a script: only then does it end
// with what to run next.
func forPeople(stdout io.Writer) bool {
	n, err := strconv.Atoi(os.Getenv("NHI_COLUMNS"))
	return isTerminal(stdout) || err == nil && n > 0
}

// writeGapsNext ends a gaps table read by a person with how to act on a
// gap by its id (the ID column).
func writeGapsNext(w io.Writer, flags string) {
	fmt.Fprintln(w, "\nnext, with a gap's ID:")
	fmt.Fprintf(w, "  nhi triage owner%s ID TEAM\n", flags)
	fmt.Fprintf(w, "  nhi triage accept%s ID --reason R --expires DATE\n", flags)
	fmt.Fprintf(w, "  nhi triage false-positive%s ID --reason R\n", flags)
	fmt.Fprintf(w, "  nhi tui%s\n", flags)
}
