// Command nhi finds and governs non-human identities: it scans git
// history, CI configuration, AWS IAM and Vault into one SQLite inventory.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// Exit codes (DESIGN.md, CLI contract).
const (
	exitOK           = 0
	exitThreshold    = 1 // a --fail-on threshold was met
	exitUsage        = 2 // usage or configuration error
	exitSourceFailed = 3 // the scan finished but a source failed
	exitPostFailed   = 4 // a destination could not be posted to (recorded, retried next run)
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile(os.Getenv("NHI_CPUPROFILE"))
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopProfile()
	writeHeapProfile(os.Getenv("NHI_MEMPROFILE"))
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile of the whole command to path, when
// set (NHI_CPUPROFILE; for `go tool pprof`).
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nhi: NHI_CPUPROFILE:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// writeHeapProfile writes the allocations of the whole command to path,
// when set (NHI_MEMPROFILE; `go tool pprof -sample_index=alloc_space`).
func writeHeapProfile(path string) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.WriteHeapProfile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nhi: NHI_MEMPROFILE:", err)
	}
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	root.SetIn(stdin)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "nhi:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "nhi:", err)
	if errors.Is(err, context.Canceled) {
		return 130
	}
	// cobra's own flag and argument errors are usage errors.
	return exitUsage
}
