package agents

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// server collects one server of a configuration as read on branch.
func (e *engine) server(r *parsed, s *Server, branch string) {
	p := r.file.Path
	key := ServerKey(e.scope, p, s.Project, s.Name)
	it := e.ident(key, func() *inventory.Identity {
		attrs := inventory.Facts{}
		attrs.Set(inventory.AttrPath, p)
		if co := e.owners.Owners(p); len(co) > 0 {
			attrs.Set(inventory.AttrCodeowners, strings.Join(co, " "))
		}
		attrs["agent"] = r.file.Agent
		attrs["transport"] = s.Transport
		attrs.Set(inventory.AttrAgentLine, s.Line)
		if s.Project != "" {
			attrs["project"] = s.Project
		}
		if len(s.Env) > 0 {
			attrs["env"] = s.Env
		}
		if s.URL != "" {
			attrs["url"] = s.URL
		}
		if s.Command != "" {
			attrs["command"] = maskWords(s.Command, s, r.hits)
			if len(s.Args) > 0 {
				args := make([]string, len(s.Args))
				for i, a := range s.Args {
					args[i] = maskArg(a, s, r.hits)
				}
				attrs["args"] = args
			}
		}
		if s.Launch.Registry != "" {
			attrs[string(inventory.AttrAgentLaunch)] = map[string]any{"launcher": s.Launch.Launcher, "registry": s.Launch.Registry,
				"package": s.Launch.Package, "version": s.Launch.Version, "pinned": s.Launch.Pinned}
		}
		return &inventory.Identity{Key: key, Kind: inventory.KindMCPServer, Name: s.Name, Source: inventory.SourceAgent,
			Provider: r.file.Agent, Account: e.scope, Attrs: attrs, Unit: p}
	}, p, branch)
	used := map[int]bool{}
	// Hits on other servers' lines are theirs: only this entry's are
	// considered.
	e.settle(it, p, s.Settings, r.hits, used, s.Line, s.end, branch, s.Name)
	if !e.history && it.launch == nil && s.Launch.Registry != "" {
		// Judged in facts, once a .env beside it may have handed it a key.
		l := s.Launch
		it.launch = &l
	}
}

// agent collects the agent of a configuration when it holds credentials
// of its own (model keys), or is handed AI provider keys by a .env
// beside it (extra).
func (e *engine) agent(r *parsed, settings []*Setting, hits []detect.Hit, branch string, envFile *parsed) {
	// The secrets detected in a configuration outside every server's entry
	// (~/.claude.json's primaryApiKey, say) are the agent's own.
	used := map[int]bool{}
	from, to := 0, -1
	own := len(settings) > 0
	if envFile == nil {
		from, to = 1, int(^uint(0)>>1)
		for i, h := range hits {
			for _, s := range r.file.Servers {
				if h.Line >= s.Line && h.Line <= s.end {
					used[i] = true
				}
			}
			if !used[i] {
				own = true
			}
		}
	}
	if !own {
		return
	}
	p := r.file.Path
	key := AgentKey(e.scope, p)
	it := e.ident(key, func() *inventory.Identity {
		attrs := inventory.Facts{}
		attrs.Set(inventory.AttrPath, p)
		if co := e.owners.Owners(p); len(co) > 0 {
			attrs.Set(inventory.AttrCodeowners, strings.Join(co, " "))
		}
		attrs["agent"] = r.file.Agent
		name := r.file.Agent
		if name == "" {
			name = "agent"
		}
		return &inventory.Identity{Key: key, Kind: inventory.KindAIAgent, Name: name + " " + p, Source: inventory.SourceAgent,
			Provider: r.file.Agent, Account: e.scope, Attrs: attrs, Unit: p}
	}, p, branch)
	at := p
	if envFile != nil {
		at = envFile.file.Path
	}
	e.settle(it, at, settings, hits, used, from, to, branch, "")
}

// dotenv attributes the secrets of a .env file to the agents configured
// beside it: a variable a server is handed by name goes to that server,
// an AI provider's key to the agent of the first configuration there.
func (e *engine) dotenv(env *parsed, configs []*parsed, branch string) {
	var forAgent []*Setting
	for _, st := range env.file.Models {
		if st.Value != ValueHardcoded {
			continue
		}
		var to *Server
		var cfg *parsed
		for _, c := range configs {
			for _, s := range c.file.Servers {
				for _, x := range s.Settings {
					if x.Value == ValueEnv && x.Ref == st.Name || x.In == InEnv && x.Name == st.Name && x.Value != ValueHardcoded {
						to, cfg = s, c
					}
				}
				for _, n := range s.Env {
					if to == nil && n == st.Name {
						to, cfg = s, c
					}
				}
			}
		}
		if to != nil {
			it := e.idents[ServerKey(e.scope, cfg.file.Path, to.Project, to.Name)]
			if it != nil {
				st.weak = false
				e.settle(it, env.file.Path, []*Setting{st}, env.hits, map[int]bool{}, 0, -1, branch, to.Name)
				continue
			}
		}
		if aiProviderKey(st.Name) || aiRule(env.hits, st.Line) {
			st.weak = false
			forAgent = append(forAgent, st)
		}
	}
	if len(forAgent) > 0 {
		e.agent(configs[0], forAgent, env.hits, branch, env)
	}
}

// envSettings reads the KEY=VALUE lines of a .env file as settings "In"
// env (kept on File.Models, the agent's own), weak until attributed.
func envSettings(f *File, data []byte) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxFileSize)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		l = strings.TrimPrefix(l, "export ")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if i := strings.Index(v, " #"); i >= 0 && !strings.HasPrefix(v, `"`) && !strings.HasPrefix(v, "'") {
			v = strings.TrimSpace(v[:i])
		}
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		kind, ref := classify(v)
		st := &Setting{Name: k, In: InEnv, Line: line, Value: kind, Ref: ref, weak: true}
		if kind == ValueHardcoded {
			st.value = v
		}
		f.Models = append(f.Models, st)
	}
}

// aiProviderKey reports the environment variables AI provider SDKs read
// their keys from.
func aiProviderKey(name string) bool {
	n := strings.ToUpper(name)
	for _, p := range []string{"OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_API_KEY", "GOOGLE_GENERATIVE_AI_", "MISTRAL_",
		"GROQ_", "HF_TOKEN", "HUGGINGFACE", "HUGGING_FACE", "COHERE_", "CO_API_KEY", "PERPLEXITY_", "DEEPSEEK_", "XAI_",
		"TOGETHER_", "OPENROUTER_", "FIREWORKS_", "REPLICATE_API", "AZURE_OPENAI_", "VOYAGE_", "CLAUDE_"} {
		if strings.HasPrefix(n, p) && secretName(name) {
			return true
		}
	}
	return false
}

// aiRule reports whether a hit on line was made by an AI provider's rule.
func aiRule(hits []detect.Hit, line int) bool {
	for _, h := range hits {
		if h.Line != line {
			continue
		}
		for _, p := range []string{"openai", "anthropic", "huggingface", "cohere", "perplexity", "gcp-api-key", "groq", "mistral"} {
			if strings.Contains(h.RuleID, p) {
				return true
			}
		}
	}
	return false
}

// maskArg hides an argument that holds a secret found in the entry.
func maskArg(a string, s *Server, hits []detect.Hit) string {
	if strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "http://") {
		u, _ := redactURL(a)
		a = u
	}
	for _, st := range s.Settings {
		if st.value != "" && !st.weak && !isPlaceholder(st.value) && strings.Contains(a, st.value) {
			return strings.Replace(a, st.value, "****", -1)
		}
	}
	for i := range hits {
		if pt := hits[i].Plaintext(); pt != "" && strings.Contains(a, pt) {
			return strings.Replace(a, pt, "****", -1)
		}
	}
	if !strings.ContainsAny(a, `/\ `) && looksLikeKey(a) {
		return "****"
	}
	return a
}

// maskWords masks each word of a command given as one string.
func maskWords(c string, s *Server, hits []detect.Hit) string {
	f := strings.Fields(c)
	for i, w := range f {
		f[i] = maskArg(w, s, hits)
	}
	return strings.Join(f, " ")
}

// emit writes every identity collected, each with its credentials and
// occurrences; a unit (file) that failed on some branch writes nothing,
// so what the inventory knew of it is carried.
func (e *engine) emit(ctx context.Context, sink scanner.Sink) error {
	for unit, fs := range e.failed {
		sink.UnitError(unit, joinFailures(fs))
		sink.Add("files_failed", 1)
	}
	for _, k := range e.order {
		it := e.idents[k]
		if e.failed[it.unit] != nil {
			continue
		}
		it.facts()
		if err := sink.Identity(ctx, it.id); err != nil {
			return err
		}
		sink.Add(strings.TrimPrefix(it.id.Kind, "ai:")+"s", 1)
		for _, ck := range it.credKeys {
			c := it.creds[ck]
			if e.failed[c.Unit] != nil {
				continue
			}
			if err := sink.Credential(ctx, c); err != nil {
				return err
			}
		}
		for _, ok := range it.occOrder {
			x := it.occs[ok]
			if e.failed[x.o.Unit] != nil {
				continue
			}
			if e.branches && len(x.branches) > 0 {
				x.o.Detail["branches"] = sortedKeys(x.branches)
			}
			if err := sink.Occurrence(ctx, x.o); err != nil {
				return err
			}
		}
	}
	return nil
}

// joinFailures makes one error of the reasons a unit failed, with the
// branches where each happened.
func joinFailures(fs []failure) error {
	byMsg := map[string][]string{}
	var order []string
	for _, f := range fs {
		m := f.err.Error()
		if _, ok := byMsg[m]; !ok {
			order = append(order, m)
			byMsg[m] = nil
		}
		if f.branch != "" {
			byMsg[m] = append(byMsg[m], f.branch)
		}
	}
	msgs := make([]string, len(order))
	for i, m := range order {
		msgs[i] = m
		if bs := byMsg[m]; len(bs) > 0 {
			msgs[i] += " (on " + strings.Join(bs, ", ") + ")"
		}
	}
	if len(fs) == 1 && fs[0].branch == "" {
		return fs[0].err
	}
	return errors.New(strings.Join(msgs, "; "))
}
