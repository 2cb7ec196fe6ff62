package harness

import (
	"net/http/httptest"
	"testing"
)

// GitHTTP serves the repositories under root over git's smart HTTP
// protocol with git's own server (git http-backend, run as CGI) on a
// loopback port: http://127.0.0.1:PORT/<path under root>. When user is
// not empty every request must carry HTTP basic auth user:pass, as a
// forge asks for a token; others get 401.
func GitHTTP(t testing.TB, root, user, pass string) *httptest.Server {
	t.Helper()
	h, err := GitHTTPHandler(root, user, pass)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
