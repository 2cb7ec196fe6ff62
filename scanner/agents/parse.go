// Package agents is the AI agent source: it reads the configuration files
// in which AI coding agents and desktop assistants (Claude Code, Claude
// Desktop, Cursor, VS Code, Continue, Windsurf, Gemini CLI...) name the
// MCP servers they start or call, in directories and at the head of
// every branch of git repositories. Each server is a non-human identity
// (ai:mcp-server) with the secrets it is handed: which environment
// variables, headers and arguments carry them, whether each is
// hard-coded or a reference (to an environment variable, a prompt, a
// secrets manager), and the package a launcher fetches to run it.
package agents

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// Agent clients, by the configuration file they read.
const (
	ClaudeCode    = "claude-code"
	ClaudeDesktop = "claude-desktop"
	Cursor        = "cursor"
	VSCode        = "vscode"
	Continue      = "continue"
	Windsurf      = "windsurf"
	GeminiCLI     = "gemini-cli"
	AmazonQ       = "amazon-q"
	Cline         = "cline"
	Roo           = "roo-code"
)

// Classify tells which agent client reads a file (slash-separated path
// relative to the scanned root), or "" when it is no agent configuration.
func Classify(p string) string {
	b := path.Base(p)
	d := path.Base(path.Dir(p))
	dd := path.Base(path.Dir(path.Dir(p)))
	switch {
	case b == ".mcp.json":
		return ClaudeCode
	case b == ".claude.json":
		return ClaudeCode
	case b == "claude_desktop_config.json":
		return ClaudeDesktop
	case b == "mcp.json" && d == ".cursor":
		return Cursor
	case b == "mcp.json" && d == ".vscode":
		return VSCode
	case (b == "config.json" || b == "config.yaml" || b == "config.yml") && d == ".continue":
		return Continue
	case d == "mcpServers" && dd == ".continue" && (strings.HasSuffix(b, ".yaml") || strings.HasSuffix(b, ".yml") || strings.HasSuffix(b, ".json")):
		return Continue
	case b == "mcp_config.json" && (d == ".windsurf" || d == "windsurf" && dd == ".codeium"):
		return Windsurf
	case b == "settings.json" && d == ".gemini":
		return GeminiCLI
	case b == "mcp.json" && d == ".amazonq":
		return AmazonQ
	case b == "mcp.json" && d == ".roo":
		return Roo
	case b == "cline_mcp_settings.json":
		return Cline
	}
	return ""
}

// File is what an agent configuration file declares.
type File struct {
	Path    string
	Agent   string
	Servers []*Server
	// Models are the model providers the agent calls with keys of its
	// own (Continue's models:), settings of the agent itself.
	Models []*Setting
	// Inputs are VS Code's prompted inputs: id -> whether it is a password.
	Inputs map[string]bool
}

// Server is one MCP server an agent starts or calls.
type Server struct {
	Name string
	// Project is the project directory of a per-project server in
	// ~/.claude.json ("" for the top level).
	Project string
	Line    int
	// Transport is stdio, sse or http.
	Transport string
	Command   string
	Args      []string
	// URL is the server's address with user information, query values and
	// key-like path segments masked.
	URL      string
	Launch   Launch
	Settings []*Setting
	// Env are the names of every environment variable the server is given.
	Env []string
	// end is the last line of the server's entry, for attributing hits.
	end int
}

// Setting is one place a server (or the agent) is handed a value that
// carries a secret.
type Setting struct {
	// Name is the environment variable, header, flag or parameter.
	Name string
	// In is where it is given: env, header, arg, url, or model.
	In   string
	Line int
	// Value is how it is given (ValueHardcoded, ValueEnv...) and Ref the
	// name it refers to.
	Value string
	Ref   string
	// value is the literal (ValueHardcoded only): kept in memory to be
	// fingerprinted, never stored.
	value string
	// weak: named like a secret only loosely (a query parameter, a user
	// name): hard-coded, it counts only if detected as a secret.
	weak bool
}

const (
	InEnv    = "env"
	InHeader = "header"
	InArg    = "arg"
	InURL    = "url"
	InModel  = "model"
	// InConfig is a key of the agent's own configuration.
	InConfig = "config"
)

// Parse reads an agent configuration file. A file that is not valid JSON
// or YAML is an error saying where; a valid file with no servers is an
// empty File.
func Parse(p string, data []byte) (*File, error) {
	agent := Classify(p)
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM, as Windows editors write
	f := &File{Path: p, Agent: agent, Inputs: map[string]bool{}}
	var root *node
	var err error
	if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
		root, err = parseYAML(p, data)
	} else {
		root, err = parseJSON(p, data)
	}
	if err != nil {
		return nil, err
	}
	if root.kind == nodeNull {
		return f, nil
	}
	if root.kind != nodeMap {
		return nil, &ParseError{Path: p, Line: root.line, Msg: "not an object: an agent configuration holds keys and values"}
	}
	f.servers(root, "")
	if ex := root.get("experimental"); ex != nil {
		f.servers(ex, "")
	}
	if pr := root.get("projects"); pr != nil && pr.kind == nodeMap {
		for i, k := range pr.keys {
			f.servers(pr.vals[i], k.str)
		}
	}
	if in := root.get("inputs"); in != nil && in.kind == nodeList {
		for _, it := range in.vals {
			if id := it.get("id").text(); id != "" {
				f.Inputs[id] = it.get("password").text() == "true"
			}
		}
	}
	f.models(root)
	// The agent's own keys at the top of its file (~/.claude.json's
	// primaryApiKey, an apiKey of Gemini CLI's settings).
	for i, k := range root.keys {
		if v := root.vals[i]; v.kind == nodeScalar && secretName(k.str) {
			kind, ref := classify(v.str)
			st := &Setting{Name: k.str, In: InConfig, Line: v.line, Value: kind, Ref: ref}
			if kind == ValueHardcoded {
				st.value = v.str
			}
			f.Models = append(f.Models, st)
		}
	}
	for _, s := range f.Servers {
		for _, st := range s.Settings {
			if st.Value == ValueInput && f.Inputs[st.Ref] {
				st.weak = false
			}
		}
	}
	return f, nil
}

// servers reads the server maps and lists of one level of a file.
func (f *File) servers(n *node, project string) {
	for _, key := range []string{"mcpServers", "servers", "modelContextProtocolServers", "mcp_servers"} {
		v := n.get(key)
		switch {
		case v == nil:
		case v.kind == nodeMap:
			for i, k := range v.keys {
				f.server(k.str, v.vals[i], project)
			}
		case v.kind == nodeList:
			for i, it := range v.vals {
				f.server(it.get("name").text(), it, project, i)
			}
		}
	}
}

func (f *File) server(name string, n *node, project string, index ...int) {
	if n == nil || n.kind != nodeMap {
		return
	}
	// Continue's experimental servers: {transport: {type, command, args, env}}.
	spec := n
	if t := n.get("transport"); t != nil && t.kind == nodeMap {
		spec = t
	}
	s := &Server{Name: name, Project: project, Line: n.line, end: lastLine(n)}
	s.Command = spec.get("command").text()
	for _, a := range list(spec.get("args")) {
		s.Args = append(s.Args, a.text())
	}
	rawURL := firstNonEmpty(spec.get("url").text(), spec.get("serverUrl").text(), spec.get("httpUrl").text(), spec.get("endpoint").text())
	typ := strings.ToLower(firstNonEmpty(spec.get("type").text(), n.get("type").text(), spec.get("transport").text()))
	switch {
	case typ == "sse":
		s.Transport = "sse"
	case typ == "http" || typ == "streamable-http" || typ == "streamablehttp" || typ == "streamable_http":
		s.Transport = "http"
	case typ == "stdio" || s.Command != "":
		s.Transport = "stdio"
	case rawURL != "":
		s.Transport = "http"
		if u, err := url.Parse(rawURL); err == nil && strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/sse") {
			s.Transport = "sse"
		}
	}
	if s.Name == "" {
		s.Name = serverName(s.Command, s.Args, rawURL)
		if len(index) > 0 {
			s.Name += "#" + strconv.Itoa(index[0]+1)
		}
	}
	if s.Command != "" {
		s.Launch = launchOf(s.Command, s.Args)
	}
	env := spec.get("env")
	if env == nil {
		env = n.get("env")
	}
	if env != nil && env.kind == nodeMap {
		for i, k := range env.keys {
			s.Env = append(s.Env, k.str)
			s.add(InEnv, k.str, env.vals[i], secretName(k.str))
		}
	}
	hdr := spec.get("headers")
	if hdr == nil {
		hdr = spec.get("requestOptions").get("headers")
	}
	if hdr != nil && hdr.kind == nodeMap {
		for i, k := range hdr.keys {
			v := hdr.vals[i]
			if v.kind == nodeScalar {
				v = &node{kind: nodeScalar, str: authValue(v.str), line: v.line}
			}
			s.add(InHeader, k.str, v, secretName(k.str))
		}
	}
	s.argSettings(spec.get("args"))
	if rawURL != "" {
		u, secrets := redactURL(rawURL)
		s.URL = u
		line := firstLine(spec.get("url"), spec.get("serverUrl"), spec.get("httpUrl"), spec.get("endpoint"))
		for _, us := range secrets {
			st := s.add(InURL, us.name, &node{kind: nodeScalar, str: us.value, line: line}, true)
			if st != nil {
				st.weak = us.weak
			}
		}
	}
	f.Servers = append(f.Servers, s)
}

// add records a setting when it carries a secret by its name (secret) or
// its value is a reference (a reference names a secret it is handed).
func (s *Server) add(in, name string, v *node, secret bool) *Setting {
	if v == nil || v.kind != nodeScalar {
		return nil
	}
	kind, ref := classify(v.str)
	st := &Setting{Name: name, In: in, Line: v.line, Value: kind, Ref: ref}
	switch kind {
	case ValueHardcoded, ValuePlaceholder:
		// A literal under an innocent name is kept for the detector: a
		// known token format is still found by its line (see attribute).
		st.weak = !secret
	case ValueSecretManager:
	default:
		// A reference carries a secret when its name or the name it refers
		// to says so, or (inputs) when the prompt is a password: resolved
		// in Parse.
		st.weak = !secret && !secretName(ref)
	}
	if kind == ValueHardcoded {
		st.value = v.str
	}
	s.Settings = append(s.Settings, st)
	return st
}

// argSettings reads secrets given on the command line: --token X,
// --api-key=X, docker's -e NAME=X.
func (s *Server) argSettings(args *node) {
	items := list(args)
	for i := 0; i < len(items); i++ {
		a := items[i].text()
		if !strings.HasPrefix(a, "-") {
			if strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "http://") {
				// A remote server behind a stdio proxy (npx mcp-remote URL).
				_, secrets := redactURL(a)
				for _, us := range secrets {
					if st := s.add(InURL, us.name, &node{kind: nodeScalar, str: us.value, line: items[i].line}, true); st != nil {
						st.weak = us.weak
					}
				}
				continue
			}
			s.add(InArg, "args["+strconv.Itoa(i)+"]", items[i], false)
			continue
		}
		flag, val, hasVal := strings.Cut(a, "=")
		if (flag == "--header" || flag == "-H") && i+1 < len(items) && !hasVal || hasVal && flag == "--header" {
			// mcp-remote's --header "Authorization: Bearer x".
			h := val
			if !hasVal {
				i++
				h = items[i].text()
			}
			if name, v, ok := strings.Cut(h, ":"); ok {
				name = strings.TrimSpace(name)
				s.add(InHeader, name, &node{kind: nodeScalar, str: authValue(v), line: items[i].line}, secretName(name))
			}
			continue
		}
		if (flag == "-e" || flag == "--env") && !hasVal && i+1 < len(items) {
			i++
			if k, v, ok := strings.Cut(items[i].text(), "="); ok {
				s.add(InArg, k, &node{kind: nodeScalar, str: v, line: items[i].line}, secretName(k))
			}
			continue
		}
		if !secretName(strings.TrimLeft(flag, "-")) {
			continue
		}
		if hasVal {
			s.add(InArg, flag, &node{kind: nodeScalar, str: val, line: items[i].line}, true)
		} else if i+1 < len(items) && !strings.HasPrefix(items[i+1].text(), "-") {
			i++
			s.add(InArg, flag, items[i], true)
		}
	}
}

// models reads the model providers of Continue's configuration (models:,
// tabAutocompleteModel, embeddingsProvider) with their API keys.
func (f *File) models(root *node) {
	var ms []*node
	ms = append(ms, list(root.get("models"))...)
	for _, k := range []string{"tabAutocompleteModel", "embeddingsProvider", "reranker"} {
		if v := root.get(k); v != nil && v.kind == nodeMap {
			ms = append(ms, v)
		}
	}
	for _, m := range ms {
		if m.kind != nodeMap {
			continue
		}
		key := m.get("apiKey")
		if key == nil || key.kind != nodeScalar {
			continue
		}
		name := firstNonEmpty(m.get("provider").text(), "model")
		if t := firstNonEmpty(m.get("title").text(), m.get("name").text(), m.get("model").text()); t != "" {
			name += ":" + t
		}
		kind, ref := classify(key.str)
		st := &Setting{Name: name, In: InModel, Line: key.line, Value: kind, Ref: ref}
		if kind == ValueHardcoded {
			st.value = key.str
		}
		f.Models = append(f.Models, st)
	}
}

func list(n *node) []*node {
	if n == nil || n.kind != nodeList {
		return nil
	}
	return n.vals
}

func firstLine(ns ...*node) int {
	for _, n := range ns {
		if n != nil {
			return n.line
		}
	}
	return 0
}

func lastLine(n *node) int {
	l := n.line
	for _, k := range n.keys {
		l = max(l, k.line)
	}
	for _, v := range n.vals {
		l = max(l, lastLine(v))
	}
	return l
}

// serverName names a server given without one (Continue's lists).
func serverName(command string, args []string, rawURL string) string {
	if l := launchOf(command, args); l.Package != "" {
		return l.Package
	}
	if command != "" {
		return base(command)
	}
	if u, _ := redactURL(rawURL); u != "" {
		return u
	}
	return "server"
}

// Secrets are the settings that carry a secret: every reference, and
// every literal named like a secret (or, for an innocently named one,
// detected as one: Detected).
func (s *Server) Secrets() []*Setting {
	var out []*Setting
	for _, st := range s.Settings {
		if !st.weak {
			out = append(out, st)
		}
	}
	return out
}

// String is a short description for errors and progress.
func (s *Server) String() string {
	if s.Project != "" {
		return fmt.Sprintf("%s (project %s)", s.Name, s.Project)
	}
	return s.Name
}
