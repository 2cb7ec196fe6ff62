// Package ci is the CI configuration source: it finds pipeline files
// (GitHub Actions, GitLab CI, CircleCI, Azure Pipelines, Bitbucket
// Pipelines, Jenkins) in directories and at the head of every branch of
// git repositories, and reports per pipeline the secrets it references,
// the secrets hard-coded in it, how it authenticates to the cloud
// (static keys or OIDC) and which third-party code receives its secrets.
package ci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/glob"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// Options tune the CI source.
type Options struct {
	// Disable lists secret-detection rule ids to turn off.
	Disable []string
}

// maxFileSize bounds what is read as a pipeline file.
const maxFileSize = 2 << 20

// tooLarge is the error of a file over maxFileSize.
func tooLarge(size int64) error {
	return fmt.Errorf("%d bytes, larger than the %d-byte limit for a pipeline file", size, maxFileSize)
}

// Classify tells which CI system a file (slash-separated path relative
// to the repository or directory root) belongs to, or "".
func Classify(p string) string {
	base := path.Base(p)
	dir := path.Dir(p)
	lower := strings.ToLower(base)
	yml := strings.HasSuffix(lower, ".yml") || strings.HasSuffix(lower, ".yaml")
	switch {
	case yml && (dir == ".github/workflows" || strings.HasSuffix(dir, "/.github/workflows")):
		return GitHubActions
	case lower == "action.yml" || lower == "action.yaml":
		return GitHubActions
	case base == ".gitlab-ci.yml" || base == ".gitlab-ci.yaml":
		return GitLabCI
	case (base == "config.yml" || base == "config.yaml") && (dir == ".circleci" || strings.HasSuffix(dir, "/.circleci")):
		return CircleCI
	case yml && strings.HasPrefix(lower, "azure-pipelines"):
		return AzurePipelines
	case base == "bitbucket-pipelines.yml" || base == "bitbucket-pipelines.yaml":
		return Bitbucket
	case base == "Jenkinsfile" || strings.HasPrefix(base, "Jenkinsfile.") || strings.HasSuffix(lower, ".jenkinsfile"):
		return Jenkins
	}
	return ""
}

// listingVersion names what Classify and includable keep when a branch
// head's tree is listed: listings are kept between scans (repo.go), so a
// change to what they keep must come with a new version, or older
// listings would be reused. TestListingVersion fails until it does.
const listingVersion = 1

// skipDir reports directories never searched for pipelines.
func skipDir(name string) bool {
	switch name {
	case ".git", "node_modules", "vendor", ".terraform", "__pycache__", ".venv":
		return true
	}
	return false
}

// snapshot is one tree of files: a directory, or a branch head.
type snapshot interface {
	// files lists candidate paths (slash-separated, relative).
	files(ctx context.Context) ([]string, error)
	// read returns a file's content and a content id (blob hash).
	read(p string) (data []byte, id string, err error)
}

// version is one distinct content of a pipeline file.
type version struct {
	path     string
	provider string
	id       string
	branches []string
	p        *pipeline
	// err is why the content could not be read as a pipeline: its unit
	// (the path) fails.
	err error
	// includedBy is the GitLab file that pulled this one in.
	includedBy string
}

// failure is one reason a unit (a pipeline file) could not be read, and
// the branches where it happened.
type failure struct {
	err      error
	branches []string
}

// engine collects pipeline versions from snapshots and emits them.
type engine struct {
	scope    string // repo target or directory: the scope of secret names, and Occurrence.Repo
	loadDet  func() (*detect.Detector, error)
	detOnce  sync.Once
	det      *detect.Detector
	detErr   error
	versions map[string]map[string]*version // path -> content key -> version
	parsed   map[string]*pipelineResult
	// failures are the pipeline files that could not be read (a parse
	// error is kept on its version instead): path -> reasons.
	failures map[string][]failure
	// unreadable are the files named by a GitLab include: that could not
	// be read.
	unreadable map[string][]failure
	// includers are, per GitLab file pulled in by include:, the files that
	// include it: when it cannot be read, neither can they.
	includers map[string]map[string]bool
	branches  bool
	// owners is the tree's CODEOWNERS, recorded on each pipeline as a fact
	// for the owner resolution of the readiness engine.
	owners *scanner.CodeOwners
}

type pipelineResult struct {
	p   *pipeline
	err error
}

// newEngine returns an engine whose detector is built by load the first
// time a pipeline file needs it: compiling every rule costs more than
// reading a repository without CI files.
func newEngine(scope string, load func() (*detect.Detector, error), branches bool) *engine {
	return &engine{scope: scope, loadDet: load, versions: map[string]map[string]*version{},
		parsed: map[string]*pipelineResult{}, failures: map[string][]failure{}, unreadable: map[string][]failure{},
		includers: map[string]map[string]bool{}, branches: branches}
}

// detector returns the secret detector, building it on first use.
func (e *engine) detector() (*detect.Detector, error) {
	e.detOnce.Do(func() { e.det, e.detErr = e.loadDet() })
	return e.det, e.detErr
}

// loadDetector builds the secret detector as the git source does (the
// rule set of detect.Load, fingerprinting with the inventory's key),
// honouring the scanned tree's own .gitleaks.toml when it has one.
func loadDetector(opts Options, repoConfig []byte, sink scanner.Sink, item string) (*detect.Detector, error) {
	rs, err := detect.Load(detect.Options{RepoConfig: repoConfig, Disable: opts.Disable})
	if err != nil && len(repoConfig) > 0 {
		sink.ItemError(item+"/.gitleaks.toml", fmt.Errorf("ignored, detection uses the default rules: %w", err))
		rs, err = detect.Load(detect.Options{Disable: opts.Disable})
	}
	if err != nil {
		return nil, fmt.Errorf("load detection rules: %w", err)
	}
	return rs.Detector(sink.Keys()), nil
}

// add reads every pipeline file of a snapshot.
func (e *engine) add(ctx context.Context, snap snapshot, branch string, sink scanner.Sink) error {
	paths, err := snap.files(ctx)
	if err != nil {
		return err
	}
	sort.Strings(paths)
	type pending struct {
		path, provider, includedBy string
		inherited                  map[string]bool
	}
	var queue []pending
	for _, p := range paths {
		if prov := Classify(p); prov != "" {
			queue = append(queue, pending{path: p, provider: prov})
		}
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		q := queue[0]
		queue = queue[1:]
		if seen[q.path] {
			continue
		}
		seen[q.path] = true
		data, id, err := snap.read(q.path)
		if err != nil {
			f := failure{err: fmt.Errorf("read %s: %w", q.path, err)}
			if branch != "" {
				f.branches = []string{branch}
			}
			if q.includedBy != "" {
				// A missing or unreadable include is not a unit of its
				// own (the file may well be absent on this branch); it
				// leaves the pipelines including it incomplete.
				e.unreadable[q.path] = append(e.unreadable[q.path], f)
			} else {
				e.failures[q.path] = append(e.failures[q.path], f)
			}
			continue
		}
		inhKey := ""
		if len(q.inherited) > 0 {
			inhKey = strings.Join(sortedKeys(q.inherited), ",")
		}
		ck := q.provider + "\x00" + id + "\x00" + inhKey
		res, ok := e.parsed[ck]
		if !ok {
			p, err := e.parse(ctx, q.path, data, q.provider, q.inherited)
			if errors.Is(err, errDetector) {
				return err
			}
			res = &pipelineResult{p: p, err: err}
			e.parsed[ck] = res
			sink.Add("files_parsed", 1)
		}
		if res.p == nil && res.err == nil {
			continue // not a pipeline (e.g. a JavaScript action.yml)
		}
		vs := e.versions[q.path]
		if vs == nil {
			vs = map[string]*version{}
			e.versions[q.path] = vs
		}
		v := vs[ck]
		if v == nil {
			v = &version{path: q.path, provider: q.provider, id: id, p: res.p, err: res.err, includedBy: q.includedBy}
			vs[ck] = v
		}
		if branch != "" {
			v.branches = append(v.branches, branch)
		}
		if res.p != nil {
			include := func(inc string) {
				if e.includers[inc] == nil {
					e.includers[inc] = map[string]bool{}
				}
				e.includers[inc][q.path] = true
				queue = append(queue, pending{path: inc, provider: GitLabCI, includedBy: q.path, inherited: res.p.defined})
			}
			for _, inc := range res.p.includes {
				inc = path.Clean(inc)
				if strings.ContainsAny(inc, "*?") {
					// GitLab wildcard include: * within a directory, ** across them.
					for _, m := range glob.GitLabInclude(inc).Filter(paths) {
						include(m)
					}
					continue
				}
				include(inc)
			}
		}
	}
	return nil
}

// errDetector marks the failure to build the detector: no file can be
// read without it, so it fails the source, not a unit.
var errDetector = errors.New("secret detection")

// parse extracts the pipeline of one file. A nil pipeline with a nil
// error means the file is not a pipeline after all. A file that cannot be
// read as a pipeline has an error and no pipeline: a half-read pipeline
// would pass for a complete one.
func (e *engine) parse(ctx context.Context, p string, data []byte, provider string, inherited map[string]bool) (*pipeline, error) {
	f := newFile(p, data, provider)
	if provider == Jenkins {
		// The Jenkins reader goes line by line and needs no valid file;
		// what Jenkins itself would refuse to run is a fact about the
		// pipeline, not a part of it left unread.
		f.parseJenkins()
		var pe *ParseError
		if err := jenkinsBalance(p, data); errors.As(err, &pe) {
			f.p.syntax = append(f.p.syntax, fmt.Sprintf("line %d: %s", pe.Line, pe.Msg))
		}
	} else {
		root, notes, err := parseYAML(p, data)
		switch {
		case err != nil:
			return nil, err
		case root == nil:
			// Empty, or only comments: a pipeline with nothing in it (the
			// detector below still reads the comments).
		case !isMap(root):
			return nil, &ParseError{Path: p, Line: root.Line, Msg: "not a YAML mapping: a pipeline file holds keys and values"}
		default:
			f.p.lenient = notes
			switch provider {
			case GitHubActions:
				if path.Base(p) == "action.yml" || path.Base(p) == "action.yaml" {
					if runs := get(root, "runs"); str(get(runs, "using")) != "composite" {
						return nil, nil
					}
				}
				f.parseGitHub(root)
			case GitLabCI:
				f.parseGitLab(root, inherited)
			case CircleCI:
				f.parseCircleCI(root)
			case AzurePipelines:
				f.parseAzure(root)
			case Bitbucket:
				f.parseBitbucket(root)
			}
			f.walkHardcoded(root)
		}
	}
	det, err := e.detector()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errDetector, err)
	}
	f.detectGitleaksFirst(ctx, det)
	for _, r := range f.p.refs {
		if c := staticKeyName(r.name); c != "" && r.kind != refContext {
			f.p.static["reference:"+r.name] = true
		}
	}
	return f.p, nil
}

// detectGitleaksFirst runs gitleaks and puts its findings ahead of the
// CI-aware ones, so that a value found by both keeps gitleaks' rule id.
func (f *file) detectGitleaksFirst(ctx context.Context, det *detect.Detector) {
	own := f.p.hard
	f.p.hard = nil
	f.detectGitleaks(ctx, det)
	for _, h := range own {
		f.addValue(h.rule, h.value, h.line, h.found)
	}
}

func contentID(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// IdentityKey is the stable key of the pipeline at path in scope (a
// repository as given to --git, or a directory given to --ci).
func IdentityKey(scope, p string) string {
	return inventory.KindCIWorkflow + ":" + scope + ":" + p
}

// ReferenceKey is the credential key of a secret referenced by name.
func ReferenceKey(provider, scope, name string) string {
	return "ci-secret:" + provider + ":" + scope + ":" + name
}

// emit writes every collected pipeline to sink, each row with its unit:
// the pipeline file's path. A unit that could not be read is reported
// with sink.UnitError and nothing of it is written, so that what the
// inventory knew of it is carried forward unchanged.
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
		attrs["yaml_lenient"] = sortNotes(sortedKeys(lenient))
	}
	if len(syntax) > 0 {
		attrs["syntax_errors"] = sortNotes(sortedKeys(syntax))
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
				if r.kind == refVault {
					vst = inventory.VaultVaulted
				}
				c := &inventory.Credential{Key: ck, Type: inventory.TypeCIReference, IdentityKey: idKey, VaultStatus: vst,
					Attrs: map[string]any{string(inventory.AttrName): r.name, "kind": r.kind, "provider": agg.provider, "scope": e.scope}, Unit: p}
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

// includable reports whether a file could be named by a GitLab include
// (snapshots list these too, so that wildcard includes can be matched).
func includable(p string) bool {
	return strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")
}
