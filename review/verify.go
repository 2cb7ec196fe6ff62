package review

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// VerifyRevocations checks every revoke decision not yet seen carried out
// against the inventory of scan (settled, not yet judged) and records what
// it saw: done when the subject is gone, or none of its credentials is
// live any more (an IAM key deleted or inactive, a Vault secret-id gone, a
// KV secret deleted); still-present, naming what is live, otherwise; and
// unverifiable for a secret only in git history, whose provider nhi cannot
// ask. A subject the scan carried (its target not read in full) is not
// judged on what an older scan saw: no check is recorded for it.
func VerifyRevocations(ctx context.Context, store *inventory.Store, scan int64, now time.Time) (int, error) {
	pending, err := store.PendingRevocations(ctx)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	ids, err := store.Identities(ctx, scan)
	if err != nil {
		return 0, err
	}
	creds, err := store.Credentials(ctx, scan)
	if err != nil {
		return 0, err
	}
	carried, err := store.CarriedSubjects(ctx, scan)
	if err != nil {
		return 0, err
	}
	identity := map[string]*inventory.IdentityRow{}
	for i := range ids {
		identity[ids[i].Identity.Key] = &ids[i]
	}
	credential := map[string]*inventory.CredentialRow{}
	ofIdentity := map[string][]*inventory.CredentialRow{}
	for i := range creds {
		c := &creds[i]
		credential[c.Credential.Key] = c
		if c.IdentityKey != "" {
			ofIdentity[c.IdentityKey] = append(ofIdentity[c.IdentityKey], c)
		}
	}
	snapshots := map[int64]map[int]inventory.ReviewItem{}
	var checks []inventory.RevocationCheck
	for _, a := range pending {
		if carried[a.SubjectKind+"\x00"+a.SubjectKey] {
			continue
		}
		items := snapshots[a.ReviewID]
		if items == nil {
			list, err := store.ReviewItems(ctx, a.ReviewID)
			if err != nil {
				return 0, err
			}
			items = map[int]inventory.ReviewItem{}
			for _, it := range list {
				items[it.No] = it
			}
			snapshots[a.ReviewID] = items
		}
		status, detail := judge(a, items[a.ItemNo], identity, credential, ofIdentity)
		checks = append(checks, inventory.RevocationCheck{AttestationID: a.ID, ScanID: scan, Status: status, At: now,
			Detail: fmt.Sprintf("scan %d: %s", scan, detail)})
	}
	return len(checks), store.AddRevocationChecks(ctx, checks)
}

func judge(a inventory.Attestation, it inventory.ReviewItem, identity map[string]*inventory.IdentityRow,
	credential map[string]*inventory.CredentialRow, ofIdentity map[string][]*inventory.CredentialRow) (string, string) {
	if a.SubjectKind == inventory.SubjectIdentity {
		id := identity[a.SubjectKey]
		if id == nil {
			return inventory.RevocationDone, "the identity is no longer in the inventory"
		}
		cs := ofIdentity[a.SubjectKey]
		if len(cs) == 0 && len(it.Snapshot.Credentials) == 0 {
			// A role or pipeline revoked as such: only its removal is.
			return inventory.RevocationStillPresent, fmt.Sprintf("%s %s still exists", id.Identity.Kind, id.Identity.Name)
		}
		var live []string
		for _, c := range cs {
			if isLive(c) {
				live = append(live, describe(c))
			}
		}
		if len(live) == 0 {
			return inventory.RevocationDone, fmt.Sprintf("no live credential left on %s (%s)", id.Identity.Name, summary(cs))
		}
		return inventory.RevocationStillPresent, "still live: " + strings.Join(live, ", ")
	}
	c := credential[a.SubjectKey]
	if c == nil {
		return inventory.RevocationDone, "the credential is no longer in the inventory"
	}
	if !isLive(c) {
		return inventory.RevocationDone, describe(c)
	}
	if onlyInHistory(c) {
		return inventory.RevocationUnverifiable, describe(c) + " is a secret in git history: nhi cannot ask its provider whether it was rotated; confirm it there"
	}
	return inventory.RevocationStillPresent, "still live: " + describe(c)
}

// isLive reports whether a credential may still be used: active, or of
// no known status, and not deleted.
func isLive(c *inventory.CredentialRow) bool {
	cr := c.Credential
	if cr.Facts().Bool(inventory.AttrDeleted) {
		return false
	}
	if cr.Active() {
		return true
	}
	switch strings.ToLower(cr.Status) {
	case "inactive", "expired", "revoked", "deleted", "disabled":
		return false
	}
	return true
}

// onlyInHistory: seen in git and nowhere a provider reports on it.
func onlyInHistory(c *inventory.CredentialRow) bool {
	if c.Credential.Status != "" || len(c.Occurrences) == 0 {
		return false
	}
	for _, o := range c.Occurrences {
		if o.Source != inventory.SourceGit {
			return false
		}
	}
	return true
}

func describe(c *inventory.CredentialRow) string {
	s := c.Credential.Type + " " + c.Credential.Label()
	if c.Credential.Status != "" {
		s += " " + c.Credential.Status
	}
	if c.Credential.Facts().Bool(inventory.AttrDeleted) {
		s += " deleted"
	}
	return s
}

func summary(cs []*inventory.CredentialRow) string {
	if len(cs) == 0 {
		return "none left"
	}
	var parts []string
	for _, c := range cs {
		parts = append(parts, describe(c))
	}
	return strings.Join(parts, ", ")
}
