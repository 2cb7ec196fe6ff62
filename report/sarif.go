package report

import (
	"encoding/json"
	"io"
	"net/url"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
)

// The SARIF 2.1.0 objects nhi writes (OASIS SARIF v2.1.0 errata 01, §3),
// only the properties it fills. The report test validates the output
// against the OASIS schema.

// sarifSchemaURI is the $schema of the logs written.
const sarifSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

// sarifDriver is the tool component: nhi, with one rule per control.
type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

// sarifRule is a reportingDescriptor: one control of the catalogue.
type sarifRule struct {
	ID                   string              `json:"id"`
	Name                 string              `json:"name,omitempty"`
	ShortDescription     sarifText           `json:"shortDescription"`
	FullDescription      *sarifText          `json:"fullDescription,omitempty"`
	Help                 *sarifText          `json:"help,omitempty"`
	DefaultConfiguration sarifConfiguration  `json:"defaultConfiguration"`
	Properties           sarifRuleProperties `json:"properties"`
}

// sarifText is a message or multiformatMessageString (text only).
type sarifText struct {
	Text string `json:"text"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProperties struct {
	// Tags are the control's framework criteria (SOC 2, NIST CSF, OWASP NHI).
	Tags     []string `json:"tags"`
	Severity string   `json:"severity"`
	// SecuritySeverity is the CVSS-like score code scanning ranks by.
	SecuritySeverity string `json:"security-severity"`
}

// sarifResult is one gap.
type sarifResult struct {
	RuleID              string                `json:"ruleId"`
	RuleIndex           *int                  `json:"ruleIndex,omitempty"`
	Level               string                `json:"level"`
	Message             sarifText             `json:"message"`
	Locations           []sarifLocation       `json:"locations"`
	PartialFingerprints map[string]string     `json:"partialFingerprints"`
	Properties          sarifResultProperties `json:"properties"`
}

type sarifResultProperties struct {
	Severity string `json:"severity"`
	Status   string `json:"status"`
	Subject  string `json:"subject"`
	Owner    string `json:"owner"`
	Repo     string `json:"repo,omitempty"`
}

// sarifLocation is where a gap is: a file and line when its evidence has
// one, else the subject (an ARN, a Vault path) as a logical location.
type sarifLocation struct {
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogicalLocation struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(sev string) string {
	switch sev {
	case inventory.SeverityCritical, inventory.SeverityHigh:
		return "error"
	case inventory.SeverityMedium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the score GitHub code scanning reads to rank a rule
// (over 9.0 critical, 7.0 high, 4.0 medium, else low).
func securitySeverity(sev string) string {
	switch sev {
	case inventory.SeverityCritical:
		return "9.5"
	case inventory.SeverityHigh:
		return "8.0"
	case inventory.SeverityMedium:
		return "5.5"
	}
	return "2.0"
}

func newSARIF(gaps []inventory.Gap, cat *rules.Catalogue) sarifLog {
	driver := sarifDriver{Name: "nhi", InformationURI: "https://github.com/nhi-inventory/nhi", Rules: []sarifRule{}}
	index := map[string]int{}
	for _, c := range cat.Controls {
		r := sarifRule{ID: c.ID, Name: c.Check, ShortDescription: sarifText{c.Title},
			DefaultConfiguration: sarifConfiguration{Level: sarifLevel(c.Severity)},
			Properties: sarifRuleProperties{Tags: uniqueTags(c.Frameworks.SOC2, c.Frameworks.NISTCSF, c.Frameworks.OWASPNHI),
				Severity: c.Severity, SecuritySeverity: securitySeverity(c.Severity)}}
		if t := strings.TrimSpace(c.Rationale); t != "" {
			r.FullDescription = &sarifText{t}
		}
		if t := strings.TrimSpace(c.Remediation); t != "" {
			r.Help = &sarifText{t}
		}
		index[c.ID] = len(driver.Rules)
		driver.Rules = append(driver.Rules, r)
	}
	results := make([]sarifResult, 0, len(gaps))
	for _, g := range gaps {
		r := sarifResult{RuleID: g.ControlID, Level: sarifLevel(g.Severity), Message: sarifText{g.Detail},
			PartialFingerprints: map[string]string{"nhiGap": g.ControlID + ":" + g.SubjectKind + ":" + g.SubjectKey},
			Properties:          sarifResultProperties{Severity: g.Severity, Status: g.Status, Subject: g.SubjectKey, Owner: g.Owner}}
		if i, ok := index[g.ControlID]; ok {
			r.RuleIndex = &i
		}
		if repo, ok := g.Evidence["repo"].(string); ok {
			r.Properties.Repo = inventory.RedactURL(repo)
		}
		if p, ok := g.Evidence["path"].(string); ok && p != "" {
			loc := &sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: pathURI(p)}}
			if l := evidenceInt(g.Evidence["line"]); l > 0 {
				loc.Region = &sarifRegion{StartLine: l}
			}
			r.Locations = []sarifLocation{{PhysicalLocation: loc}}
		} else {
			r.Locations = []sarifLocation{{LogicalLocations: []sarifLogicalLocation{{FullyQualifiedName: g.SubjectKey, Kind: g.SubjectKind}}}}
		}
		results = append(results, r)
	}
	return sarifLog{Schema: sarifSchemaURI, Version: "2.1.0", Runs: []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}}}
}

func writeSARIF(w io.Writer, gaps []inventory.Gap, cat *rules.Catalogue) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(newSARIF(gaps, cat))
}

// pathURI makes a repository path a URI reference (spaces, '#', '%'
// escaped), as artifactLocation.uri must be.
func pathURI(p string) string {
	u := (&url.URL{Path: strings.ReplaceAll(p, "\\", "/")}).EscapedPath()
	// A colon in the first segment would read as a scheme ("c:/x", "a:b").
	if first, _, _ := strings.Cut(u, "/"); strings.Contains(first, ":") {
		u = "./" + u
	}
	return u
}

// evidenceInt reads a number from evidence, which holds int when fresh
// from the evaluator and float64 when decoded from the inventory's JSON.
func evidenceInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// uniqueTags joins tag lists, each tag once (SARIF tags are a set).
func uniqueTags(lists ...[]string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, l := range lists {
		for _, t := range l {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}
