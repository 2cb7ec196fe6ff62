// Package review runs access reviews over the inventory (SOC 2
// CC6.2/CC6.3): it freezes a scope of identities at the start, groups them
// by owner into worksheets, takes the owners' keep / revoke / modify
// attestations (one at a time or a filled-in worksheet, all or nothing),
// reports progress per owner, closes the review, and after later scans
// checks that what was to be revoked was.
package review

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// DefaultDue is how long owners have to attest when --due is not given.
const DefaultDue = 30 * 24 * time.Hour

// StartOptions describe a review to start.
type StartOptions struct {
	Name string
	// Scope filters: "owner=X", "control=ID", "kind=K" (an identity kind
	// or a credential type; "kind=aws" matches every aws: kind). Filters
	// of one key are alternatives, of different keys all must hold.
	Scope    []string
	Due      time.Time // zero: Now + DefaultDue
	Fallback string    // reviewer of unowned items
	Actor    string
	Now      time.Time
}

// scopeKeys are the filters a scope takes.
var scopeKeys = []string{"owner", "control", "kind"}

// ParseScope checks scope filters, returning them by key.
func ParseScope(filters []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		known := false
		for _, x := range scopeKeys {
			known = known || x == k
		}
		if !ok || !known || v == "" {
			return nil, fmt.Errorf("--scope %q: a filter is owner=NAME, control=ID or kind=KIND", f)
		}
		if k == "control" {
			v = strings.ToUpper(v)
		}
		out[k] = append(out[k], v)
	}
	return out, nil
}

// Start freezes the scope of a new review from the latest complete scan
// and records it. Items are ordered by reviewer, kind and name, and
// numbered so.
func Start(ctx context.Context, store *inventory.Store, o StartOptions) (*inventory.Review, []inventory.ReviewItem, error) {
	if strings.TrimSpace(o.Name) == "" {
		return nil, nil, errors.New("a review needs a name (--name Q1-2027)")
	}
	if o.Fallback == "" {
		return nil, nil, errors.New("a review needs a fallback reviewer for unowned identities (--fallback-reviewer)")
	}
	filters, err := ParseScope(o.Scope)
	if err != nil {
		return nil, nil, err
	}
	if o.Now.IsZero() {
		o.Now = time.Now().UTC()
	}
	if o.Due.IsZero() {
		o.Due = o.Now.Add(DefaultDue)
	}
	if !o.Due.After(o.Now) {
		return nil, nil, fmt.Errorf("due date %s is not after the start (%s)", o.Due.Format("2006-01-02"), o.Now.Format("2006-01-02"))
	}
	scan, err := store.LatestComplete(ctx)
	if err != nil {
		return nil, nil, err
	}
	items, err := Candidates(ctx, store, scan, o.Fallback)
	if err != nil {
		return nil, nil, err
	}
	var in []inventory.ReviewItem
	for _, it := range items {
		if matches(filters, it) {
			in = append(in, it)
		}
	}
	if len(in) == 0 {
		return nil, nil, fmt.Errorf("the scope %s holds no identity in scan %d: nothing to review", strings.Join(o.Scope, " "), scan)
	}
	r := &inventory.Review{Name: o.Name, Scope: o.Scope, Fallback: o.Fallback, ScanID: scan, StartedAt: o.Now, StartedBy: o.Actor, DueAt: o.Due}
	if err := store.CreateReview(ctx, r, in); err != nil {
		return nil, nil, err
	}
	return r, in, nil
}

func matches(filters map[string][]string, it inventory.ReviewItem) bool {
	for key, vals := range filters {
		ok := false
		for _, v := range vals {
			switch key {
			case "owner":
				ok = ok || strings.EqualFold(it.Owner, v) || (it.Unowned && strings.EqualFold(it.Reviewer, v))
			case "kind":
				ok = ok || it.Kind == v || strings.HasPrefix(it.Kind, v+":")
			case "control":
				for _, g := range it.Snapshot.OpenGaps {
					ok = ok || g.ControlID == v
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Candidates are the review items scan holds: every identity and every
// credential no identity answers for, with what a reviewer is shown of
// them and their reviewer (the owner; fallback when there is none or it
// is only suspected).
func Candidates(ctx context.Context, store *inventory.Store, scan int64, fallback string) ([]inventory.ReviewItem, error) {
	ids, err := store.Identities(ctx, scan)
	if err != nil {
		return nil, err
	}
	creds, err := store.Credentials(ctx, scan)
	if err != nil {
		return nil, err
	}
	open, err := store.OpenGapsBySubject(ctx, scan, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	byIdentity := map[string][]*inventory.CredentialRow{}
	var items []inventory.ReviewItem
	for i := range creds {
		c := &creds[i]
		if c.IdentityKey != "" {
			byIdentity[c.IdentityKey] = append(byIdentity[c.IdentityKey], c)
		}
	}
	for _, r := range ids {
		id := r.Identity
		it := inventory.ReviewItem{SubjectKind: inventory.SubjectIdentity, SubjectKey: id.Key, Name: id.Name, Kind: id.Kind,
			Snapshot: inventory.ReviewSnapshot{Account: id.Account, Source: id.Source, CreatedAt: id.CreatedAt, LastUsedAt: id.LastUsedAt,
				Privileges: id.Privileges, AuthMode: id.AuthMode}}
		setOwner(&it, id.Owner, id.OwnerSource, fallback)
		gs := open[inventory.SubjectIdentity+"\x00"+id.Key]
		for _, c := range byIdentity[id.Key] {
			it.Snapshot.Credentials = append(it.Snapshot.Credentials, credentialOf(c))
			gs = append(gs, open[inventory.SubjectCredential+"\x00"+c.Credential.Key]...)
		}
		it.Snapshot.OpenGaps = dedupeGaps(gs)
		items = append(items, it)
	}
	for i := range creds {
		c := &creds[i]
		if c.IdentityKey != "" {
			continue
		}
		cr := c.Credential
		it := inventory.ReviewItem{SubjectKind: inventory.SubjectCredential, SubjectKey: cr.Key, Name: cr.Type + " " + cr.Label(), Kind: cr.Type,
			Snapshot: inventory.ReviewSnapshot{Source: sourceOf(c), CreatedAt: firstTime(cr.CreatedAt, earliest(c.Occurrences)), LastUsedAt: cr.LastUsedAt,
				Credentials: []inventory.ReviewCredential{credentialOf(c)}, OpenGaps: dedupeGaps(open[inventory.SubjectCredential+"\x00"+cr.Key])}}
		setOwner(&it, cr.Owner, cr.OwnerSource, fallback)
		items = append(items, it)
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Reviewer != b.Reviewer {
			return a.Reviewer < b.Reviewer
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return items, nil
}

func setOwner(it *inventory.ReviewItem, owner, source, fallback string) {
	it.Owner, it.OwnerSource = owner, source
	if owner == "" || strings.Contains(source, "suspected") {
		it.Unowned, it.Reviewer = true, fallback
		if owner != "" {
			it.Snapshot.SuspectedOwner, it.Owner = owner, ""
		}
		return
	}
	it.Reviewer = owner
}

func firstTime(ts ...*time.Time) *time.Time {
	for _, t := range ts {
		if t != nil && !t.IsZero() {
			return t
		}
	}
	return nil
}

// earliest is the date of the earliest dated occurrence (the commit that
// introduced a secret found in history).
func earliest(occ []inventory.Occurrence) *time.Time {
	var t *time.Time
	for _, o := range occ {
		if o.Date != nil && (t == nil || o.Date.Before(*t)) {
			t = o.Date
		}
	}
	return t
}

func sourceOf(c *inventory.CredentialRow) string {
	for _, o := range c.Occurrences {
		return o.Source
	}
	return ""
}

func dedupeGaps(gs []inventory.ReviewGap) []inventory.ReviewGap {
	seen := map[string]bool{}
	var out []inventory.ReviewGap
	for _, g := range gs {
		if !seen[g.ControlID] {
			seen[g.ControlID] = true
			out = append(out, g)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return inventory.SeverityRank(out[i].Severity) < inventory.SeverityRank(out[j].Severity)
	})
	return out
}

// maxPlaces caps the places listed per credential in a worksheet.
const maxPlaces = 5

func credentialOf(c *inventory.CredentialRow) inventory.ReviewCredential {
	cr := c.Credential
	out := inventory.ReviewCredential{Key: cr.Key, Type: cr.Type, Label: cr.Label(), Status: cr.Status, VaultStatus: cr.VaultStatus,
		CreatedAt: cr.CreatedAt, LastUsedAt: cr.LastUsedAt}
	seen := map[string]bool{}
	extra := 0
	for _, o := range c.Occurrences {
		p := place(o)
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		if len(out.Places) == maxPlaces {
			extra++
			continue
		}
		out.Places = append(out.Places, p)
	}
	if extra > 0 {
		out.Places = append(out.Places, fmt.Sprintf("and %d more", extra))
	}
	return out
}

// place is where an occurrence is, as a reviewer reads it.
func place(o inventory.Occurrence) string {
	var parts []string
	switch {
	case o.VaultPath != "":
		parts = append(parts, "vault "+o.VaultPath)
	case o.Path != "":
		p := o.Path
		if o.Line > 0 {
			p = fmt.Sprintf("%s:%d", p, o.Line)
		}
		if o.Repo != "" {
			p = inventory.RepoName(o.Repo) + "/" + p
		}
		parts = append(parts, p)
	case o.Source == inventory.SourceAWS:
		parts = append(parts, "aws iam")
	}
	if o.CIJob != "" {
		parts = append(parts, "job "+o.CIJob)
	}
	if o.Commit != "" {
		c := o.Commit
		if len(c) > 8 {
			c = c[:8]
		}
		parts = append(parts, "commit "+c)
	}
	return strings.Join(parts, " ")
}
