package ci

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseCircleCI reads .circleci/config.yml.
func (f *file) parseCircleCI(root *yaml.Node) {
	p := f.p
	orbs := map[string]string{}
	for _, o := range pairs(get(root, "orbs")) {
		v := str(o.v)
		if v == "" {
			v = "inline:" + o.k.Value
		}
		orbs[o.k.Value] = v
		p.set("orbs", v)
	}
	defined := map[string]bool{}
	circleDefined(root, defined)
	p.span(1, "", "")
	for _, section := range []string{"executors", "commands", "jobs"} {
		for _, j := range pairs(get(root, section)) {
			job := j.k.Value
			if section != "jobs" {
				job = section + "." + job
			}
			p.span(j.k.Line, job, "")
			for _, kv := range pairs(j.v) {
				p.span(kv.k.Line, job, "")
				switch kv.k.Value {
				case "steps":
					f.circleSteps(job, kv.v, orbs, defined)
				case "docker":
					for _, d := range items(kv.v) {
						for _, a := range pairs(get(d, "auth")) {
							if isScalar(a.v) {
								f.shellRefs(a.v, job, "docker.auth", defined, "")
							}
						}
					}
				case "environment":
					f.envStatic(kv.v)
				}
			}
		}
	}
	for _, w := range pairs(get(root, "workflows")) {
		if !isMap(w.v) {
			continue
		}
		for _, j := range items(get(w.v, "jobs")) {
			if isScalar(j) {
				continue
			}
			for _, jp := range pairs(j) {
				job := jp.k.Value
				if n := str(get(jp.v, "name")); n != "" {
					job = n
				}
				p.span(jp.k.Line, job, "")
				recv := orbOf(jp.k.Value, orbs)
				ctxs := get(jp.v, "context")
				var names []*yaml.Node
				if isScalar(ctxs) {
					names = []*yaml.Node{ctxs}
				} else {
					names = items(ctxs)
				}
				for _, c := range names {
					f.addReceiverRef(ref{name: str(c), kind: refContext, line: c.Line, job: job}, recv)
					p.set("contexts", str(c))
				}
				f.circleParams(jp.k.Value, jp.v, job, "", recv, defined)
			}
		}
	}
}

// circleDefined collects names set in environment: maps.
func circleDefined(n *yaml.Node, into map[string]bool) {
	n = resolve(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for _, kv := range pairs(n) {
			if kv.k.Value == "environment" {
				for _, e := range pairs(kv.v) {
					into[e.k.Value] = true
				}
			}
			circleDefined(kv.v, into)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			circleDefined(c, into)
		}
	}
}

// orbOf returns the orb reference behind "alias/command", or "".
func orbOf(step string, orbs map[string]string) string {
	alias, _, ok := strings.Cut(step, "/")
	if !ok {
		return ""
	}
	if o, ok := orbs[alias]; ok {
		return o
	}
	return ""
}

// orbPinned: orbs cannot be pinned to a commit; an exact x.y.z version
// is the strongest pin there is.
func orbPinned(orb string) bool {
	i := strings.LastIndex(orb, "@")
	return i >= 0 && semverRe.MatchString(orb[i+1:])
}

func (f *file) circleSteps(job string, steps *yaml.Node, orbs map[string]string, defined map[string]bool) {
	p := f.p
	for i, st := range items(steps) {
		if isScalar(st) {
			continue
		}
		for _, kv := range pairs(st) {
			cmd := kv.k.Value
			name := cmd
			if n := str(get(kv.v, "name")); n != "" {
				name = n
			}
			if cmd == "run" && isScalar(kv.v) {
				name = "run#" + strconv.Itoa(i+1)
			}
			p.span(st.Line, job, name)
			if cmd == "run" {
				locals := map[string]bool{}
				for k := range defined {
					locals[k] = true
				}
				scalars(kv.v, func(s *yaml.Node) { shellLocals(s.Value, locals) })
				scalars(kv.v, func(s *yaml.Node) {
					if strings.Contains(s.Value, "CIRCLE_OIDC_TOKEN") {
						p.oidc["circleci:CIRCLE_OIDC_TOKEN"] = true
					}
					f.shellRefs(s, job, name, locals, "")
				})
				f.envStatic(get(kv.v, "environment"))
				continue
			}
			f.circleParams(cmd, kv.v, job, name, orbOf(cmd, orbs), defined)
		}
	}
}

// circleParams reads the parameters given to an orb command or job.
func (f *file) circleParams(cmd string, params *yaml.Node, job, step, orb string, defined map[string]bool) {
	p := f.p
	recv := orb
	for _, kv := range pairs(params) {
		key := strings.ToLower(kv.k.Value)
		switch {
		case strings.Contains(key, "role-arn") || strings.Contains(key, "role_arn"):
			if str(kv.v) != "" {
				p.oidc["circleci:"+key] = true
			}
		case key == "use_oidc" || key == "use-oidc":
			if str(kv.v) == "true" {
				p.oidc["circleci:use_oidc"] = true
			}
		case key == "aws-access-key-id" || key == "aws_access_key_id" || key == "gcloud-service-key" || key == "gcloud_service_key":
			p.static["circleci:"+key] = true
		}
		v := str(kv.v)
		if v == "" {
			continue
		}
		// Orb parameters of type env_var_name carry the variable's name.
		if envNameRe.MatchString(v) && (secretKeyKind(kv.k.Value) != "" || staticKeyName(v) != "") && !predefined(CircleCI, v) {
			f.addReceiverRef(ref{name: v, kind: refVariable, line: kv.v.Line, job: job, step: step}, recv)
			continue
		}
		f.shellRefs(kv.v, job, step, defined, recv)
	}
}

// envStatic notes static cloud keys set in an environment: map.
func (f *file) envStatic(env *yaml.Node) {
	for _, kv := range pairs(env) {
		if staticKeyName(kv.k.Value) != "" && strings.TrimSpace(str(kv.v)) != "" {
			f.p.static["env:"+strings.ToUpper(kv.k.Value)] = true
		}
	}
}
