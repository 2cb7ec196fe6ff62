package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

// Credential types written by this source (the inventory's, which the
// controls compare against).
const (
	TypeAccessKey       = inventory.TypeAWSAccessKey
	TypeConsolePassword = inventory.TypeAWSConsolePassword
)

// account is what one IAM account looks like, whichever path (live API,
// credential report, authorization details) filled it. Both paths fill
// this model and one function turns it into inventory records, so the
// same account gives the same identities either way.
type account struct {
	id       string
	users    map[string]*user // by ARN
	roles    map[string]*role // by ARN
	groups   map[string]*group
	policies map[string]*managedPolicy // by ARN
	root     *awsparse.ReportRow
}

func newAccount() *account {
	return &account{users: map[string]*user{}, roles: map[string]*role{}, groups: map[string]*group{}, policies: map[string]*managedPolicy{}}
}

type policyRef struct{ name, arn string }

type inlinePolicy struct{ name, document string }

type managedPolicy struct {
	name, arn string
	document  string // default version, JSON (decoded)
	err       error  // why the document could not be read (live)
}

type group struct {
	name, arn string
	attached  []policyRef
	inline    []inlinePolicy
	errs      []error // calls that failed for the group (live)
}

type user struct {
	arn, name, id, path string
	created             *time.Time
	tags                map[string]string

	// nil: not known from the data read.
	consolePassword     *bool
	passwordCreated     *time.Time
	passwordLastUsed    *time.Time
	passwordLastChanged *time.Time
	mfaActive           *bool
	mfaDevices          []string

	groups   []string
	attached []policyRef
	inline   []inlinePolicy

	keysKnown bool // keys were listed by the API (ids known)
	keys      []*accessKey
	report    *awsparse.ReportRow
}

type accessKey struct {
	id, status string
	created    *time.Time
	lastUsed   *time.Time
	service    string
	region     string
	usedKnown  bool
}

type role struct {
	arn, name, id, path string
	created             *time.Time
	tags                map[string]string
	trust               string // decoded JSON
	attached            []policyRef
	inline              []inlinePolicy
	lastUsed            *time.Time
	lastUsedRegion      string
}

func rootARN(accountID string) string { return "arn:aws:iam::" + accountID + ":root" }

func sec(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.UTC().Truncate(time.Second)
	return &v
}

func latest(ts ...*time.Time) *time.Time {
	var out *time.Time
	for _, t := range ts {
		if t != nil && (out == nil || t.After(*out)) {
			out = t
		}
	}
	return sec(out)
}

// ownerFromTags applies the owner tag precedence: owner, Owner, team.
func ownerFromTags(tags map[string]string) (owner, tag string) {
	for _, k := range inventory.OwnerTagKeys() {
		if v := strings.TrimSpace(tags[k]); v != "" {
			return v, k
		}
	}
	return "", ""
}

// grant is one policy reaching an identity and what it grants.
type grant struct {
	Name   string `json:"name"`
	ARN    string `json:"arn,omitempty"`
	Type   string `json:"type"` // managed | inline
	Via    string `json:"via"`  // user | role | group:NAME
	Grants string `json:"grants"`
	// Basis says how Grants was decided: the policy document, or only the
	// policy's name when its document could not be read.
	Basis string `json:"basis"`
}

func (a *account) grantsOf(attached []policyRef, inline []inlinePolicy, via string) []grant {
	var out []grant
	for _, p := range attached {
		g := grant{Name: p.name, ARN: p.arn, Type: "managed", Via: via}
		mp := a.policies[p.arn]
		switch {
		case isAdministratorAccess(p.name, p.arn):
			g.Grants, g.Basis = PrivAdministrator, "name"
			if mp != nil && mp.document != "" {
				g.Basis = "document"
			}
		case mp != nil && mp.document != "":
			var ok bool
			g.Grants, ok = classifyDocument(mp.document)
			g.Basis = "document"
			if !ok {
				g.Grants, g.Basis = classifyByName(p.name, p.arn), "name"
			}
		default:
			g.Grants, g.Basis = classifyByName(p.name, p.arn), "name"
		}
		out = append(out, g)
	}
	for _, p := range inline {
		g := grant{Name: p.name, Type: "inline", Via: via, Basis: "document"}
		var ok bool
		if g.Grants, ok = classifyDocument(p.document); !ok {
			g.Basis = "unparsed"
		}
		out = append(out, g)
	}
	return out
}

func privilegeAttrs(gs []grant, attrs inventory.Facts) string {
	priv := PrivLimited
	admin, wild := []string{}, []string{}
	for _, g := range gs {
		if privRank(g.Grants) > privRank(priv) {
			priv = g.Grants
		}
		switch g.Grants {
		case PrivAdministrator:
			admin = append(admin, g.Name)
		case PrivWildcard:
			wild = append(wild, g.Name)
		}
	}
	if gs == nil {
		gs = []grant{}
	}
	attrs["policies"] = gs
	attrs.Set(inventory.AttrAdminPolicies, admin)
	attrs.Set(inventory.AttrWildcardPolicies, wild)
	return priv
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func baseIdentity(kind, arn, name string, tags map[string]string) *inventory.Identity {
	id := &inventory.Identity{
		Key: arn, Kind: kind, Name: name, Source: inventory.SourceAWS, Provider: "aws",
		Account: awsparse.AccountFromARN(arn), Tags: tags, Attrs: map[string]any{"arn": arn},
	}
	if owner, tag := ownerFromTags(tags); owner != "" {
		id.Owner, id.OwnerSource = owner, "tag:owner"
		id.Attrs["owner_tag"] = tag
	}
	return id
}

// Target is the scope target of an account: every row of the account is
// stamped with it, whichever profile or export file it was read through.
func Target(accountID string) string { return inventory.SourceAWS + ":" + accountID }

// emit writes the account's identities, credentials and occurrences,
// covering the account's target first. Each principal is one unit (its
// ARN): its identity, its credentials and their occurrences carry it, so
// a principal that could not be read in full keeps its earlier state.
func (a *account) emit(ctx context.Context, sink scanner.Sink) error {
	if !awsparse.ValidAccountID(a.id) {
		return fmt.Errorf("no AWS account id known (%q): cannot say which account was read", a.id)
	}
	sink.Cover(Target(a.id))
	put := func(id *inventory.Identity, creds []*inventory.Credential) error {
		id.Unit = id.Key
		if err := sink.Identity(ctx, id); err != nil {
			return err
		}
		for _, c := range creds {
			if c.VaultStatus == "" {
				c.VaultStatus = inventory.VaultUnknown
			}
			c.Unit = id.Key
			if err := sink.Credential(ctx, c); err != nil {
				return err
			}
			o := &inventory.Occurrence{CredentialKey: c.Key, Source: inventory.SourceAWS, Detail: map[string]any{"arn": id.Key}, Unit: id.Key}
			if err := sink.Occurrence(ctx, o); err != nil {
				return err
			}
			sink.Add("credentials", 1)
		}
		return nil
	}
	if a.root != nil {
		id, creds := a.rootRecords(sink)
		if err := put(id, creds); err != nil {
			return err
		}
		sink.Add("root", 1)
	}
	for _, arn := range sortedKeys(a.users) {
		id, creds := a.userRecords(a.users[arn], sink)
		if err := put(id, creds); err != nil {
			return err
		}
		sink.Add("users", 1)
	}
	for _, arn := range sortedKeys(a.roles) {
		if err := put(a.roleRecord(a.roles[arn]), nil); err != nil {
			return err
		}
		sink.Add("roles", 1)
	}
	return nil
}

func (a *account) userRecords(u *user, sink scanner.Sink) (*inventory.Identity, []*inventory.Credential) {
	id := baseIdentity(inventory.KindIAMUser, u.arn, u.name, u.tags)
	id.CreatedAt = sec(u.created)
	if u.id != "" {
		id.Attrs["user_id"] = u.id
	}
	if u.path != "" {
		id.Facts().Set(inventory.AttrPath, u.path)
	}
	gs := a.grantsOf(u.attached, u.inline, "user")
	for _, gname := range u.groups {
		if g := a.groups[gname]; g != nil {
			gs = append(gs, a.grantsOf(g.attached, g.inline, "group:"+gname)...)
		}
	}
	id.Privileges = privilegeAttrs(gs, id.Attrs)
	id.Attrs["groups"] = append([]string{}, u.groups...)
	if u.mfaActive != nil {
		id.Attrs["mfa_enabled"] = *u.mfaActive
	}
	if u.mfaDevices != nil {
		id.Attrs["mfa_devices"] = len(u.mfaDevices)
	}
	if u.consolePassword != nil {
		id.Facts().Set(inventory.AttrConsolePassword, *u.consolePassword)
	}
	if u.passwordLastUsed != nil {
		id.Facts().Set(inventory.AttrPasswordLastUsed, fmtTime(sec(u.passwordLastUsed)))
	}

	var creds []*inventory.Credential
	lastUsed := []*time.Time{}
	if u.consolePassword != nil && *u.consolePassword {
		c := &inventory.Credential{
			Key: TypeConsolePassword + ":" + u.arn, Type: TypeConsolePassword, IdentityKey: u.arn,
			CreatedAt: sec(u.passwordCreated), LastRotatedAt: sec(u.passwordLastChanged), LastUsedAt: sec(u.passwordLastUsed),
			Status: "Active", VaultStatus: inventory.VaultUnknown, Attrs: map[string]any{"user": u.name},
		}
		if c.LastRotatedAt == nil {
			c.LastRotatedAt = c.CreatedAt
		}
		if c.CreatedAt == nil {
			c.CreatedAt = c.LastRotatedAt
		}
		creds = append(creds, c)
		lastUsed = append(lastUsed, u.passwordLastUsed)
	}
	active := 0
	if u.keysKnown {
		for _, k := range u.keys {
			a.fillFromReport(u, k)
			c := &inventory.Credential{
				Key: inventory.AccessKeyCredentialKey(k.id), Type: TypeAccessKey, IdentityKey: u.arn,
				CreatedAt: sec(k.created), LastRotatedAt: sec(k.created), LastUsedAt: sec(k.lastUsed),
				Status: k.status, VaultStatus: inventory.VaultUnknown, Fingerprint: sink.Keys().Fingerprint(k.id),
				Redacted: k.id, Attrs: map[string]any{"access_key_id": k.id, "user": u.name},
			}
			if k.service != "" {
				c.Attrs["last_used_service"] = k.service
			}
			if k.region != "" {
				c.Attrs["last_used_region"] = k.region
			}
			if k.status == "Active" {
				active++
			}
			creds = append(creds, c)
			lastUsed = append(lastUsed, k.lastUsed)
		}
	} else if u.report != nil {
		// Offline: the credential report has key slots but no key ids.
		for i, rk := range u.report.Keys {
			if !rk.Exists() {
				continue
			}
			c := slotCredential(u.arn, "aws-access-key-slot:"+u.arn+":"+string(rune('1'+i)), i+1, rk)
			c.Attrs["user"] = u.name
			if rk.Active {
				active++
			}
			creds = append(creds, c)
			lastUsed = append(lastUsed, rk.LastUsed)
		}
	}
	if u.keysKnown || u.report != nil {
		id.Attrs["access_keys_active"] = active
	}
	id.LastUsedAt = latest(append(lastUsed, u.passwordLastUsed)...)
	return id, creds
}

// fillFromReport completes a key's last use from the credential report
// when GetAccessKeyLastUsed could not be read: the report's slot whose
// last_rotated is the key's creation time is that key.
func (a *account) fillFromReport(u *user, k *accessKey) {
	if k.usedKnown || u.report == nil || k.created == nil {
		return
	}
	for _, rk := range u.report.Keys {
		if rk.LastRotated != nil && rk.LastRotated.Equal(*sec(k.created)) {
			k.lastUsed, k.service, k.region = rk.LastUsed, rk.Service, rk.Region
			k.usedKnown = true
			return
		}
	}
}

func slotCredential(identityKey, key string, slot int, rk awsparse.ReportKey) *inventory.Credential {
	status := "Inactive"
	if rk.Active {
		status = "Active"
	}
	c := &inventory.Credential{
		Key: key, Type: TypeAccessKey, IdentityKey: identityKey,
		CreatedAt: sec(rk.LastRotated), LastRotatedAt: sec(rk.LastRotated), LastUsedAt: sec(rk.LastUsed),
		Status: status, VaultStatus: inventory.VaultUnknown,
		Attrs: map[string]any{"slot": slot, "key_id_known": false},
	}
	if rk.Service != "" {
		c.Attrs["last_used_service"] = rk.Service
	}
	if rk.Region != "" {
		c.Attrs["last_used_region"] = rk.Region
	}
	return c
}

func (a *account) rootRecords(sink scanner.Sink) (*inventory.Identity, []*inventory.Credential) {
	r := a.root
	arn := r.ARN
	if arn == "" {
		arn = rootARN(a.id)
	}
	acct := awsparse.AccountFromARN(arn)
	id := baseIdentity(inventory.KindIAMUser, arn, "root", nil)
	id.CreatedAt = sec(r.Created)
	id.Privileges = PrivAdministrator
	id.Facts().Set(inventory.AttrRoot, true)
	id.Attrs["mfa_active"] = r.MFAActive
	id.Attrs["mfa_enabled"] = r.MFAActive
	id.Attrs["policies"] = []grant{}
	id.Facts().Set(inventory.AttrAdminPolicies, []string{"root account"})
	id.Facts().Set(inventory.AttrWildcardPolicies, []string{})
	if r.PasswordLastUsed != nil {
		id.Facts().Set(inventory.AttrPasswordLastUsed, fmtTime(sec(r.PasswordLastUsed)))
	}
	var creds []*inventory.Credential
	active := 0
	used := []*time.Time{r.PasswordLastUsed}
	for i, rk := range r.Keys {
		if !rk.Exists() {
			continue
		}
		c := slotCredential(arn, "aws-root-access-key:"+acct+":"+string(rune('1'+i)), i+1, rk)
		c.Facts().Set(inventory.AttrRoot, true)
		if rk.Active {
			active++
		}
		creds = append(creds, c)
		used = append(used, rk.LastUsed)
	}
	id.Attrs["access_keys_active"] = active
	id.LastUsedAt = latest(used...)
	return id, creds
}

func (a *account) roleRecord(r *role) *inventory.Identity {
	id := baseIdentity(inventory.KindIAMRole, r.arn, r.name, r.tags)
	id.CreatedAt = sec(r.created)
	id.LastUsedAt = sec(r.lastUsed)
	if r.id != "" {
		id.Attrs["role_id"] = r.id
	}
	if r.path != "" {
		id.Facts().Set(inventory.AttrPath, r.path)
	}
	id.Facts().Set(inventory.AttrServiceLinked, strings.HasPrefix(r.path, "/aws-service-role/"))
	id.Privileges = privilegeAttrs(a.grantsOf(r.attached, r.inline, "role"), id.Attrs)
	id.Facts().Set(inventory.AttrTrust, trustAttrs(awsparse.AnalyzeTrust(r.trust)))
	if r.lastUsedRegion != "" {
		id.Attrs["last_used_region"] = r.lastUsedRegion
	}
	return id
}
