package detect

import (
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/nhi-inventory/nhi/inventory"
)

// Confidences of a hit: how likely it is a live credential. A rule gives
// its own with a "confidence:<level>" tag, or "confidence:value" for
// one that depends on the value (nhi's password rules: low for a weak or
// default value, which is a credential in a credential's slot all the
// same); a hit in documentation or in tests is low whatever the rule;
// every other hit is high.
const (
	ConfidenceHigh   = inventory.ConfidenceHigh
	ConfidenceMedium = inventory.ConfidenceMedium
	ConfidenceLow    = inventory.ConfidenceLow
)

// Credential attributes set on a hit's credential when its confidence is
// not high (absent means high, so that nothing found before changes).
const (
	AttrConfidence       = inventory.AttrConfidence
	AttrConfidenceReason = inventory.AttrConfidenceReason
)

// TagWeak marks the rules that report weak or default values in a
// credential's slot, which the other rules' allowlists drop.
const TagWeak = "weak"

// TagFallback marks a rule that stands in for what another part of nhi
// finds (nhi-ci-secret-assignment, for the CI source's key-name checks
// on pipelines it cannot parse): like a weak rule, it gives way to any
// other rule that finds the same value at the same place.
const TagFallback = "fallback"

func shadowable(f report.Finding) bool { return hasTag(f, TagWeak) || hasTag(f, TagFallback) }

// docPathRe is documentation: prose and its examples, not configuration.
var docPathRe = regexp.MustCompile(`(?i)\.(?:md|mdx|markdown|rst|adoc|asciidoc)$|(?:^|/)(?:docs?|website|documentation)/`)

// testPathRe is tests and their fixtures: values made up for a test, or
// a scanner's own examples, more often than live ones.
var testPathRe = regexp.MustCompile(`(?i)(?:^|/)(?:tests?|testdata|testing|__tests__|spec|[\w-]*fixtures?)/|_test\.go$|\.(?:test|spec)\.[jt]sx?$|(?:^|/)test_[^/]*\.py$|_test\.py$|Tests?\.(?:java|cs|kt)$`)

// confidence is the confidence of a hit of a rule with tags in path
// that found secret, and why it is not high ("" when it is).
func confidence(tags []string, path, secret string) (string, string) {
	conf, why := ConfidenceHigh, ""
	weakRule := false
	for _, t := range tags {
		if t == TagWeak {
			weakRule = true
		}
	}
	for _, t := range tags {
		switch c, _ := strings.CutPrefix(t, "confidence:"); {
		case t == valueTag && weakValue(secret):
			conf, why = ConfidenceLow, "weak or default value"
		case t == valueTag && weakRule:
			conf, why = ConfidenceMedium, "value in a credential's slot that no stronger rule found"
		case c == ConfidenceLow || c == ConfidenceMedium:
			conf, why = c, "rule of "+c+" confidence"
		}
	}
	switch {
	case docPathRe.MatchString(path):
		conf, why = ConfidenceLow, "documentation"
	case testPathRe.MatchString(path):
		conf, why = ConfidenceLow, "test"
	}
	return conf, why
}

func hasTag(f report.Finding, tag string) bool {
	for _, t := range f.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// dropShadowedWeak removes the hits of a weak-value or fallback rule when
// another rule found the same value at the same place: a strong password
// in a weak rule's slot is reported once, by the rule that says it is
// strong. The hits left are in a stable order (line, column, rule): a
// value two rules find is then always named by the same one.
func dropShadowedWeak(fs []report.Finding) []report.Finding {
	shadowed := func(w report.Finding) bool {
		for _, p := range fs {
			if !shadowable(p) && p.StartLine == w.StartLine &&
				p.StartColumn <= w.EndColumn && w.StartColumn <= p.EndColumn &&
				(strings.Contains(p.Secret, w.Secret) || strings.Contains(w.Secret, p.Secret)) {
				return true
			}
		}
		return false
	}
	out := fs[:0:0]
	for _, f := range fs {
		if shadowable(f) && shadowed(f) {
			continue
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.StartLine != b.StartLine {
			return a.StartLine < b.StartLine
		}
		if a.StartColumn != b.StartColumn {
			return a.StartColumn < b.StartColumn
		}
		return a.RuleID < b.RuleID
	})
	return out
}

// valueTag makes a rule's confidence depend on the value it found: low
// for a weak value, else medium for a weak-slot rule (tag weak), high for
// another.
const valueTag = "confidence:value"

// weakValueRe is a dictionary word, perhaps with a few digits.
var weakValueRe = regexp.MustCompile(`^[A-Za-z]+[0-9]{0,4}[!.]?$|^[0-9]+$`)

// WeakValue reports whether a password is weak (see weakValue): for the
// sources that find passwords by their own means (the CI source's
// key-name checks) and give them the confidence the rules give.
func WeakValue(s string) bool { return weakValue(s) }

// weakValue reports whether a password is weak: short, a word (up to 12
// letters: longer runs of letters are not dictionary words) with a few
// digits, or of low entropy.
func weakValue(s string) bool {
	return len(s) < 8 || len(s) <= 16 && weakValueRe.MatchString(s) && len(strings.TrimRight(s, "0123456789!.")) <= 12 || shannon(s) < 3
}

func shannon(s string) float64 {
	if s == "" {
		return 0
	}
	n := map[rune]float64{}
	for _, r := range s {
		n[r]++
	}
	var h float64
	l := float64(len([]rune(s)))
	for _, c := range n {
		p := c / l
		h -= p * math.Log2(p)
	}
	return h
}
