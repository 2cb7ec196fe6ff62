package ci

import (
	"strings"

	"gopkg.in/yaml.v3"
)

var gitlabReserved = map[string]bool{
	"stages": true, "variables": true, "include": true, "workflow": true, "image": true,
	"services": true, "cache": true, "spec": true, "before_script": true, "after_script": true,
}

var gitlabScriptKeys = map[string]bool{"script": true, "before_script": true, "after_script": true}

// parseGitLab reads a .gitlab-ci.yml or a file it includes. inherited are
// variables defined by the including file.
func (f *file) parseGitLab(root *yaml.Node, inherited map[string]bool) {
	p := f.p
	p.name = ""
	defined := map[string]bool{}
	for k := range inherited {
		defined[k] = true
	}
	gitlabDefined(root, false, defined)
	p.defined = defined
	f.gitlabIncludes(get(root, "include"))
	p.span(1, "", "")
	// Global keys behave like a job named "" (defaults for every job).
	global := &yaml.Node{Kind: yaml.MappingNode}
	for _, kv := range pairs(root) {
		if kv.k.Value == "default" || (gitlabReserved[kv.k.Value] && kv.k.Value != "include") {
			global.Content = append(global.Content, kv.k, kv.v)
		}
	}
	f.gitlabJob("", global, defined)
	for _, kv := range pairs(root) {
		if gitlabReserved[kv.k.Value] || kv.k.Value == "default" || !isMap(kv.v) {
			continue
		}
		p.span(kv.k.Line, kv.k.Value, "")
		f.gitlabJob(kv.k.Value, kv.v, defined)
	}
}

// gitlabDefined collects every variable name the file defines itself.
func gitlabDefined(n *yaml.Node, underVars bool, into map[string]bool) {
	n = resolve(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for _, kv := range pairs(n) {
			if underVars {
				into[kv.k.Value] = true
				continue
			}
			if kv.k.Value == "matrix" {
				for _, m := range items(kv.v) {
					for _, mv := range pairs(m) {
						into[mv.k.Value] = true
					}
				}
			}
			gitlabDefined(kv.v, kv.k.Value == "variables", into)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			gitlabDefined(c, false, into)
		}
	}
}

func (f *file) gitlabIncludes(inc *yaml.Node) {
	add := func(s string) {
		if s == "" {
			return
		}
		if strings.Contains(s, "://") {
			f.p.set("includes", "remote:"+s)
			return
		}
		f.p.set("includes", "local:"+s)
		if strings.Contains(s, "$") {
			// Named through a variable known only when the pipeline
			// runs: there is no file to read, and nothing failed.
			return
		}
		f.p.includes = append(f.p.includes, strings.TrimPrefix(s, "/"))
	}
	one := func(n *yaml.Node) {
		switch {
		case isScalar(n):
			add(str(n))
		case isMap(n):
			switch {
			case get(n, "local") != nil:
				add(str(get(n, "local")))
			case get(n, "project") != nil:
				f.p.set("includes", "project:"+str(get(n, "project")))
			case get(n, "remote") != nil:
				f.p.set("includes", "remote:"+str(get(n, "remote")))
			case get(n, "template") != nil:
				f.p.set("includes", "template:"+str(get(n, "template")))
			case get(n, "component") != nil:
				f.p.set("includes", "component:"+str(get(n, "component")))
			}
		}
	}
	if isSeq(inc) {
		for _, n := range items(inc) {
			one(n)
		}
		return
	}
	one(inc)
}

func (f *file) gitlabJob(job string, j *yaml.Node, defined map[string]bool) {
	p := f.p
	locals := map[string]bool{}
	for k := range defined {
		locals[k] = true
	}
	for _, kv := range pairs(j) {
		if gitlabScriptKeys[kv.k.Value] {
			scalars(kv.v, func(s *yaml.Node) { shellLocals(s.Value, locals) })
		}
	}
	for _, kv := range pairs(j) {
		if job != "" {
			p.span(kv.k.Line, job, "")
		}
		switch key := kv.k.Value; {
		case gitlabScriptKeys[key]:
			scalars(kv.v, func(s *yaml.Node) {
				if strings.Contains(s.Value, "CI_JOB_JWT") {
					p.oidc["gitlab:CI_JOB_JWT"] = true
				}
				f.shellRefs(s, job, key, locals, "")
			})
		case key == "variables":
			for _, v := range pairs(kv.v) {
				val := v.v
				if isMap(val) {
					val = get(val, "value")
				}
				if staticKeyName(v.k.Value) != "" && strings.TrimSpace(str(val)) != "" {
					p.static["variables:"+v.k.Value] = true
				}
				if isScalar(val) {
					f.shellRefs(val, job, "variables", locals, "")
				}
			}
		case key == "secrets":
			for _, s := range pairs(kv.v) {
				f.gitlabSecret(job, s.k.Value, s.v)
			}
		case key == "id_tokens":
			p.oidc["gitlab:id_tokens"] = true
			for _, t := range pairs(kv.v) {
				p.set("id_tokens", t.k.Value)
			}
		case key == "default":
			f.gitlabJob(job, kv.v, defined)
		}
	}
}

// gitlabSecret reads one entry of a job's `secrets:`, which GitLab
// fetches from an external secrets manager at run time.
func (f *file) gitlabSecret(job, name string, v *yaml.Node) {
	r := ref{name: name, kind: refVault, line: v.Line, job: job, step: "secrets"}
	for _, mgr := range []string{"vault", "azure_key_vault", "gcp_secret_manager", "aws_secrets_manager", "akeyless", "gitlab_secrets_manager"} {
		m := get(v, mgr)
		if m == nil {
			continue
		}
		f.p.set("secret_managers", mgr)
		if mgr == "vault" {
			f.p.flags["vault"] = true
		}
		switch {
		case isScalar(m):
			r.vaultPath = str(m)
		case isMap(m):
			path := str(get(m, "path"))
			if e := get(m, "engine"); e != nil {
				path = str(get(e, "path")) + "/" + path
			}
			if fl := str(get(m, "field")); fl != "" {
				path += "#" + fl
			}
			if path == "" {
				path = str(get(m, "name"))
			}
			r.vaultPath = mgr + ":" + path
		}
		if mgr != "vault" && r.vaultPath != "" && !strings.HasPrefix(r.vaultPath, mgr+":") {
			r.vaultPath = mgr + ":" + r.vaultPath
		}
	}
	if token := str(get(v, "token")); token != "" {
		f.p.set("id_tokens", strings.TrimPrefix(token, "$"))
	}
	f.p.addRef(r)
}

// shellRefs records the CI/CD variables a script (or value) uses.
func (f *file) shellRefs(s *yaml.Node, job, step string, locals map[string]bool, recv string) {
	seen := map[string]bool{}
	for _, name := range shellVars(s.Value) {
		if seen[name] || !ciVariable(f.p.provider, name, locals) {
			continue
		}
		seen[name] = true
		line := f.lineOf("$"+name, s.Line)
		if line == s.Line && !strings.Contains(f.lineText(line), "$"+name) {
			line = f.lineOf("${"+name, s.Line)
		}
		f.addReceiverRef(ref{name: name, kind: refVariable, line: line, job: job, step: step}, recv)
	}
}
