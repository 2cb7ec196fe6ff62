// Command timecmd runs a command and prints its wall time and peak
// resident memory (the largest of it and the children it waited for) to
// stderr as "timecmd: wall=SECONDS cpu=SECONDS maxrss_kb=KB exit=CODE"
// (cpu: user and system time of it and its children), so that the
// benchmark does not depend on /usr/bin/time being installed.
//
//	timecmd [-o FILE] command args...
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "write the measurement to this file instead of stderr")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: timecmd [-o FILE] command args...")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "timecmd:", err)
		os.Exit(127)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	line := fmt.Sprintf("wall=%.3f cpu=%.3f maxrss_kb=%d exit=%d\n", wall.Seconds(), cpu.Seconds(), rss, code)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(line), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "timecmd:", err)
		}
	} else {
		fmt.Fprint(os.Stderr, "timecmd: "+line)
	}
	os.Exit(code)
}
