package agents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// Options tune the agent source.
type Options struct {
	// Disable lists secret-detection rule ids to turn off.
	Disable []string
	// Exclude are globs (gitignore syntax) of paths of a --path tree not
	// to read, as the directory source takes them.
	Exclude []string
}

// maxFileSize bounds what is read as an agent configuration or .env file
// (~/.claude.json grows with its project history).
const maxFileSize = 16 << 20

// snapshot is one tree of files: a directory, or a branch head.
type snapshot interface {
	// files lists the agent configuration and .env files (slash-separated,
	// relative).
	files(ctx context.Context) ([]string, error)
	// read returns a file's content and a content id.
	read(ctx context.Context, p string) ([]byte, string, error)
}

// isEnvFile reports the dotenv files read beside agent configurations.
func isEnvFile(p string) bool {
	switch path.Base(p) {
	case ".env", ".env.local":
		return true
	}
	return false
}

// wanted reports whether a listed file is read by this source.
func wanted(p string) bool { return Classify(p) != "" || isEnvFile(p) }

// skipDir reports directories never searched.
func skipDir(name string) bool {
	switch name {
	case ".git", "node_modules", "vendor", ".terraform", "__pycache__", ".venv", ".cache", ".npm", ".cargo", ".rustup":
		return true
	}
	return false
}

// engine collects what the snapshots of one target hold and writes it.
type engine struct {
	scope   string // the repository id or directory: Identity.Account and Occurrence.Repo
	loadDet func() (*detect.Detector, error)
	detOnce sync.Once
	det     *detect.Detector
	detErr  error
	keys    *inventory.Keyring
	owners  *scanner.CodeOwners
	// branches: rows carry the branches they were seen on.
	branches bool

	parsed map[string]*parsed // content id -> result
	idents map[string]*ident
	order  []string
	failed map[string][]failure // unit -> why, per branch
	// history: versions of history are being read (addHistory), from
	// commit: they add credentials, never the facts the controls read.
	history bool
	commit  string
}

type parsed struct {
	file *File
	hits []detect.Hit
	err  error
}

type failure struct {
	err    error
	branch string
}

func newEngine(scope string, keys *inventory.Keyring, load func() (*detect.Detector, error), branches bool) *engine {
	return &engine{scope: scope, keys: keys, loadDet: load, branches: branches, parsed: map[string]*parsed{},
		idents: map[string]*ident{}, failed: map[string][]failure{}}
}

func (e *engine) detector() (*detect.Detector, error) {
	e.detOnce.Do(func() { e.det, e.detErr = e.loadDet() })
	return e.det, e.detErr
}

// loadDetector builds the detector as every source does (detect.Load, the
// tree's own .gitleaks.toml, fingerprints under the inventory's key).
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

func (e *engine) fail(unit string, err error, branch string) {
	e.failed[unit] = append(e.failed[unit], failure{err, branch})
}

// read returns the parsed configuration (or .env, file nil) at p.
func (e *engine) read(ctx context.Context, snap snapshot, p, branch string, sink scanner.Sink) (*parsed, error) {
	data, id, err := snap.read(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if e.history {
			return nil, nil
		}
		e.fail(p, fmt.Errorf("read %s: %w", p, err), branch)
		return nil, nil
	}
	ck := p + "\x00" + id
	if r, ok := e.parsed[ck]; ok {
		return r, nil
	}
	r := &parsed{}
	if !isEnvFile(p) {
		r.file, r.err = Parse(p, data)
	}
	if r.err == nil {
		det, err := e.detector()
		if err != nil {
			return nil, err
		}
		r.hits = det.Detect(ctx, detect.Fragment{Path: p, Raw: string(data), StartLine: 1})
		if isEnvFile(p) {
			r.file = &File{Path: p}
			envSettings(r.file, data)
		}
	}
	sink.Add("files_parsed", 1)
	e.parsed[ck] = r
	return r, nil
}

// add reads one snapshot (a directory, or one branch head).
func (e *engine) add(ctx context.Context, snap snapshot, branch string, sink scanner.Sink) error {
	paths, err := snap.files(ctx)
	if err != nil {
		return err
	}
	sort.Strings(paths)
	var configs []*parsed
	roots := map[string][]*parsed{} // project root -> its configurations
	for _, p := range paths {
		if Classify(p) == "" {
			continue
		}
		r, err := e.read(ctx, snap, p, branch, sink)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		if r.err != nil {
			e.fail(p, r.err, branch)
			continue
		}
		configs = append(configs, r)
		roots[rootOf(p)] = append(roots[rootOf(p)], r)
		sink.Add("configs", 1)
		for _, s := range r.file.Servers {
			e.server(r, s, branch)
		}
		e.agent(r, r.file.Models, r.hits, branch, nil)
	}
	for _, p := range paths {
		if !isEnvFile(p) {
			continue
		}
		cs := roots[path.Dir(p)]
		if len(cs) == 0 {
			continue
		}
		r, err := e.read(ctx, snap, p, branch, sink)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		e.dotenv(r, cs, branch)
	}
	return nil
}

// rootOf is the directory a configuration file is the project's of: the
// parent of .cursor/, .vscode/, .continue/..., else the file's own.
func rootOf(p string) string {
	segs := strings.Split(path.Dir(p), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		switch segs[i] {
		case ".cursor", ".vscode", ".continue", ".windsurf", ".gemini", ".amazonq", ".roo", ".codeium":
			if i == 0 {
				return "."
			}
			return strings.Join(segs[:i], "/")
		}
	}
	return path.Dir(p)
}

func contentID(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ServerKey is the stable key of server name of the configuration at path
// in scope (a repository id or a directory), project its ~/.claude.json
// project ("" for none).
func ServerKey(scope, p, project, name string) string {
	k := inventory.KindMCPServer + ":" + scope + ":" + p
	if project != "" {
		k += "#" + project
	}
	return k + ":" + name
}

// AgentKey is the stable key of the agent whose configuration is at path.
func AgentKey(scope, p string) string {
	return inventory.KindAIAgent + ":" + scope + ":" + p
}
