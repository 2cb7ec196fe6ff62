// Command gengit writes a `git fast-import` stream of a synthetic
// repository with a realistic history: many files of code and config,
// commits that edit several files, renames, deletions, side branches that
// are merged and some that are not, tags (one commit reachable only from
// a tag), and a few hundred planted secret-shaped values generated now,
// some of them deleted by later commits.
//
//	go run ./bench/gengit -commits 10000 | git -C repo fast-import
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"

	"github.com/nhi-inventory/nhi/harness"
)

var words = strings.Fields(`account adapter alpha apply batch bucket buffer build cache channel
check client cluster codec commit config context cursor daemon decode delta deploy digest
encode entry event field filter flush format frame handler header index inode invoice job
journal key label layer lease ledger limit loader lookup manager mapper merge metric mirror
module node offset order owner packet page parser patch payload peer pipeline policy pool
queue quota reader record region replica request resolver result route router runner sample
schema scope segment server session shard signal snapshot source span stage state stream
table task tenant ticket timer token trace tracker txn update upload user value vector
version worker writer zone`)

type gen struct {
	r       *rand.Rand
	w       *bufio.Writer
	mark    int
	files   map[string][]string
	planted int
	shape   shape
}

// shape is how large files and edits are.
type shape struct {
	minLines, spread int // lines of a new file: minLines + [0, spread)
	block            int // an inserted block has 1..block lines
	cut              int // a deletion removes 1..cut lines
}

// shapes: "light" is the default benchmark (small files, edits of a few
// lines: ~435 bytes added and ~20 KB of new blob versions per commit);
// "curl" matches the per-commit figures the issue gives for curl/curl's
// history (72 MB of added lines and 3.35 GB of unique blobs over 39,500
// commits: ~1.8 KB added and ~85 KB of blobs per commit).
var shapes = map[string]shape{
	"light": {minLines: 20, spread: 400, block: 6, cut: 3},
	"curl":  {minLines: 250, spread: 1500, block: 55, cut: 50},
}

func (g *gen) word() string { return words[g.r.IntN(len(words))] }

func (g *gen) ident() string {
	a, b := g.word(), g.word()
	return a + strings.ToUpper(b[:1]) + b[1:]
}

func (g *gen) codeLine(ext string) string {
	switch ext {
	case ".go":
		switch g.r.IntN(9) {
		case 0:
			return fmt.Sprintf("func %s(%s %s) error {", g.ident(), g.word(), g.word())
		case 1:
			return fmt.Sprintf("\treturn %s.%s(%s)", g.word(), g.ident(), g.word())
		case 2:
			return "}"
		case 3:
			return fmt.Sprintf("// %s %s the %s of the %s.", g.ident(), g.word(), g.word(), g.word())
		case 4:
			return fmt.Sprintf("\t%s := %s.%s(ctx, %s)", g.word(), g.word(), g.ident(), g.word())
		case 5:
			return "\tif err != nil {"
		case 6:
			return fmt.Sprintf("\t\treturn fmt.Errorf(\"%s %s: %%w\", err)", g.word(), g.word())
		case 7:
			return fmt.Sprintf("\t%s.%s = %d", g.word(), g.ident(), g.r.IntN(10000))
		default:
			return ""
		}
	case ".py":
		switch g.r.IntN(6) {
		case 0:
			return fmt.Sprintf("def %s_%s(%s, %s):", g.word(), g.word(), g.word(), g.word())
		case 1:
			return fmt.Sprintf("    return self.%s(%s)", g.word(), g.word())
		case 2:
			return fmt.Sprintf("    # %s %s %s", g.word(), g.word(), g.word())
		case 3:
			return fmt.Sprintf("    %s = %s.%s_%s()", g.word(), g.word(), g.word(), g.word())
		default:
			return ""
		}
	case ".yaml":
		return fmt.Sprintf("%s%s: %s-%d", strings.Repeat("  ", g.r.IntN(3)), g.word(), g.word(), g.r.IntN(100))
	default:
		return fmt.Sprintf("The %s %s %s %s when the %s is %s.", g.word(), g.word(), g.word(), g.word(), g.word(), g.word())
	}
}

var exts = []string{".go", ".go", ".go", ".py", ".yaml", ".md"}

func (g *gen) newFile(dir string) string {
	ext := exts[g.r.IntN(len(exts))]
	p := fmt.Sprintf("%s/%s_%s%s", dir, g.word(), g.word(), ext)
	for g.files[p] != nil {
		p = fmt.Sprintf("%s/%s_%s_%d%s", dir, g.word(), g.word(), g.r.IntN(1000), ext)
	}
	n := g.shape.minLines + g.r.IntN(g.shape.spread)
	lines := make([]string, n)
	for i := range lines {
		lines[i] = g.codeLine(ext)
	}
	g.files[p] = lines
	return p
}

func extOf(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i:]
	}
	return ""
}

// secretLine is a line holding a freshly generated secret-shaped value.
func (g *gen) secretLine() string {
	g.planted++
	switch g.r.IntN(6) {
	case 0:
		return "aws_access_key_id = " + harness.AWSAccessKeyID()
	case 1:
		return "GITHUB_TOKEN=" + harness.GitHubPAT()
	case 2:
		return "slack_bot_token: \"" + harness.SlackBotToken() + "\""
	case 3:
		return "stripe.api_key = \"" + harness.StripeLiveKey() + "\""
	case 4:
		return "vault_token = \"" + harness.VaultToken() + "\""
	default:
		return "github_token: " + harness.GitHubPAT()
	}
}

func (g *gen) data(s string) {
	fmt.Fprintf(g.w, "data %d\n%s\n", len(s), s)
}

func (g *gen) modify(p string) {
	lines := g.files[p]
	fmt.Fprintf(g.w, "M 100644 inline %s\n", p)
	g.data(strings.Join(lines, "\n") + "\n")
}

// edit changes a few lines of p.
func (g *gen) edit(p string) {
	lines := g.files[p]
	ext := extOf(p)
	for k := 1 + g.r.IntN(3); k > 0; k-- {
		i := g.r.IntN(len(lines) + 1)
		switch g.r.IntN(3) {
		case 0: // insert a block
			block := make([]string, 1+g.r.IntN(g.shape.block))
			for j := range block {
				block[j] = g.codeLine(ext)
			}
			lines = append(lines[:i], append(block, lines[i:]...)...)
		case 1: // replace a line
			if i < len(lines) {
				lines[i] = g.codeLine(ext)
			}
		default: // delete lines
			if i < len(lines) && len(lines) > 10 {
				j := min(len(lines), i+1+g.r.IntN(g.shape.cut))
				lines = append(lines[:i], lines[j:]...)
			}
		}
	}
	g.files[p] = lines
}

func (g *gen) paths() []string {
	ps := make([]string, 0, len(g.files))
	for p := range g.files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

type pendingDelete struct {
	at   int
	path string
	line string
}

func main() {
	commits := flag.Int("commits", 10000, "commits on the main line (side branches add more)")
	seed := flag.Uint64("seed", 1, "random seed for the history's shape (secrets are always fresh)")
	shapeName := flag.String("shape", "light", "file and edit sizes: light (the default benchmark) or curl (curl/curl's added bytes and blob bytes per commit)")
	flag.Parse()
	sh, ok := shapes[*shapeName]
	if !ok {
		fmt.Fprintf(os.Stderr, "gengit: unknown -shape %q (light or curl)\n", *shapeName)
		os.Exit(2)
	}
	g := &gen{r: rand.New(rand.NewPCG(*seed, 2)), w: bufio.NewWriterSize(os.Stdout, 1<<20), files: map[string][]string{}, shape: sh}
	defer g.w.Flush()

	dirs := []string{"cmd/server", "internal/store", "internal/api", "internal/auth", "pkg/client", "deploy", "docs", "scripts", "config"}
	for range 150 {
		g.newFile(dirs[g.r.IntN(len(dirs))])
	}
	authors := []string{"Ada Lovelace <ada@example.com>", "Grace Hopper <grace@example.com>", "Linus Ops <ops@example.com>", "CI Bot <ci@example.com>"}
	t := int64(1600000000)
	var deletes []pendingDelete
	mainMark := 0

	commit := func(ref string, from int, merge int, body func()) int {
		g.mark++
		t += 60 + int64(g.r.IntN(3600))
		a := authors[g.r.IntN(len(authors))]
		fmt.Fprintf(g.w, "commit %s\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\n", ref, g.mark, a, t, a, t)
		g.data(fmt.Sprintf("%s %s %s", g.word(), g.word(), g.word()))
		if from > 0 {
			fmt.Fprintf(g.w, "from :%d\n", from)
		}
		if merge > 0 {
			fmt.Fprintf(g.w, "merge :%d\n", merge)
		}
		body()
		fmt.Fprintln(g.w)
		return g.mark
	}

	// Initial commit with every file.
	mainMark = commit("refs/heads/main", 0, 0, func() {
		for _, p := range g.paths() {
			g.modify(p)
		}
	})
	branchN := 0
	for i := 1; i < *commits; i++ {
		mainMark = commit("refs/heads/main", mainMark, 0, func() {
			ps := g.paths()
			for k := 1 + g.r.IntN(4); k > 0; k-- {
				p := ps[g.r.IntN(len(ps))]
				if g.files[p] == nil {
					continue
				}
				g.edit(p)
				if g.r.IntN(40) == 0 { // plant a secret
					line := g.secretLine()
					ls := g.files[p]
					j := g.r.IntN(len(ls) + 1)
					g.files[p] = append(ls[:j], append([]string{line}, ls[j:]...)...)
					if g.r.IntN(2) == 0 {
						deletes = append(deletes, pendingDelete{at: i + 5 + g.r.IntN(200), path: p, line: line})
					}
				}
				g.modify(p)
			}
			// Secrets scheduled for deletion.
			rest := deletes[:0]
			for _, d := range deletes {
				if d.at > i || g.files[d.path] == nil {
					rest = append(rest, d)
					continue
				}
				ls := g.files[d.path]
				for j, l := range ls {
					if l == d.line {
						g.files[d.path] = append(ls[:j], ls[j+1:]...)
						g.modify(d.path)
						break
					}
				}
			}
			deletes = rest
			switch g.r.IntN(60) {
			case 0:
				g.modify(g.newFile(dirs[g.r.IntN(len(dirs))]))
			case 1: // rename
				p := ps[g.r.IntN(len(ps))]
				if g.files[p] != nil {
					np := strings.TrimSuffix(p, extOf(p)) + "_v2" + extOf(p)
					if g.files[np] == nil {
						fmt.Fprintf(g.w, "R %s %s\n", p, np)
						g.files[np] = g.files[p]
						delete(g.files, p)
					}
				}
			case 2: // delete a file
				p := ps[g.r.IntN(len(ps))]
				if len(g.files) > 100 && g.files[p] != nil {
					fmt.Fprintf(g.w, "D %s\n", p)
					delete(g.files, p)
				}
			}
		})
		if i%250 == 0 {
			fmt.Fprintf(g.w, "tag v0.%d\nfrom :%d\ntagger CI Bot <ci@example.com> %d +0000\n", i/250, mainMark, t)
			g.data("release")
		}
		if i%400 == 200 { // a side branch with its own files
			branchN++
			ref := fmt.Sprintf("refs/heads/feature/%d", branchN)
			bfile := fmt.Sprintf("feature%d/settings.env", branchN)
			var blines []string
			tip := mainMark
			for k := 0; k < 15; k++ {
				blines = append(blines, g.codeLine(".md"))
				if k%5 == 2 {
					blines = append(blines, g.secretLine())
				}
				if k == 10 && len(blines) > 3 { // deleted on the branch
					blines = blines[1:]
				}
				cur := append([]string(nil), blines...)
				tip = commit(ref, tip, 0, func() {
					fmt.Fprintf(g.w, "M 100644 inline %s\n", bfile)
					g.data(strings.Join(cur, "\n") + "\n")
				})
			}
			if branchN%3 != 0 { // merged; every third branch is never merged
				cur := append([]string(nil), blines...)
				mainMark = commit("refs/heads/main", mainMark, tip, func() {
					fmt.Fprintf(g.w, "M 100644 inline %s\n", bfile)
					g.data(strings.Join(cur, "\n") + "\n")
				})
			}
		}
		if i%2500 == 1000 { // a commit reachable only from a tag
			line := g.secretLine()
			commit(fmt.Sprintf("refs/tags/hotfix-%d", i), mainMark, 0, func() {
				fmt.Fprintf(g.w, "M 100644 inline hotfix/%d.env\n", i)
				g.data(line + "\n")
			})
		}
	}
	fmt.Fprintf(os.Stderr, "gengit: %d commits, %d planted secrets\n", g.mark, g.planted)
}
