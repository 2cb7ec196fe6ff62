package agents

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds the configuration parser arbitrary bytes under every
// file name it reads: it must return a File or a ParseError saying
// where, never panic, and never keep a URL's password.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"mcpServers": {"gh": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github@1.0.0"], "env": {"GITHUB_TOKEN": "${env:GH}"}}}}`,
		`{"servers": {"x": {"type": "http", "url": "https://u:p4ssw0rd-value@h/sse?key=abc", "headers": {"Authorization": "Bearer zz"}}}, "inputs": [{"id": "a", "password": true}]}`,
		"{\n // c\n \"servers\": {\"a\": {\"command\": \"docker\", \"args\": [\"run\", \"-e\", \"K=v\", \"img@sha256:00\"],},},\n}",
		`{"projects": {"/p": {"mcpServers": {"s": {"command": "uvx", "args": ["--from", "a==1", "a", "--api-key", "k"]}}}}}`,
		"mcpServers:\n  - name: a\n    command: npx\n    env: {API_KEY: x}\nmodels:\n  - provider: openai\n    apiKey: ${{ secrets.K }}\n",
		"a: &x [*x]\n",
		`{"experimental": {"modelContextProtocolServers": [{"transport": {"type": "sse", "url": "http://[::1]:80/sse"}}]}}`,
		`[`, `{"a": "\u0000"}`, "",
	}
	for _, s := range seeds {
		f.Add(s, ".mcp.json")
		f.Add(s, ".continue/config.yaml")
	}
	f.Fuzz(func(t *testing.T, data, name string) {
		names := []string{".mcp.json", ".vscode/mcp.json", ".continue/config.yaml", ".continue/mcpServers/a.yml", ".claude.json"}
		p := names[len(name)%len(names)]
		file, err := Parse(p, []byte(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Path != p {
				t.Fatalf("error %v is not a ParseError of %s", err, p)
			}
			// YAML counts a lone \r as a line break too.
			if lines := strings.Count(data, "\n") + strings.Count(data, "\r") + 1; pe.Line < 0 || pe.Line > lines {
				t.Fatalf("error line %d outside the file (%d lines)", pe.Line, lines)
			}
			return
		}
		for _, s := range file.Servers {
			for _, st := range s.Settings {
				if st.In == InURL && st.Name == "password" && len(st.value) >= 4 && strings.Contains(s.URL, st.value) {
					t.Fatalf("URL %q keeps its password", s.URL)
				}
				if st.Value != ValueHardcoded && st.value != "" {
					t.Fatalf("a %s value kept its literal", st.Value)
				}
			}
		}
	})
}
