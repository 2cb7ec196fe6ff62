package ci

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/inventory"
)

// parseGitHub reads a GitHub Actions workflow or composite action.
func (f *file) parseGitHub(root *yaml.Node) {
	p := f.p
	p.name = str(get(root, "name"))
	if runs := get(root, "runs"); runs != nil {
		// A composite action: its steps run inside the caller's job.
		p.flags["composite_action"] = true
		p.span(1, "", "")
		f.ghSteps("composite", get(runs, "steps"), false)
		return
	}
	on := get(root, "on")
	if on == nil {
		on = get(root, "true") // YAML 1.1 reading of `on`
	}
	prt := false
	addTrigger := func(t string) {
		p.set("triggers", t)
		if t == "pull_request_target" {
			prt = true
		}
	}
	switch {
	case isScalar(on):
		addTrigger(str(on))
	case isSeq(on):
		for _, t := range items(on) {
			addTrigger(str(t))
		}
	case isMap(on):
		for _, kv := range pairs(on) {
			addTrigger(kv.k.Value)
		}
	}
	if prt {
		p.flags["pull_request_target"] = true
	}
	p.span(1, "", "")
	f.ghPermissions(get(root, "permissions"))
	for _, kv := range pairs(root) {
		if kv.k.Value == "jobs" || kv.k.Value == "on" || kv.k.Value == "permissions" {
			continue
		}
		if kv.k.Value == "env" {
			f.ghEnv(kv.v, "", "", "")
		}
		f.ghRefs(kv.v, "", "", "")
	}
	defer func() {
		// id-token: write alone is a cloud OIDC login only when nothing
		// else explains it.
		if len(p.oidc) == 1 && p.oidc["permissions:id-token:write"] && p.flags["oidc_non_cloud_consumer"] {
			delete(p.oidc, "permissions:id-token:write")
		}
	}()
	for _, j := range pairs(get(root, "jobs")) {
		job := j.k.Value
		p.span(j.k.Line, job, "")
		uses := str(get(j.v, "uses"))
		if uses != "" {
			p.set("reusable_workflows", uses)
		}
		for _, kv := range pairs(j.v) {
			p.span(kv.k.Line, job, "")
			switch kv.k.Value {
			case "steps":
				f.ghSteps(job, kv.v, prt)
			case "permissions":
				f.ghPermissions(kv.v)
			case "secrets":
				if str(kv.v) == "inherit" {
					p.set("secrets_inherit", job+" -> "+uses)
					f.addReceiverRef(ref{name: "*", kind: refInherit, line: kv.v.Line, job: job}, uses)
					continue
				}
				f.ghRefs(kv.v, job, "", uses)
			case "with":
				f.ghRefs(kv.v, job, "", uses)
			case "env":
				f.ghEnv(kv.v, job, "", "")
				f.ghRefs(kv.v, job, "", "")
			case "services":
				for _, s := range pairs(kv.v) {
					f.ghEnv(get(s.v, "env"), job, "", "")
					f.ghRefs(s.v, job, "services."+s.k.Value, "")
				}
			default:
				f.ghRefs(kv.v, job, "", "")
			}
		}
	}
}

// ghSteps reads a job's steps.
func (f *file) ghSteps(job string, steps *yaml.Node, prt bool) {
	p := f.p
	for i, st := range items(steps) {
		uses := str(get(st, "uses"))
		name := str(get(st, "name"))
		if name == "" {
			name = str(get(st, "id"))
		}
		if name == "" && uses != "" {
			name = uses
		}
		if name == "" {
			name = "#" + strconv.Itoa(i+1)
		}
		p.span(st.Line, job, name)
		with := get(st, "with")
		recv := ""
		if thirdParty(uses) {
			recv = uses
		}
		f.ghAuth(uses, with)
		for _, kv := range pairs(st) {
			switch kv.k.Value {
			case "with":
				if actionName(uses) == "hashicorp/vault-action" {
					f.vaultAction(kv.v, job, name)
				}
				f.ghRefs(kv.v, job, name, recv)
			case "env":
				f.ghEnv(kv.v, job, name, uses)
				f.ghRefs(kv.v, job, name, recv)
			default:
				f.ghRefs(kv.v, job, name, "")
			}
		}
		if prt && actionName(uses) == "actions/checkout" {
			r := str(get(with, "ref")) + " " + str(get(with, "repository"))
			if strings.Contains(r, "github.event.pull_request.head") || strings.Contains(r, "github.head_ref") ||
				strings.Contains(r, "refs/pull/") || strings.Contains(r, "merge_commit_sha") {
				p.set(inventory.AttrPullRequestTargetExposure, job+"/"+name)
			}
		}
	}
}

// ghRefs records every ${{ secrets.X }} below n.
func (f *file) ghRefs(n *yaml.Node, job, step, recv string) {
	scalars(n, func(s *yaml.Node) {
		for _, name := range githubSecrets(s.Value) {
			r := ref{name: name, kind: refSecret, line: f.lineOf("secrets."+name, s.Line), job: job, step: step}
			if r.line == s.Line && !strings.Contains(f.lineText(s.Line), "secrets") {
				r.line = f.lineOf(name, s.Line)
			}
			f.addReceiverRef(r, recv)
		}
	})
}

func (f *file) lineText(line int) string {
	if line < 1 || line > len(f.lines) {
		return ""
	}
	return f.lines[line-1]
}

// addReceiverRef adds r, noting the third-party code that receives it.
func (f *file) addReceiverRef(r ref, recv string) {
	if recv != "" {
		r.receiver = recv
		r.pinned = f.pinned(recv)
		f.p.set("secret_receivers", recv)
		if !r.pinned {
			f.p.set(inventory.AttrUnpinnedSecretReceivers, recv)
		}
	}
	f.p.addRef(r)
}

// pinned reports whether third-party code is pinned immutably: a full
// commit SHA for actions and reusable workflows, an exact version for
// CircleCI orbs (they cannot be pinned harder), a digest for images.
func (f *file) pinned(recv string) bool {
	switch f.p.provider {
	case CircleCI:
		return orbPinned(recv)
	case Bitbucket:
		return strings.Contains(recv, "@sha256:")
	}
	return pinnedRef(recv)
}

// ghEnv notes static cloud keys passed through environment variables.
func (f *file) ghEnv(env *yaml.Node, job, step, uses string) {
	for _, kv := range pairs(env) {
		if c := staticKeyName(kv.k.Value); c != "" && strings.TrimSpace(str(kv.v)) != "" {
			f.p.static["env:"+strings.ToUpper(kv.k.Value)] = true
		}
	}
}

func (f *file) ghPermissions(n *yaml.Node) {
	if s := str(n); s == "write-all" {
		f.p.oidc["permissions:write-all"] = true
	}
	if str(get(n, "id-token")) == "write" {
		f.p.oidc["permissions:id-token:write"] = true
	}
}

// actionName strips the ref and any sub-path: "owner/repo".
func actionName(uses string) string {
	u := uses
	if i := strings.Index(u, "@"); i >= 0 {
		u = u[:i]
	}
	parts := strings.Split(u, "/")
	if len(parts) >= 2 {
		return strings.ToLower(parts[0] + "/" + parts[1])
	}
	return strings.ToLower(u)
}

// ghAuth classifies the cloud login actions.
func (f *file) ghAuth(uses string, with *yaml.Node) {
	p := f.p
	has := func(keys ...string) bool {
		for _, k := range keys {
			if strings.TrimSpace(str(get(with, k))) != "" {
				return true
			}
		}
		return false
	}
	switch actionName(uses) {
	case "aws-actions/configure-aws-credentials":
		switch {
		case has("aws-access-key-id", "aws-secret-access-key"):
			p.static["aws-actions/configure-aws-credentials:access-key"] = true
		case has("role-to-assume"):
			p.oidc["aws-actions/configure-aws-credentials:role-to-assume"] = true
		}
	case "google-github-actions/auth":
		switch {
		case has("credentials_json"):
			p.static["google-github-actions/auth:credentials_json"] = true
		case has("workload_identity_provider"):
			p.oidc["google-github-actions/auth:workload_identity_provider"] = true
		}
	case "google-github-actions/setup-gcloud":
		if has("service_account_key") {
			p.static["google-github-actions/setup-gcloud:service_account_key"] = true
		}
	case "azure/login":
		switch {
		case has("creds"):
			p.static["azure/login:creds"] = true
		case has("client-id"):
			p.oidc["azure/login:client-id"] = true
		}
	case "hashicorp/vault-action":
		p.flags["vault"] = true
	case "actions/deploy-pages", "actions/attest-build-provenance", "actions/attest", "pypa/gh-action-pypi-publish":
		// These use the job's OIDC token for something other than a
		// cloud login.
		p.flags["oidc_non_cloud_consumer"] = true
	}
	for _, kv := range pairs(with) {
		if staticKeyName(kv.k.Value) != "" && strings.TrimSpace(str(kv.v)) != "" {
			p.static["input:"+kv.k.Value] = true
		}
	}
}

// vaultAction reads hashicorp/vault-action's `secrets:` lines:
// "path key | OUTPUT ;".
func (f *file) vaultAction(with *yaml.Node, job, step string) {
	s := get(with, "secrets")
	if !isScalar(s) {
		return
	}
	for _, l := range strings.FieldsFunc(s.Value, func(r rune) bool { return r == '\n' || r == ';' }) {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		spec, out, _ := strings.Cut(l, "|")
		fields := strings.Fields(spec)
		if len(fields) < 1 {
			continue
		}
		name := strings.TrimSpace(out)
		if name == "" && len(fields) > 1 {
			name = strings.ToUpper(fields[len(fields)-1])
		}
		f.p.addRef(ref{name: name, kind: refVault, vaultPath: strings.Join(fields, " "),
			line: f.lineOf(fields[0], s.Line), job: job, step: step})
	}
}
