package main

import (
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
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(os.Getenv("NHI_COLUMNS")); err == nil && n > 0 {
		return n
	}
	return report.Natural
}
