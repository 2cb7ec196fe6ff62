package ci

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// Once secret detection was skipped for the contents known clean
// (clean.go), an unchanged re-scan of curl's 20 branches still spent
// 180 ms parsing its 186 distinct pipeline contents again: 100 ms in the
// YAML parser, 50 ms extracting GitHub's secret references. So the
// pipeline parsed from a clean content is kept too, and a content found
// again under the same rules, by the same build, is not parsed again.
// Only a pipeline with no hard-coded value is kept: a memo never holds a
// secret value, and a content with one is parsed (and searched) every
// time. A file that is not a pipeline, or not YAML, or could not be
// read as a pipeline is parsed again as well: those are few, and what
// they yield (an error naming the file, values read line by line) is no
// pipeline to keep. A Jenkinsfile is kept as any other: its syntax errors
// are facts of its pipeline.

// parsedVersion is the version of the form pipelines are kept in
// (keptPipeline). TestParsedVersion fails when the fields of pipeline or
// of keptPipeline change, until it is given a new number.
const parsedVersion = 1

// parsedMemo is the memo kind of the kept pipelines.
var parsedMemo = fmt.Sprintf("ci-parsed/%d", parsedVersion)

// parsedSet is what an engine knows of kept pipelines: those an earlier
// scan kept (known) and those this scan used or parsed (now, what is kept
// for the next).
type parsedSet struct {
	salt  string // the rules and the build: part of every key
	known map[string]json.RawMessage
	now   map[string]json.RawMessage
}

// parsedHolder is the memo's JSON.
type parsedHolder struct {
	Salt      string                     `json:"salt"`
	Pipelines map[string]json.RawMessage `json:"pipelines"`
}

// loadParsed returns the pipelines kept for target under rules (a rule
// set digest). A memo that cannot be read is no memo: every content is
// parsed.
func loadParsed(ctx context.Context, sink scanner.Sink, target, rules string) *parsedSet {
	s := &parsedSet{salt: rules + "\x00" + buildStamp(), known: map[string]json.RawMessage{}, now: map[string]json.RawMessage{}}
	var kept parsedHolder
	if !scanner.LoadMemo(ctx, sink, parsedMemo, target, &kept) || kept.Salt != saltDigest(s.salt) {
		return s
	}
	if kept.Pipelines != nil {
		s.known = kept.Pipelines
	}
	return s
}

// key names the pipeline parsed from one content (contentKey) of the file
// at path: the path too, for what is a pipeline depends on it (a
// JavaScript action.yml is not one) and so do its errors.
func (s *parsedSet) key(path, contentKey string) string {
	return memoKey(s.salt, path, contentKey)
}

// take returns the kept pipeline of key, of provider, or nil. One that
// cannot be decoded is not kept: the content is parsed again, and the
// scan's memos_unreadable says why.
func (s *parsedSet) take(key, provider string, sink scanner.Sink) *pipeline {
	b, ok := s.known[key]
	if !ok {
		return nil
	}
	var k keptPipeline
	var p *pipeline
	if err := json.Unmarshal(b, &k); err == nil && k.Provider == provider && !k.LineWise {
		p = k.pipeline()
	}
	if p == nil {
		sink.Add("memos_unreadable", 1)
		return nil
	}
	s.now[key] = b
	return p
}

// keep keeps the pipeline parsed for key, when it may be: a complete
// pipeline without a hard-coded value.
func (s *parsedSet) keep(key string, p *pipeline) {
	if p == nil || p.lineWise || len(p.hard) > 0 {
		return
	}
	b, err := json.Marshal(keptOf(p))
	if err != nil {
		return // not kept: parsed again next time
	}
	s.now[key] = b
}

// store keeps this scan's pipelines for target (only those: the memo
// stays the size of what the repository's heads hold) when they differ
// from the kept ones.
func (s *parsedSet) store(ctx context.Context, sink scanner.Sink, target string) error {
	if len(s.now) == len(s.known) {
		same := true
		for k := range s.now {
			if _, ok := s.known[k]; !ok {
				same = false
				break
			}
		}
		if same {
			return nil
		}
	}
	b, err := json.Marshal(parsedHolder{Salt: saltDigest(s.salt), Pipelines: s.now})
	if err != nil {
		return err
	}
	if err := sink.Ledger().PutMemo(ctx, parsedMemo, target, b); err != nil {
		return fmt.Errorf("keep the parsed pipelines: %w", err)
	}
	return nil
}

// keptPipeline is a pipeline as it is kept between scans: every field of
// pipeline but its hard-coded values (a pipeline with any is not kept).
// Collections keep their nil-ness (no omitempty), so that a kept pipeline
// is the one parsed, field for field.
type keptPipeline struct {
	Provider string    `json:"provider"`
	Name     string    `json:"name"`
	Refs     []keptRef `json:"refs"`
	// The spans, in columns: their lines, their jobs (indexes into
	// SpanJobs, the distinct ones) and their steps. They are most of a
	// pipeline (curl's 186 contents have 7,773): as objects they were
	// 465 of the memo's 477 kB, and half of the time of an unchanged
	// re-scan went to decoding them.
	SpanLines []int                                 `json:"span_lines"`
	SpanJobs  []string                              `json:"span_jobs"`
	SpanJob   []int                                 `json:"span_job"`
	SpanSteps []string                              `json:"span_steps"`
	Static    map[string]bool                       `json:"static"`
	OIDC      map[string]bool                       `json:"oidc"`
	Sets      map[inventory.AttrKey]map[string]bool `json:"sets"`
	Flags     map[string]bool                       `json:"flags"`
	Includes  []string                              `json:"includes"`
	Defined   map[string]bool                       `json:"defined"`
	Lenient   []string                              `json:"lenient"`
	Syntax    []string                              `json:"syntax"`
	LineWise  bool                                  `json:"line_wise"`
}

type keptRef struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Line      int    `json:"line"`
	Job       string `json:"job"`
	Step      string `json:"step"`
	VaultPath string `json:"vault_path"`
	Receiver  string `json:"receiver"`
	Pinned    bool   `json:"pinned"`
}

// keptOf is the kept form of p, its hard-coded values left out.
func keptOf(p *pipeline) keptPipeline {
	k := keptPipeline{Provider: p.provider, Name: p.name, Static: p.static, OIDC: p.oidc, Sets: p.sets, Flags: p.flags,
		Includes: p.includes, Defined: p.defined, Lenient: p.lenient, Syntax: p.syntax, LineWise: p.lineWise}
	if p.refs != nil {
		k.Refs = make([]keptRef, len(p.refs))
		for i, r := range p.refs {
			k.Refs[i] = keptRef{Name: r.name, Kind: r.kind, Line: r.line, Job: r.job, Step: r.step, VaultPath: r.vaultPath,
				Receiver: r.receiver, Pinned: r.pinned}
		}
	}
	if p.spans != nil {
		k.SpanLines, k.SpanJob, k.SpanSteps = make([]int, len(p.spans)), make([]int, len(p.spans)), make([]string, len(p.spans))
		jobs := map[string]int{}
		for i, s := range p.spans {
			j, ok := jobs[s.job]
			if !ok {
				j = len(k.SpanJobs)
				jobs[s.job] = j
				k.SpanJobs = append(k.SpanJobs, s.job)
			}
			k.SpanLines[i], k.SpanJob[i], k.SpanSteps[i] = s.line, j, s.step
		}
	}
	return k
}

// pipeline is the pipeline k keeps; nil when its columns of spans do not
// agree.
func (k *keptPipeline) pipeline() *pipeline {
	p := &pipeline{provider: k.Provider, name: k.Name, static: k.Static, oidc: k.OIDC, sets: k.Sets, flags: k.Flags,
		includes: k.Includes, defined: k.Defined, lenient: k.Lenient, syntax: k.Syntax, lineWise: k.LineWise}
	if k.Refs != nil {
		p.refs = make([]ref, len(k.Refs))
		for i, r := range k.Refs {
			p.refs[i] = ref{name: r.Name, kind: r.Kind, line: r.Line, job: r.Job, step: r.Step, vaultPath: r.VaultPath,
				receiver: r.Receiver, pinned: r.Pinned}
		}
	}
	if k.SpanLines != nil {
		if len(k.SpanJob) != len(k.SpanLines) || len(k.SpanSteps) != len(k.SpanLines) {
			return nil
		}
		p.spans = make([]span, len(k.SpanLines))
		for i, line := range k.SpanLines {
			j := k.SpanJob[i]
			if j < 0 || j >= len(k.SpanJobs) {
				return nil
			}
			p.spans[i] = span{line: line, job: k.SpanJobs[j], step: k.SpanSteps[i]}
		}
	}
	return p
}
