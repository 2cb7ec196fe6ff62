package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
)

// The corpus benchmark: write the labelled corpus with fresh values into
// a temporary directory, find what nhi finds there (the extended rules on
// every file, as the git and directory sources do, plus the CI source on
// the pipeline files, as `nhi scan --path` does) and what gitleaks finds
// (its default rules through the same library), and score both per
// category. A finding is a true positive when it is on the labelled line
// and its value is the labelled value (contains it or is contained in
// it); any other finding is a false positive. Values are compared in
// memory and never printed: misses are listed by path and rule.

// finding is one thing a tool reported in a corpus file.
type finding struct {
	doc        int
	line       int
	rule       string
	fp         string // fingerprint: one value on one line counts once
	match      bool   // the labelled value
	confidence string
}

type label struct {
	line   int
	secret string
}

// runCorpus scores nhi and gitleaks on the corpus, n times with fresh
// values (recall of a rule can depend on the value drawn).
func runCorpus(n int, list bool) error {
	keys, err := throwawayKeys()
	if err != nil {
		return err
	}
	defRS, err := detect.Load(detect.Options{DefaultsOnly: true})
	if err != nil {
		return err
	}
	extRS, err := detect.Load(detect.Options{})
	if err != nil {
		return err
	}
	tot := map[string]map[string]*score{"nhi": {}, "gitleaks": {}}
	var misses, fps []string
	for round := 0; round < n; round++ {
		root, err := os.MkdirTemp("", "nhi-detect-corpus-")
		if err != nil {
			return err
		}
		labels, err := writeCorpus(root)
		if err != nil {
			os.RemoveAll(root)
			return err
		}
		nhiF, err := nhiFindings(root, labels, extRS.Detector(keys), keys, round == 0)
		if err != nil {
			os.RemoveAll(root)
			return err
		}
		glF := detectorFindings(root, labels, defRS.Detector(keys))
		os.RemoveAll(root)
		for tool, fs := range map[string][]finding{"nhi": nhiF, "gitleaks": glF} {
			m, fp := tally(fs, labels, tot[tool])
			if tool == "nhi" && round == 0 {
				misses, fps = m, fp
			}
		}
	}
	printCorpus(tot, n)
	if list {
		fmt.Println("\nnhi misses (path, category):")
		for _, m := range misses {
			fmt.Println("  " + m)
		}
		fmt.Println("\nnhi false positives (path:line rule):")
		for _, f := range fps {
			fmt.Println("  " + f)
		}
	}
	return nil
}

func throwawayKeys() (*inventory.Keyring, error) {
	key := []byte(pick(alnum, 32))
	return inventory.NewKeyring(key)
}

func docDir(i int) string { return fmt.Sprintf("c%03d", i) }

// writeCorpus writes every doc under root/cNNN/ and returns the label of
// each doc (line 0: a negative doc).
func writeCorpus(root string) ([]label, error) {
	labels := make([]label, len(corpus))
	for i, d := range corpus {
		text := d.text
		if d.gen != nil {
			if strings.Count(text, "§") != 1 {
				return nil, fmt.Errorf("corpus doc %d (%s): a positive doc holds § exactly once", i, d.path)
			}
			s := d.gen()
			at := strings.Index(text, "§")
			labels[i] = label{line: strings.Count(text[:at], "\n") + 1, secret: s}
			text = strings.Replace(text, "§", s, 1)
		} else if strings.Contains(text, "§") {
			return nil, fmt.Errorf("corpus doc %d (%s): a negative doc holds no §", i, d.path)
		}
		p := filepath.Join(root, docDir(i), filepath.FromSlash(d.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	return labels, nil
}

func matches(l label, line int, plain string) bool {
	if l.secret == "" || line != l.line || plain == "" {
		return false
	}
	return strings.Contains(plain, l.secret) || len(plain) >= 4 && strings.Contains(l.secret, plain)
}

// detectorFindings runs det over every corpus file.
func detectorFindings(root string, labels []label, det *detect.Detector) []finding {
	var out []finding
	for i, d := range corpus {
		b, err := os.ReadFile(filepath.Join(root, docDir(i), filepath.FromSlash(d.path)))
		if err != nil {
			continue
		}
		for _, h := range det.Detect(context.Background(), detect.Fragment{Path: d.path, Raw: string(b), StartLine: 1}) {
			out = append(out, finding{doc: i, line: h.Line, rule: h.RuleID, fp: h.Fingerprint,
				match: matches(labels[i], h.Line, h.Plaintext()), confidence: h.Confidence})
		}
	}
	return out
}

// nhiFindings is what nhi reports: the extended rules on every file and
// the CI source's hard-coded values in pipeline files, one finding per
// value and line.
func nhiFindings(root string, labels []label, det *detect.Detector, keys *inventory.Keyring, verbose bool) ([]finding, error) {
	out := detectorFindings(root, labels, det)
	sink := &memSink{keys: keys, creds: map[string]*inventory.Credential{}}
	if err := ci.NewTree(root, ci.Options{}).Scan(context.Background(), sink); err != nil {
		return nil, fmt.Errorf("CI source on the corpus: %w", err)
	}
	for _, e := range sink.errs {
		if verbose {
			fmt.Println("  CI source could not read " + e)
		}
	}
	byDir := map[string]int{}
	for i := range corpus {
		byDir[docDir(i)] = i
	}
	for _, o := range sink.occs {
		c := sink.creds[o.CredentialKey]
		if c == nil || c.VaultStatus != inventory.VaultHardcoded {
			continue // a reference to a secret store, not a value
		}
		first, _, _ := strings.Cut(o.Path, "/")
		i, ok := byDir[first]
		if !ok {
			continue
		}
		rule, _ := o.Detail["rule"].(string)
		l := labels[i]
		m := l.secret != "" && o.Line == l.line && c.Fingerprint == keys.Fingerprint(l.secret)
		conf, _ := c.Attrs["confidence"].(string)
		out = append(out, finding{doc: i, line: o.Line, rule: rule, fp: c.Fingerprint, match: m, confidence: conf})
	}
	// One value on one line is one finding, whichever part found it; a
	// match by either part makes it a match.
	type key struct {
		doc, line int
		fp        string
	}
	seen := map[key]int{}
	var uniq []finding
	for _, f := range out {
		k := key{f.doc, f.line, f.fp}
		if j, ok := seen[k]; ok {
			uniq[j].match = uniq[j].match || f.match
			continue
		}
		seen[k] = len(uniq)
		uniq = append(uniq, f)
	}
	return uniq, nil
}

type score struct {
	pos, neg, tp, fp, fpLow, tpLow, cleanNeg int
}

// tally adds the findings of one round to the per-category scores and
// returns the misses and false positives, described without values.
func tally(fs []finding, labels []label, s map[string]*score) (misses, fps []string) {
	byDoc := map[int][]finding{}
	for _, f := range fs {
		byDoc[f.doc] = append(byDoc[f.doc], f)
	}
	for i, d := range corpus {
		sc := s[d.cat]
		if sc == nil {
			sc = &score{}
			s[d.cat] = sc
		}
		found, low := false, false
		fpHere := 0
		for _, f := range byDoc[i] {
			if f.match {
				if !found {
					low = f.confidence == "low"
				}
				found = true
				continue
			}
			fpHere++
			sc.fp++
			if f.confidence == "low" {
				sc.fpLow++
			}
			fps = append(fps, fmt.Sprintf("%s:%d %s (%s)", path.Join(docDir(i), d.path), f.line, f.rule, d.cat))
		}
		if labels[i].secret != "" {
			sc.pos++
			if found {
				sc.tp++
				if low {
					sc.tpLow++
				}
			} else {
				misses = append(misses, fmt.Sprintf("%s (%s)", path.Join(docDir(i), d.path), d.cat))
			}
		} else {
			sc.neg++
			if fpHere == 0 {
				sc.cleanNeg++
			}
		}
	}
	return misses, fps
}

func pct(a, b int) string {
	if b == 0 {
		return "   -  "
	}
	return fmt.Sprintf("%5.1f%%", 100*float64(a)/float64(b))
}

func printCorpus(tot map[string]map[string]*score, rounds int) {
	fmt.Printf("labelled corpus: %d files (%d rounds of fresh values)\n", len(corpus), rounds)
	fmt.Printf("%-16s %7s | %-34s | %-26s\n", "", "", "nhi", "gitleaks (library defaults)")
	fmt.Printf("%-16s %7s | %7s %7s %5s %5s %6s | %7s %7s %5s %6s\n", "category", "pos/neg", "recall", "precis.", "FP", "low", "clean", "recall", "precis.", "FP", "clean")
	all := map[string]*score{"nhi": {}, "gitleaks": {}}
	for _, cat := range categories {
		n, g := tot["nhi"][cat], tot["gitleaks"][cat]
		if n == nil {
			continue
		}
		for tool, sc := range map[string]*score{"nhi": n, "gitleaks": g} {
			a := all[tool]
			a.pos += sc.pos
			a.neg += sc.neg
			a.tp += sc.tp
			a.fp += sc.fp
			a.fpLow += sc.fpLow
			a.tpLow += sc.tpLow
			a.cleanNeg += sc.cleanNeg
		}
		printRow(cat, n, g, rounds)
	}
	printRow("all", all["nhi"], all["gitleaks"], rounds)
	fmt.Println("recall: labelled credentials found; precision: findings that are the labelled credential;")
	fmt.Println("FP: findings that are not (all rounds); low: nhi findings of low confidence among the true ones;")
	fmt.Println("clean: files without a credential where nothing was reported.")
}

func printRow(cat string, n, g *score, rounds int) {
	fmt.Printf("%-16s %3d/%-3d | %7s %7s %5d %5d %6s | %7s %7s %5d %6s\n", cat, n.pos/rounds, n.neg/rounds,
		pct(n.tp, n.pos), pct(n.tp, n.tp+n.fp), n.fp, n.tpLow, pct(n.cleanNeg, n.neg),
		pct(g.tp, g.pos), pct(g.tp, g.tp+g.fp), g.fp, pct(g.cleanNeg, g.neg))
}

// memSink keeps what the CI source writes, in memory.
type memSink struct {
	keys  *inventory.Keyring
	mu    sync.Mutex
	creds map[string]*inventory.Credential
	occs  []*inventory.Occurrence
	errs  []string
}

func (s *memSink) Identity(context.Context, *inventory.Identity) error { return nil }
func (s *memSink) Credential(_ context.Context, c *inventory.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[c.Key] = c
	return nil
}
func (s *memSink) Occurrence(_ context.Context, o *inventory.Occurrence) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.occs = append(s.occs, o)
	return nil
}
func (s *memSink) ItemError(item string, err error) { s.errs = append(s.errs, item+": "+err.Error()) }
func (s *memSink) UnitError(unit string, err error) { s.errs = append(s.errs, unit+": "+err.Error()) }
func (s *memSink) Cover(string)                     {}
func (s *memSink) Add(string, int64)                {}
func (s *memSink) Progress(string)                  {}
func (s *memSink) Keys() *inventory.Keyring         { return s.keys }
func (s *memSink) Ledger() scanner.Ledger           { return nil }
