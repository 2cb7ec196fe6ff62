package ci

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	jStageRe     = regexp.MustCompile(`\bstage\s*\(\s*(?:name\s*:\s*)?['"]([^'"]+)['"]`)
	jCredFuncRe  = regexp.MustCompile(`\bcredentials\s*\(\s*['"]([^'"]+)['"]\s*\)`)
	jCredIDRe    = regexp.MustCompile(`\b(?:credentialsId|vaultCredentialId|credentials)\s*:\s*['"]([^'"]+)['"]`)
	jSSHAgentRe  = regexp.MustCompile(`\bsshagent\s*\(\s*(?:credentials\s*:\s*)?\[([^\]]*)\]`)
	jRegistryRe  = regexp.MustCompile(`\bdocker\.withRegistry\s*\(\s*['"][^'"]*['"]\s*,\s*['"]([^'"]+)['"]`)
	jQuotedRe    = regexp.MustCompile(`['"]([^'"]+)['"]`)
	jAssignRe    = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*credentials\s*\(`)
	jVaultPathRe = regexp.MustCompile(`\bpath\s*:\s*['"]([^'"]+)['"]`)
	jEnvVarRe    = regexp.MustCompile(`\benvVar\s*:\s*['"]([^'"]+)['"]`)
	jStepRe      = regexp.MustCompile(`\b(withCredentials|withAWS|withVault|sshagent|withDockerRegistry|docker\.withRegistry|environment|git|checkout|withKubeConfig)\b`)
	jAWSBindRe   = regexp.MustCompile(`AmazonWebServicesCredentialsBinding|\baws\s*\(\s*credentialsId|\bwithAWS\s*\([^)]*credentials\s*:`)
	jGCPBindRe   = regexp.MustCompile(`\bgoogleServiceAccountKey\b|GoogleRobotPrivateKeyCredentials`)
	jAzureBindRe = regexp.MustCompile(`\bazureServicePrincipal\s*\(`)
)

// parseJenkins reads a (declarative or scripted) Jenkinsfile line by
// line. It is Groovy, so this is a careful pattern reader, not a parser:
// it finds credential ids, credential bindings, Vault reads and literal
// values in environment blocks and assignments.
func (f *file) parseJenkins() {
	p := f.p
	p.span(1, "", "")
	stage, step := "", ""
	inVault, vaultPath := false, ""
	for i, raw := range f.lines {
		ln := i + 1
		l := raw
		if c := strings.Index(l, "//"); c >= 0 && !strings.Contains(l[:c], "://") && !strings.Contains(l[:c], "'") && !strings.Contains(l[:c], `"`) {
			l = l[:c]
		}
		if m := jStageRe.FindStringSubmatch(l); m != nil {
			stage = m[1]
			step = ""
			p.span(ln, stage, "")
		}
		if m := jStepRe.FindStringSubmatch(l); m != nil {
			step = m[1]
			p.span(ln, stage, step)
		}
		add := func(id string) {
			p.addRef(ref{name: id, kind: refCredID, line: ln, job: stage, step: step})
		}
		for _, m := range jCredFuncRe.FindAllStringSubmatch(l, -1) {
			add(m[1])
		}
		for _, m := range jCredIDRe.FindAllStringSubmatch(l, -1) {
			add(m[1])
		}
		for _, m := range jSSHAgentRe.FindAllStringSubmatch(l, -1) {
			for _, q := range jQuotedRe.FindAllStringSubmatch(m[1], -1) {
				add(q[1])
			}
		}
		for _, m := range jRegistryRe.FindAllStringSubmatch(l, -1) {
			add(m[1])
		}
		if m := jAssignRe.FindStringSubmatch(l); m != nil && staticKeyName(m[1]) != "" {
			p.static["environment:"+m[1]] = true
		}
		if jAWSBindRe.MatchString(l) {
			p.static["jenkins:aws-credentials-binding"] = true
		}
		if jGCPBindRe.MatchString(l) {
			p.static["jenkins:gcp-service-account-key"] = true
		}
		if jAzureBindRe.MatchString(l) {
			p.static["jenkins:azure-service-principal"] = true
		}
		if strings.Contains(l, "withVault") {
			inVault = true
			p.flags["vault"] = true
		}
		if inVault {
			if m := jVaultPathRe.FindStringSubmatch(l); m != nil {
				vaultPath = m[1]
			}
			for _, m := range jEnvVarRe.FindAllStringSubmatch(l, -1) {
				p.addRef(ref{name: m[1], kind: refVault, vaultPath: vaultPath, line: ln, job: stage, step: "withVault"})
			}
			if strings.Contains(l, "{") && !strings.Contains(l, "[") || strings.Contains(l, "]) {") {
				inVault = false
			}
		}
		// Literal values: NAME = 'x' in environment {} and def x = "..."
		// assignments, then command-line and URL patterns.
		for _, m := range groovyKVRe.FindAllStringSubmatch(l, -1) {
			f.checkKV(m[1], m[2], ln)
		}
		f.checkText(l, ln)
	}
}

// jenkinsBalance checks that braces, brackets and parentheses of a
// Jenkinsfile balance outside strings and comments: the pattern reader
// does not need a valid file, but a file Jenkins itself cannot run is
// reported with the line where the imbalance shows.
func jenkinsBalance(path string, data []byte) error {
	type open struct {
		c    byte
		line int
	}
	var stack []open
	pair := map[byte]byte{')': '(', ']': '[', '}': '{'}
	line := 1
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\n':
			line++
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			i--
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			for i += 2; i+1 < len(data) && !(data[i] == '*' && data[i+1] == '/'); i++ {
				if data[i] == '\n' {
					line++
				}
			}
			i++
		case c == '\'' || c == '"':
			// '...', "...", and triple-quoted strings.
			q := string(c)
			if i+2 < len(data) && data[i+1] == c && data[i+2] == c {
				q = strings.Repeat(q, 3)
			}
			j := i + len(q)
			for ; j < len(data); j++ {
				if data[j] == '\\' {
					j++
					continue
				}
				if data[j] == '\n' {
					if len(q) == 1 {
						return &ParseError{Path: path, Line: line, Msg: "unterminated string"}
					}
					line++
				}
				if strings.HasPrefix(string(data[j:min(j+len(q), len(data))]), q) {
					break
				}
			}
			if j >= len(data) {
				return &ParseError{Path: path, Line: line, Msg: "unterminated string"}
			}
			i = j + len(q) - 1
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, open{c, line})
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1].c != pair[c] {
				return &ParseError{Path: path, Line: line, Msg: fmt.Sprintf("unexpected %q", c)}
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		o := stack[len(stack)-1]
		return &ParseError{Path: path, Line: o.line, Msg: fmt.Sprintf("%q is never closed", o.c)}
	}
	return nil
}
