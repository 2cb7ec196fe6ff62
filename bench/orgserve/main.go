// Command orgserve generates an organisation of N repositories
// (harness.MakeOrg) and serves it on a loopback port as GitHub would:
// the REST API shape that lists it, and the repositories themselves over
// git's own smart-HTTP server. It writes the base URL and the token to
// -out (two lines) once it is listening, and serves until killed.
//
//	orgserve -n 50 -root DIR -out FILE
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/nhi-inventory/nhi/harness"
)

func main() {
	n := flag.Int("n", 50, "repositories to generate")
	root := flag.String("root", "", "directory for the bare repositories")
	out := flag.String("out", "", "file to write the base URL and the token to")
	owner := flag.String("owner", "acme", "organisation name")
	flag.Parse()
	if *root == "" || *out == "" {
		log.Fatal("usage: orgserve -n N -root DIR -out FILE")
	}
	repos, err := harness.MakeOrg(*root, *owner, *n)
	if err != nil {
		log.Fatal(err)
	}
	var listed []harness.ForgeRepo
	for _, r := range repos {
		listed = append(listed, harness.ForgeRepo{Name: r.Name})
	}
	token := harness.GitHubPAT()
	f, err := harness.NewForge(*root, *owner, token, listed)
	if err != nil {
		log.Fatal(err)
	}
	f.PageSize = 30 // GitHub's default page size: two pages for 50
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if err := os.WriteFile(*out, []byte(url+"\n"+token+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "orgserve: %d repositories of %s at %s\n", *n, *owner, url)
	log.Fatal(http.Serve(ln, f))
}
