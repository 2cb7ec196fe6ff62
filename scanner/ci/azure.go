package ci

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Shell command substitutions that look like $(variable) macros.
var azureNotVars = map[string]bool{"pwd": true, "date": true, "whoami": true, "hostname": true, "nproc": true,
	"uname": true, "id": true, "ls": true, "arch": true, "tty": true, "true": true, "false": true}

// Keys of task inputs that name a service connection.
var azureConnKeys = map[string]bool{"azuresubscription": true, "connectedservicename": true, "awscredentials": true,
	"connectedservicenamearm": true, "dockerregistryserviceconnection": true, "kubernetesserviceconnection": true,
	"containerregistry": true, "azureresourcemanagerconnection": true, "serviceconnection": true, "gcpserviceconnection": true}

// parseAzure reads azure-pipelines.yml.
func (f *file) parseAzure(root *yaml.Node) {
	p := f.p
	p.name = str(get(root, "name"))
	defined := map[string]bool{}
	azureDefined(root, false, defined, p)
	p.span(1, "", "")
	f.azureWalk(root, "", defined)
}

// azureDefined collects variables defined in the file and the variable
// groups it links.
func azureDefined(n *yaml.Node, under bool, into map[string]bool, p *pipeline) {
	n = resolve(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		if under {
			if g := str(get(n, "group")); g != "" {
				p.set("variable_groups", g)
				return
			}
			if nm := str(get(n, "name")); nm != "" {
				into[strings.ToLower(nm)] = true
				return
			}
			for _, kv := range pairs(n) {
				into[strings.ToLower(kv.k.Value)] = true
			}
			return
		}
		for _, kv := range pairs(n) {
			if kv.k.Value == "parameters" {
				continue
			}
			azureDefined(kv.v, kv.k.Value == "variables", into, p)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			azureDefined(c, under, into, p)
		}
	}
}

func (f *file) azureWalk(n *yaml.Node, job string, defined map[string]bool) {
	n = resolve(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			f.azureWalk(c, job, defined)
		}
	case yaml.MappingNode:
		for _, k := range []string{"job", "deployment"} {
			if j := str(get(n, k)); j != "" {
				job = j
				f.p.span(n.Line, job, "")
			}
		}
		for _, kv := range pairs(n) {
			switch kv.k.Value {
			case "steps":
				f.azureSteps(kv.v, job, defined)
			case "variables":
				for _, v := range pairs(kv.v) {
					if staticKeyName(v.k.Value) != "" {
						f.p.static["variables:"+v.k.Value] = true
					}
				}
				f.azureRefs(kv.v, job, "variables", defined)
			default:
				if isScalar(kv.v) {
					continue
				}
				f.azureWalk(kv.v, job, defined)
			}
		}
	}
}

func (f *file) azureSteps(steps *yaml.Node, job string, defined map[string]bool) {
	for i, st := range items(steps) {
		name := str(get(st, "displayName"))
		if name == "" {
			name = str(get(st, "name"))
		}
		if name == "" {
			name = str(get(st, "task"))
		}
		if name == "" {
			name = "#" + strconv.Itoa(i+1)
		}
		f.p.span(st.Line, job, name)
		f.envStatic(get(st, "env"))
		for _, in := range pairs(get(st, "inputs")) {
			if azureConnKeys[strings.ToLower(in.k.Value)] && str(in.v) != "" {
				f.p.set("service_connections", str(in.v))
			}
		}
		f.azureRefs(st, job, name, defined)
	}
}

func (f *file) azureRefs(n *yaml.Node, job, step string, defined map[string]bool) {
	scalars(n, func(s *yaml.Node) {
		for _, m := range azureVarRe.FindAllStringSubmatch(s.Value, -1) {
			name := m[1]
			low := strings.ToLower(name)
			if defined[low] || azureNotVars[low] {
				continue
			}
			if strings.Contains(name, ".") && low != "system.accesstoken" {
				continue // predefined: Build.*, System.*, Agent.*, ...
			}
			kind := refVariable
			if low == "system.accesstoken" {
				kind = refSecret
			}
			if staticKeyName(name) != "" {
				f.p.static["variable:"+name] = true
			}
			f.p.addRef(ref{name: name, kind: kind, line: f.lineOf("$("+name+")", s.Line), job: job, step: step})
		}
	})
}
