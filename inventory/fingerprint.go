package inventory

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// Keyring holds the per-inventory HMAC key. Fingerprints are keyed so that
// a leaked database alone does not allow a dictionary attack on the
// secrets it describes; the key lives in a separate 0600 file next to it.
type Keyring struct {
	key []byte
}

// NewKeyring returns a keyring over the given key (at least 32 bytes).
func NewKeyring(key []byte) (*Keyring, error) {
	if len(key) < 32 {
		return nil, errors.New("fingerprint key must be at least 32 bytes")
	}
	return &Keyring{key: append([]byte(nil), key...)}, nil
}

// LoadOrCreateKeyring reads the key file at path, creating it with a fresh
// random key (mode 0600) when it does not exist and create is true.
func LoadOrCreateKeyring(path string, create bool) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := hex.DecodeString(string(trimSpace(b)))
		if err != nil {
			return nil, fmt.Errorf("fingerprint key %s is not hex: %w", path, err)
		}
		return NewKeyring(k)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read fingerprint key: %w", err)
	}
	if !create {
		return nil, fmt.Errorf("fingerprint key %s is missing: fingerprints would not match earlier scans; restore the file or start a new inventory with another --db", path)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateKeyring(path, false)
		}
		return nil, fmt.Errorf("create fingerprint key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		return nil, fmt.Errorf("write fingerprint key: %w", err)
	}
	return NewKeyring(k)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// Fingerprint returns the hex HMAC-SHA256 of secret under the inventory key.
func (k *Keyring) Fingerprint(secret string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))
}

// Redact returns a preview of secret that is safe to store and show: the
// structural type marker of token formats that have one ("ghp_", "xoxb-",
// "sk_live_", "hvs.") and the length. Nothing of the random part, and
// nothing at all of values without a marker (passwords), is shown.
func Redact(secret string) string {
	n := utf8.RuneCountInString(secret)
	return fmt.Sprintf("%s****(%d)", typeMarker(secret), n)
}

// typeMarker is a leading run of short lower-case groups each ended by a
// separator, when the remainder is still long: "sk_live_", "ghp_",
// "xoxb-", "hvs.", "glpat-". Words of a password ("Summer_", "welcome_")
// do not qualify.
func typeMarker(s string) string {
	end, group := 0, 0
	for i := 0; i < len(s) && i < 9; i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			group++
			if group > 5 {
				break
			}
			continue
		}
		if (c == '_' || c == '-' || c == '.') && group >= 2 {
			end, group = i+1, 0
			continue
		}
		break
	}
	if end == 0 || len(s)-end < 12 {
		return ""
	}
	return s[:end]
}

// AccessKeyCredentialKey is the stable key of an AWS access key, found in
// IAM or in code: the key id is an identifier, kept in clear.
func AccessKeyCredentialKey(keyID string) string { return "aws-access-key:" + keyID }

// IsAWSAccessKeyID reports whether s has the shape of an AWS access key id.
func IsAWSAccessKeyID(s string) bool {
	if len(s) != 20 {
		return false
	}
	switch p := s[:4]; {
	case p == "AKIA", p == "ASIA", p == "ABIA", p == "ACCA", p[:3] == "A3T":
	default:
		return false
	}
	for i := 4; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// SecretCredential turns a detected secret value into a credential that is
// safe to store: keyed by its fingerprint (or by its key id, for AWS
// access key ids), with a redacted preview. The value itself is dropped.
func (k *Keyring) SecretCredential(ruleID, secret, vaultStatus string) *Credential {
	c := &Credential{Type: ruleID, VaultStatus: vaultStatus}
	if IsAWSAccessKeyID(secret) {
		c.Key = AccessKeyCredentialKey(secret)
		c.Fingerprint = k.Fingerprint(secret)
		c.Redacted = secret
		c.Attrs = map[string]any{"access_key_id": secret}
		return c
	}
	c.Fingerprint = k.Fingerprint(secret)
	c.Key = "fp:" + c.Fingerprint
	c.Redacted = Redact(secret)
	if freeForm(ruleID) {
		// A password or generic value has no type marker: show nothing of it.
		c.Redacted = fmt.Sprintf("****(%d)", utf8.RuneCountInString(secret))
	}
	return c
}

// freeForm reports whether a rule finds values chosen by people
// (passwords, generic keys, credentials in URLs) rather than tokens with a
// fixed prefix.
func freeForm(ruleID string) bool {
	for _, w := range []string{"password", "passwd", "generic", "uri", "url", "connection", "basic-auth", "netrc", "pgpass",
		"pypirc", "hash", "crypt", "secret-key", "app-key", "auth-key", "config"} {
		if strings.Contains(ruleID, w) {
			return true
		}
	}
	return false
}
