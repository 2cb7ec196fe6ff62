package harness

import (
	"crypto/rand"
	"encoding/base64"
	"math/big"
)

// Secret-shaped values, generated at test time so that no live-looking
// secret is ever committed. Each call returns a fresh random value of the
// right format for the named kind.

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum       = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerHex    = "0123456789abcdef"
)

// RandomString returns n characters drawn from alphabet.
func RandomString(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// AWSAccessKeyID is an AKIA… id (20 characters).
func AWSAccessKeyID() string { return "AKIA" + RandomString(upperDigits, 16) }

// AWSSecretAccessKey is a 40-character secret access key.
func AWSSecretAccessKey() string { return RandomString(alnum+"+/", 40) }

// GitHubPAT is a classic personal access token (ghp_ + 36).
func GitHubPAT() string { return "ghp_" + RandomString(alnum, 36) }

// SlackBotToken is a xoxb- bot token.
func SlackBotToken() string {
	return "xoxb-" + RandomString("0123456789", 12) + "-" + RandomString("0123456789", 13) + "-" + RandomString(alnum, 24)
}

// StripeLiveKey is an sk_live_ key.
func StripeLiveKey() string { return "sk_live_" + RandomString(alnum, 32) }

// VaultToken is a modern service token (hvs. + 24+).
func VaultToken() string { return "hvs." + RandomString(alnum, 24) }

// Hex returns n random lower-case hex characters.
func Hex(n int) string { return RandomString(lowerHex, n) }

// Password returns a strong random password-like value of n characters.
func Password(n int) string { return RandomString(alnum+"!#%+-_", n) }

// Base64 returns n random bytes, base64-encoded.
func Base64(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
