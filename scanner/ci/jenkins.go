package ci

import (
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
