package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/glob"
	"github.com/nhi-inventory/nhi/inventory"
)

// OwnerRule assigns an owner to subjects whose repository, path, ARN or
// Vault path matches a glob (nhi.yaml owners:, matched by glob.Text: *
// is any run of characters, "/" included, ? one character).
type OwnerRule struct {
	Match string `yaml:"match"`
	Owner string `yaml:"owner"`
}

// Decision is a triage decision that bears on evaluation: an owner
// assigned by a person outranks every other owner source.
type Decision struct {
	SubjectKind string
	SubjectKey  string
	Owner       string
}

// Estate is everything the evaluator judges: the inventory of one scan.
type Estate struct {
	Now         time.Time
	Identities  []inventory.IdentityRow
	Credentials []inventory.CredentialRow
	// Carried are the subjects ("identity\x00key", "credential\x00key")
	// the scan kept from an earlier one instead of observing them (their
	// target was left out, failed or read in part). Their judgement is
	// kept too: a control fails for them exactly when PriorOpen holds an
	// open gap of theirs ("control\x00kind\x00key"), and no gap opens or
	// resolves.
	Carried    map[string]bool
	PriorOpen  map[string]bool
	OwnerRules []OwnerRule
	Decisions  []Decision
	// Reviews is where each subject ("identity\x00key",
	// "credential\x00key") stands in the newest access review holding it
	// (Store.ReviewFacts); control NHI-REV-01 judges it.
	Reviews map[string]inventory.ReviewFact
}

// subject is an identity or credential under evaluation, with what the
// checks need precomputed.
type subject struct {
	kind  string // inventory.SubjectIdentity / SubjectCredential
	key   string
	name  string
	id    *inventory.IdentityRow
	cred  *inventory.CredentialRow
	creds []*inventory.CredentialRow // an identity's credentials
	owner owner
}

type owner struct {
	name, source string
}

// finding is a check's verdict on one subject.
type finding struct {
	severity string // "" = the control's severity
	detail   string
	evidence map[string]any
}

// env is what checks see besides the subject.
type env struct {
	now      time.Time
	byFP     map[string][]*inventory.CredentialRow
	identity map[string]*inventory.IdentityRow
	reviews  map[string]inventory.ReviewFact
	cred     map[string]*inventory.CredentialRow
}

// check returns whether the control applies to s and, if it fails, why.
type check func(c *Control, e *env, s *subject) (applies bool, f *finding)

// Evaluate judges the estate against every enabled control.
func (cat *Catalogue) Evaluate(est *Estate) *inventory.Evaluation {
	e := &env{now: est.Now, byFP: map[string][]*inventory.CredentialRow{}, identity: map[string]*inventory.IdentityRow{},
		reviews: est.Reviews, cred: map[string]*inventory.CredentialRow{}}
	if e.now.IsZero() {
		e.now = time.Now().UTC()
	}
	var subjects []*subject
	idSubj := map[string]*subject{}
	for i := range est.Identities {
		r := &est.Identities[i]
		e.identity[r.Identity.Key] = r
		s := &subject{kind: inventory.SubjectIdentity, key: r.Identity.Key, name: r.Identity.Name, id: r}
		idSubj[s.key] = s
		subjects = append(subjects, s)
	}
	for i := range est.Credentials {
		r := &est.Credentials[i]
		e.cred[r.Credential.Key] = r
		if fp := r.Credential.Fingerprint; fp != "" {
			e.byFP[fp] = append(e.byFP[fp], r)
		}
		s := &subject{kind: inventory.SubjectCredential, key: r.Credential.Key, name: credentialName(r), cred: r}
		if p := idSubj[r.IdentityKey]; p != nil {
			p.creds = append(p.creds, r)
		}
		subjects = append(subjects, s)
	}
	resolveOwners(est, subjects, idSubj)

	ev := &inventory.Evaluation{Carried: est.Carried}
	for _, s := range subjects {
		// Every subject, an empty owner too: an owner that no longer
		// resolves (a decision undone, a rule removed) is cleared.
		ev.Owners = append(ev.Owners, inventory.OwnerAssignment{SubjectKind: s.kind, SubjectKey: s.key, Owner: s.owner.name, Source: s.owner.source})
	}
	type critKey struct{ fw, crit string }
	// Per criterion, per subject (by index): 0 not evaluated, 1 passing so
	// far, 2 failing. (Keyed by subject strings, these maps were most of
	// the evaluation's time: 658 credentials x 16 controls x criteria.)
	critEval := map[critKey][]uint8{}
	for _, c := range cat.Controls {
		if !c.Enabled {
			continue
		}
		fn := checks[c.Check]
		res := inventory.ControlResult{ControlID: c.ID, Severity: c.Severity}
		fws := c.Frameworks.Map()
		for si, s := range subjects {
			applies, f := fn(c, e, s)
			carried := est.Carried[s.kind+"\x00"+s.key]
			if carried {
				// The judgement of the scan that last observed it stands.
				prior := est.PriorOpen[c.ID+"\x00"+s.kind+"\x00"+s.key]
				applies, f = applies || prior, nil
				if prior {
					f = &finding{}
				}
			}
			if !applies {
				continue
			}
			res.Evaluated++
			switch {
			case f == nil:
				res.Passing++
			case carried:
				ev.Gaps = append(ev.Gaps, inventory.Gap{ControlID: c.ID, SubjectKind: s.kind, SubjectKey: s.key, SubjectName: s.name,
					Family: family(s), Severity: c.Severity, Title: c.Title, Owner: s.owner.name, Status: inventory.GapOpen, Carried: true})
			default:
				sev := f.severity
				if sev == "" {
					sev = c.Severity
				}
				if level, _ := subjectConfidence(s); level != "" && f.evidence[inventory.EvidenceConfidence] == nil {
					if f.evidence == nil {
						f.evidence = map[string]any{}
					}
					f.evidence[inventory.EvidenceConfidence] = level
				}
				ev.Gaps = append(ev.Gaps, inventory.Gap{ControlID: c.ID, SubjectKind: s.kind, SubjectKey: s.key, SubjectName: s.name,
					Family: family(s), Severity: sev, Title: c.Title, Detail: f.detail, Evidence: f.evidence,
					Frameworks: c.Frameworks.Map(), Owner: s.owner.name, Status: inventory.GapOpen})
			}
			for fw, crits := range fws {
				for _, crit := range crits {
					k := critKey{fw, crit}
					st := critEval[k]
					if st == nil {
						st = make([]uint8, len(subjects))
						critEval[k] = st
					}
					switch {
					case f != nil:
						st[si] = 2
					case st[si] == 0:
						st[si] = 1
					}
				}
			}
		}
		ev.Controls = append(ev.Controls, res)
	}
	for k, subj := range critEval {
		r := inventory.CriterionResult{Framework: k.fw, Criterion: k.crit}
		for _, st := range subj {
			if st != 0 {
				r.Evaluated++
			}
			if st == 1 {
				r.Passing++
			}
		}
		ev.Criteria = append(ev.Criteria, r)
	}
	sort.Slice(ev.Criteria, func(i, j int) bool {
		a, b := ev.Criteria[i], ev.Criteria[j]
		if a.Framework != b.Framework {
			return a.Framework < b.Framework
		}
		return a.Criterion < b.Criterion
	})
	sort.SliceStable(ev.Gaps, func(i, j int) bool {
		return inventory.SeverityRank(ev.Gaps[i].Severity) < inventory.SeverityRank(ev.Gaps[j].Severity)
	})
	return ev
}

// family is the source kind a subject comes from (for carrying gaps of a
// failed source forward).
func family(s *subject) string {
	if s.id != nil {
		return s.id.Identity.Source
	}
	fam := ""
	for _, o := range s.cred.Occurrences {
		if fam == "" || o.Source == inventory.SourceAWS || o.Source == inventory.SourceVault {
			fam = o.Source
		}
	}
	return fam
}

func credentialName(r *inventory.CredentialRow) string {
	return r.Credential.Type + " " + r.Credential.Label()
}

// place renders where an occurrence is, for details.
func place(o inventory.Occurrence) string {
	var b strings.Builder
	if o.Repo != "" {
		b.WriteString(inventory.RepoName(o.Repo))
		b.WriteString(" ")
	}
	if o.Path != "" {
		b.WriteString(o.Path)
		if o.Line > 0 {
			fmt.Fprintf(&b, ":%d", o.Line)
		}
	}
	if o.CIJob != "" {
		fmt.Fprintf(&b, " job %s", o.CIJob)
	}
	if o.VaultPath != "" {
		b.WriteString("vault " + o.VaultPath)
	}
	if o.Commit != "" {
		c := o.Commit
		if len(c) > 8 {
			c = c[:8]
		}
		fmt.Fprintf(&b, " (commit %s", c)
		if o.Author != "" {
			fmt.Fprintf(&b, " by %s", o.Author)
		}
		if o.Date != nil {
			fmt.Fprintf(&b, ", %s", o.Date.UTC().Format("2006-01-02"))
		}
		b.WriteString(")")
	}
	return strings.TrimSpace(b.String())
}

// resolveOwners applies the owner precedence of DESIGN.md: triage
// decision > provider tag/metadata > owners: rules > CODEOWNERS > author
// of the introducing commit (suspected).
func resolveOwners(est *Estate, subjects []*subject, idSubj map[string]*subject) {
	decided := map[string]string{}
	for _, d := range est.Decisions {
		if d.Owner != "" {
			decided[d.SubjectKind+"\x00"+d.SubjectKey] = d.Owner
		}
	}
	// Compiled once per evaluation; glob.Text keeps the documented
	// semantics (* crosses "/").
	globs := make([]glob.Pattern, len(est.OwnerRules))
	for i, r := range est.OwnerRules {
		globs[i] = glob.Text(r.Match)
	}
	ruleOwner := func(cands ...string) string {
		for i, r := range est.OwnerRules {
			for _, c := range cands {
				if c != "" && globs[i].Match(c) {
					return r.Owner
				}
			}
		}
		return ""
	}
	// Identities first: their credentials inherit.
	for _, s := range subjects {
		if s.id == nil {
			continue
		}
		// i.Owner is what the source reported (a tag or metadata), or, for
		// an identity carried or re-judged without a scan, the owner
		// resolved last time: only a provider's own is taken as such.
		i := s.id.Identity
		p := i.Facts().String(inventory.AttrPath)
		if d := decided[s.kind+"\x00"+s.key]; d != "" {
			s.owner = owner{d, "decision"}
		} else if i.Owner != "" && !derivedOwnerSource(i.OwnerSource) {
			s.owner = owner{i.Owner, orDefault(i.OwnerSource, "provider")}
		} else if o := ruleOwner(i.Key, i.Name, i.Account, p, joinRepoPath(i.Account, p)); o != "" {
			s.owner = owner{o, "rule"}
		} else if co := i.Facts().String(inventory.AttrCodeowners); co != "" {
			s.owner = owner{co, "codeowners"}
		}
	}
	// The owner recorded on a vaulted secret owns its copies elsewhere.
	vaultedOwner := map[string]string{}
	for _, s := range subjects {
		if s.cred != nil && s.cred.Credential.VaultStatus == inventory.VaultVaulted && s.cred.Credential.Fingerprint != "" {
			if o := metadataOwner(s.cred.Credential.Attrs); o != "" {
				vaultedOwner[s.cred.Credential.Fingerprint] = o
			}
		}
	}
	for _, s := range subjects {
		if s.cred == nil {
			continue
		}
		c := s.cred
		if d := decided[s.kind+"\x00"+s.key]; d != "" {
			s.owner = owner{d, "decision"}
			continue
		}
		if p := idSubj[c.IdentityKey]; p != nil && p.owner.name != "" {
			s.owner = owner{p.owner.name, "identity:" + p.owner.source}
			continue
		}
		if o := metadataOwner(c.Credential.Attrs); o != "" {
			s.owner = owner{o, "metadata"}
			continue
		}
		if o := vaultedOwner[c.Credential.Fingerprint]; o != "" && c.Credential.Fingerprint != "" {
			s.owner = owner{o, "vault-metadata"}
			continue
		}
		var cands []string
		for _, o := range c.Occurrences {
			cands = append(cands, o.Repo, o.Path, joinRepoPath(o.Repo, o.Path), o.VaultPath)
		}
		if o := ruleOwner(cands...); o != "" {
			s.owner = owner{o, "rule"}
			continue
		}
		for _, o := range c.Occurrences {
			if co := o.DetailFacts().String(inventory.AttrCodeowners); co != "" {
				s.owner = owner{co, "codeowners"}
				break
			}
		}
		if s.owner.name != "" {
			continue
		}
		if first := introducing(c.Occurrences); first != nil && first.Author != "" {
			who := first.Author
			if first.Email != "" {
				who += " <" + first.Email + ">"
			}
			s.owner = owner{who, "commit-author (suspected)"}
		}
	}
}

// derivedOwnerSource reports whether an owner source is one the evaluator
// resolves itself (a decision, a rule, CODEOWNERS, an identity, a commit
// author) rather than one a provider reported.
func derivedOwnerSource(src string) bool {
	switch {
	case src == "decision", src == "rule", src == "codeowners", src == "metadata", src == "vault-metadata",
		strings.HasPrefix(src, "identity:"), strings.HasPrefix(src, "commit-author"):
		return true
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func joinRepoPath(repo, p string) string {
	if repo == "" || p == "" {
		return ""
	}
	return inventory.RepoName(repo) + "/" + p
}

func metadataOwner(attrs inventory.Facts) string {
	for _, k := range []inventory.AttrKey{inventory.AttrOwner, inventory.AttrTeam} {
		if s := attrs.String(k); s != "" {
			return s
		}
	}
	if cm := attrs.Map(inventory.AttrCustomMetadata); cm != nil {
		for _, k := range inventory.OwnerTagKeys() {
			if s, _ := cm[k].(string); s != "" {
				return s
			}
		}
	}
	return ""
}

// introducing is the earliest git occurrence.
func introducing(occ []inventory.Occurrence) *inventory.Occurrence {
	var first *inventory.Occurrence
	for i := range occ {
		o := &occ[i]
		if o.Source != inventory.SourceGit || o.Date == nil {
			continue
		}
		if first == nil || o.Date.Before(*first.Date) {
			first = o
		}
	}
	return first
}

func days(d time.Duration) int { return int(d.Hours() / 24) }
