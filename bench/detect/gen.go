package main

import (
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"strings"
)

// Generators of the corpus's secret values. Every value is drawn at run
// time: the corpus commits the structure (paths, surrounding text,
// labels), never a value that could pass for a live credential.

const (
	lower  = "abcdefghijklmnopqrstuvwxyz"
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits = "0123456789"
	alnum  = upper + lower + digits
	lalnum = lower + digits
	hexLow = "0123456789abcdef"
)

func pick(alphabet string, n int) string {
	var b strings.Builder
	max := big.NewInt(int64(len(alphabet)))
	for i := 0; i < n; i++ {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b.WriteByte(alphabet[v.Int64()])
	}
	return b.String()
}

func oneOf(words ...string) string { return words[pickInt(len(words))] }

func pickInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}

// strong is a password a person generated: letters, digits and a little
// punctuation that needs no quoting in a shell or a URL.
func strong() string {
	return pick(upper+lower, 1) + pick(alnum, 6) + pick(digits, 1) + pick(alnum+"_-", 6) + pick(digits, 1)
}

// weakWords are the dictionary and default passwords people really leave
// in configuration. A weak value is one of them, sometimes with digits.
var weakWords = []string{"root", "admin", "password", "secret", "postgres", "mysql", "guest", "letmein",
	"qwerty", "welcome", "changeit", "oracle", "sa", "toor", "master", "dbpass", "service", "monkey"}

func weak() string {
	w := oneOf(weakWords...)
	if len(w) < 4 || pickInt(2) == 0 {
		w += pick(digits, 1+pickInt(3))
	}
	return w
}

// weakLetters is a dictionary word without digits (allowlists that drop
// lower-case words erase these).
func weakLetters() string {
	return oneOf("root", "admin", "password", "secret", "postgres", "guest", "letmein", "changeit", "toor", "oracle")
}

// weakURL is a weak password in a URL: not "password" or "secret", which
// there are the placeholders of documentation (user:password@host).
func weakURL() string {
	return oneOf("root", "admin", "guest", "toor", "letmein", "oracle", "postgres", "qwerty", "rabbit")
}

func uuid() string {
	h := pick(hexLow, 32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func b64(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func b64url(n int) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(b64(n)), "=")
}

func awsKeyID() string  { return "AKIA" + pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) }
func awsSecret() string { return pick(alnum+"+/", 40) }
func ghPAT() string     { return "ghp_" + pick(alnum, 36) }
func basicAuth() string {
	return base64.StdEncoding.EncodeToString([]byte("svc-" + pick(lower, 5) + ":" + strong()))
}
func bearer() string    { return pick(alnum, 24) + "." + pick(alnum+"_-", 20) }
func dopplerST() string { return "dp.st." + oneOf("dev", "prd", "stg_eu") + "." + pick(alnum, 40) }
func dopplerCT() string { return "dp.ct." + pick(alnum, 40) }
func teamsWebhook() string {
	return "https://" + pick(lower, 7) + ".webhook.office.com/webhookb2/" + uuid() + "@" + uuid() +
		"/IncomingWebhook/" + pick(hexLow, 32) + "/" + uuid() + "/V2" + pick(alnum+"_-", 43)
}
func teamsWorkflow() string {
	return "https://prod-" + pick(digits, 2) + ".westeurope.logic.azure.com:443/workflows/" + pick(hexLow, 32) +
		"/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + pick(alnum+"_-", 43)
}
func dockerPAT() string { return "dckr_pat_" + pick(alnum+"_-", 27) }
func depTrack() string  { return "odt_" + pick(alnum, 32) }
func tbToken() string   { return pick(alnum, 20) }
func tavily() string    { return "tvly-" + oneOf("", "dev-", "prod-") + pick(alnum, 32) }
func telegram() string  { return pick("123456789", 1) + pick(digits, 9) + ":AA" + pick(alnum+"_-", 33) }
func salesforce() string {
	return "00D" + pick(alnum, 12) + "!" + pick(alnum, 4) + "." + pick(alnum+".", 92)
}
func nuget() string  { return "oy2" + pick(lalnum, 43) }
func crates() string { return "cio" + pick(alnum, 32) }
func slackApp() string {
	return "xapp-1-A" + pick(upper+digits, 10) + "-" + pick(digits, 13) + "-" + pick(hexLow, 64)
}
func slackSecret() string { return pick(hexLow, 32) }
func k8sBootstrap() string {
	return pick(lalnum, 6) + "." + pick(lalnum, 16)
}
func k8sTokenSecret() string { return pick(lalnum, 16) }
func trueNAS() string        { return pick("123456789", 1) + "-" + pick(alnum, 64) }
func herokuNew() string      { return "HRKU-" + uuid() }
func asrep() string {
	return "$krb5asrep$23$svc_sql@CORP.LOCAL:" + pick(hexLow, 32) + "$" + pick(hexLow, 200)
}
func tgs() string {
	return "$krb5tgs$23$*svc_web$CORP.LOCAL$http/web01*$" + pick(hexLow, 32) + "$" + pick(hexLow, 300)
}
func cisco8() string { return "$8$" + pick(alnum+"./", 14) + "$" + pick(alnum+"./", 43) }
func cisco9() string { return "$9$" + pick(alnum+"./", 14) + "$" + pick(alnum+"./", 43) }
func firefoxEnc() string {
	return "MDoEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECA" + pick(alnum+"+/", 14) + "BBA" + pick(alnum+"+/", 21) + "=="
}
func jetbrainsEnc() string { return pick("0123456789abcdef", 2*(8+pickInt(8))) }
func fileZillaB64() string { return base64.StdEncoding.EncodeToString([]byte(strong() + "!")) }
func winSCP() string       { return pick("0123456789ABCDEF", 2*(20+pickInt(10))) }
func gitUserAt() string    { return strong() }
