package evidence

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

// Restriction is what a package restricted to some targets states.
type Restriction struct {
	Targets []string `json:"targets"`
	// Covers says what the restriction applies to and what it does not.
	Covers string `json:"covers"`
}

// restrictionCovers is Restriction.Covers.
const restrictionCovers = "identities recorded by these targets; credentials recorded by or seen in them; the gaps, gap events and decisions of those subjects; " +
	"control rows counting their unresolved gaps; each scan's outcome for these targets and the sources that read them. " +
	"The scan ledger (ledger.jsonl) is every scan's row as stored, whole, so that its hash chain verifies; its counts are the inventory's."

// checkScope refuses a scope naming a target no scan covered, listing
// the targets that are known.
func (e *export) checkScope() error {
	if e.opts.Scope == nil {
		return nil
	}
	known, err := e.store.KnownTargets(e.ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, t := range known {
		have[t] = true
	}
	var missing []string
	for _, t := range e.opts.Scope {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		list := strings.Join(known, ", ")
		if len(known) == 0 {
			list = "none (run nhi scan first)"
		}
		return fmt.Errorf("%w %s; the known targets are: %s", ErrUnknownTarget, strings.Join(missing, ", "), list)
	}
	scope := append([]string(nil), e.opts.Scope...)
	sort.Strings(scope)
	e.opts.Scope = scope
	return nil
}

// inScope reports whether target is in the package's scope.
func (e *export) inScope(target string) bool {
	if e.opts.Scope == nil {
		return true
	}
	i := sort.SearchStrings(e.opts.Scope, target)
	return i < len(e.opts.Scope) && e.opts.Scope[i] == target
}

// restriction states the scope in the manifest.
func (e *export) restriction() {
	if e.opts.Scope == nil {
		return
	}
	e.m.RestrictedTo = &Restriction{Targets: e.opts.Scope, Covers: restrictionCovers}
	e.m.Completeness.NotRecorded = append(e.m.Completeness.NotRecorded,
		"the number of subjects evaluated and passing per control for part of the inventory (recorded per scan for the whole inventory): "+
			"a restricted package's control rows count the unresolved gaps of its subjects (failing) and leave evaluated and passing empty, and criteria.csv holds its header only",
		"access reviews in a restricted package: a review's frozen scope spans targets, so reviews.csv and reviews.jsonl hold none")
}

// sourceIn reports whether a source read a target in scope.
func sourceIn(s inventory.SourceResult, in func(string) bool) bool {
	if len(s.Targets) == 0 {
		return in(s.Kind + ":" + s.Target)
	}
	for _, t := range s.Targets {
		if in(t) {
			return true
		}
	}
	return false
}

// checkRestriction checks that a restricted package's manifest keeps to
// its restriction: every target of its scope and of each scan is one of
// the restriction's.
func (v *Verification) checkRestriction(m *Manifest) {
	r := m.RestrictedTo
	if r == nil {
		v.pass("restriction", "the package is not restricted: it covers every target the scans read")
		return
	}
	if len(r.Targets) == 0 || !sort.StringsAreSorted(r.Targets) {
		v.fail("restriction", "restricted_to lists %d targets, unsorted or none: %v", len(r.Targets), r.Targets)
		return
	}
	in := func(t string) bool {
		i := sort.SearchStrings(r.Targets, t)
		return i < len(r.Targets) && r.Targets[i] == t
	}
	var bad []string
	for _, t := range m.Scope {
		if !in(t.Target) {
			bad = append(bad, "the scope lists "+t.Target)
		}
	}
	for _, s := range m.Scans {
		for _, t := range s.Targets {
			if !in(t.Target) {
				bad = append(bad, fmt.Sprintf("scan %d lists %s", s.ID, t.Target))
			}
		}
	}
	if len(bad) > 0 {
		v.fail("restriction", "the package is restricted to %s, but %s", strings.Join(r.Targets, ", "), strings.Join(bad, "; "))
		return
	}
	v.pass("restriction", "restricted to %s; the scope and every scan keep to it", strings.Join(r.Targets, ", "))
}
