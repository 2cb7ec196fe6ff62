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
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
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
	err      error
	// includedBy is the GitLab file that pulled this one in.
	includedBy string
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
	branches bool
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
		parsed: map[string]*pipelineResult{}, branches: branches}
}

// detector returns the gitleaks detector, building it on first use.
func (e *engine) detector() (*detect.Detector, error) {
	e.detOnce.Do(func() { e.det, e.detErr = e.loadDet() })
	return e.det, e.detErr
}

// loadDetector builds the gitleaks detector, honouring the scanned
// tree's own .gitleaks.toml when it has one.
func loadDetector(opts Options, repoConfig []byte, sink scanner.Sink, item string) (*detect.Detector, error) {
	rs, err := rules.Load(rules.Options{RepoConfig: repoConfig, Disable: opts.Disable})
	if err != nil && len(repoConfig) > 0 {
		sink.ItemError(item+"/.gitleaks.toml", fmt.Errorf("ignored, detection uses the default rules: %w", err))
		rs, err = rules.Load(rules.Options{Disable: opts.Disable})
	}
	if err != nil {
		return nil, fmt.Errorf("load detection rules: %w", err)
	}
	return rs.NewDetector(), nil
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
			item := e.scope + ":" + q.path
			if branch != "" {
				item += "@" + branch
			}
			sink.ItemError(item, fmt.Errorf("read %s: %w", q.path, err))
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
			for _, inc := range res.p.includes {
				inc = path.Clean(inc)
				if strings.ContainsAny(inc, "*?") {
					// GitLab wildcard include: * within a directory, ** across them.
					for _, m := range matchInclude(inc, paths) {
						queue = append(queue, pending{path: m, provider: GitLabCI, includedBy: q.path, inherited: res.p.defined})
					}
					continue
				}
				queue = append(queue, pending{path: inc, provider: GitLabCI, includedBy: q.path, inherited: res.p.defined})
			}
		}
	}
	return nil
}

// matchInclude returns the paths a GitLab wildcard include names.
func matchInclude(pattern string, paths []string) []string {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range paths {
		if re.MatchString(p) {
			out = append(out, p)
		}
	}
	return out
}

// parse extracts the pipeline of one file. A nil pipeline with a nil
// error means the file is not a pipeline after all.
func (e *engine) parse(ctx context.Context, p string, data []byte, provider string, inherited map[string]bool) (*pipeline, error) {
	f := newFile(p, data, provider)
	var perr error
	if provider == Jenkins {
		f.parseJenkins()
		perr = jenkinsBalance(p, data)
	} else {
		root, err := parseYAML(p, data)
		switch {
		case err != nil:
			perr = err
		case root == nil || !isMap(root):
			if strings.TrimSpace(string(data)) != "" {
				perr = &ParseError{Path: p, Line: 1, Msg: "not a YAML mapping"}
			}
		default:
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
	// Hard-coded secrets are looked for even in a file that does not
	// parse: a broken pipeline can still leak a key.
	det, err := e.detector()
	if err != nil {
		return f.p, err
	}
	f.detectGitleaksFirst(ctx, det)
	for _, r := range f.p.refs {
		if c := staticKeyName(r.name); c != "" && r.kind != refContext {
			f.p.static["reference:"+r.name] = true
		}
	}
	return f.p, perr
}

// detectGitleaksFirst runs gitleaks and puts its findings ahead of the
// CI-aware ones, so that a value found by both keeps gitleaks' rule id.
func (f *file) detectGitleaksFirst(ctx context.Context, det *detect.Detector) {
	own := f.p.hard
	f.p.hard = nil
	f.detectGitleaks(ctx, det)
	for _, h := range own {
		f.addHard(h.rule, h.value, h.line)
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

// emit writes every collected pipeline to sink.
func (e *engine) emit(ctx context.Context, sink scanner.Sink) error {
	paths := make([]string, 0, len(e.versions))
	for p := range e.versions {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	emitted := map[string]bool{}
	for _, p := range paths {
		if err := e.emitPath(ctx, sink, p, emitted); err != nil {
			return err
		}
	}
	return nil
}

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
	var parseErrs []string
	includedBy := map[string]bool{}
	for _, v := range vs {
		for _, b := range v.branches {
			branches[b] = true
		}
		if v.includedBy != "" {
			includedBy[v.includedBy] = true
		}
		if v.err != nil {
			item := e.scope + ":" + p
			if len(v.branches) > 0 {
				item += "@" + strings.Join(v.branches, ",")
			}
			sink.ItemError(item, v.err)
			parseErrs = append(parseErrs, v.err.Error())
		}
		if v.p == nil {
			continue
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
	attrs := map[string]any{"path": p, "auth_signals": map[string]any{"static": sortedKeys(agg.static), "oidc": sortedKeys(agg.oidc)}}
	if owners := e.owners.Owners(p); len(owners) > 0 {
		attrs["codeowners"] = strings.Join(owners, " ")
	}
	for k, set := range agg.sets {
		attrs[k] = sortedKeys(set)
	}
	for k, b := range agg.flags {
		if b {
			attrs[k] = true
		}
	}
	if len(branches) > 0 {
		attrs["branches"] = sortedKeys(branches)
	}
	if len(includedBy) > 0 {
		attrs["included_by"] = sortedKeys(includedBy)
	}
	if len(parseErrs) > 0 {
		attrs["parse_errors"] = parseErrs
	}
	name := agg.name
	if name == "" {
		name = p
	}
	id := &inventory.Identity{Key: idKey, Kind: inventory.KindCIWorkflow, Name: name, Source: inventory.SourceCI,
		Provider: agg.provider, Account: e.scope, AuthMode: agg.authMode(), Attrs: attrs}
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
		if v.p == nil {
			continue
		}
		for _, r := range v.p.refs {
			ck := ReferenceKey(agg.provider, e.scope, r.name)
			if !emitted[ck] {
				emitted[ck] = true
				vst := inventory.VaultCISecretStore
				if r.kind == refVault {
					vst = inventory.VaultVaulted
				}
				c := &inventory.Credential{Key: ck, Type: "ci-secret-reference", IdentityKey: idKey, VaultStatus: vst,
					Attrs: map[string]any{"name": r.name, "kind": r.kind, "provider": agg.provider, "scope": e.scope}}
				if err := sink.Credential(ctx, c); err != nil {
					return err
				}
				sink.Add("references", 1)
			}
			o := &inventory.Occurrence{CredentialKey: ck, Source: inventory.SourceCI, Repo: e.scope, Path: p, Line: r.line,
				CIJob: r.job, CIStep: r.step, VaultPath: r.vaultPath}
			if r.receiver != "" {
				o.Detail = map[string]any{"action": r.receiver, "pinned": r.pinned}
			}
			addOcc(o, v.branches)
		}
		for _, h := range v.p.hard {
			c := sink.Keys().SecretCredential(h.rule, h.value, inventory.VaultHardcoded)
			if !emitted[c.Key] {
				emitted[c.Key] = true
				c.IdentityKey = idKey
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
				CIJob: job, CIStep: step, Detail: map[string]any{"rule": h.rule}}
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
