package ci

import (
	"regexp"
	"strings"
)

var (
	ghSecretRe = regexp.MustCompile(`\bsecrets\.([A-Za-z_][A-Za-z0-9_-]*)|\bsecrets\[\s*['"]([^'"]+)['"]\s*\]`)
	shellVarRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)`)
	azureVarRe = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.]*)\)`)
	shaRe      = regexp.MustCompile(`^[0-9a-f]{40}$`)
	semverRe   = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	// Names assigned inside a script are shell locals, not CI variables.
	shellAssignRe  = regexp.MustCompile(`(?m)(?:^|[;&|(]|\bexport|\blocal|\bdeclare(?:\s+-\w+)?|\breadonly)\s*([A-Za-z_][A-Za-z0-9_]*)\+?=`)
	shellForReadRe = regexp.MustCompile(`\b(?:for|read(?:\s+-\w+)*)\s+([A-Za-z_][A-Za-z0-9_]*)`)
)

// githubSecrets lists the secret names an expression string refers to.
func githubSecrets(s string) []string { return names(ghSecretRe, s) }

// shellVars lists the $VAR / ${VAR} names used in s.
func shellVars(s string) []string { return names(shellVarRe, s) }

// names lists the name of each match of re, a regexp with two
// alternatives that each capture the name in one group.
func names(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

// shellLocals lists names a script assigns itself.
func shellLocals(s string, into map[string]bool) {
	for _, m := range shellAssignRe.FindAllStringSubmatch(s, -1) {
		into[m[1]] = true
	}
	for _, m := range shellForReadRe.FindAllStringSubmatch(s, -1) {
		into[m[1]] = true
	}
}

// wellKnownEnv are variables every runner image or shell provides.
var wellKnownEnv = map[string]bool{
	"HOME": true, "PATH": true, "PWD": true, "OLDPWD": true, "USER": true, "SHELL": true, "HOSTNAME": true,
	"TERM": true, "LANG": true, "LC_ALL": true, "TMPDIR": true, "TMP": true, "TEMP": true, "RANDOM": true, "UID": true,
	"IFS": true, "BASH_ENV": true, "BASH_SOURCE": true, "LINENO": true, "SECONDS": true, "GOPATH": true,
	"GOROOT": true, "GOBIN": true, "GOOS": true, "GOARCH": true, "JAVA_HOME": true, "ANDROID_HOME": true,
	"ANDROID_SDK_ROOT": true, "DISPLAY": true, "CI": true, "PYTHONPATH": true, "NODE_OPTIONS": true,
	"DOCKER_HOST": true, "DOCKER_TLS_CERTDIR": true, "DOCKER_DRIVER": true, "DEBIAN_FRONTEND": true, "PS1": true,
	"OSTYPE": true, "HOSTTYPE": true, "PPID": true, "EUID": true, "GITHUB_ENV": true, "GITHUB_PATH": true,
	"GITHUB_OUTPUT": true, "GITHUB_STEP_SUMMARY": true, "GITHUB_WORKSPACE": true, "GITHUB_SHA": true, "GITHUB_REF": true,
	"RUNNER_OS": true, "RUNNER_TEMP": true, "OPTARG": true, "OPTIND": true, "REPLY": true, "PIPESTATUS": true,
}

// predefined reports variables a CI system defines itself.
func predefined(provider, name string) bool {
	if wellKnownEnv[name] {
		return true
	}
	var prefixes []string
	switch provider {
	case GitLabCI:
		prefixes = []string{"CI_", "GITLAB_CI", "GITLAB_FEATURES", "GITLAB_USER_", "CHAT_", "TRIGGER_PAYLOAD", "RUNNER_", "FF_", "KUBECONFIG"}
	case CircleCI:
		prefixes = []string{"CIRCLE_", "CIRCLECI"}
	case Bitbucket:
		prefixes = []string{"BITBUCKET_", "PIPELINES_"}
	case GitHubActions:
		prefixes = []string{"GITHUB_", "RUNNER_", "ACTIONS_", "INPUT_"}
	}
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// ciVariable reports whether $name in a script of provider is a CI/CD
// variable from the settings store: upper case (lower-case names are
// shell locals by convention), not predefined, not defined in the file.
func ciVariable(provider, name string, defined map[string]bool) bool {
	if defined[name] || predefined(provider, name) {
		return false
	}
	if strings.ToUpper(name) != name || len(name) < 2 {
		return false
	}
	return !(name[0] >= '0' && name[0] <= '9')
}

// pinnedRef reports whether an action/workflow reference "owner/repo@ref"
// is pinned to a full commit SHA (or, for docker:// images, a digest).
func pinnedRef(uses string) bool {
	if strings.HasPrefix(uses, "docker://") {
		return strings.Contains(uses, "@sha256:")
	}
	i := strings.LastIndex(uses, "@")
	if i < 0 {
		return false
	}
	return shaRe.MatchString(uses[i+1:])
}

// thirdParty reports whether a uses: value names code from outside the
// repository.
func thirdParty(uses string) bool {
	return uses != "" && !strings.HasPrefix(uses, "./") && !strings.HasPrefix(uses, ".\\")
}
