package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
)

// The SARIF 2.1.0 objects nhi writes (OASIS SARIF v2.1.0 errata 01, §3),
// only the properties it fills, shaped for GitHub code scanning's upload
// rules: every result has a physical location (an upload with one that has
// none is rejected whole), one run per repository with its own category,
// its base path and provenance, and at most 25,000 results per run. The
// report tests validate the output against the OASIS schema and those rules.

// sarifSchemaURI is the $schema of the logs written.
const sarifSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

// SARIF limits of GitHub code scanning ("SARIF support for code scanning"):
// an upload over one of them is rejected.
const (
	SARIFMaxRuns           = 20
	SARIFMaxResultsPerRun  = 25000
	SARIFMaxTagsPerRule    = 20
	SARIFMaxGzipBytes      = 10 << 20
	sarifSrcRoot           = "SRCROOT"
	sarifFingerprintSchema = "nhiGap"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool                     sarifTool                        `json:"tool"`
	AutomationDetails        *sarifAutomationDetails          `json:"automationDetails,omitempty"`
	OriginalURIBaseIDs       map[string]sarifArtifactLocation `json:"originalUriBaseIds,omitempty"`
	VersionControlProvenance []sarifVersionControl            `json:"versionControlProvenance,omitempty"`
	Results                  []sarifResult                    `json:"results"`
}

// sarifAutomationDetails.ID up to its last "/" is the code scanning
// category: one per repository, so two runs in one file are never merged.
type sarifAutomationDetails struct {
	ID string `json:"id"`
}

type sarifVersionControl struct {
	RepositoryURI string `json:"repositoryUri"`
	RevisionID    string `json:"revisionId,omitempty"`
	MappedTo      *struct {
		URIBaseID string `json:"uriBaseId"`
	} `json:"mappedTo,omitempty"`
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

// sarifText is a message or multiformatMessageString.
type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProperties struct {
	// Tags are "security" (code scanning shows security-severity only
	// for rules so tagged) and the control's framework criteria.
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
	Suppressions        []sarifSuppression    `json:"suppressions,omitempty"`
	Properties          sarifResultProperties `json:"properties"`
}

// sarifSuppression is a triage decision that took the gap out of the open
// ones: an accepted risk or a false positive, with its reason.
type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

type sarifResultProperties struct {
	GapID    int64  `json:"gap-id,omitempty"`
	Severity string `json:"severity"`
	Status   string `json:"status"`
	Subject  string `json:"subject"`
	Owner    string `json:"owner"`
	Repo     string `json:"repo,omitempty"`
	// Confidence is the match's, for a gap on a hard-coded secret.
	Confidence string `json:"confidence,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI         string     `json:"uri,omitempty"`
	URIBaseID   string     `json:"uriBaseId,omitempty"`
	Description *sarifText `json:"description,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// SARIFOptions is what a SARIF export knows beyond the gaps.
type SARIFOptions struct {
	// Decisions are the triage decisions (any; those in force on a gap's
	// subject and control give its suppression and reason).
	Decisions []inventory.Decision
	// Revisions maps a repository (as gaps name it) to the commit the
	// run describes, for versionControlProvenance.
	Revisions map[string]string
	// Remotes maps a local repository path to its remote URL, the
	// repositoryUri code scanning knows it by.
	Remotes map[string]string
}

// SARIFStats is what a SARIF export wrote and what it left out, for the
// command to say on stderr.
type SARIFStats struct {
	Runs, Results int
	// NoFile gaps are on subjects with no file (an IAM user, a Vault
	// role, a provider key): code scanning rejects a result without a
	// physical location, so they are left out; nhi gaps lists them.
	NoFile int
	// Resolved gaps are left out: a result absent from an upload is how
	// code scanning closes its alert.
	Resolved int
	// OverLimit results were cut from a run over SARIFMaxResultsPerRun
	// (the least severe: gaps come worst first).
	OverLimit int
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

func sarifRules(cat *rules.Catalogue) ([]sarifRule, map[string]int) {
	out := []sarifRule{}
	index := map[string]int{}
	for _, c := range cat.Controls {
		tags := uniqueTags([]string{"security"}, c.Frameworks.SOC2, c.Frameworks.NISTCSF, c.Frameworks.OWASPNHI)
		if len(tags) > SARIFMaxTagsPerRule {
			tags = tags[:SARIFMaxTagsPerRule]
		}
		r := sarifRule{ID: c.ID, Name: c.Check, ShortDescription: sarifText{Text: c.Title},
			DefaultConfiguration: sarifConfiguration{Level: sarifLevel(c.Severity)},
			Properties:           sarifRuleProperties{Tags: tags, Severity: c.Severity, SecuritySeverity: securitySeverity(c.Severity)}}
		if t := strings.TrimSpace(c.Rationale); t != "" {
			r.FullDescription = &sarifText{Text: t}
		}
		r.Help = ruleHelp(c)
		index[c.ID] = len(out)
		out = append(out, r)
	}
	return out, index
}

// ruleHelp is the control's remediation and the criteria it evidences.
func ruleHelp(c *rules.Control) *sarifText {
	rem := strings.TrimSpace(c.Remediation)
	var refs []string
	for _, fw := range []struct {
		name string
		ids  []string
	}{{"SOC 2", c.Frameworks.SOC2}, {"NIST CSF 2.0", c.Frameworks.NISTCSF}, {"OWASP NHI Top 10", c.Frameworks.OWASPNHI}} {
		if len(fw.ids) > 0 {
			refs = append(refs, fw.name+": "+strings.Join(fw.ids, ", "))
		}
	}
	if rem == "" && len(refs) == 0 {
		return nil
	}
	text, md := rem, rem
	if len(refs) > 0 {
		text = strings.TrimSpace(rem + "\n\nFrameworks: " + strings.Join(refs, "; "))
		md = strings.TrimSpace(rem + "\n\n**Frameworks**\n\n- " + strings.Join(refs, "\n- "))
	}
	return &sarifText{Text: text, Markdown: md}
}

// suppressingDecision is the decision in force that gave g its status
// (accepted, false-positive), the latest if several.
func suppressingDecision(g inventory.Gap, ds []inventory.Decision) *inventory.Decision {
	action := map[string]string{inventory.GapAccepted: inventory.ActionAcceptRisk, inventory.GapFalsePositive: inventory.ActionFalsePositive}[g.Status]
	if action == "" {
		return nil
	}
	var best *inventory.Decision
	for i := range ds {
		d := &ds[i]
		if d.Action == action && d.RevokedAt == nil && d.SubjectKind == g.SubjectKind && d.SubjectKey == g.SubjectKey &&
			strings.EqualFold(d.ControlID, g.ControlID) && (best == nil || d.At.After(best.At)) {
			best = d
		}
	}
	return best
}

func suppression(g inventory.Gap, d *inventory.Decision) []sarifSuppression {
	if g.Status != inventory.GapAccepted && g.Status != inventory.GapFalsePositive {
		return nil
	}
	s := sarifSuppression{Kind: "external", Status: "accepted"}
	if d != nil {
		why := d.Reason
		if g.Status == inventory.GapFalsePositive {
			why = "false positive: " + why
		} else {
			why = "risk accepted: " + why
		}
		why += " (" + d.Actor
		if d.ExpiresAt != nil {
			why += ", until " + d.ExpiresAt.UTC().Format("2006-01-02")
		}
		s.Justification = why + ")"
	}
	return []sarifSuppression{s}
}

// gapRepo is the repository a gap's evidence names ("" if none).
func gapRepo(g inventory.Gap) string {
	repo, _ := g.Evidence["repo"].(string)
	return repo
}

// sarifCategory is a run's automation id: nhi/<repository name>/, the
// name made unique within the file.
func sarifCategory(repo string, used map[string]bool) string {
	name := "unattributed"
	if repo != "" {
		name = inventory.RepoName(inventory.RedactURL(repo))
	}
	id := "nhi/" + name + "/"
	for n := 2; used[id]; n++ {
		id = fmt.Sprintf("nhi/%s-%d/", name, n)
	}
	used[id] = true
	return id
}

// repoBase is the originalUriBaseIds entry and provenance of a run.
func repoBase(repo string, opt SARIFOptions) (map[string]sarifArtifactLocation, []sarifVersionControl) {
	if repo == "" {
		return nil, nil
	}
	clean := inventory.RedactURL(repo)
	base := sarifArtifactLocation{Description: &sarifText{Text: "the root of repository " + clean}}
	uri := clean
	if !strings.Contains(clean, "://") && filepath.IsAbs(clean) {
		u := &url.URL{Scheme: "file", Path: filepath.ToSlash(clean)}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		base.URI = u.String()
		uri = strings.TrimSuffix(u.String(), "/")
	}
	if r := opt.Remotes[repo]; r != "" {
		uri = inventory.RedactURL(r)
	}
	bases := map[string]sarifArtifactLocation{sarifSrcRoot: base}
	if _, err := url.Parse(uri); err != nil || !strings.Contains(uri, ":") {
		return bases, nil
	}
	vc := sarifVersionControl{RepositoryURI: uri, RevisionID: opt.Revisions[repo]}
	vc.MappedTo = &struct {
		URIBaseID string `json:"uriBaseId"`
	}{sarifSrcRoot}
	return bases, []sarifVersionControl{vc}
}

func newSARIF(gaps []inventory.Gap, cat *rules.Catalogue, opt SARIFOptions) (sarifLog, SARIFStats) {
	ruleList, index := sarifRules(cat)
	var st SARIFStats
	byRepo := map[string][]sarifResult{}
	var repos []string
	for _, g := range gaps {
		if g.Status == inventory.GapResolved {
			st.Resolved++
			continue
		}
		p, _ := g.Evidence["path"].(string)
		if p == "" {
			st.NoFile++
			continue
		}
		repo := gapRepo(g)
		loc := &sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: pathURI(p)}}
		if repo != "" && !strings.HasPrefix(loc.ArtifactLocation.URI, "/") {
			loc.ArtifactLocation.URIBaseID = sarifSrcRoot
		}
		if l := evidenceInt(g.Evidence["line"]); l > 0 {
			loc.Region = &sarifRegion{StartLine: l}
		}
		r := sarifResult{RuleID: g.ControlID, Level: sarifLevel(g.Severity), Message: sarifText{Text: g.Detail},
			Locations: []sarifLocation{{PhysicalLocation: loc}},
			// Subject keys are stable (provider ids, keyed fingerprints),
			// so one gap has one fingerprint in every scan.
			PartialFingerprints: map[string]string{sarifFingerprintSchema: g.ControlID + ":" + g.SubjectKind + ":" + g.SubjectKey},
			Suppressions:        suppression(g, suppressingDecision(g, opt.Decisions)),
			Properties: sarifResultProperties{GapID: g.ID, Severity: g.Severity, Status: g.Status, Subject: g.SubjectKey,
				Owner: g.Owner, Repo: inventory.RedactURL(repo), Confidence: g.Confidence()}}
		if i, ok := index[g.ControlID]; ok {
			r.RuleIndex = &i
		}
		if _, ok := byRepo[repo]; !ok {
			repos = append(repos, repo)
		}
		if len(byRepo[repo]) >= SARIFMaxResultsPerRun {
			st.OverLimit++
			continue
		}
		byRepo[repo] = append(byRepo[repo], r)
	}
	sort.Strings(repos)
	log := sarifLog{Schema: sarifSchemaURI, Version: "2.1.0", Runs: []sarifRun{}}
	used := map[string]bool{}
	for _, repo := range repos {
		bases, vc := repoBase(repo, opt)
		run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "nhi", InformationURI: "https://github.com/nhi-inventory/nhi", Rules: ruleList}},
			AutomationDetails: &sarifAutomationDetails{ID: sarifCategory(repo, used)}, OriginalURIBaseIDs: bases,
			VersionControlProvenance: vc, Results: byRepo[repo]}
		st.Results += len(run.Results)
		log.Runs = append(log.Runs, run)
	}
	if len(log.Runs) == 0 {
		// An empty run still tells code scanning that nhi found nothing.
		log.Runs = append(log.Runs, sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "nhi",
			InformationURI: "https://github.com/nhi-inventory/nhi", Rules: ruleList}}, Results: []sarifResult{}})
	}
	st.Runs = len(log.Runs)
	return log, st
}

// WriteSARIF writes gaps as SARIF for GitHub code scanning (see
// SARIFStats for what it leaves out and why).
func WriteSARIF(w io.Writer, gaps []inventory.Gap, cat *rules.Catalogue, opt SARIFOptions) (SARIFStats, error) {
	log, st := newSARIF(gaps, cat, opt)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return st, enc.Encode(log)
}

// Note is what a command says on stderr after writing the SARIF: what was
// left out and whether the file is within code scanning's limits.
func (s SARIFStats) Note() string {
	var parts []string
	if s.NoFile > 0 {
		parts = append(parts, fmt.Sprintf("%d gaps on subjects with no file (IAM, Vault, provider keys) left out: code scanning needs a file for every result; see nhi gaps", s.NoFile))
	}
	if s.Resolved > 0 {
		parts = append(parts, fmt.Sprintf("%d resolved gaps left out (code scanning closes an alert absent from the upload)", s.Resolved))
	}
	if s.OverLimit > 0 {
		parts = append(parts, fmt.Sprintf("%d least severe gaps cut: code scanning takes at most %d results per run; narrow with --severity", s.OverLimit, SARIFMaxResultsPerRun))
	}
	if s.Runs > SARIFMaxRuns {
		parts = append(parts, fmt.Sprintf("%d runs (one per repository) is over code scanning's %d per file: upload per repository with --repo", s.Runs, SARIFMaxRuns))
	}
	if len(parts) == 0 {
		return ""
	}
	return "nhi: sarif: " + strings.Join(parts, "\nnhi: sarif: ") + "\n"
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
