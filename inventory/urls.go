package inventory

import (
	"net/url"
	"regexp"
	"strings"
)

// credentialParams are query parameters that carry a credential in the
// URLs people paste (tokens, signatures, passwords). Compared lowercased.
var credentialParams = map[string]bool{
	"token": true, "access_token": true, "private_token": true, "refresh_token": true, "id_token": true,
	"auth": true, "password": true, "passwd": true, "pwd": true, "secret": true, "client_secret": true,
	"key": true, "api_key": true, "apikey": true, "sig": true, "signature": true, "code": true,
	"x-amz-signature": true, "x-amz-credential": true, "x-amz-security-token": true,
	"x-goog-signature": true, "x-goog-credential": true,
}

// userinfoRe finds the userinfo of a URL that net/url could not parse.
var userinfoRe = regexp.MustCompile(`(://)[^/?#@]*@`)

// RedactURL returns s without the credentials a URL can carry: the
// userinfo of an http(s) or other URL (user:password@, token@), the
// password of an ssh URL (its user name is kept: it is not a secret), and
// query parameters that carry tokens or signatures. Anything that is not a
// URL is returned unchanged. This is the one place a URL is cleaned
// before it becomes a name, a key, a log line or a stored value.
func RedactURL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable: drop anything between the scheme and an '@', and
		// the query, rather than risk keeping a credential.
		s = userinfoRe.ReplaceAllString(s, "$1")
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	if u.User != nil {
		if u.Scheme == "ssh" || u.Scheme == "git+ssh" {
			u.User = url.User(u.User.Username())
		} else {
			u.User = nil
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if credentialParams[strings.ToLower(k)] {
				q.Del(k)
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// URLHasCredential reports whether s is a URL carrying a credential that
// RedactURL would remove.
func URLHasCredential(s string) bool {
	return strings.Contains(s, "://") && RedactURL(s) != s
}
