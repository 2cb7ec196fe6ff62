package inventory

// Confidence is how likely a secret found in text (code, configuration,
// a pipeline) is a live credential: high, medium or low (a documentation
// example, a test fixture, a weak or default value). The detector sets it
// on a credential (Attrs[AttrConfidence], absent meaning high, so that
// nothing stored before changes); the controls that judge hard-coded
// secrets copy it onto their gaps (Evidence[EvidenceConfidence]), open a
// low-confidence gap at a lower severity and keep the severity a live
// secret would have (Evidence[EvidenceLiveSeverity]); --fail-on reads it
// through --min-confidence.
const (
	ConfidenceHigh   = "high"
	ConfidenceMedium = "medium"
	ConfidenceLow    = "low"
)

// Credential attributes of a credential found in text whose confidence is
// not high.
const (
	AttrConfidence       = "confidence"
	AttrConfidenceReason = "confidence_reason"
)

// Evidence keys of a gap on a secret found in text.
const (
	EvidenceConfidence       = "confidence"
	EvidenceConfidenceReason = "confidence_reason"
	// EvidenceLiveSeverity is the severity the gap would have if the
	// secret were live: set when a low confidence lowered it.
	EvidenceLiveSeverity = "severity_if_live"
)

// Confidences lists the confidences, most confident first.
func Confidences() []string { return []string{ConfidenceHigh, ConfidenceMedium, ConfidenceLow} }

// confidenceRank ranks a confidence, low 0 to high 2; -1 for a name that
// is none.
func confidenceRank(s string) int {
	for i, c := range Confidences() {
		if c == s {
			return len(Confidences()) - 1 - i
		}
	}
	return -1
}

// ValidConfidence reports whether s names a confidence.
func ValidConfidence(s string) bool { return confidenceRank(s) >= 0 }

// ConfidenceAtLeast reports whether confidence c is min or more ("high"
// is at least "medium"); "" (not a secret found in text), or any other
// name that is no confidence, counts as high.
func ConfidenceAtLeast(c, min string) bool {
	rank := func(s string) int {
		if r := confidenceRank(s); r >= 0 {
			return r
		}
		return confidenceRank(ConfidenceHigh)
	}
	return rank(c) >= rank(min)
}

// Confidence is the confidence of a credential found in text (hard-coded)
// and why it is not high; "" for any other credential (a reference, a
// vaulted secret, a key read from a cloud API), which is no guess.
func (c *Credential) Confidence() (level, reason string) {
	if c.VaultStatus != VaultHardcoded {
		return "", ""
	}
	level, _ = c.Attrs[AttrConfidence].(string)
	reason, _ = c.Attrs[AttrConfidenceReason].(string)
	if !ValidConfidence(level) {
		return ConfidenceHigh, ""
	}
	return level, reason
}

// Confidence is the confidence of the secret a gap is about, "" for a gap
// that is not about a secret found in text.
func (g *Gap) Confidence() string {
	c, _ := g.Evidence[EvidenceConfidence].(string)
	return c
}

// LiveSeverity is the severity of the gap if its secret were live: the
// severity it was opened at, unless a low confidence lowered it.
func (g *Gap) LiveSeverity() string {
	if s, _ := g.Evidence[EvidenceLiveSeverity].(string); ValidSeverity(s) {
		return s
	}
	return g.Severity
}

// CountsAt reports whether an open gap meets a --fail-on threshold
// failOn when findings below minConfidence are not counted: a gap of
// lower confidence never counts; one that counts is compared at its live
// severity, so that --min-confidence low fails on a documentation example
// of a key as on the key.
func (g *Gap) CountsAt(failOn, minConfidence string) bool {
	if !ConfidenceAtLeast(g.Confidence(), minConfidence) {
		return false
	}
	return AtLeast(g.LiveSeverity(), failOn)
}
