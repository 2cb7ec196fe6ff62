package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/nhi-inventory/nhi/inventory"
)

// writeNextSteps ends a text scan summary with what to run next: a new
// user who has just seen "17 gaps" is told how to look at them, narrow
// them and decide on them. flags are the --db/--config the scan was run
// with, repeated so each command reads the same inventory. JSON output
// never carries this.
func writeNextSteps(w io.Writer, open map[string]int, flags string) {
	total := 0
	for _, n := range open {
		total += n
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw)
	if total == 0 {
		fmt.Fprintln(tw, "no open gaps. next:")
		fmt.Fprintf(tw, "  nhi tui%s\tbrowse the inventory\n", flags)
		fmt.Fprintf(tw, "  nhi inventory%s --format csv\texport it\n", flags)
		tw.Flush()
		return
	}
	worst := inventory.SeverityLow
	for _, sev := range inventory.Severities() {
		if open[sev] > 0 {
			worst = sev
			break
		}
	}
	fmt.Fprintf(tw, "%d open gaps. next:\n", total)
	fmt.Fprintf(tw, "  nhi tui%s\tbrowse identities, secrets and gaps\n", flags)
	fmt.Fprintf(tw, "  nhi gaps%s --severity %s\tthe %d worst, with their ids\n", flags, worst, atLeastCount(open, worst))
	fmt.Fprintf(tw, "  nhi triage owner%s ID TEAM\tset an owner\n", flags)
	fmt.Fprintf(tw, "  nhi triage accept%s ID --reason R --expires DATE\taccept a risk\n", flags)
	fmt.Fprintf(tw, "  nhi triage false-positive%s ID --reason R\tmark a false positive\n", flags)
	tw.Flush()
}

func atLeastCount(open map[string]int, sev string) int {
	n := 0
	for s, c := range open {
		if inventory.AtLeast(s, sev) {
			n += c
		}
	}
	return n
}

// repeatFlags is " --db X --config Y" for the globals set away from
// their defaults, so the suggested commands read the same inventory.
func repeatFlags(g *globals, dbChanged, configChanged bool) string {
	var b strings.Builder
	if dbChanged {
		fmt.Fprintf(&b, " --db %s", shellQuote(g.db))
	}
	if configChanged {
		fmt.Fprintf(&b, " --config %s", shellQuote(g.config))
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`&|;<>()*?[]#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
