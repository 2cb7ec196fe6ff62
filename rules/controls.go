// Package rules holds nhi's judgement as data: the readiness control
// catalogue (controls.yaml) with its thresholds and framework mappings,
// and the evaluator that turns an inventory into gaps. Secret detection
// is package detect.
package rules

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/inventory"
)

//go:embed controls.yaml
var controlsYAML []byte

// Frameworks maps a framework ("soc2", "nist_csf", "owasp_nhi") to the
// criteria a control evidences.
type Frameworks struct {
	SOC2     []string `yaml:"soc2" json:"soc2"`
	NISTCSF  []string `yaml:"nist_csf" json:"nist_csf"`
	OWASPNHI []string `yaml:"owasp_nhi" json:"owasp_nhi"`
}

// Map returns the references keyed by framework.
func (f Frameworks) Map() map[string][]string {
	return map[string][]string{"soc2": nonNil(f.SOC2), "nist_csf": nonNil(f.NISTCSF), "owasp_nhi": nonNil(f.OWASPNHI)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Control is one readiness control of the catalogue.
type Control struct {
	ID          string         `yaml:"id" json:"id"`
	Title       string         `yaml:"title" json:"title"`
	Severity    string         `yaml:"severity" json:"severity"`
	Subject     string         `yaml:"subject" json:"subject"`
	Check       string         `yaml:"check" json:"check"`
	Rationale   string         `yaml:"rationale" json:"rationale"`
	Remediation string         `yaml:"remediation" json:"remediation"`
	Thresholds  map[string]any `yaml:"thresholds" json:"thresholds,omitempty"`
	Frameworks  Frameworks     `yaml:"frameworks" json:"frameworks"`
	Enabled     bool           `yaml:"-" json:"enabled"`
}

// threshold returns a numeric threshold.
func (c *Control) threshold(name string) float64 {
	switch v := c.Thresholds[name].(type) {
	case int:
		return float64(v)
	case float64:
		return v
	}
	return 0
}

// thresholdString returns a string threshold (a severity, say).
func (c *Control) thresholdString(name string) string {
	s, _ := c.Thresholds[name].(string)
	return s
}

// Catalogue is the set of controls in force.
type Catalogue struct {
	Controls []*Control
}

// ControlOverride is a user's change to one control (nhi.yaml controls:).
type ControlOverride struct {
	Enabled    *bool          `yaml:"enabled"`
	Severity   string         `yaml:"severity"`
	Thresholds map[string]any `yaml:"thresholds"`
}

// LoadCatalogue returns the embedded catalogue with overrides applied.
func LoadCatalogue(overrides map[string]ControlOverride) (*Catalogue, error) {
	var doc struct {
		Controls []*Control `yaml:"controls"`
	}
	if err := yaml.Unmarshal(controlsYAML, &doc); err != nil {
		return nil, fmt.Errorf("control catalogue: %w", err)
	}
	byID := map[string]*Control{}
	for _, c := range doc.Controls {
		if _, dup := byID[c.ID]; dup {
			return nil, fmt.Errorf("control catalogue: duplicate id %s", c.ID)
		}
		if checks[c.Check] == nil {
			return nil, fmt.Errorf("control %s: unknown check %q", c.ID, c.Check)
		}
		if !inventory.ValidSeverity(c.Severity) {
			return nil, fmt.Errorf("control %s: bad severity %q", c.ID, c.Severity)
		}
		if c.Thresholds == nil {
			c.Thresholds = map[string]any{}
		}
		c.Enabled = true
		byID[c.ID] = c
	}
	ids := make([]string, 0, len(overrides))
	for id := range overrides {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		o := overrides[id]
		c, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("controls: unknown control %q (see `nhi controls`)", id)
		}
		if o.Enabled != nil {
			c.Enabled = *o.Enabled
		}
		if o.Severity != "" {
			if !inventory.ValidSeverity(o.Severity) {
				return nil, fmt.Errorf("controls: %s: severity must be one of %s", id, strings.Join(inventory.Severities(), ", "))
			}
			c.Severity = o.Severity
		}
		for k, v := range o.Thresholds {
			old, ok := c.Thresholds[k]
			if !ok {
				known := make([]string, 0, len(c.Thresholds))
				for t := range c.Thresholds {
					known = append(known, t)
				}
				sort.Strings(known)
				return nil, fmt.Errorf("controls: %s has no threshold %q (it has: %s)", id, k, strings.Join(known, ", "))
			}
			if _, isString := old.(string); isString {
				if s, ok := v.(string); !ok || !inventory.ValidSeverity(s) {
					return nil, fmt.Errorf("controls: %s: threshold %s must be a severity", id, k)
				}
			} else if _, ok := v.(int); !ok {
				if _, ok := v.(float64); !ok {
					return nil, fmt.Errorf("controls: %s: threshold %s must be a number", id, k)
				}
			}
			c.Thresholds[k] = v
		}
	}
	return &Catalogue{Controls: doc.Controls}, nil
}

// Control returns the control with id, or nil.
func (c *Catalogue) Control(id string) *Control {
	for _, x := range c.Controls {
		if x.ID == id {
			return x
		}
	}
	return nil
}

// OwnerControls are the ids of the enabled controls that check a subject
// has an owner: an owner decision satisfies them at once.
func (c *Catalogue) OwnerControls() []string {
	var out []string
	for _, x := range c.Controls {
		if x.Enabled && x.Check == "owner_assigned" {
			out = append(out, x.ID)
		}
	}
	return out
}
