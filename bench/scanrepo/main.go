// Command scanrepo drives the git source alone into an inventory, for
// profiling the engine without the CLI:
//
//	go run -tags gore2regex ./bench/scanrepo -db X.db [-cpuprofile F] [-memprofile F] REPO...
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/git"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

func main() {
	db := flag.String("db", "scanrepo.db", "inventory file")
	prof := flag.String("cpuprofile", "", "write a CPU profile here")
	workers := flag.Int("workers", 0, "git/detector workers (default GOMAXPROCS)")
	memprof := flag.String("memprofile", "", "write an allocation profile here")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	start := time.Now()
	st, err := inventory.Open(ctx, *db)
	if err != nil {
		fail(err)
	}
	defer st.Close()
	w, err := st.BeginScan(ctx, "scanrepo", "bench", time.Minute)
	if err != nil {
		fail(err)
	}
	repos := &gitrepo.Repos{CacheDir: *db + ".clones"}
	cache := git.NewChangeCache()
	var srcs []scanner.Source
	for _, r := range flag.Args() {
		srcs = append(srcs, git.New(r, repos, git.Options{Workers: *workers, Cache: cache}))
	}
	res, err := scanner.Run(ctx, w, srcs, scanner.Options{})
	if err != nil {
		fail(err)
	}
	scan, err := w.Finish(ctx, nil)
	if err != nil {
		fail(err)
	}
	if *memprof != "" {
		f, err := os.Create(*memprof)
		if err != nil {
			fail(err)
		}
		pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	cpu := func(r syscall.Rusage) string {
		return fmt.Sprintf("user %.2fs sys %.2fs", time.Duration(r.Utime.Nano()).Seconds(), time.Duration(r.Stime.Nano()).Seconds())
	}
	out := map[string]any{"sources": res, "counts": scan.Counts, "duration_ms": time.Since(start).Milliseconds(),
		"cpu_self": cpu(self), "cpu_git": cpu(kids)}
	json.NewEncoder(os.Stdout).Encode(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scanrepo:", err)
	os.Exit(1)
}
