package gitrepo

import (
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// scpLike is git's short ssh form, user@host:path.
var scpLike = regexp.MustCompile(`^([A-Za-z0-9._~-]+)@([^/:]+):(.*)$`)

// IsURL reports whether target names a remote repository (a URL, or
// git's user@host:path form) rather than a local path.
func IsURL(target string) bool {
	return strings.Contains(target, "://") || scpLike.MatchString(target)
}

// ID is the canonical id of the repository target names, the one name
// every source, key and log line uses for it:
//
//   - a path: the absolute, symlink-resolved root of the repository that
//     holds it ("app", "./app/", "/abs/app", a symlink to it, "app/.git"
//     and "app/sub" are all "/abs/app"), as git itself would read it;
//   - a URL: without its credentials (inventory.RedactURL), scheme and
//     host in lower case, the default port and trailing slashes dropped.
//
// It never fails: a path that does not exist keeps its absolute form.
func ID(target string) string {
	id, _ := parse(target)
	return id
}

// parse returns the id of target and the credential its URL carries.
func parse(target string) (string, *credential) {
	if !IsURL(target) {
		return repoRoot(scanner.CanonicalPath(target)), nil
	}
	if m := scpLike.FindStringSubmatch(target); m != nil && !strings.Contains(target, "://") {
		return m[1] + "@" + strings.ToLower(m[2]) + ":" + trimSlashes(m[3]), nil
	}
	u, err := url.Parse(target)
	if err != nil {
		// Unparseable: what RedactURL keeps of it, as it is.
		return inventory.RedactURL(target), nil
	}
	var cred *credential
	if u.User != nil && u.Scheme != "ssh" && u.Scheme != "git+ssh" {
		pass, _ := u.User.Password()
		cred = &credential{user: u.User.Username(), pass: pass}
	}
	clean, err := url.Parse(inventory.RedactURL(target))
	if err != nil {
		return inventory.RedactURL(target), cred
	}
	clean.Scheme = strings.ToLower(clean.Scheme)
	host, port := clean.Hostname(), clean.Port()
	if port == defaultPort[clean.Scheme] {
		port = ""
	}
	clean.Host = strings.ToLower(host)
	if strings.Contains(host, ":") {
		clean.Host = "[" + clean.Host + "]"
	}
	if port != "" {
		clean.Host = net.JoinHostPort(strings.ToLower(host), port)
	}
	if clean.Scheme == "file" {
		clean.Path = path.Clean(clean.Path)
	} else {
		clean.Path = trimSlashes(clean.Path)
	}
	clean.RawPath, clean.Fragment, clean.RawFragment = "", "", ""
	return clean.String(), cred
}

var defaultPort = map[string]string{"https": "443", "http": "80", "ssh": "22", "git+ssh": "22", "git": "9418"}

func trimSlashes(p string) string {
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}

// repoRoot returns the root of the repository holding dir: dir itself
// when it is a worktree root (it has a .git) or a bare repository, the
// worktree of a .git directory, else the nearest parent with a .git, as
// git finds it. A path that is no repository is returned unchanged.
func repoRoot(dir string) string {
	if filepath.Base(dir) == ".git" && isGitDir(dir) {
		return filepath.Dir(dir)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return dir
	}
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if isGitDir(d) {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// isGitDir reports a git directory: a bare repository or a .git.
func isGitDir(d string) bool {
	if fi, err := os.Stat(filepath.Join(d, "HEAD")); err != nil || fi.IsDir() {
		return false
	}
	for _, sub := range []string{"objects", "refs"} {
		if fi, err := os.Stat(filepath.Join(d, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// credential is what a URL's userinfo carried. It authenticates clones
// and never becomes a name: it prints as a placeholder.
type credential struct {
	user, pass string
}

func (*credential) String() string   { return "credential(redacted)" }
func (*credential) GoString() string { return "credential(redacted)" }
