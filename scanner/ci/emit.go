package ci

// What the engine writes once every snapshot is read: each pipeline's
// identity, its credentials and occurrences, and the units (files) that
// failed, whose earlier state is carried.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci/ciyaml"
)

// emit writes every collected pipeline to sink, each row with its unit:
// the pipeline file's path. A unit that could not be read is reported
// with sink.UnitError and nothing of it is written, so that what the
// inventory knew of it is carried forward unchanged; only the hard-coded
// secrets of a file that is not YAML, read line by line, are written, in
// a unit of their own (emitLineWise).
func (e *engine) emit(ctx context.Context, sink scanner.Sink) error {
	failed := e.failedUnits()
	seen := map[string]bool{}
	var paths []string
	for p := range e.versions {
		seen[p] = true
		paths = append(paths, p)
	}
	for p := range failed {
		if !seen[p] {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	emitted := map[string]bool{}
	for _, p := range paths {
		if err := failed[p]; err != nil {
			sink.UnitError(p, err)
			sink.Add("files_failed", 1)
			if err := e.emitLineWise(ctx, sink, p, emitted); err != nil {
				return err
			}
			continue
		}
		if err := e.emitPath(ctx, sink, p, emitted); err != nil {
			return err
		}
	}
	return nil
}

// failedUnits returns the pipeline files that could not be read, and why:
// a file that could not be read or parsed on some branch, and every file
// that includes (directly or not) one that could not be.
func (e *engine) failedUnits() map[string]error {
	reasons := map[string][]failure{}
	for p, fs := range e.failures {
		reasons[p] = append(reasons[p], fs...)
	}
	for p, vs := range e.versions {
		for _, v := range vs {
			if v.err != nil {
				reasons[p] = append(reasons[p], failure{err: v.err, branches: v.branches})
			}
		}
	}
	out := map[string]error{}
	causes := map[string]error{} // files whose includers fail, and why
	for p, fs := range reasons {
		out[p] = joinFailures(fs)
		causes[p] = out[p]
	}
	for p, fs := range e.unreadable {
		if causes[p] == nil {
			causes[p] = joinFailures(fs)
		}
	}
	todo := make([]string, 0, len(causes))
	for p := range causes {
		todo = append(todo, p)
	}
	sort.Strings(todo)
	for len(todo) > 0 {
		x := todo[0]
		todo = todo[1:]
		for _, y := range sortedKeys(e.includers[x]) {
			if out[y] != nil {
				continue
			}
			out[y] = fmt.Errorf("%s includes %s, which cannot be read: %w", y, x, causes[x])
			causes[y] = out[y]
			todo = append(todo, y)
		}
	}
	return out
}

// joinFailures makes one error of the reasons a unit failed, each with
// the branches where it did.
func joinFailures(fs []failure) error {
	byMsg := map[string]*failure{}
	var order []string
	for _, f := range fs {
		m := f.err.Error()
		if g := byMsg[m]; g != nil {
			g.branches = append(g.branches, f.branches...)
			continue
		}
		f := f
		f.branches = append([]string(nil), f.branches...)
		byMsg[m] = &f
		order = append(order, m)
	}
	errs := make(unitErrors, 0, len(order))
	for _, m := range order {
		f := byMsg[m]
		switch len(f.branches) {
		case 0:
			errs = append(errs, f.err)
		case 1:
			errs = append(errs, fmt.Errorf("%w (on branch %s)", f.err, f.branches[0]))
		default:
			sort.Strings(f.branches)
			errs = append(errs, fmt.Errorf("%w (on branches %s)", f.err, strings.Join(slices.Compact(f.branches), ", ")))
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errs
}

// unitErrors are the several reasons one unit failed, on one line.
type unitErrors []error

func (u unitErrors) Error() string {
	msgs := make([]string, len(u))
	for i, err := range u {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (u unitErrors) Unwrap() []error { return u }

// emitPath writes the pipeline at p (a unit that was read on every
// branch it is on): its identity, its credentials and their occurrences.
func (e *engine) emitPath(ctx context.Context, sink scanner.Sink, p string, emitted map[string]bool) error {
	vs := make([]*version, 0, len(e.versions[p]))
	for _, v := range e.versions[p] {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool {
		return strings.Join(vs[i].branches, ",")+vs[i].id < strings.Join(vs[j].branches, ",")+vs[j].id
	})
	idKey := IdentityKey(e.scope, p)
	agg := newPipeline(vs[0].provider)
	branches := map[string]bool{}
	includedBy := map[string]bool{}
	lenient := map[string]bool{}
	syntax := map[string]bool{}
	for _, v := range vs {
		for _, b := range v.branches {
			branches[b] = true
		}
		if v.includedBy != "" {
			includedBy[v.includedBy] = true
		}
		for _, n := range v.p.lenient {
			lenient[n] = true
		}
		for _, n := range v.p.syntax {
			syntax[n] = true
		}
		if agg.name == "" {
			agg.name = v.p.name
		}
		for k := range v.p.static {
			agg.static[k] = true
		}
		for k := range v.p.oidc {
			agg.oidc[k] = true
		}
		for k, set := range v.p.sets {
			for x := range set {
				agg.set(k, x)
			}
		}
		for k, b := range v.p.flags {
			agg.flags[k] = agg.flags[k] || b
		}
	}
	attrs := inventory.Facts{}
	attrs.Set(inventory.AttrPath, p)
	signals := inventory.Facts{}
	signals.Set(inventory.SignalStatic, sortedKeys(agg.static))
	signals.Set(inventory.SignalOIDC, sortedKeys(agg.oidc))
	attrs.Set(inventory.AttrAuthSignals, map[string]any(signals))
	if owners := e.owners.Owners(p); len(owners) > 0 {
		attrs.Set(inventory.AttrCodeowners, strings.Join(owners, " "))
	}
	for k, set := range agg.sets {
		attrs.Set(k, sortedKeys(set))
	}
	for k, b := range agg.flags {
		if b {
			attrs[k] = true
		}
	}
	if len(branches) > 0 {
		attrs["branches"] = sortedKeys(branches)
	}
	for inc := range e.includers[p] {
		includedBy[inc] = true
	}
	if len(includedBy) > 0 {
		attrs["included_by"] = sortedKeys(includedBy)
	}
	if len(lenient) > 0 {
		// Not valid YAML: a strict CI system may refuse the file, or
		// read it otherwise.
		attrs["yaml_lenient"] = ciyaml.SortNotes(sortedKeys(lenient))
	}
	if len(syntax) > 0 {
		attrs["syntax_errors"] = ciyaml.SortNotes(sortedKeys(syntax))
		sink.Add("syntax_errors", int64(len(syntax)))
	}
	name := agg.name
	if name == "" {
		name = p
	}
	id := &inventory.Identity{Key: idKey, Kind: inventory.KindCIWorkflow, Name: name, Source: inventory.SourceCI,
		Provider: agg.provider, Account: e.scope, AuthMode: agg.authMode(), Attrs: attrs, Unit: p}
	if err := sink.Identity(ctx, id); err != nil {
		return err
	}
	sink.Add("pipelines", 1)

	// Occurrences are merged across versions; the branches where each was
	// seen go in its detail.
	type occ struct {
		o        *inventory.Occurrence
		branches map[string]bool
	}
	var order []string
	occs := map[string]*occ{}
	addOcc := func(o *inventory.Occurrence, brs []string) {
		k := o.CredentialKey + "\x00" + o.OccurrenceKey()
		c := occs[k]
		if c == nil {
			c = &occ{o: o, branches: map[string]bool{}}
			occs[k] = c
			order = append(order, k)
		}
		for _, b := range brs {
			c.branches[b] = true
		}
	}
	for _, v := range vs {
		for _, r := range v.p.refs {
			ck := ReferenceKey(agg.provider, e.scope, r.name)
			if !emitted[ck] {
				emitted[ck] = true
				vst := inventory.VaultCISecretStore
				if r.kind == refVault || r.kind == refManager {
					vst = inventory.VaultVaulted
				}
				c := &inventory.Credential{Key: ck, Type: inventory.TypeCIReference, IdentityKey: idKey, VaultStatus: vst,
					Attrs: map[string]any{string(inventory.AttrName): r.name, "kind": r.kind, "provider": agg.provider, "scope": e.scope}, Unit: p}
				if e.stores != nil && r.kind != refVault {
					if st := e.stores.Lookup(ctx, agg.provider, e.scope, r.name); st != nil {
						c.CreatedAt, c.LastRotatedAt = st.CreatedAt, st.UpdatedAt
						c.Attrs["store"] = st.Store
					}
				}
				if err := sink.Credential(ctx, c); err != nil {
					return err
				}
				sink.Add("references", 1)
			}
			o := &inventory.Occurrence{CredentialKey: ck, Source: inventory.SourceCI, Repo: e.scope, Path: p, Line: r.line,
				CIJob: r.job, CIStep: r.step, VaultPath: r.vaultPath, Unit: p}
			if r.receiver != "" {
				o.Detail = map[string]any{"action": r.receiver, "pinned": r.pinned}
			}
			addOcc(o, v.branches)
		}
		for _, h := range v.p.hard {
			c := h.credential(sink.Keys())
			if !emitted[c.Key] {
				emitted[c.Key] = true
				c.IdentityKey = idKey
				c.Unit = p
				if c.Attrs == nil {
					c.Attrs = map[string]any{}
				}
				c.Attrs["found_in"] = "ci:" + agg.provider
				if err := sink.Credential(ctx, c); err != nil {
					return err
				}
				sink.Add("hardcoded", 1)
			}
			job, step := v.p.where(h.line)
			o := &inventory.Occurrence{CredentialKey: c.Key, Source: inventory.SourceCI, Repo: e.scope, Path: p, Line: h.line,
				CIJob: job, CIStep: step, Detail: map[string]any{"rule": h.rule}, Unit: p}
			addOcc(o, v.branches)
		}
	}
	for _, k := range order {
		c := occs[k]
		if e.branches && len(c.branches) > 0 {
			if c.o.Detail == nil {
				c.o.Detail = map[string]any{}
			}
			c.o.Detail["branches"] = sortedKeys(c.branches)
		}
		if err := sink.Occurrence(ctx, c.o); err != nil {
			return err
		}
	}
	return nil
}
