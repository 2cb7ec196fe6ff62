package detect

import (
	"context"
	"maps"
	"slices"
	"strings"

	gldetect "github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/nhi-inventory/nhi/inventory"
)

// This file is the one way from bytes to secrets: a source hands a
// Fragment to Detector.Detect and gets Hits that are already
// fingerprinted with the inventory's key and redacted. The plaintext
// never leaves the package in an exported field.

// Fragment is what is scanned: a file, or the lines one commit adds to it.
type Fragment struct {
	// Path is the file's path inside what is scanned, with / separators:
	// rules that match file names read it.
	Path string
	// Raw is the content.
	Raw string
	// StartLine is the number, in the file, of Raw's first line (0 counts
	// as 1).
	StartLine int
	// CommitSHA is the commit that added Raw, if any. Only the allowlists
	// of a rule set that lists commits read it (Ruleset.PerCommit); who
	// and when of the commit belong to the occurrence the source writes,
	// not to the hit (hits of one change are shared between the commits
	// that make it).
	CommitSHA string
}

// Hit is one secret found in a fragment, reduced to what may be kept:
// where it is, the rule that found it, and its credential (fingerprint
// under the inventory key and a redacted preview).
type Hit struct {
	// RuleID is the detection rule that matched.
	RuleID string
	// Line and Column are where the match starts, EndLine and EndColumn
	// where it ends, in the file (Fragment.StartLine counts), 1-based.
	Line, Column, EndLine, EndColumn int
	// Fingerprint is the HMAC-SHA256 of the secret under the inventory
	// key; a rule that matches the file name alone fingerprints
	// "file:" + the path.
	Fingerprint string
	// Redacted is a preview of the secret safe to store and show.
	Redacted string
	// Entropy is the Shannon entropy of the secret.
	Entropy float32
	// Tags are the rule's tags, and "decoded:<encoding>" when the secret
	// was found in decoded form.
	Tags []string
	// Confidence is how likely the hit is a live credential: high,
	// medium or low (see Confidence*). Its credential carries it as the
	// "confidence" attribute when it is not high.
	Confidence string

	cred   *inventory.Credential
	secret string
}

// Credential returns a new credential for the secret, safe to store: keyed
// by its fingerprint (or by its key id, for an AWS access key id), typed
// by the rule, with the redacted preview, and hard-coded (it was found in
// bytes). Each call returns a copy the caller may change.
func (h *Hit) Credential() *inventory.Credential {
	c := *h.cred
	c.Attrs = maps.Clone(c.Attrs)
	return &c
}

// Plaintext returns the secret itself ("" for a rule that matches the file
// name alone). It is for a source that must compare a hit with values it
// found by its own means (the CI source's placeholder test, and its
// dropping of a value found twice on one line). The value must stay in
// memory: never stored, logged, printed or sent. Credential and
// Fingerprint are what leave.
func (h *Hit) Plaintext() string { return h.secret }

// Detector finds secrets with one rule set and fingerprints them with one
// inventory's key. It is safe for concurrent use.
type Detector struct {
	pre       *prefiltered
	keys      *inventory.Keyring
	perCommit bool
}

// Detector returns the detector of this rule set that fingerprints with
// keys. The compiled rules and their keyword index are built once per
// rule set and shared by every detector of it, so this is cheap.
func (r *Ruleset) Detector(keys *inventory.Keyring) *Detector {
	return &Detector{pre: r.prefiltered(), keys: keys, perCommit: r.PerCommit()}
}

// PerCommit reports whether an allowlist of the rule set lists commits:
// then what is found in a fragment depends on its commit, and findings of
// one change cannot be reused for another commit.
func (r *Ruleset) PerCommit() bool {
	for _, a := range r.cfg.Allowlists {
		if len(a.Commits) > 0 {
			return true
		}
	}
	for _, rule := range r.cfg.Rules {
		for _, a := range rule.Allowlists {
			if len(a.Commits) > 0 {
				return true
			}
		}
	}
	return false
}

// Detect returns the secrets in f, as the gitleaks CLI finds them, less
// the decoded duplicates of a value found as it is (dropDecodedDuplicates).
func (d *Detector) Detect(ctx context.Context, f Fragment) []Hit {
	gf := gldetect.Fragment{Raw: f.Raw, FilePath: f.Path, StartLine: f.StartLine}
	if d.perCommit {
		// Only commit allowlists read it; gitleaks keeps a set of the
		// commits it was given, which need not grow otherwise.
		gf.CommitSHA = f.CommitSHA
	}
	fs := d.pre.Detect(ctx, gf)
	if len(fs) == 0 {
		return nil
	}
	fs = dropShadowedWeak(dropDecodedDuplicates(fs))
	hits := make([]Hit, 0, len(fs))
	for _, fd := range fs {
		secret := fd.Secret
		if secret == "" {
			// A rule on the file name alone: the file is the finding.
			secret = "file:" + fd.File
		}
		c := d.keys.SecretCredential(fd.RuleID, secret, inventory.VaultHardcoded)
		conf, why := confidence(fd.Tags, f.Path, fd.Secret)
		if conf != ConfidenceHigh {
			c.Attrs = maps.Clone(c.Attrs)
			if c.Attrs == nil {
				c.Attrs = map[string]any{}
			}
			c.Attrs[AttrConfidence] = conf
			c.Attrs[AttrConfidenceReason] = why
		}
		hits = append(hits, Hit{
			RuleID: fd.RuleID, Line: fd.StartLine, Column: fd.StartColumn, EndLine: fd.EndLine, EndColumn: fd.EndColumn,
			Fingerprint: c.Fingerprint, Redacted: c.Redacted, Entropy: fd.Entropy, Tags: slices.Clone(fd.Tags),
			Confidence: conf, cred: c, secret: fd.Secret,
		})
	}
	return hits
}

// dropDecodedDuplicates removes findings that gitleaks made from a decoded
// (base64, percent, hex) form of a value when the same rule already found
// the value itself at the same place (same line, overlapping columns): one
// credential, not two. A decoded secret elsewhere on the line stays.
func dropDecodedDuplicates(fs []report.Finding) []report.Finding {
	decoded := func(f report.Finding) bool {
		for _, t := range f.Tags {
			if strings.HasPrefix(t, "decoded:") {
				return true
			}
		}
		return false
	}
	dup := func(d report.Finding) bool {
		for _, p := range fs {
			if !decoded(p) && p.RuleID == d.RuleID && p.StartLine == d.StartLine &&
				p.StartColumn <= d.EndColumn && d.StartColumn <= p.EndColumn {
				return true
			}
		}
		return false
	}
	out := fs[:0:0]
	for _, f := range fs {
		if decoded(f) && dup(f) {
			continue
		}
		out = append(out, f)
	}
	return out
}
