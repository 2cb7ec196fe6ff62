package agents

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

func TestClassify(t *testing.T) {
	for p, want := range map[string]string{
		".mcp.json":         ClaudeCode,
		"svc/api/.mcp.json": ClaudeCode,
		".claude.json":      ClaudeCode,
		"Library/Application Support/Claude/claude_desktop_config.json": ClaudeDesktop,
		".config/Claude/claude_desktop_config.json":                     ClaudeDesktop,
		".cursor/mcp.json":                      Cursor,
		"app/.vscode/mcp.json":                  VSCode,
		".continue/config.json":                 Continue,
		".continue/config.yaml":                 Continue,
		".continue/mcpServers/github.yaml":      Continue,
		".windsurf/mcp_config.json":             Windsurf,
		".codeium/windsurf/mcp_config.json":     Windsurf,
		".gemini/settings.json":                 GeminiCLI,
		"mcp.json":                              "",
		".vscode/settings.json":                 "",
		".cursor/rules.json":                    "",
		"continue/config.json":                  "",
		".continue/mcpServers/notes.txt":        "",
		"docs/.codeium/other/mcp_config.json":   "",
		"node_modules/x/.mcp.json.example":      "",
		".continue/mcpServers/deep/github.yaml": "",
	} {
		if got := Classify(p); got != want {
			t.Errorf("Classify(%q) = %q, want %q", p, got, want)
		}
	}
}

// settingsOf renders a server's settings as "in name=value(ref)" lines.
func settingsOf(s *Server) []string {
	var out []string
	for _, st := range s.Secrets() {
		v := st.Value
		if st.Ref != "" {
			v += "(" + st.Ref + ")"
		}
		out = append(out, st.In+" "+st.Name+"="+v)
	}
	return out
}

func server(t *testing.T, f *File, name string) *Server {
	t.Helper()
	for _, s := range f.Servers {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range f.Servers {
		names = append(names, s.Name)
	}
	t.Fatalf("%s: no server %q (have %v)", f.Path, name, names)
	return nil
}

func TestParseClaudeCode(t *testing.T) {
	pat := harness.GitHubPAT()
	cfg := `{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "` + pat + `",
        "GITHUB_HOST": "github.example.com"
      }
    },
    "fetch": {"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"], "env": {"API_KEY": "${FETCH_KEY}"}},
    "remote": {
      "type": "http",
      "url": "https://mcp.example.com/mcp",
      "headers": {"Authorization": "Bearer ${env:REMOTE_TOKEN}", "X-Trace": "on"}
    },
    "events": {"url": "https://events.example.com/sse"}
  }
}`
	f, err := Parse(".mcp.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if f.Agent != ClaudeCode || len(f.Servers) != 4 {
		t.Fatalf("agent %q, %d servers", f.Agent, len(f.Servers))
	}
	gh := server(t, f, "github")
	if gh.Transport != "stdio" || gh.Line != 3 {
		t.Errorf("github: transport %q line %d", gh.Transport, gh.Line)
	}
	if d := diff(Launch{Launcher: "npx", Registry: "npm", Package: "@modelcontextprotocol/server-github"}, gh.Launch); d != "" {
		t.Errorf("github launch (-want +got):\n%s", d)
	}
	if d := diff([]string{"env GITHUB_PERSONAL_ACCESS_TOKEN=hardcoded"}, settingsOf(gh)); d != "" {
		t.Errorf("github settings (-want +got):\n%s", d)
	}
	if st := gh.Secrets()[0]; st.value != pat || st.Line != 7 {
		t.Errorf("the literal is kept in memory with its line: line %d, value kept %t", st.Line, st.value == pat)
	}
	if d := diff([]string{"GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_HOST"}, gh.Env); d != "" {
		t.Errorf("env names (-want +got):\n%s", d)
	}
	fe := server(t, f, "fetch")
	if !fe.Launch.Pinned || fe.Launch.Package != "mcp-server-fetch" || fe.Launch.Version != "2025.4.7" {
		t.Errorf("fetch launch %+v", fe.Launch)
	}
	if d := diff([]string{"env API_KEY=env(FETCH_KEY)"}, settingsOf(fe)); d != "" {
		t.Errorf("fetch settings (-want +got):\n%s", d)
	}
	re := server(t, f, "remote")
	if re.Transport != "http" || re.URL != "https://mcp.example.com/mcp" {
		t.Errorf("remote: %q %q", re.Transport, re.URL)
	}
	if d := diff([]string{"header Authorization=env(REMOTE_TOKEN)"}, settingsOf(re)); d != "" {
		t.Errorf("remote settings (-want +got):\n%s", d)
	}
	if ev := server(t, f, "events"); ev.Transport != "sse" {
		t.Errorf("a URL ending in /sse is the SSE transport, got %q", ev.Transport)
	}
}

func TestParseVSCodeJSONC(t *testing.T) {
	cfg := `{
  // VS Code allows comments
  "inputs": [
    {"type": "promptString", "id": "gh-token", "description": "GitHub token", "password": true},
    {"type": "promptString", "id": "workspace", "description": "a path"},
  ],
  "servers": {
    /* the GitHub server */
    "github": {
      "type": "stdio",
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "-e", "LOG_LEVEL=debug", "ghcr.io/github/github-mcp-server:v0.5.0"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${input:gh-token}", "WORKDIR": "${input:workspace}"},
    },
    "pinned": {"command": "docker", "args": ["run", "-i", "mcp/time@sha256:` + strings.Repeat("ab", 32) + `"]}
  }
}`
	f, err := Parse(".vscode/mcp.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Inputs["gh-token"] || f.Inputs["workspace"] {
		t.Errorf("inputs: %v", f.Inputs)
	}
	gh := server(t, f, "github")
	if gh.Launch.Registry != "docker" || gh.Launch.Package != "ghcr.io/github/github-mcp-server" || gh.Launch.Version != "v0.5.0" || gh.Launch.Pinned {
		t.Errorf("docker launch %+v: a tag is not a digest", gh.Launch)
	}
	// The prompted password input is a secret; the path input is not.
	if d := diff([]string{"env GITHUB_PERSONAL_ACCESS_TOKEN=input(gh-token)"}, settingsOf(gh)); d != "" {
		t.Errorf("settings (-want +got):\n%s", d)
	}
	if gh.Line != 9 {
		t.Errorf("line %d: comments keep line numbers", gh.Line)
	}
	if p := server(t, f, "pinned"); !p.Launch.Pinned {
		t.Errorf("a digest pins an image: %+v", p.Launch)
	}
}

func TestParseClaudeJSONProjects(t *testing.T) {
	key := harness.StripeLiveKey()
	cfg := `{"numStartups": 4, "mcpServers": {"top": {"command": "node", "args": ["/opt/mcp/index.js"]}},
"projects": {
  "/home/dev/shop": {"mcpServers": {"stripe": {"command": "npx", "args": ["-y", "@stripe/mcp@0.2.4", "--tools=all", "--api-key=` + key + `"]}}},
  "/home/dev/empty": {"allowedTools": []}
}}`
	f, err := Parse("home/.claude.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Servers) != 2 {
		t.Fatalf("%d servers", len(f.Servers))
	}
	st := server(t, f, "stripe")
	if st.Project != "/home/dev/shop" || st.Line != 3 {
		t.Errorf("project %q line %d", st.Project, st.Line)
	}
	if !st.Launch.Pinned || st.Launch.Version != "0.2.4" {
		t.Errorf("launch %+v", st.Launch)
	}
	if d := diff([]string{"arg --api-key=hardcoded"}, settingsOf(st)); d != "" {
		t.Errorf("settings (-want +got):\n%s", d)
	}
	if top := server(t, f, "top"); top.Launch.Registry != "" || top.Project != "" {
		t.Errorf("local code has no registry: %+v", top.Launch)
	}
}

func TestParseContinue(t *testing.T) {
	yml := `name: assistant
version: 1.0.0
models:
  - name: Claude
    provider: anthropic
    model: claude-sonnet-4
    apiKey: ${{ secrets.ANTHROPIC_API_KEY }}
  - name: GPT
    provider: openai
    model: gpt-4o
    apiKey: sk-not-a-real-key-but-literal-0123456789
mcpServers:
  - name: Postgres
    command: npx
    args: ["-y", "@modelcontextprotocol/server-postgres@^0.6", "postgresql://app:${{ secrets.PG_PASSWORD }}@db/app"]
  - name: Linear
    type: sse
    url: https://mcp.linear.app/sse
    requestOptions:
      headers:
        Authorization: Bearer lin_api_` + harness.RandomString("abcdefghijklmnopqrstuvwxyz0123456789", 40) + `
`
	f, err := Parse(".continue/config.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	var models []string
	for _, m := range f.Models {
		models = append(models, m.Name+"="+m.Value+"("+m.Ref+")")
	}
	if d := diff([]string{"anthropic:Claude=secret-manager(ANTHROPIC_API_KEY)", "openai:GPT=hardcoded()"}, models); d != "" {
		t.Errorf("models (-want +got):\n%s", d)
	}
	pg := server(t, f, "Postgres")
	if pg.Launch.Version != "^0.6" || pg.Launch.Pinned {
		t.Errorf("a range is not a pin: %+v", pg.Launch)
	}
	li := server(t, f, "Linear")
	if li.Transport != "sse" || li.Line != 16 {
		t.Errorf("linear: %q line %d", li.Transport, li.Line)
	}
	if d := diff([]string{"header Authorization=hardcoded"}, settingsOf(li)); d != "" {
		t.Errorf("linear settings (-want +got):\n%s", d)
	}
	if strings.HasPrefix(li.Secrets()[0].value, "Bearer") {
		t.Error("the scheme is not part of the secret")
	}

	js := `{"models": [{"title": "x", "provider": "mistral", "apiKey": ""}],
"experimental": {"modelContextProtocolServers": [{"transport": {"type": "stdio", "command": "uvx", "args": ["mcp-server-sqlite", "--db-path", "/tmp/x.db"]}}]}}`
	f, err = Parse(".continue/config.json", []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Servers) != 1 || f.Servers[0].Name != "mcp-server-sqlite#1" || f.Servers[0].Transport != "stdio" {
		t.Errorf("experimental servers: %+v", f.Servers)
	}
	if len(f.Models) != 1 || f.Models[0].Value != ValuePlaceholder {
		t.Errorf("an empty key is a placeholder: %+v", f.Models)
	}
}

func TestParseWindsurfURLSecrets(t *testing.T) {
	key := harness.RandomString("abcdefghijklmnopqrstuvwxyz0123456789", 32)
	cfg := `{"mcpServers": {"search": {"serverUrl": "https://user:` + key + `@mcp.search.example/v1/AbC123dEf456GhI789jKl0/sse?api_key=` + key + `&region=eu"}}}`
	f, err := Parse(".codeium/windsurf/mcp_config.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	s := server(t, f, "search")
	if strings.Contains(s.URL, key) || strings.Contains(s.URL, "AbC123") {
		t.Fatalf("the kept URL holds a secret: %s", s.URL)
	}
	if s.URL != "https://mcp.search.example/v1/****/sse?api_key=****&region=****" || s.Transport != "sse" {
		t.Errorf("url %q transport %q", s.URL, s.Transport)
	}
	if d := diff([]string{"url password=hardcoded", "url api_key=hardcoded", "url path=hardcoded"}, settingsOf(s)); d != "" {
		t.Errorf("settings (-want +got):\n%s", d)
	}
}

func TestParseRemoteProxy(t *testing.T) {
	tok := harness.RandomString("abcdefghijklmnopqrstuvwxyz0123456789", 32)
	cfg := `{"mcpServers": {"remote": {"command": "npx", "args": ["mcp-remote@0.1.18", "https://mcp.example.com/sse?token=` + tok + `",
  "--header", "Authorization: Bearer ${AUTH_TOKEN}", "--header", "X-Api-Key: ` + tok + `", "--header=X-Trace: 1"]}}}`
	f, err := Parse("claude_desktop_config.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	s := server(t, f, "remote")
	if d := diff([]string{"url token=hardcoded", "header Authorization=env(AUTH_TOKEN)", "header X-Api-Key=hardcoded"}, settingsOf(s)); d != "" {
		t.Errorf("settings (-want +got):\n%s", d)
	}
	if !s.Launch.Pinned || s.Launch.Package != "mcp-remote" {
		t.Errorf("launch %+v", s.Launch)
	}
	if got := maskArg(s.Args[1], s, nil); got != "https://mcp.example.com/sse?token=****" {
		t.Errorf("the proxied URL is kept masked: %s", got)
	}
	if got := maskArg(s.Args[5], s, nil); strings.Contains(got, tok) {
		t.Errorf("a header argument keeps its secret: %s", got)
	}
}

func TestParseErrorsSayWhere(t *testing.T) {
	for _, c := range []struct {
		path, data string
		line       int
		msg        string
	}{
		{".mcp.json", "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"npx\"\n  }\n", 5, "ends inside"},
		{".cursor/mcp.json", "{\n\"mcpServers\": {\n  \"a\": [1,,2]}}", 3, "not valid JSON"},
		{".mcp.json", "[1, 2]", 1, "not an object"},
		{".mcp.json", "{} {}", 1, "more than one"},
		{".continue/config.yaml", "models:\n  - name: a\n bad: [", 2, "not valid YAML"},
		{".mcp.json", strings.Repeat("[", 100) + strings.Repeat("]", 100), 1, "nested"},
	} {
		_, err := Parse(c.path, []byte(c.data))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s %q: error %v, want a ParseError", c.path, c.data, err)
			continue
		}
		if pe.Path != c.path || pe.Line != c.line || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("%s %q: %v, want line %d and %q", c.path, c.data, err, c.line, c.msg)
		}
	}
	if f, err := Parse(".mcp.json", []byte("\xef\xbb\xbf{\"mcpServers\": {\"a\": {\"command\": \"x\"}}}")); err != nil || len(f.Servers) != 1 {
		t.Errorf("a file with a BOM: %v %v", f, err)
	}
	f, err := Parse(".mcp.json", []byte("{}"))
	if err != nil || len(f.Servers) != 0 {
		t.Errorf("an empty object is no server: %v %v", f, err)
	}
}

func TestLaunch(t *testing.T) {
	for _, c := range []struct {
		cmd  string
		args []string
		want Launch
	}{
		{"npx", []string{"-y", "@scope/pkg@1.2.3"}, Launch{"npx", "npm", "@scope/pkg", "1.2.3", true}},
		{"npx", []string{"-y", "pkg@latest"}, Launch{"npx", "npm", "pkg", "latest", false}},
		{"npx", []string{"--package=pkg@2.0.0", "pkg-bin"}, Launch{"npx", "npm", "pkg", "2.0.0", true}},
		{"/usr/local/bin/npx", []string{"pkg"}, Launch{"npx", "npm", "pkg", "", false}},
		{"cmd", []string{"/c", "npx", "-y", "pkg@1.0.0"}, Launch{"npx", "npm", "pkg", "1.0.0", true}},
		{"npx -y pkg@0.1.0", nil, Launch{"npx", "npm", "pkg", "0.1.0", true}},
		{"pnpm", []string{"dlx", "pkg@^1"}, Launch{"pnpm", "npm", "pkg", "^1", false}},
		{"uvx", []string{"mcp-server-git"}, Launch{"uvx", "pypi", "mcp-server-git", "", false}},
		{"uvx", []string{"--from", "awslabs.server==1.0.2", "awslabs.server"}, Launch{"uvx", "pypi", "awslabs.server", "1.0.2", true}},
		{"uvx", []string{"pkg>=1.0"}, Launch{"uvx", "pypi", "pkg", ">=1.0", false}},
		{"uvx", []string{"pkg@0.3.1"}, Launch{"uvx", "pypi", "pkg", "0.3.1", true}},
		{"uv", []string{"tool", "run", "pkg==2"}, Launch{"uv", "pypi", "pkg", "2", true}},
		{"docker", []string{"run", "-i", "--rm", "-e", "X", "mcp/github"}, Launch{"docker", "docker", "mcp/github", "", false}},
		{"docker", []string{"run", "localhost:5000/img:1"}, Launch{"docker", "docker", "localhost:5000/img", "1", false}},
		{"python", []string{"server.py"}, Launch{Launcher: "python"}},
		{"docker", []string{"ps"}, Launch{Launcher: "docker"}},
	} {
		if got := launchOf(c.cmd, c.args); got != c.want {
			t.Errorf("launchOf(%q, %q) = %+v, want %+v", c.cmd, c.args, got, c.want)
		}
	}
}

func TestClassifyValues(t *testing.T) {
	for v, want := range map[string][2]string{
		"${env:GITHUB_TOKEN}":                  {ValueEnv, "GITHUB_TOKEN"},
		"${GITHUB_TOKEN}":                      {ValueEnv, "GITHUB_TOKEN"},
		"${TOKEN:-x}":                          {ValueEnv, "TOKEN"},
		"$TOKEN":                               {ValueEnv, "TOKEN"},
		"%TOKEN%":                              {ValueEnv, "TOKEN"},
		"Bearer {env:TOKEN}":                   {ValueEnv, "TOKEN"},
		"${input:gh}":                          {ValueInput, "gh"},
		"${{ secrets.GH }}":                    {ValueSecretManager, "GH"},
		"op://vault/github/token":              {ValueSecretManager, "op://vault/github/token"},
		"arn:aws:secretsmanager:eu:1:secret:x": {ValueSecretManager, "arn:aws:secretsmanager:eu:1:secret:x"},
		"projects/p/secrets/s/versions/1":      {ValueSecretManager, "projects/p/secrets/s/versions/1"},
		"$(gh auth token)":                     {ValueCommand, ""},
		"":                                     {ValuePlaceholder, ""},
		"<your-token>":                         {ValuePlaceholder, ""},
		"YOUR_API_KEY_HERE":                    {ValuePlaceholder, ""},
		"xxxxxxxxxxxx":                         {ValuePlaceholder, ""},
		"Bearer token":                         {ValuePlaceholder, ""},
		"Zq8fK2pLm4Nx7Rt1":                     {ValueHardcoded, ""},
	} {
		k, r := classify(v)
		if k != want[0] || r != want[1] {
			t.Errorf("classify(%q) = %q %q, want %q %q", v, k, r, want[0], want[1])
		}
	}
	for name, want := range map[string]bool{
		"GITHUB_PERSONAL_ACCESS_TOKEN": true, "apiKey": true, "X-API-Key": true, "Authorization": true, "key": true,
		"OPENAI_API_KEY": true, "DB_PASSWORD": true, "--token": true, "client_secret": true,
		"GITHUB_HOST": false, "LOG_LEVEL": false, "PATH": false, "region": false, "monkey": false, "KEYBOARD": false,
	} {
		if got := secretName(name); got != want {
			t.Errorf("secretName(%q) = %t", name, got)
		}
	}
}

// diff is "" when want and got are equal, else both.
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("- %#v\n+ %#v", want, got)
}
