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
	"github.com/nhi-inventory/nhi/scanner/ci/ciyaml"
)

// Options tune the CI source.
type Options struct {
	// Disable lists secret-detection rule ids to turn off.
	Disable []string
	// Stores, when set, says what the CI system's own secret store holds
	// under a referenced name (GitHub Actions: the repository's, an
	// environment's or the organisation's secrets): the reference then
	// carries the store's dates, when the secret was last rotated.
	Stores SecretStores
}

// SecretStores looks a referenced secret up in its CI system's store, by
// provider, scope (the repository id) and name; nil when it is not known
// there (or the store cannot be read: its own source reports that).
type SecretStores interface {
	Lookup(ctx context.Context, provider, scope, name string) *inventory.StoredSecret
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
	// stores are the CI systems' secret stores, for references' dates.
	stores SecretStores
	// clean are the contents known free of hard-coded values (clean.go);
	// nil: every content is searched.
	clean *cleanSet
	// kept are the pipelines kept from earlier scans (parsed.go); nil:
	// every content is parsed.
	kept *parsedSet
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
	// root is the directory of the pipeline file a GitLab file is read
	// for. GitLab resolves local includes from the repository's root,
	// and so does this first; an include that is not there is looked up
	// from root, for a tree holding several projects (a directory of
	// checkouts, the Go module cache) has each one's pipeline at its own
	// root. An included file takes its includer's root.
	type pending struct {
		path, provider, includedBy, root string
		inherited                        map[string]bool
	}
	var queue []pending
	sniff, _ := snap.(classifier)
	for _, p := range paths {
		prov := Classify(p)
		if prov == "" && sniff != nil {
			prov = sniff.classify(p)
		}
		if prov != "" {
			queue = append(queue, pending{path: p, provider: prov, root: path.Dir(p)})
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
			if res, err = e.parseOrKeep(ctx, q.path, data, q.provider, q.inherited, sink); err != nil {
				return err
			}
			e.parsed[ck] = res
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
				queue = append(queue, pending{path: inc, provider: GitLabCI, includedBy: q.path, root: q.root, inherited: res.p.defined})
			}
			for _, inc := range res.p.includes {
				inc = path.Clean(inc)
				nested := path.Join(q.root, inc)
				if strings.ContainsAny(inc, "*?") {
					// GitLab wildcard include: * within a directory, ** across them.
					ms := glob.GitLabInclude(inc).Filter(paths)
					if len(ms) == 0 && nested != inc {
						ms = glob.GitLabInclude(nested).Filter(paths)
					}
					for _, m := range ms {
						include(m)
					}
					continue
				}
				if nested != inc && !has(paths, inc) && has(paths, nested) {
					inc = nested
				}
				include(inc)
			}
		}
	}
	return nil
}

// parseOrKeep returns the pipeline of one content of the file at p: the
// one an earlier scan kept (parsed.go), or else the one parse reads. Only
// the failure to build the detector is an error; a parse error is the
// result's.
func (e *engine) parseOrKeep(ctx context.Context, p string, data []byte, provider string, inherited map[string]bool, sink scanner.Sink) (*pipelineResult, error) {
	ck := contentKey(provider, contentID(data), inherited)
	key := ""
	if e.kept != nil {
		key = e.kept.key(p, ck)
		if kp := e.kept.take(key, provider, sink); kp != nil {
			if e.clean != nil {
				e.clean.markKnown(e.clean.key(p, ck))
			}
			sink.Add("files_parse_kept", 1)
			return &pipelineResult{p: kp}, nil
		}
	}
	pl, err := e.parse(ctx, p, data, ck, provider, inherited)
	if errors.Is(err, errDetector) {
		return nil, err
	}
	sink.Add("files_parsed", 1)
	if e.kept != nil && err == nil {
		e.kept.keep(key, pl)
	}
	return &pipelineResult{p: pl, err: err}, nil
}

// errDetector marks the failure to build the detector: no file can be
// read without it, so it fails the source, not a unit.
var errDetector = errors.New("secret detection")

// parse extracts the pipeline of one file. A nil pipeline with a nil
// error means the file is not a pipeline after all. A file that cannot be
// read as a pipeline has an error and no pipeline (a half-read pipeline
// would pass for a complete one), except a file that is not YAML: its
// error comes with the hard-coded secrets read line by line, in a
// pipeline marked lineWise that holds nothing else. content is the
// content's contentKey.
func (e *engine) parse(ctx context.Context, p string, data []byte, content, provider string, inherited map[string]bool) (*pipeline, error) {
	f := newFile(p, data, provider)
	// known: an earlier scan found this content free of hard-coded values
	// under the same rules; it is parsed, not searched again.
	ck, known := "", false
	if e.clean != nil {
		ck = e.clean.key(p, content)
		known = e.clean.known[ck]
		if known {
			e.clean.skipped++
		}
	}
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
		root, notes, err := ciyaml.Parse(p, data)
		switch {
		case err != nil:
			// Not YAML: the unit fails (its structure is carried), but its
			// hard-coded secrets are read line by line (linewise.go).
			f.lineWise()
			det, derr := e.detector()
			if derr != nil {
				return nil, fmt.Errorf("%w: %w", errDetector, derr)
			}
			f.detectGitleaksFirst(ctx, det)
			return f.p, err
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
			if !known {
				f.walkHardcoded(root)
			}
		}
	}
	if !known {
		det, err := e.detector()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errDetector, err)
		}
		f.detectGitleaksFirst(ctx, det)
	}
	if ck != "" && len(f.p.hard) == 0 {
		e.clean.now[ck] = true
	}
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
	return inventory.CIReferenceKey(provider, scope, name)
}

// includable reports whether a file could be named by a GitLab include
// (snapshots list these too, so that wildcard includes can be matched).
func includable(p string) bool {
	return strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")
}

// has reports whether the sorted paths hold p.
func has(paths []string, p string) bool {
	_, ok := slices.BinarySearch(paths, p)
	return ok
}
