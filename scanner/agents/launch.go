package agents

import (
	"path"
	"regexp"
	"strings"
)

// Launch is what a stdio server's command starts: a package fetched from
// a registry at launch (npx, uvx, docker...), or local code.
type Launch struct {
	// Launcher is the command's base name: npx, bunx, pnpm, yarn, uvx,
	// pipx, docker, podman, node, python...
	Launcher string `json:"launcher,omitempty"`
	// Registry is where the package comes from: npm, pypi, docker, or ""
	// for local code.
	Registry string `json:"registry,omitempty"`
	// Package and Version as given ("" when none is given).
	Package string `json:"package,omitempty"`
	Version string `json:"version,omitempty"`
	// Pinned: an exact version of an immutable release (npm, PyPI), or an
	// image digest; a range, a tag or no version is not.
	Pinned bool `json:"pinned"`
}

var (
	exactSemver = regexp.MustCompile(`^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$`)
	exactPEP440 = regexp.MustCompile(`^\d+(?:\.\d+)*(?:(?:a|b|rc|\.post|\.dev)\d+)*$`)
	commitSHA   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// launchOf reads the package a command line starts.
func launchOf(command string, args []string) Launch {
	cmd, rest := command, args
	// A Windows wrapper: cmd /c npx ...
	if b := strings.ToLower(base(cmd)); (b == "cmd" || b == "cmd.exe") && len(rest) >= 2 && strings.EqualFold(rest[0], "/c") {
		cmd, rest = rest[1], rest[2:]
	}
	// A command given as one string: "npx -y pkg".
	if f := strings.Fields(cmd); len(f) > 1 {
		cmd, rest = f[0], append(f[1:], rest...)
	}
	l := Launch{Launcher: strings.TrimSuffix(strings.ToLower(base(cmd)), ".exe")}
	switch l.Launcher {
	case "npx", "bunx":
		l.Registry = "npm"
		l.Package, l.Version = npmSpec(firstOperand(rest, map[string]bool{"-p": true, "--package": true, "-c": true, "--call": true}, "-p", "--package"))
	case "pnpm", "yarn", "bun":
		if len(rest) > 0 && (rest[0] == "dlx" || rest[0] == "x") {
			l.Registry = "npm"
			l.Package, l.Version = npmSpec(firstOperand(rest[1:], map[string]bool{"-p": true, "--package": true}, "-p", "--package"))
		}
	case "npm":
		if len(rest) > 0 && (rest[0] == "exec" || rest[0] == "x") {
			l.Registry = "npm"
			l.Package, l.Version = npmSpec(firstOperand(rest[1:], map[string]bool{"-p": true, "--package": true, "-c": true}, "-p", "--package"))
		}
	case "uvx":
		l.Registry = "pypi"
		l.Package, l.Version = pypiSpec(firstOperand(rest, map[string]bool{"--from": true, "--with": true, "--python": true, "-p": true, "--index-url": true, "--index": true}, "--from"))
	case "uv":
		if len(rest) > 1 && rest[0] == "tool" && rest[1] == "run" {
			l.Registry = "pypi"
			l.Package, l.Version = pypiSpec(firstOperand(rest[2:], map[string]bool{"--from": true, "--with": true, "--python": true, "-p": true}, "--from"))
		}
	case "pipx":
		if len(rest) > 0 && rest[0] == "run" {
			l.Registry = "pypi"
			l.Package, l.Version = pypiSpec(firstOperand(rest[1:], map[string]bool{"--spec": true, "--python": true}, "--spec"))
		}
	case "docker", "podman":
		if len(rest) > 0 && rest[0] == "run" {
			l.Registry = "docker"
			l.Package, l.Version = imageSpec(firstOperand(rest[1:], dockerValueFlags))
		}
	}
	switch l.Registry {
	case "npm":
		l.Pinned = exactSemver.MatchString(l.Version) || commitSHA.MatchString(gitRef(l.Package))
	case "pypi":
		l.Pinned = exactPEP440.MatchString(l.Version) || commitSHA.MatchString(gitRef(l.Package))
	case "docker":
		l.Pinned = strings.HasPrefix(l.Version, "sha256:")
	}
	if l.Package == "" && l.Registry != "" {
		l.Registry = ""
	}
	return l
}

func base(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	return path.Base(p)
}

// firstOperand returns the first argument that is not a flag (nor a flag's
// value), or the value of one of the prefer flags when given (npx -p pkg,
// uvx --from pkg).
func firstOperand(args []string, valueFlags map[string]bool, prefer ...string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		for _, p := range prefer {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		case strings.HasPrefix(a, "-"):
			if valueFlags[a] {
				i++
			}
		default:
			return a
		}
	}
	return ""
}

var dockerValueFlags = map[string]bool{
	"-e": true, "--env": true, "--env-file": true, "-v": true, "--volume": true, "--mount": true, "--name": true,
	"--network": true, "--net": true, "-p": true, "--publish": true, "-w": true, "--workdir": true, "--entrypoint": true,
	"-u": true, "--user": true, "--platform": true, "-l": true, "--label": true, "--add-host": true, "--memory": true,
	"-m": true, "--cpus": true, "--pull": true, "--hostname": true, "-h": true, "--cap-add": true, "--cap-drop": true,
	"--security-opt": true, "--tmpfs": true, "--ulimit": true, "--gpus": true, "--runtime": true, "--restart": true,
}

// npmSpec splits "@scope/name@1.2.3" or "name@^1" into package and version.
func npmSpec(s string) (pkg, ver string) {
	if s == "" {
		return "", ""
	}
	at := strings.LastIndex(s, "@")
	if at <= 0 || strings.Contains(s, "://") {
		return s, ""
	}
	return s[:at], s[at+1:]
}

// pypiSpec splits "name==1.2.3" (or "name@1.2.3", uvx's form) into package
// and version; a range (>=, ~=) is no version.
func pypiSpec(s string) (pkg, ver string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	if strings.Contains(s, "://") {
		return s, ""
	}
	if p, v, ok := strings.Cut(s, "=="); ok {
		return strings.TrimSpace(p), strings.TrimSpace(v)
	}
	if i := strings.IndexAny(s, "<>~!="); i > 0 {
		return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
	}
	if p, v, ok := strings.Cut(s, "@"); ok && p != "" {
		return p, v
	}
	return s, ""
}

// imageSpec splits "ghcr.io/x/y:tag" or "x/y@sha256:..." into image and
// tag or digest.
func imageSpec(s string) (img, ver string) {
	if s == "" {
		return "", ""
	}
	if p, d, ok := strings.Cut(s, "@"); ok {
		return p, d
	}
	slash := strings.LastIndex(s, "/")
	if c := strings.LastIndex(s, ":"); c > slash {
		return s[:c], s[c+1:]
	}
	return s, ""
}

// gitRef is the ref of a git+https://...@ref package, or "".
func gitRef(pkg string) string {
	if !strings.HasPrefix(pkg, "git+") && !strings.HasPrefix(pkg, "github:") {
		return ""
	}
	if i := strings.LastIndexAny(pkg, "@#"); i > 0 {
		return pkg[i+1:]
	}
	return ""
}

// describe is how a launch is shown: "npx @scope/pkg@^1 (a range)".
func (l Launch) describe() string {
	s := l.Launcher + " " + l.Package
	switch {
	case l.Version == "":
		s += " (no version: whatever is newest at each launch)"
	case l.Registry == "docker":
		s += ":" + l.Version + " (a movable tag, not a digest)"
	default:
		s += "@" + l.Version + " (not an exact version)"
	}
	return s
}
