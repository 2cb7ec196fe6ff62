package evidence

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// oscalSchema is NIST's OSCAL 1.1.3 complete JSON schema (testdata/oscal/
// NOTICE.md says where it comes from), with format assertions.
func oscalSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/oscal/oscal_complete_schema-1-1-3.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("oscal_complete_schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("oscal_complete_schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOSCALDocumentsValidateAgainstNISTSchema(t *testing.T) {
	h := newHistory(t)
	es := unpack(t, h.export(t, h.options()))
	s := oscalSchema(t)
	for _, name := range []string{"oscal/assessment-results.json", "oscal/poam.json"} {
		body := fileOf(t, es, name)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s is not JSON: %v", name, err)
		}
		if err := s.Validate(inst); err != nil {
			t.Errorf("%s does not validate against OSCAL 1.1.3: %v", name, err)
		}
	}
	// What the documents say, not only that they are well formed.
	var ar struct {
		AR struct {
			Results []struct {
				LocalDefinitions struct {
					Items []json.RawMessage `json:"inventory-items"`
				} `json:"local-definitions"`
				Observations []struct {
					Types    []string `json:"types"`
					Subjects []struct {
						UUID string `json:"subject-uuid"`
					} `json:"subjects"`
				} `json:"observations"`
				Findings []struct {
					Target struct {
						ID     string `json:"target-id"`
						Status struct {
							State string `json:"state"`
						} `json:"status"`
					} `json:"target"`
					Related []json.RawMessage `json:"related-observations"`
				} `json:"findings"`
			} `json:"results"`
		} `json:"assessment-results"`
	}
	if err := json.Unmarshal(fileOf(t, es, "oscal/assessment-results.json"), &ar); err != nil {
		t.Fatal(err)
	}
	if len(ar.AR.Results) != 1 {
		t.Fatalf("%d results, want one for the period", len(ar.AR.Results))
	}
	r := ar.AR.Results[0]
	if len(r.LocalDefinitions.Items) < 4 {
		t.Errorf("%d inventory items, want every identity and credential", len(r.LocalDefinitions.Items))
	}
	series, withSubjects := 0, 0
	for _, o := range r.Observations {
		if o.Types[0] == "control-objective" {
			series++
		}
		if len(o.Subjects) > 0 {
			withSubjects++
		}
	}
	sec := false
	for _, f := range r.Findings {
		if f.Target.ID == "NHI-SEC-01" {
			sec = f.Target.Status.State == "not-satisfied" && len(f.Related) == 4
		}
	}
	if series == 0 || withSubjects == 0 || !sec {
		t.Errorf("observations: %d of the control series, %d with subjects; NHI-SEC-01 finding not-satisfied over 4 scans: %v", series, withSubjects, sec)
	}
	poam := string(fileOf(t, es, "oscal/poam.json"))
	if !strings.Contains(poam, `"NHI-SEC-01: `) {
		t.Errorf("the POA&M has no item for an open secret gap")
	}
}
