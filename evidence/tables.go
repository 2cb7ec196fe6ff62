package evidence

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func tsp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ts(*t)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// writeLedger copies the period's scan rows as stored.
func (e *export) writeLedger() error {
	f, err := e.wd.create("ledger.jsonl")
	if err != nil {
		return err
	}
	for _, r := range e.ledgerRows {
		if err := f.line(r); err != nil {
			return err
		}
	}
	return nil
}

// controlPoint is one control in one scan.
type controlPoint struct {
	Scan     int64     `json:"scan_id"`
	At       time.Time `json:"scan_started_at"`
	Status   string    `json:"scan_status"`
	Control  string    `json:"control_id"`
	Title    string    `json:"title"`
	Severity string    `json:"severity"`
	// Evaluated and Passing are nil in a package restricted to some
	// targets: they are recorded for the whole inventory only.
	Evaluated  *int           `json:"evaluated,omitempty"`
	Passing    *int           `json:"passing,omitempty"`
	Failing    int            `json:"failing"`
	Unresolved map[string]int `json:"unresolved_by_severity"`
	SOC2       []string       `json:"soc2"`
	NISTCSF    []string       `json:"nist_csf"`
	OWASPNHI   []string       `json:"owasp_nhi"`
}

// writeControls writes the per-control and per-criterion time series.
func (e *export) writeControls() error {
	unresolved, err := e.store.UnresolvedByControl(e.ctx, e.last, e.opts.Scope)
	if err != nil {
		return err
	}
	at := map[int64]inventory.Scan{}
	for _, sc := range e.scans {
		at[sc.ID] = sc
	}
	err = e.store.ControlResultsBetween(e.ctx, e.first, e.last, func(scan int64, r inventory.ControlResult) error {
		sc := at[scan]
		p := controlPoint{Scan: scan, At: sc.StartedAt.UTC(), Status: sc.Status, Control: r.ControlID, Severity: r.Severity,
			Evaluated: &r.Evaluated, Passing: &r.Passing, Failing: r.Evaluated - r.Passing, Unresolved: map[string]int{}}
		if e.opts.Scope != nil {
			p.Evaluated, p.Passing, p.Failing = nil, nil, 0
		}
		for sev, n := range unresolved[scan][r.ControlID] {
			p.Unresolved[sev] = n
			if e.opts.Scope != nil {
				p.Failing += n
			}
		}
		if c := e.opts.Catalogue.Control(r.ControlID); c != nil {
			p.Title, p.SOC2, p.NISTCSF, p.OWASPNHI = c.Title, nonNil(c.Frameworks.SOC2), nonNil(c.Frameworks.NISTCSF), nonNil(c.Frameworks.OWASPNHI)
		} else {
			p.SOC2, p.NISTCSF, p.OWASPNHI = []string{}, []string{}, []string{}
		}
		e.series = append(e.series, p)
		return nil
	})
	if err != nil {
		return err
	}
	csvf, err := e.wd.create("controls.csv")
	if err != nil {
		return err
	}
	jf, err := e.wd.create("controls.jsonl")
	if err != nil {
		return err
	}
	head := []string{"scan_id", "scan_started_at", "scan_status", "control_id", "title", "severity", "evaluated", "passing", "failing"}
	for _, sev := range inventory.Severities() {
		head = append(head, "unresolved_"+sev)
	}
	head = append(head, "soc2", "nist_csf", "owasp_nhi")
	if err := csvf.row(head...); err != nil {
		return err
	}
	for _, p := range e.series {
		rec := []string{itoa(p.Scan), ts(p.At), p.Status, p.Control, p.Title, p.Severity, count(p.Evaluated), count(p.Passing), strconv.Itoa(p.Failing)}
		for _, sev := range inventory.Severities() {
			rec = append(rec, strconv.Itoa(p.Unresolved[sev]))
		}
		rec = append(rec, strings.Join(p.SOC2, " "), strings.Join(p.NISTCSF, " "), strings.Join(p.OWASPNHI, " "))
		if err := csvf.row(rec...); err != nil {
			return err
		}
		if err := jf.line(p); err != nil {
			return err
		}
	}
	cf, err := e.wd.create("criteria.csv")
	if err != nil {
		return err
	}
	if err := cf.row("scan_id", "scan_started_at", "framework", "criterion", "evaluated", "passing"); err != nil {
		return err
	}
	if e.opts.Scope != nil {
		// Criterion results are counted for the whole inventory only.
		return nil
	}
	return e.store.CriterionResultsBetween(e.ctx, e.first, e.last, func(scan int64, r inventory.CriterionResult) error {
		return cf.row(itoa(scan), ts(at[scan].StartedAt), r.Framework, r.Criterion, strconv.Itoa(r.Evaluated), strconv.Itoa(r.Passing))
	})
}

// count is a count for a CSV cell, "" when it is not known.
func count(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// ageDays is the whole days from t to asOf ("" when t is unknown).
func ageDays(t *time.Time, asOf time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return strconv.Itoa(int(asOf.Sub(*t).Hours() / 24))
}

// identityRecord is an identity in inventory.jsonl.
type identityRecord struct {
	Record      string            `json:"record"`
	ID          string            `json:"id"`
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Source      string            `json:"source"`
	Provider    string            `json:"provider,omitempty"`
	Account     string            `json:"account,omitempty"`
	Owner       string            `json:"owner"`
	OwnerSource string            `json:"owner_source"`
	CreatedAt   *time.Time        `json:"created_at,omitempty"`
	AgeDays     *int              `json:"age_days,omitempty"`
	LastUsedAt  *time.Time        `json:"last_used_at,omitempty"`
	AuthMode    string            `json:"auth_mode,omitempty"`
	Privileges  string            `json:"privileges,omitempty"`
	Target      string            `json:"target,omitempty"`
	FirstSeen   time.Time         `json:"first_seen"`
	Tags        map[string]string `json:"tags,omitempty"`
	Credentials []string          `json:"credentials"`
}

// credentialRecord is a credential in inventory.jsonl.
type credentialRecord struct {
	Record        string     `json:"record"`
	ID            string     `json:"id"`
	Type          string     `json:"type"`
	Identity      string     `json:"identity,omitempty"`
	Owner         string     `json:"owner"`
	OwnerSource   string     `json:"owner_source"`
	CreatedAt     *time.Time `json:"created_at,omitempty"`
	AgeDays       *int       `json:"age_days,omitempty"`
	LastRotatedAt *time.Time `json:"last_rotated_at,omitempty"`
	LastUsedAt    *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	Status        string     `json:"status,omitempty"`
	VaultStatus   string     `json:"vault_status"`
	Fingerprint   string     `json:"fingerprint,omitempty"`
	Redacted      string     `json:"redacted,omitempty"`
	Occurrences   int        `json:"occurrences"`
	Sources       []string   `json:"sources"`
	Target        string     `json:"target,omitempty"`
	FirstSeen     time.Time  `json:"first_seen"`
}

func agePtr(t *time.Time, asOf time.Time) *int {
	if t == nil || t.IsZero() {
		return nil
	}
	n := int(asOf.Sub(*t).Hours() / 24)
	return &n
}

// writeInventory writes the inventory of the period's last complete scan.
func (e *export) writeInventory() error {
	idf, err := e.wd.create("identities.csv")
	if err != nil {
		return err
	}
	crf, err := e.wd.create("credentials.csv")
	if err != nil {
		return err
	}
	jf, err := e.wd.create("inventory.jsonl")
	if err != nil {
		return err
	}
	if err := idf.row("id", "kind", "name", "source", "provider", "account", "owner", "owner_source", "created_at", "age_days",
		"last_used_at", "auth_mode", "privileges", "target", "first_seen", "credentials"); err != nil {
		return err
	}
	err = e.store.EachIdentity(e.ctx, e.invID, e.opts.Scope, func(r inventory.IdentityRow) error {
		i := r.Identity
		rec := identityRecord{Record: "identity", ID: i.Key, Kind: i.Kind, Name: safeText(i.Name), Source: i.Source, Provider: i.Provider, Account: i.Account,
			Owner: i.Owner, OwnerSource: i.OwnerSource, CreatedAt: i.CreatedAt, AgeDays: agePtr(i.CreatedAt, e.asOf), LastUsedAt: i.LastUsedAt,
			AuthMode: i.AuthMode, Privileges: i.Privileges, Target: i.Target, FirstSeen: r.FirstSeen.UTC(), Tags: i.Tags, Credentials: nonNil(r.CredentialKeys)}
		if err := idf.row(rec.ID, rec.Kind, rec.Name, rec.Source, rec.Provider, rec.Account, rec.Owner, rec.OwnerSource, tsp(rec.CreatedAt),
			ageDays(rec.CreatedAt, e.asOf), tsp(rec.LastUsedAt), rec.AuthMode, rec.Privileges, rec.Target, ts(rec.FirstSeen), strings.Join(rec.Credentials, " ")); err != nil {
			return err
		}
		if err := e.oscal.inventoryItem("identity", rec.ID, rec.Kind+" "+rec.Name, rec.Owner); err != nil {
			return err
		}
		return jf.line(rec)
	})
	if err != nil {
		return err
	}
	if err := crf.row("id", "type", "identity", "owner", "owner_source", "created_at", "age_days", "last_rotated_at", "last_used_at",
		"expires_at", "status", "vault_status", "fingerprint", "redacted", "occurrences", "sources", "target", "first_seen"); err != nil {
		return err
	}
	return e.store.EachCredential(e.ctx, e.invID, e.opts.Scope, func(s inventory.CredentialSummary) error {
		c := s.Row.Credential
		created := c.CreatedAt
		if created == nil {
			// A secret found in code is as old as the inventory knows it.
			fs := s.Row.FirstSeen
			created = &fs
		}
		rec := credentialRecord{Record: "credential", ID: c.Key, Type: c.Type, Identity: c.IdentityKey, Owner: c.Owner, OwnerSource: c.OwnerSource,
			CreatedAt: c.CreatedAt, AgeDays: agePtr(created, e.asOf), LastRotatedAt: c.LastRotatedAt, LastUsedAt: c.LastUsedAt, ExpiresAt: c.ExpiresAt,
			Status: c.Status, VaultStatus: c.VaultStatus, Fingerprint: c.Fingerprint, Redacted: c.Redacted, Occurrences: s.Occurrences,
			Sources: nonNil(s.Sources), Target: c.Target, FirstSeen: s.Row.FirstSeen.UTC()}
		age := ""
		if rec.AgeDays != nil {
			age = strconv.Itoa(*rec.AgeDays)
		}
		if err := crf.row(rec.ID, rec.Type, rec.Identity, rec.Owner, rec.OwnerSource, tsp(rec.CreatedAt), age, tsp(rec.LastRotatedAt),
			tsp(rec.LastUsedAt), tsp(rec.ExpiresAt), rec.Status, rec.VaultStatus, rec.Fingerprint, rec.Redacted, strconv.Itoa(rec.Occurrences),
			strings.Join(rec.Sources, " "), rec.Target, ts(rec.FirstSeen)); err != nil {
			return err
		}
		if err := e.oscal.inventoryItem("credential", rec.ID, rec.Type+" "+c.Label(), rec.Owner); err != nil {
			return err
		}
		return jf.line(rec)
	})
}

// gapRecord is a gap in gaps.jsonl.
type gapRecord struct {
	ID          int64               `json:"gap_id"`
	Control     string              `json:"control_id"`
	SubjectKind string              `json:"subject_kind"`
	Subject     string              `json:"subject_id"`
	SubjectName string              `json:"subject_name,omitempty"`
	Family      string              `json:"family,omitempty"`
	Severity    string              `json:"severity"`
	Title       string              `json:"title"`
	Detail      string              `json:"detail"`
	Owner       string              `json:"owner"`
	Status      string              `json:"status"`
	FirstScan   int64               `json:"first_seen_scan"`
	FirstSeen   time.Time           `json:"first_seen"`
	LastScan    int64               `json:"last_seen_scan"`
	Resolved    int64               `json:"resolved_scan,omitempty"`
	ResolvedAt  *time.Time          `json:"resolved_at,omitempty"`
	Decision    *inventory.Decision `json:"decision,omitempty"`
	Frameworks  map[string][]string `json:"frameworks"`
}

// writeGaps writes every gap known in the period, and feeds the OSCAL
// documents and the report from the same pass.
func (e *export) writeGaps() error {
	cf, err := e.wd.create("gaps.csv")
	if err != nil {
		return err
	}
	jf, err := e.wd.create("gaps.jsonl")
	if err != nil {
		return err
	}
	if err := cf.row("gap_id", "control_id", "subject_kind", "subject_id", "subject_name", "severity", "title", "detail", "owner", "status",
		"first_seen_scan", "first_seen", "last_seen_scan", "resolved_scan", "resolved_at", "decision_id", "decision", "decided_by", "decided_at",
		"reason", "expires_at", "soc2", "nist_csf", "owasp_nhi"); err != nil {
		return err
	}
	return e.store.EachGapInPeriod(e.ctx, e.first, e.invID, e.asOf, e.opts.Scope, func(r inventory.GapRecord) error {
		g := r.Gap
		rec := gapRecord{ID: g.ID, Control: g.ControlID, SubjectKind: g.SubjectKind, Subject: g.SubjectKey, SubjectName: safeText(g.SubjectName),
			Family: g.Family, Severity: g.Severity, Title: g.Title, Detail: safeText(g.Detail), Owner: g.Owner, Status: g.Status, FirstScan: g.FirstScan,
			FirstSeen: g.FirstSeen.UTC(), LastScan: g.LastScan, Resolved: g.Resolved, ResolvedAt: r.ResolvedAt, Decision: r.Decision, Frameworks: g.Frameworks}
		if rec.Frameworks == nil {
			rec.Frameworks = map[string][]string{}
		}
		var did, daction, dby, dat, dreason, dexp string
		if d := r.Decision; d != nil {
			did, daction, dby, dat, dreason, dexp = itoa(d.ID), d.Action, d.Actor, ts(d.At), d.Reason, tsp(d.ExpiresAt)
		}
		resolved := ""
		if g.Resolved != 0 {
			resolved = itoa(g.Resolved)
		}
		fw := func(k string) string {
			v := append([]string(nil), rec.Frameworks[k]...)
			sort.Strings(v)
			return strings.Join(v, " ")
		}
		if err := cf.row(itoa(rec.ID), rec.Control, rec.SubjectKind, rec.Subject, rec.SubjectName, rec.Severity, rec.Title, rec.Detail, rec.Owner,
			rec.Status, itoa(rec.FirstScan), ts(rec.FirstSeen), itoa(rec.LastScan), resolved, tsp(rec.ResolvedAt), did, daction, dby, dat, dreason, dexp,
			fw("soc2"), fw("nist_csf"), fw("owasp_nhi")); err != nil {
			return err
		}
		e.report.gap(rec)
		if err := e.oscal.gap(rec); err != nil {
			return err
		}
		return jf.line(rec)
	})
}

// writeGapEvents writes the lifecycle of the period's gaps.
func (e *export) writeGapEvents() error {
	f, err := e.wd.create("gap-events.csv")
	if err != nil {
		return err
	}
	if err := f.row("gap_id", "at", "event", "scan_id", "decision_id", "actor", "reason", "expires_at"); err != nil {
		return err
	}
	return e.store.EachGapEvent(e.ctx, e.first, e.last, e.m.Period.Since, e.m.Period.Until, e.opts.Scope, func(ev inventory.GapEvent) error {
		scan, dec := "", ""
		if ev.ScanID != 0 {
			scan = itoa(ev.ScanID)
		}
		if ev.Decision != 0 {
			dec = itoa(ev.Decision)
		}
		return f.row(itoa(ev.GapID), ts(ev.At), ev.Event, scan, dec, ev.Actor, ev.Reason, tsp(ev.ExpiresAt))
	})
}

// writeDecisions writes the decisions log as of the period's end.
func (e *export) writeDecisions() error {
	cf, err := e.wd.create("decisions.csv")
	if err != nil {
		return err
	}
	jf, err := e.wd.create("decisions.jsonl")
	if err != nil {
		return err
	}
	if err := cf.row("decision_id", "subject_kind", "subject_id", "control_id", "action", "value", "reason", "actor", "at", "expires_at", "revoked_at", "revoked_by"); err != nil {
		return err
	}
	return e.store.EachDecision(e.ctx, e.m.Period.Until, e.opts.Scope, func(d inventory.Decision) error {
		if err := cf.row(itoa(d.ID), d.SubjectKind, d.SubjectKey, d.ControlID, d.Action, d.Value, d.Reason, d.Actor, ts(d.At), tsp(d.ExpiresAt),
			tsp(d.RevokedAt), d.RevokedBy); err != nil {
			return err
		}
		if d.Action == inventory.ActionAcceptRisk {
			e.report.acceptance(d)
		}
		return jf.line(d)
	})
}
