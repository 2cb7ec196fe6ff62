// Command demo generates the demo estate scanned by `make demo`.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nhi-inventory/nhi/demo"
)

func main() {
	out := flag.String("out", "demo-estate", "directory to (re)create the demo estate in")
	flag.Parse()
	e, err := demo.Generate(*out, time.Now().UTC())
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "demo estate in %s: %d repositories, CI pipelines in %s, %d planted secrets, config %s\n",
		e.Dir, len(e.Repos), e.CIDir, len(e.Planted), e.Config)
}
