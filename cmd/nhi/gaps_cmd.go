package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/readiness"
	"github.com/nhi-inventory/nhi/report"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

func newGapsCmd(g *globals) *cobra.Command {
	var (
		format   string
		f        report.GapFilter
		scanID   int64
		revision string
		wide     bool
	)
	cmd := &cobra.Command{
		Use:   "gaps",
		Short: "List readiness gaps: controls failed by identities and credentials",
		Long: `List the gaps of the latest complete scan (or --scan N), worst first. Each gap
names the control, the subject, the evidence that triggered it and the SOC 2,
NIST CSF 2.0 and OWASP NHI Top 10 criteria it fails. Gaps accepted as a risk or
marked false positive (nhi triage) show with that status.

A gap on a hard-coded secret shows the confidence of the match (CONF, JSON
and CSV "confidence"): high, medium, or low for a documentation example, a
test fixture or a weak default value, whose gap opens at low severity and
says why. Every confidence is listed unless --min-confidence says otherwise;
gaps about anything else have none and are always listed.

--format sarif is for GitHub code scanning: one run per repository (upload
one file per repository with --repo), each result at its file and line,
triaged gaps as suppressions with the decision's reason. Gaps on subjects
with no file (IAM, Vault, provider keys) and resolved gaps are left out,
with a count on stderr.`,
		Example: `  nhi gaps --severity high
  nhi gaps --control NHI-SEC-01 --format json
  nhi gaps --status all --format csv > gaps.csv
  nhi gaps --min-confidence medium   # leave out documentation examples, test fixtures, weak defaults
  nhi gaps --format sarif --repo payments-api > payments-api.sarif`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Enum flags are case-insensitive, as --control is.
			format, f.Severity, f.Status = strings.ToLower(format), strings.ToLower(f.Severity), strings.ToLower(f.Status)
			switch format {
			case "table", "json", "csv", "sarif":
			default:
				return usageError("--format must be table, json, csv or sarif, not %q", format)
			}
			if f.Severity != "" && !inventory.ValidSeverity(f.Severity) {
				return usageError("--severity must be critical, high, medium or low, not %q", f.Severity)
			}
			if f.MinConfidence != "" {
				if err := validConfidenceFlag(f.MinConfidence); err != nil {
					return err
				}
			}
			switch f.Status {
			case "", "open", "resolved", "accepted", "false-positive", "all":
			default:
				return usageError("--status must be open, resolved, accepted, false-positive or all, not %q", f.Status)
			}
			ctx := cmd.Context()
			cfg, err := loadConfig(g.config)
			if err != nil {
				return err
			}
			rc, err := loadReadiness(cfg)
			if err != nil {
				return err
			}
			if f.Control != "" && rc.catalogue.Control(strings.ToUpper(f.Control)) == nil {
				return usageError("--control: no control %q (see nhi controls)", f.Control)
			}
			store, err := openExisting(cmd, g, cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := checkScanFlag(cmd, store, scanID, "gaps"); err != nil {
				return err
			}
			gaps, err := currentGaps(ctx, store, scanID)
			if err != nil {
				return err
			}
			if f.Repo != "" && (gitrepo.IsURL(f.Repo) || strings.ContainsAny(f.Repo, `/\`) || f.Repo == ".") {
				// A path or URL as the scan named it: "./app" is "/abs/app".
				f.Repo = gitrepo.ID(f.Repo)
			}
			gaps = report.FilterGaps(gaps, f)
			// The decisions give triaged gaps their reason, actor and expiry.
			ds, err := store.Decisions(ctx, "", "")
			if err != nil {
				return err
			}
			if format != "sarif" {
				if err := report.WriteGapsFit(g.stdout, gaps, rc.catalogue, format, ds, tableWidth(g.stdout, wide)); err != nil {
					return err
				}
				if format == "table" && len(gaps) > 0 && forPeople(g.stdout) {
					writeGapsNext(g.stdout, repeatFlags(g, cmd.Flags().Changed("db"), cmd.Flags().Changed("config")))
				}
				return nil
			}
			opt := report.SARIFOptions{Decisions: ds}
			opt.Revisions, opt.Remotes = repoProvenance(gaps, revision)
			st, err := report.WriteSARIF(g.stdout, gaps, rc.catalogue, opt)
			if err != nil {
				return err
			}
			fmt.Fprint(g.stderr, st.Note())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "table", "output format: table, json, csv or sarif")
	fl.StringVar(&f.Severity, "severity", "", "only gaps of this severity or worse")
	fl.StringVar(&f.Control, "control", "", "only gaps of this control (e.g. NHI-SEC-01)")
	fl.StringVar(&f.MinConfidence, "min-confidence", "", "only gaps on secrets matched with this confidence or more (high, medium or low), and gaps about anything else")
	fl.StringVar(&f.Owner, "owner", "", "only gaps whose owner contains this text")
	fl.StringVar(&f.Status, "status", "open", "open, resolved, accepted, false-positive or all")
	fl.Int64Var(&scanID, "scan", 0, "as of this scan (default: the latest complete scan)")
	fl.StringVar(&f.Repo, "repo", "", "only gaps in this repository (its path, URL or name); one SARIF file per repository for code scanning")
	fl.StringVar(&revision, "revision", "", "commit the SARIF describes (default: HEAD of a local repository)")
	wideFlag(cmd, &wide)
	return cmd
}

// repoProvenance finds, for each local repository the gaps are in, its
// HEAD commit and origin URL, which SARIF's versionControlProvenance
// names; revision, when given, is the commit of every repository.
func repoProvenance(gaps []inventory.Gap, revision string) (revs, remotes map[string]string) {
	revs, remotes = map[string]string{}, map[string]string{}
	for _, gp := range gaps {
		repo, _ := gp.Evidence["repo"].(string)
		if repo == "" {
			continue
		}
		if _, done := revs[repo]; done {
			continue
		}
		revs[repo] = revision
		if gitrepo.IsURL(repo) {
			continue
		}
		r, err := git.PlainOpen(repo)
		if err != nil {
			continue
		}
		if revision == "" {
			if head, err := r.Head(); err == nil {
				revs[repo] = head.Hash().String()
			}
		}
		if o, err := r.Remote("origin"); err == nil && len(o.Config().URLs) > 0 {
			remotes[repo] = o.Config().URLs[0]
		}
	}
	return revs, remotes
}

// currentGaps returns the gaps of scan id (0: latest complete) with
// triage decisions applied.
func currentGaps(ctx context.Context, store *inventory.Store, id int64) ([]inventory.Gap, error) {
	var err error
	if id == 0 {
		if id, err = store.LatestComplete(ctx); err != nil {
			return nil, err
		}
	}
	return store.Gaps(ctx, id)
}

func newControlsCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "controls",
		Short: "Print the control catalogue with its framework references",
		Long: `Print the readiness controls in force (the embedded catalogue with the
overrides of nhi.yaml applied): id, severity, title, and the SOC 2, NIST CSF
2.0 and OWASP NHI Top 10 criteria each one evidences.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usageError("--format must be table or json, not %q", format)
			}
			cfg, err := loadConfig(g.config)
			if err != nil {
				return err
			}
			rc, err := loadReadiness(cfg)
			if err != nil {
				return err
			}
			return report.WriteControls(g.stdout, rc.catalogue, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// sameDecision is an owner decision equal to the one in force: nothing
// is recorded, and that is not an error.
type sameDecision struct{ msg string }

func (s *sameDecision) Error() string { return s.msg }

// recordDecision records d on gap gp through the readiness service, which
// refuses a decision that one in force already covers and applies an owner
// at once (the TUI records through the same service); this words the
// refusal for the command line.
func recordDecision(ctx context.Context, svc *readiness.Service, gp inventory.Gap, d *inventory.Decision) error {
	err := svc.Decide(ctx, gp, d)
	var c *inventory.DecisionConflictError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &c) && c.Same:
		return &sameDecision{fmt.Sprintf("gap %d: %s is already owned by %s (decision %d by %s); nothing recorded",
			gp.ID, gp.SubjectKey, c.InForce.Value, c.InForce.ID, c.InForce.Actor)}
	case errors.As(err, &c):
		why := ""
		if c.InForce.Reason != "" {
			why = fmt.Sprintf(" (%q)", c.InForce.Reason)
		}
		return usageError("gap %d already has a decision in force: decision %d, %s%s; to change it, undo that first: nhi triage undo %d",
			gp.ID, c.InForce.ID, c.InForce.Summary(), why, c.InForce.ID)
	}
	return usageError("%v", err)
}

func defaultActor() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

func newTriageCmd(g *globals) *cobra.Command {
	var actor string
	cmd := &cobra.Command{
		Use:   "triage",
		Short: "Record triage decisions: owner, accept a risk, false positive, undo",
		Long: `Record the decisions the TUI records, from scripts. Decisions are kept with
their actor, time and reason, survive re-scans (they are keyed by the stable
ids of identities and credentials) and show in 'nhi gaps' as status accepted or
false-positive. An expired acceptance reopens its gap.`,
		Example: `  nhi triage owner 42 team-payments
  nhi triage accept 17 --reason "legacy batch job, replaced in Q3" --expires 2027-03-31
  nhi triage false-positive 18 --reason "test fixture"
  nhi triage undo 5
  nhi triage list`,
	}
	cmd.PersistentFlags().StringVar(&actor, "actor", defaultActor(), "who decides (default $USER)")

	withGap := func(cmd *cobra.Command, arg string, fn func(ctx context.Context, svc *readiness.Service, gap inventory.Gap) error) error {
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return usageError("gap id must be a number (see nhi gaps), not %q", arg)
		}
		ctx := cmd.Context()
		svc, store, err := openReadiness(cmd, g)
		if err != nil {
			return err
		}
		defer store.Close()
		gp, err := svc.Gap(ctx, 0, id)
		if errors.Is(err, inventory.ErrNoGap) {
			return usageError("no gap %d in the latest scan (see nhi gaps --status all)", id)
		}
		if err != nil {
			return err
		}
		return fn(ctx, svc, gp)
	}

	var reason, expires string
	accept := &cobra.Command{
		Use:   "accept GAP-ID --reason TEXT --expires YYYY-MM-DD",
		Short: "Accept the risk of a gap until a date",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" || expires == "" {
				return usageError("accepting a risk needs --reason and --expires")
			}
			exp, err := time.Parse("2006-01-02", expires)
			if err != nil {
				return usageError("--expires must be a date YYYY-MM-DD, not %q", expires)
			}
			// An acceptance ends at the start of its day (UTC), as the TUI's.
			if !exp.After(time.Now().UTC()) {
				return usageError("--expires %s is not in the future: an acceptance must end after today", expires)
			}
			return withGap(cmd, args[0], func(ctx context.Context, svc *readiness.Service, gp inventory.Gap) error {
				d := &inventory.Decision{SubjectKind: gp.SubjectKind, SubjectKey: gp.SubjectKey, ControlID: gp.ControlID,
					Action: inventory.ActionAcceptRisk, Reason: reason, Actor: actor, ExpiresAt: &exp}
				if err := recordDecision(ctx, svc, gp, d); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "decision %d: gap %d (%s on %s) accepted by %s until %s\n", d.ID, gp.ID, gp.ControlID, gp.SubjectKey, actor, expires)
				return nil
			})
		},
	}
	accept.Flags().StringVar(&reason, "reason", "", "why the risk is accepted (required)")
	accept.Flags().StringVar(&expires, "expires", "", "date the acceptance ends, YYYY-MM-DD (required)")

	var fpReason string
	fp := &cobra.Command{
		Use:   "false-positive GAP-ID --reason TEXT",
		Short: "Mark a gap as a false positive",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fpReason == "" {
				return usageError("marking a false positive needs --reason")
			}
			return withGap(cmd, args[0], func(ctx context.Context, svc *readiness.Service, gp inventory.Gap) error {
				d := &inventory.Decision{SubjectKind: gp.SubjectKind, SubjectKey: gp.SubjectKey, ControlID: gp.ControlID,
					Action: inventory.ActionFalsePositive, Reason: fpReason, Actor: actor}
				if err := recordDecision(ctx, svc, gp, d); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "decision %d: gap %d marked false positive by %s\n", d.ID, gp.ID, actor)
				return nil
			})
		},
	}
	fp.Flags().StringVar(&fpReason, "reason", "", "why it is not a real gap (required)")

	var ownerReason string
	own := &cobra.Command{
		Use:   "owner GAP-ID OWNER",
		Short: "Assign an owner to the subject of a gap (takes effect at once)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withGap(cmd, args[0], func(ctx context.Context, svc *readiness.Service, gp inventory.Gap) error {
				d := &inventory.Decision{SubjectKind: gp.SubjectKind, SubjectKey: gp.SubjectKey, Action: inventory.ActionOwner,
					Value: args[1], Reason: ownerReason, Actor: actor}
				if err := recordDecision(ctx, svc, gp, d); err != nil {
					var same *sameDecision
					if errors.As(err, &same) {
						fmt.Fprintln(g.stdout, same.msg)
						return nil
					}
					return err
				}
				fmt.Fprintf(g.stdout, "decision %d: %s owned by %s (set by %s)\n", d.ID, gp.SubjectKey, args[1], actor)
				return nil
			})
		},
	}
	own.Flags().StringVar(&ownerReason, "reason", "", "optional note")

	undo := &cobra.Command{
		Use:   "undo DECISION-ID",
		Short: "Revoke a decision (it stays in the history as revoked)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageError("decision id must be a number (see nhi triage list), not %q", args[0])
			}
			ctx := cmd.Context()
			svc, store, err := openReadiness(cmd, g)
			if err != nil {
				return err
			}
			defer store.Close()
			if _, err := svc.Revoke(ctx, id, actor); err != nil {
				return usageError("%v", err)
			}
			fmt.Fprintf(g.stdout, "decision %d revoked by %s\n", id, actor)
			return nil
		},
	}
	var listFormat string
	list := &cobra.Command{
		Use:   "list",
		Short: "List decisions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_, store, err := openExistingInventory(cmd, g)
			if err != nil {
				return err
			}
			defer store.Close()
			ds, err := store.Decisions(ctx, "", "")
			if err != nil {
				return err
			}
			return report.WriteDecisions(g.stdout, ds, listFormat)
		},
	}
	list.Flags().StringVar(&listFormat, "format", "table", "table or json")
	cmd.AddCommand(own, accept, fp, undo, list)
	return cmd
}
