// Command detect scores nhi and gitleaks on a labelled corpus (-corpus,
// score.go) and measures what nhi's extra detection rules add to the
// gitleaks defaults on a large body of public code that holds no real
// secrets (by default the Go module cache). It scans every text file
// under the root twice, through detect.Detector as a scan does (a value
// found again in decoded form counts once), with the default rules and
// with the extended rules, and prints findings per rule for each and the
// extra findings per 10,000 files. With -list it also prints where each extra finding is
// (path:line and rule, never the value).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
)

const maxFileSize = 1 << 20

func main() {
	root := flag.String("root", "", "directory to scan (required)")
	workers := flag.Int("workers", 2, "parallel workers")
	list := flag.Bool("list", false, "print path:line of every extra (nhi-) finding, and the corpus's misses and false positives")
	corpusRounds := flag.Int("corpus", 0, "score nhi and gitleaks on the labelled corpus, this many rounds of fresh values")
	flag.Parse()
	if *root == "" && *corpusRounds == 0 {
		fmt.Fprintln(os.Stderr, "usage: detect [-corpus N] [-root DIR [-workers N]] [-list]")
		os.Exit(2)
	}
	if *corpusRounds > 0 {
		if err := runCorpus(*corpusRounds, *list); err != nil {
			fmt.Fprintln(os.Stderr, "bench-detect corpus:", err)
			os.Exit(1)
		}
		if *root == "" {
			return
		}
		fmt.Println()
	}
	if err := run(*root, *workers, *list); err != nil {
		fmt.Fprintln(os.Stderr, "bench-detect:", err)
		os.Exit(1)
	}
}

type counts struct {
	mu    sync.Mutex
	rules map[string]int
	where []string
}

func (c *counts) add(rule, where string, keep bool) {
	c.mu.Lock()
	c.rules[rule]++
	if keep {
		c.where = append(c.where, where)
	}
	c.mu.Unlock()
}

func run(root string, workers int, list bool) error {
	defRS, err := detect.Load(detect.Options{DefaultsOnly: true})
	if err != nil {
		return err
	}
	extRS, err := detect.Load(detect.Options{})
	if err != nil {
		return err
	}
	// The hits are fingerprinted, as in a scan, with a throwaway key.
	key := make([]byte, 32)
	rand.Read(key)
	keys, err := inventory.NewKeyring(key)
	if err != nil {
		return err
	}
	defDet, extDet := defRS.Detector(keys), extRS.Detector(keys)

	paths := make(chan string, 256)
	var files, skipped, bytesScanned atomic.Int64
	def := &counts{rules: map[string]int{}}
	ext := &counts{rules: map[string]int{}}
	conf := &counts{rules: map[string]int{}} // extended findings per confidence
	ctx := context.Background()
	start := time.Now()

	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range paths {
				data, err := os.ReadFile(p)
				if err != nil || bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
					skipped.Add(1)
					continue
				}
				rel, _ := filepath.Rel(root, p)
				rel = filepath.ToSlash(rel)
				files.Add(1)
				bytesScanned.Add(int64(len(data)))
				frag := detect.Fragment{Path: rel, Raw: string(data), StartLine: 1}
				for _, h := range defDet.Detect(ctx, frag) {
					def.add(h.RuleID, "", false)
				}
				for _, h := range extDet.Detect(ctx, frag) {
					nhi := strings.HasPrefix(h.RuleID, "nhi-")
					ext.add(h.RuleID, fmt.Sprintf("%s:%d %s %s", rel, h.Line, h.RuleID, h.Confidence), nhi && list)
					conf.add(h.Confidence, "", false)
				}
			}
		}()
	}
	walkErr := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries are skipped
		}
		if d.IsDir() {
			// Downloaded zips and VCS metadata are not source files.
			if p != root && (d.Name() == ".git" || p == filepath.Join(root, "cache")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxFileSize || info.Size() == 0 {
			skipped.Add(1)
			return nil
		}
		paths <- p
		return nil
	})
	close(paths)
	wg.Wait()
	if walkErr != nil {
		return walkErr
	}

	n := files.Load()
	per10k := func(v int) float64 {
		if n == 0 {
			return 0
		}
		return float64(v) * 10000 / float64(n)
	}
	total := func(m map[string]int) int {
		t := 0
		for _, v := range m {
			t += v
		}
		return t
	}
	fmt.Printf("root: %s\nfiles scanned: %d (%.1f MiB), skipped (binary, empty or > 1 MiB): %d, %s, %d workers\n\n",
		root, n, float64(bytesScanned.Load())/(1<<20), skipped.Load(), time.Since(start).Round(time.Second), workers)

	fmt.Printf("default rules: %d findings (%.1f per 10,000 files)\n", total(def.rules), per10k(total(def.rules)))
	printRules(def.rules, per10k, func(string) bool { return true })

	extra := 0
	for id, v := range ext.rules {
		if strings.HasPrefix(id, "nhi-") {
			extra += v
		}
	}
	fmt.Printf("\nextended rules: %d findings; nhi rules: %d findings = %.2f per 10,000 files\n", total(ext.rules), extra, per10k(extra))
	printRules(ext.rules, per10k, func(id string) bool { return strings.HasPrefix(id, "nhi-") })
	fmt.Printf("extended findings by confidence: high %d, medium %d, low %d\n", conf.rules[detect.ConfidenceHigh], conf.rules[detect.ConfidenceMedium], conf.rules[detect.ConfidenceLow])
	fmt.Printf("\nnet change in total findings (extended - default): %+d (%.2f per 10,000 files; default findings superseded by an nhi rule on the same value are dropped)\n",
		total(ext.rules)-total(def.rules), per10k(total(ext.rules)-total(def.rules)))
	if list {
		sort.Strings(ext.where)
		fmt.Println("\nextra findings:")
		for _, w := range ext.where {
			fmt.Println("  " + w)
		}
	}
	return nil
}

func printRules(m map[string]int, per10k func(int) float64, keep func(string) bool) {
	ids := make([]string, 0, len(m))
	for id := range m {
		if keep(id) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		if m[ids[i]] != m[ids[j]] {
			return m[ids[i]] > m[ids[j]]
		}
		return ids[i] < ids[j]
	})
	for _, id := range ids {
		fmt.Printf("  %-40s %7d  %8.2f /10k files\n", id, m[id], per10k(m[id]))
	}
}
