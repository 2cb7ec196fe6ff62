package ci

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseBitbucket reads bitbucket-pipelines.yml.
func (f *file) parseBitbucket(root *yaml.Node) {
	p := f.p
	p.span(1, "", "")
	defined := map[string]bool{}
	f.bbImage(get(root, "image"), "", "image", defined)
	for _, sec := range pairs(get(root, "pipelines")) {
		switch {
		case isSeq(sec.v):
			p.set("triggers", sec.k.Value)
			f.bbItems(sec.v, sec.k.Value, defined)
		case isMap(sec.v):
			p.set("triggers", sec.k.Value)
			for _, b := range pairs(sec.v) {
				job := sec.k.Value + "/" + b.k.Value
				p.span(b.k.Line, job, "")
				vars := map[string]bool{}
				for k := range defined {
					vars[k] = true
				}
				for _, it := range items(b.v) {
					for _, v := range items(get(it, "variables")) {
						if n := str(get(v, "name")); n != "" {
							vars[n] = true
						}
					}
				}
				f.bbItems(b.v, job, vars)
			}
		}
	}
}

func (f *file) bbImage(img *yaml.Node, job, step string, defined map[string]bool) {
	for _, k := range []string{"username", "password"} {
		if v := get(img, k); isScalar(v) {
			f.shellRefs(v, job, step, defined, "")
		}
	}
	if aws := get(img, "aws"); aws != nil {
		if get(aws, "oidc-role") != nil {
			f.p.oidc["bitbucket:image.aws.oidc-role"] = true
		}
		for _, kv := range pairs(aws) {
			if isScalar(kv.v) {
				f.shellRefs(kv.v, job, step, defined, "")
			}
			if kv.k.Value == "access-key" {
				f.p.static["bitbucket:image.aws.access-key"] = true
			}
		}
	}
}

func (f *file) bbItems(list *yaml.Node, job string, defined map[string]bool) {
	for i, it := range items(list) {
		if st := get(it, "step"); st != nil {
			f.bbStep(st, it.Line, i, job, defined)
		}
		if par := get(it, "parallel"); par != nil {
			if isMap(par) {
				par = get(par, "steps")
			}
			f.bbItems(par, job, defined)
		}
		if stg := get(it, "stage"); stg != nil {
			f.bbItems(get(stg, "steps"), job, defined)
		}
	}
}

func (f *file) bbStep(st *yaml.Node, line, i int, job string, defined map[string]bool) {
	p := f.p
	name := str(get(st, "name"))
	if name == "" {
		name = "#" + strconv.Itoa(i+1)
	}
	p.span(line, job, name)
	if str(get(st, "oidc")) == "true" {
		p.oidc["bitbucket:oidc"] = true
	}
	f.bbImage(get(st, "image"), job, name, defined)
	for _, k := range []string{"script", "after-script"} {
		scripts := items(get(st, k))
		locals := map[string]bool{}
		for kk := range defined {
			locals[kk] = true
		}
		for _, s := range scripts {
			scalars(s, func(n *yaml.Node) { shellLocals(n.Value, locals) })
		}
		for _, s := range scripts {
			if isScalar(s) {
				if strings.Contains(s.Value, "BITBUCKET_STEP_OIDC_TOKEN") {
					p.oidc["bitbucket:BITBUCKET_STEP_OIDC_TOKEN"] = true
				}
				f.shellRefs(s, job, name, locals, "")
				continue
			}
			pipe := str(get(s, "pipe"))
			if pipe == "" {
				continue
			}
			p.set("pipes", pipe)
			for _, v := range pairs(get(s, "variables")) {
				switch strings.ToUpper(v.k.Value) {
				case "AWS_OIDC_ROLE_ARN":
					p.oidc["pipe:AWS_OIDC_ROLE_ARN"] = true
				case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GCP_KEY_FILE", "AZURE_APP_PASSWORD":
					if str(v.v) != "" {
						p.static["pipe:"+strings.ToUpper(v.k.Value)] = true
					}
				}
				scalars(v.v, func(n *yaml.Node) { f.shellRefs(n, job, name, locals, pipe) })
			}
		}
	}
}
