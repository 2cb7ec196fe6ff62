package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/report"
)

type diffOptions struct {
	from, to int64
	format   string
	failOn   string
	minConf  string
	post     postOptions
}

func newDiffCmd(g *globals) *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "What changed between two scans (and post it)",
		Long: `nhi diff shows what changed between two scans, by default the last two
complete ones: new and removed identities and credentials, new leaks (a
credential seen in a new place; a live cloud key in code is its own
headline), gaps opened, reopened and resolved, acceptances recorded and
expired, per-control readiness, sources that failed or recovered, and
targets whose coverage changed. Every item carries a stable id.

With --post it posts the change to Slack, Microsoft Teams or a signed
webhook (with --notify, also to the destinations of nhi.yaml notify:), once:
an item a destination has received is not posted to it again, and the items
a destination missed while it was down go out with its next successful run.
--post posts what the destination has not received up to --to, whatever
--from says. A generic webhook is signed with NHI_WEBHOOK_SECRET (whsec_...).

--min-confidence (default medium) is the confidence a hard-coded secret's
match needs for its gap to count for --fail-on, as for nhi scan: low counts
documentation examples, test fixtures and weak defaults too, at the severity
of a live secret.

Exit codes: 0 ok, 1 --fail-on met (the diff opened or reopened a gap of that
severity or worse), 2 usage error, 4 a destination could not be posted to
(recorded; nhi scans shows it, the next run retries).`,
		Example: `  nhi diff
  nhi diff --from 3 --to 7 --format markdown
  nhi diff --format json | jq '.gaps_opened[] | .gap_id'
  SLACK_WEBHOOK_URL=https://hooks.slack.com/services/... nhi diff --post env:SLACK_WEBHOOK_URL`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDiff(cmd, g, o) },
	}
	f := cmd.Flags()
	f.Int64Var(&o.from, "from", 0, "the earlier scan (default: the complete scan before --to)")
	f.Int64Var(&o.to, "to", 0, "the later scan (default: the latest complete scan)")
	f.StringVar(&o.format, "format", "text", "output format: text, markdown or json")
	f.StringVar(&o.failOn, "fail-on", "", "exit 1 when the diff opened or reopened a gap of this severity or worse: critical, high, medium or low")
	minConfidenceFlag(f, &o.minConf)
	o.post.flags(cmd)
	cmd.Flags().BoolVar(&o.post.notify, "notify", false, "post to the destinations of nhi.yaml's notify: section too")
	return cmd
}

func runDiff(cmd *cobra.Command, g *globals, o *diffOptions) error {
	o.format, o.failOn = strings.ToLower(o.format), strings.ToLower(o.failOn)
	switch o.format {
	case "text", "markdown", "md", "json":
	default:
		return usageError("--format must be text, markdown or json, not %q", o.format)
	}
	if o.failOn != "" && !inventory.ValidSeverity(o.failOn) {
		return usageError("--fail-on must be critical, high, medium or low, not %q", o.failOn)
	}
	if err := checkMinConfidence(cmd, o.minConf, o.failOn); err != nil {
		return err
	}
	if o.from < 0 || o.to < 0 {
		return usageError("--from and --to must be scan numbers (see nhi scans)")
	}
	cfg, store, err := openExistingInventory(cmd, g)
	if err != nil {
		return err
	}
	defer store.Close()
	dests, err := o.post.destinations(cfg)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	from, to := o.from, o.to
	if to == 0 {
		dFrom, dTo, err := store.DiffScans(ctx)
		if errors.Is(err, inventory.ErrNoScan) {
			return usageError("no complete scan in %s yet: run nhi scan first", displayPath(store.Path()))
		}
		if err != nil {
			return err
		}
		to = dTo
		if !cmd.Flags().Changed("from") {
			from = dFrom
		}
	} else if !cmd.Flags().Changed("from") {
		if from, err = store.CompleteBefore(ctx, to); err != nil {
			return err
		}
	}
	d, err := store.Diff(ctx, from, to)
	if err != nil {
		return usageError("%v", err)
	}
	if err := report.WriteDiff(g.stdout, d, o.format); err != nil {
		return err
	}
	var postErr error
	if len(dests) > 0 {
		postErr = o.post.deliver(cmd, g, store, dests, to)
	}
	if o.failOn != "" {
		// The diff's gaps carry no evidence: their confidence is read
		// from the gaps of the later scan.
		gaps, err := store.Gaps(ctx, to)
		if err != nil {
			return err
		}
		byID := map[int64]*inventory.Gap{}
		for i := range gaps {
			byID[gaps[i].ID] = &gaps[i]
		}
		n := 0
		for _, gp := range append(d.GapsOpened[:len(d.GapsOpened):len(d.GapsOpened)], d.GapsReopened...) {
			gap := byID[gp.ID]
			if gap == nil {
				gap = &inventory.Gap{Severity: gp.Severity}
			}
			if gap.CountsAt(o.failOn, o.minConf) {
				n++
			}
		}
		if n > 0 {
			if postErr != nil {
				fmt.Fprintln(g.stderr, "nhi:", postErr)
			}
			return &exitError{code: exitThreshold, err: fmt.Errorf("%d gaps opened at severity %s or worse (--fail-on)%s", n, o.failOn, confidenceNote(o.minConf))}
		}
	}
	return postErr
}
