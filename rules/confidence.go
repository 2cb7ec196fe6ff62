package rules

import (
	"fmt"

	"github.com/nhi-inventory/nhi/inventory"
)

// byConfidence records on the finding f of a hard-coded secret how
// likely the secret is live (inventory.Credential.Confidence). A low
// confidence (a documentation example, a test fixture, a weak or default
// value) opens the gap at the control's low_confidence_severity instead
// of counting like a live key: the finding says why and keeps the
// severity a live secret gets (inventory.EvidenceLiveSeverity), which
// --fail-on --min-confidence low reads. A key that is active where it was
// issued is live, whatever the text around it.
func byConfidence(c *Control, s *subject, f *finding) {
	level, reason := subjectConfidence(s)
	if level == "" {
		return
	}
	f.evidence[inventory.EvidenceConfidence] = level
	if reason != "" {
		f.evidence[inventory.EvidenceConfidenceReason] = reason
	}
	low := c.thresholdString("low_confidence_severity")
	live := f.severity
	if live == "" {
		live = c.Severity
	}
	if level != inventory.ConfidenceLow || low == "" || inventory.AtLeast(low, live) {
		return
	}
	why := reason
	if why == "" {
		why = "a low-confidence match"
	}
	f.severity = low
	f.evidence[inventory.EvidenceLiveSeverity] = live
	f.detail += fmt.Sprintf("; low confidence (%s): more likely an example or a default than a live secret, so %s, not %s (--min-confidence low counts it as %s)", why, low, live, live)
}

// subjectConfidence is the confidence of a credential found in text that
// s is ("" for any other subject): every gap on it carries it, so that
// --fail-on --min-confidence and nhi gaps --min-confidence leave out all
// the gaps of a documentation example, not only those of the controls
// that lower their severity. A key active where it was issued is live.
func subjectConfidence(s *subject) (level, reason string) {
	if s.cred == nil {
		return "", ""
	}
	cr := s.cred.Credential
	level, reason = cr.Confidence()
	if level != "" && cr.Active() {
		return inventory.ConfidenceHigh, ""
	}
	return level, reason
}
