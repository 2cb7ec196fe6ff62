package main

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/evidence"
)

// exitVerifyFailed: nhi evidence verify found the package changed,
// incomplete, or not signed by the key.
const exitVerifyFailed = 5

// signOffline is --sign's only value: the offline key, no Fulcio/Rekor.
const signOffline = "keyless-off"

const (
	defaultEvidenceKey = "nhi-evidence.key"
	defaultEvidencePub = "nhi-evidence.pub"
)

func newEvidenceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Export and verify the signed audit evidence package",
		Long: `The audit evidence package proves nhi's controls operated over a period: every
scan's result per control, the inventory at the period's end, the gaps with
their lifecycle, the triage decisions and the scan ledger with its hash chain,
as CSV, JSONL, OSCAL 1.1.3 and a self-contained report.html, in one tar.gz
signed with an offline key (an in-toto statement in a DSSE envelope, written as
a Sigstore bundle inside the archive).

  nhi evidence keygen                       once: nhi-evidence.key and .pub
  nhi evidence export --out q3.tar.gz --since 2026-07-01 --until 2026-09-30
  nhi evidence verify q3.tar.gz --key nhi-evidence.pub`,
	}
	cmd.AddCommand(newEvidenceKeygenCmd(g), newEvidenceExportCmd(g), newEvidenceVerifyCmd(g))
	return cmd
}

func newEvidenceKeygenCmd(g *globals) *cobra.Command {
	var key, pub, format string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create the offline key pair that signs evidence packages",
		Long: `Create an ECDSA P-256 key pair: the private key (PKCS #8 PEM, mode 0600) signs
packages, the public key (PEM) is what an auditor verifies them with, with nhi
or with cosign. Works offline. Existing files are never overwritten.`,
		Example: `  nhi evidence keygen
  nhi evidence keygen --key /secure/nhi-evidence.key --pub nhi-evidence.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError("--format must be text or json, not %q", format)
			}
			if pub == "" {
				pub = strings.TrimSuffix(key, filepath.Ext(key)) + ".pub"
			}
			if err := evidence.Keygen(key, pub); err != nil {
				return usageError("%v", err)
			}
			if format == "json" {
				return writeJSON(g.stdout, map[string]string{"private_key": key, "public_key": pub})
			}
			fmt.Fprintf(g.stdout, "private key: %s (keep it secret; it signs packages)\npublic key:  %s (give it to the auditor)\n", key, pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", defaultEvidenceKey, "private key file to create")
	cmd.Flags().StringVar(&pub, "pub", "", "public key file to create (default: --key with .pub)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseDay reads --since/--until: a date (the start of that day, UTC) or
// an RFC 3339 time. endOfDay makes a date mean the end of that day.
func parseDay(flag, s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError("--%s must be a date (2026-07-01) or an RFC 3339 time, not %q", flag, s)
	}
	return t.UTC(), nil
}

func newEvidenceExportCmd(g *globals) *cobra.Command {
	var (
		out, since, until, signKey, format string
		signMode                           string
		interval                           time.Duration
		scopes                             []string
	)
	cmd := &cobra.Command{
		Use:   "export --out FILE",
		Short: "Write the signed evidence package of a period",
		Long: `Write the evidence package of the scans started in the period to --out (a
tar.gz). --since and --until take dates (--until is inclusive: the whole day)
or RFC 3339 times; without them the package covers every scan. Exporting the
same period twice gives byte-identical content files.

--scope KIND:ID (repeatable) restricts the package to some targets, spelled
as for nhi scan and matched through the same canonicalisation: repo:PATH-or-URL
(everything read from that repository: git history, CI and agent
configuration), git:, ci:PATH, dir:PATH, aws:ACCOUNT, vault:ADDR, or a target
exactly as the scans recorded it. The package then holds only those targets'
identities, credentials (those seen in them too), gaps, decisions, control
rows and scan outcomes, and manifest.json says so (restricted_to). A target no
scan covered is a usage error (exit 2) that lists the known ones.

The package holds manifest.json (period, scope, every scan with its outcome per
source, schedule gaps longer than --interval, config digests, the SHA-256 of
every file), controls.csv/.jsonl and criteria.csv (each control and criterion
in each scan), identities.csv, credentials.csv and inventory.jsonl (the
inventory at the period's end), gaps.csv/.jsonl and gap-events.csv (the gap
lifecycle), decisions.csv/.jsonl, ledger.jsonl (the scan rows with their hash
chain), tips.csv (the branch and tag heads each scan read in each repository,
also listed per scan in the manifest), oscal/assessment-results.json and oscal/poam.json, report.html, and
attestation.sigstore.json (the signature). No secret value is in it.

Signing is offline: --sign keyless-off (the default, the form the issue spells)
signs with the ECDSA key of --sign-key, with no Fulcio certificate and no Rekor
log entry, so it works air-gapped. Keyless signing (--sign keyless and the
like) needs network access to Fulcio and Rekor and is refused (exit 2).`,
		Example: `  nhi evidence export --out evidence-2026-q3.tar.gz --since 2026-07-01 --until 2026-09-30
  nhi evidence export --out last-month.tar.gz --since 2026-11-01 --sign-key /secure/nhi-evidence.key
  nhi evidence export --out q3.tar.gz --sign keyless-off --sign-key /secure/nhi-evidence.key
  nhi evidence export --out payments.tar.gz --scope repo:https://github.com/acme/payments --scope aws:123456789012`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError("--format must be text or json, not %q", format)
			}
			if out == "" {
				return usageError("--out FILE is required: where to write the package (a .tar.gz)")
			}
			from, err := parseDay("since", since, false)
			if err != nil {
				return err
			}
			to, err := parseDay("until", until, true)
			if err != nil {
				return err
			}
			if signMode != signOffline {
				return usageError("--sign %q: keyless signing (a Fulcio certificate, a Rekor transparency log entry) needs network access and is not supported; "+
					"nhi signs offline: --sign %s with the key of --sign-key (the default)", signMode, signOffline)
			}
			if interval < 0 {
				return usageError("--interval must be positive, not %s", interval)
			}
			signer, err := evidence.LoadSigner(signKey)
			if err != nil {
				return usageError("%v", err)
			}
			cfg, store, err := openExistingInventory(cmd, g)
			if err != nil {
				return err
			}
			defer store.Close()
			known, err := store.KnownTargets(cmd.Context())
			if err != nil {
				return err
			}
			scope, err := resolveScope(scopes, known)
			if err != nil {
				return err
			}
			rc, err := loadReadiness(cfg)
			if err != nil {
				return err
			}
			tmp, err := os.CreateTemp(filepath.Dir(out), ".nhi-evidence-*.tar.gz")
			if err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			defer os.Remove(tmp.Name())
			m, err := evidence.Export(cmd.Context(), store, evidence.Options{Since: from, Until: to, Interval: interval,
				ToolVersion: toolVersion(), Catalogue: rc.catalogue, Signer: signer, TempDir: filepath.Dir(out), Scope: scope}, tmp)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				if errors.Is(err, evidence.ErrNoScanInPeriod) || errors.Is(err, evidence.ErrUnknownTarget) {
					return usageError("%v", err)
				}
				return err
			}
			if err := os.Chmod(tmp.Name(), 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			if format == "json" {
				return writeJSON(g.stdout, map[string]any{"out": out, "manifest": m})
			}
			c := m.Completeness
			fmt.Fprintf(g.stdout, "wrote %s: %d files, period %s to %s\n", out, len(m.Files)+2, m.Period.Since.Format(time.RFC3339), m.Period.Until.Format(time.RFC3339))
			if r := m.RestrictedTo; r != nil {
				fmt.Fprintf(g.stdout, "  restricted to %s\n", strings.Join(r.Targets, ", "))
			}
			fmt.Fprintf(g.stdout, "  %d scans (%d complete, %d incomplete, %d failed, %d with a failed source); inventory of scan %d\n",
				c.Scans, c.Complete, c.Incomplete, c.Failed, c.SourceFailure, m.InventoryScan)
			if n := len(c.ScheduleGaps); n > 0 {
				fmt.Fprintf(g.stdout, "  %d stretches longer than %s without a complete scan (listed in manifest.json)\n", n, c.Interval)
			}
			if !c.ChainVerified {
				fmt.Fprintln(g.stdout, "  WARNING: the inventory's scan ledger hash chain is broken; verification of this package will fail")
			}
			fmt.Fprintf(g.stdout, "verify: nhi evidence verify %s --key %s\n", out, strings.TrimSuffix(signKey, filepath.Ext(signKey))+".pub")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "package file to write (.tar.gz)")
	f.StringVar(&since, "since", "", "first day of the period (YYYY-MM-DD, UTC) or RFC 3339 time; default: the first scan")
	f.StringVar(&until, "until", "", "last day of the period, inclusive (YYYY-MM-DD, UTC) or RFC 3339 time (exclusive); default: the last scan")
	f.StringVar(&signKey, "sign-key", defaultEvidenceKey, "private key that signs the package (nhi evidence keygen)")
	f.StringVar(&signMode, "sign", signOffline, "how to sign: only "+signOffline+" (the offline key of --sign-key, no Fulcio or Rekor); keyless signing needs network access and is not supported")
	f.StringArrayVar(&scopes, "scope", nil, "restrict the package to a target, KIND:ID (repo:PATH-or-URL, git:, ci:PATH, dir:PATH, aws:ACCOUNT, vault:ADDR); repeatable")
	f.DurationVar(&interval, "interval", 24*time.Hour, "expected time between scans: longer stretches without a complete scan are listed as schedule gaps")
	f.StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func newEvidenceVerifyCmd(g *globals) *cobra.Command {
	var key, format string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check an evidence package: signature, every file's digest, the ledger chain, the period",
		Long: `Check an evidence package without trusting the inventory that wrote it: the
signature over the in-toto statement with the public key, every file's SHA-256
against the signed statement and the manifest (no file changed, removed or
added), the scan ledger's hash chain, and that the manifest's period and scans
are those of the ledger and the control results. Prints each check; exits 5
with the first failure's exact reason.`,
		Example: `  nhi evidence verify evidence-2026-q3.tar.gz --key nhi-evidence.pub
  nhi evidence verify evidence-2026-q3.tar.gz --key nhi-evidence.pub --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("--format must be text or json, not %q", format)
			}
			pub, err := evidence.LoadPublicKey(key)
			if err != nil {
				return usageError("--key: %v (the .pub written by nhi evidence keygen)", err)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			defer f.Close()
			return reportVerification(g, args[0], pub, f, format)
		},
	}
	cmd.Flags().StringVar(&key, "key", defaultEvidencePub, "public key to check the signature with")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func reportVerification(g *globals, name string, pub crypto.PublicKey, r io.Reader, format string) error {
	v, verr := evidence.Verify(r, pub)
	if format == "json" {
		if err := writeJSON(g.stdout, map[string]any{"file": name, "ok": v.OK, "reason": v.Reason, "checks": v.Checks}); err != nil {
			return err
		}
	} else {
		for _, c := range v.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(g.stdout, "%s %-15s %s\n", mark, c.Name, c.Detail)
		}
		if v.OK {
			fmt.Fprintf(g.stdout, "%s: verified\n", name)
		}
	}
	if verr != nil {
		return &exitError{code: exitVerifyFailed, err: fmt.Errorf("%s: %s", name, v.Reason)}
	}
	return nil
}
