package evidence

import (
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

// OSCALVersion is the OSCAL release the documents follow (validated in
// tests against NIST's published JSON schema of that release).
const OSCALVersion = "1.1.3"

// oscalNS names nhi's own properties in the OSCAL documents.
const oscalNS = "https://github.com/nhi-inventory/nhi/ns/oscal"

// uuidNS is the namespace of the name-based (version 5) UUIDs of the
// documents: the same inventory gives the same UUIDs in every export.
var uuidNS = [16]byte{0x6b, 0x1c, 0x0e, 0x7a, 0x49, 0x2f, 0x4d, 0x5e, 0x9a, 0x63, 0x1f, 0x2e, 0x84, 0x7d, 0xc0, 0x11}

// uuid5 is the RFC 4122 version 5 UUID of name.
func uuid5(name string) string {
	h := sha1.New()
	h.Write(uuidNS[:])
	h.Write([]byte(name))
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// oscalString makes s a valid OSCAL string (no leading, trailing or
// repeated whitespace); "" when nothing is left.
func oscalString(s string) string { return strings.Join(strings.Fields(s), " ") }

type prop struct {
	Name  string `json:"name"`
	NS    string `json:"ns"`
	Value string `json:"value"`
}

// props builds OSCAL properties from name, value pairs, leaving out empty
// values (OSCAL forbids them).
func props(kv ...string) []prop {
	var out []prop
	for i := 0; i+1 < len(kv); i += 2 {
		if v := oscalString(kv[i+1]); v != "" {
			out = append(out, prop{Name: kv[i], NS: oscalNS, Value: v})
		}
	}
	return out
}

type subjectRef struct {
	UUID  string `json:"subject-uuid"`
	Type  string `json:"type"`
	Title string `json:"title,omitempty"`
}

type observation struct {
	UUID        string       `json:"uuid"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Props       []prop       `json:"props,omitempty"`
	Methods     []string     `json:"methods"`
	Types       []string     `json:"types"`
	Subjects    []subjectRef `json:"subjects,omitempty"`
	Collected   string       `json:"collected"`
}

// jsonList writes the elements of one JSON array, comma-separated, to a
// file, one marshalled element at a time.
type jsonList struct {
	f   *file
	n   int
	err error
}

func (l *jsonList) add(v any) {
	if l.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		l.err = err
		return
	}
	if l.n > 0 {
		b = append([]byte{','}, b...)
	}
	l.n++
	_, l.err = l.f.Write(b)
}

// oscalWriter streams the assessment results and the POA&M while the
// inventory and the gaps are read (at the same time, in two goroutines):
// the inventory items and the gaps' observations go to parts of their
// own, joined into the document at the end; JSON is written by hand
// around elements marshalled one at a time, and an array is written only
// when it has an element (OSCAL forbids empty arrays).
type oscalWriter struct {
	ar, poam  *file
	asOf      string
	items     *jsonList // the result's inventory items (part file)
	gapObs    *jsonList // an observation per unresolved gap (part file)
	poamItems *jsonList // written into poam directly
	err       error
}

func (o *oscalWriter) raw(f *file, s string) {
	if o.err == nil {
		_, o.err = f.Write([]byte(s))
	}
}

func (o *oscalWriter) value(f *file, v any) {
	if o.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		o.err = err
		return
	}
	_, o.err = f.Write(b)
}

func metadata(title, asOf, version string) map[string]any {
	if version = oscalString(version); version == "" {
		version = "dev"
	}
	return map[string]any{"title": title, "last-modified": asOf, "version": version, "oscal-version": OSCALVersion}
}

// beginOSCAL opens both documents: the assessment results up to its
// reviewed controls, the POA&M up to its items.
func (e *export) beginOSCAL() error {
	ar, err := e.wd.create("oscal/assessment-results.json")
	if err != nil {
		return err
	}
	poam, err := e.wd.create("oscal/poam.json")
	if err != nil {
		return err
	}
	items, err := e.wd.part("ar-inventory-items")
	if err != nil {
		return err
	}
	gapObs, err := e.wd.part("ar-gap-observations")
	if err != nil {
		return err
	}
	o := &oscalWriter{ar: ar, poam: poam, asOf: ts(e.asOf), items: &jsonList{f: items}, gapObs: &jsonList{f: gapObs}, poamItems: &jsonList{f: poam}}
	e.oscal = o
	p := e.m.Period
	o.raw(ar, `{"assessment-results":{"uuid":`)
	o.value(ar, uuid5("assessment-results:"+ts(p.Since)+":"+ts(p.Until)))
	o.raw(ar, `,"metadata":`)
	o.value(ar, metadata("nhi readiness of non-human identities, "+ts(p.Since)+" to "+ts(p.Until), o.asOf, e.opts.ToolVersion))
	o.raw(ar, `,"import-ap":{"href":"../manifest.json","remarks":"nhi assesses its own control catalogue on every scan; the plan is the catalogue and the schedule in the manifest."},"results":[{"uuid":`)
	o.value(ar, uuid5("result:"+ts(p.Since)+":"+ts(p.Until)))
	o.raw(ar, `,"title":"Readiness over the audit period","description":`)
	o.value(ar, fmt.Sprintf("Every nhi scan started from %s to %s (%d scans, %d complete) judged the inventory against the controls; each control's result in each scan is an observation, and each control's state after the last complete scan (%d) is a finding.",
		ts(p.Since), ts(p.Until), e.m.Completeness.Scans, e.m.Completeness.Complete, e.invID))
	o.raw(ar, `,"start":`)
	o.value(ar, ts(p.Since))
	o.raw(ar, `,"end":`)
	o.value(ar, ts(p.Until))
	var ids []map[string]string
	for _, c := range e.opts.Catalogue.Controls {
		if c.Enabled {
			ids = append(ids, map[string]string{"control-id": c.ID})
		}
	}
	sel := map[string]any{"description": "The nhi control catalogue in force."}
	if len(ids) > 0 {
		sel["include-controls"] = ids
	} else {
		sel["include-all"] = map[string]any{}
	}
	o.raw(ar, `,"reviewed-controls":{"control-selections":[`)
	o.value(ar, sel)
	o.raw(ar, `]}`)

	o.raw(poam, `{"plan-of-action-and-milestones":{"uuid":`)
	o.value(poam, uuid5("poam:"+ts(p.Since)+":"+ts(p.Until)))
	o.raw(poam, `,"metadata":`)
	o.value(poam, metadata("nhi plan of action: gaps open at "+o.asOf, o.asOf, e.opts.ToolVersion))
	o.raw(poam, `,"poam-items":[`)
	return o.err
}

// inventoryItem adds an identity or credential as a subject of the result.
func (o *oscalWriter) inventoryItem(kind, key, what, owner string) error {
	o.items.add(withProps(map[string]any{"uuid": uuid5(kind + ":" + key), "description": oscalString(kind + " " + what)},
		props("nhi-id", key, "subject-kind", kind, "owner", owner)))
	return o.items.err
}

// gap adds an unresolved gap as an observation of its subject, and an open
// one as a POA&M item.
func (o *oscalWriter) gap(g gapRecord) error {
	if g.Status == inventory.GapResolved {
		return nil
	}
	subject := g.SubjectName
	if subject == "" {
		subject = g.Subject
	}
	desc := oscalString(g.Title + ". " + g.Detail)
	o.gapObs.add(observation{UUID: uuid5(fmt.Sprintf("gap:%d", g.ID)), Title: oscalString(fmt.Sprintf("Gap %d: %s on %s", g.ID, g.Control, subject)),
		Description: desc, Props: props("control-id", g.Control, "severity", g.Severity, "status", g.Status, "owner", g.Owner),
		Methods: []string{"TEST"}, Types: []string{"finding"},
		Subjects:  []subjectRef{{UUID: uuid5(g.SubjectKind + ":" + g.Subject), Type: "inventory-item", Title: oscalString(subject)}},
		Collected: o.asOf})
	if g.Status == inventory.GapOpen {
		o.poamItems.add(withProps(map[string]any{"uuid": uuid5(fmt.Sprintf("poam-item:%d", g.ID)), "title": oscalString(fmt.Sprintf("%s: %s", g.Control, subject)),
			"description":          desc,
			"related-observations": []map[string]string{{"observation-uuid": uuid5(fmt.Sprintf("gap:%d", g.ID))}}},
			props("gap-id", itoa(g.ID), "control-id", g.Control, "severity", g.Severity, "owner", g.Owner, "subject-id", g.Subject, "first-seen", ts(g.FirstSeen))))
	}
	return errors.Join(o.gapObs.err, o.poamItems.err)
}

// appendPart copies a closed part file into f.
func (o *oscalWriter) appendPart(f *file, part *jsonList) {
	if o.err != nil {
		return
	}
	if o.err = part.f.close(); o.err != nil {
		return
	}
	src, err := os.Open(part.f.f.Name())
	if err != nil {
		o.err = err
		return
	}
	defer src.Close()
	_, o.err = io.Copy(f, src)
}

// endOSCAL joins the parts, writes the observations of the per-control
// time series and the findings (one per control, from its last complete
// scan) and closes both documents.
func (e *export) endOSCAL() error {
	o := e.oscal
	if o.items.n > 0 {
		o.raw(o.ar, `,"local-definitions":{"inventory-items":[`)
		o.appendPart(o.ar, o.items)
		o.raw(o.ar, `]}`)
	}
	series := &jsonList{f: o.ar}
	last := map[string]controlPoint{}
	var order []string
	obs := map[string][]map[string]string{}
	for i, p := range e.series {
		if i == 0 {
			o.raw(o.ar, `,"observations":[`)
		}
		series.add(observation{UUID: uuid5(fmt.Sprintf("observation:%s:%d", p.Control, p.Scan)),
			Title:       fmt.Sprintf("%s in scan %d", p.Control, p.Scan),
			Description: observed(p),
			Props:       props("control-id", p.Control, "scan-id", itoa(p.Scan), "evaluated", count(p.Evaluated), "passing", count(p.Passing), "failing", fmt.Sprint(p.Failing)),
			Methods:     []string{"TEST"},
			Types:       []string{"control-objective"},
			Collected:   ts(p.At)})
		if _, ok := last[p.Control]; !ok {
			order = append(order, p.Control)
		}
		if p.Status == inventory.ScanComplete || last[p.Control].Scan == 0 {
			last[p.Control] = p
		}
		obs[p.Control] = append(obs[p.Control], map[string]string{"observation-uuid": uuid5(fmt.Sprintf("observation:%s:%d", p.Control, p.Scan))})
	}
	if series.err != nil {
		return series.err
	}
	if o.gapObs.n > 0 {
		if series.n == 0 {
			o.raw(o.ar, `,"observations":[`)
		} else {
			o.raw(o.ar, ",")
		}
		o.appendPart(o.ar, o.gapObs)
	}
	if series.n+o.gapObs.n > 0 {
		o.raw(o.ar, `]`)
	}
	findings := &jsonList{f: o.ar}
	for i, c := range order {
		p := last[c]
		state := "satisfied"
		if p.Failing > 0 {
			state = "not-satisfied"
		}
		if i == 0 {
			o.raw(o.ar, `,"findings":[`)
		}
		findings.add(withProps(map[string]any{"uuid": uuid5("finding:" + c), "title": oscalString(c + ": " + p.Title),
			"description":          finding(p),
			"target":               map[string]any{"type": "objective-id", "target-id": c, "status": map[string]any{"state": state}},
			"related-observations": obs[c]},
			props("soc2", strings.Join(p.SOC2, " "), "nist-csf", strings.Join(p.NISTCSF, " "), "owasp-nhi", strings.Join(p.OWASPNHI, " "))))
	}
	if findings.err != nil {
		return findings.err
	}
	if len(order) > 0 {
		o.raw(o.ar, `]`)
	}
	o.raw(o.ar, "}]}}\n")
	if o.poamItems.n == 0 {
		o.poamItems.add(map[string]any{"uuid": uuid5("poam-item:none"), "title": "No open gap", "description": "No gap was open at " + o.asOf + "."})
	}
	o.raw(o.poam, "]}}\n")
	return errors.Join(o.err, o.poamItems.err)
}

// observed describes a control point as an observation.
func observed(p controlPoint) string {
	if p.Evaluated == nil {
		return fmt.Sprintf("After scan %d (%s), %d gaps of the package's scope were unresolved for %s (%s).", p.Scan, p.Status, p.Failing, p.Control, oscalString(p.Title))
	}
	return fmt.Sprintf("Scan %d (%s) evaluated %d subjects against %s (%s): %d passing, %d failing.",
		p.Scan, p.Status, *p.Evaluated, p.Control, oscalString(p.Title), *p.Passing, p.Failing)
}

// finding describes a control's last point as its finding.
func finding(p controlPoint) string {
	if p.Evaluated == nil {
		return fmt.Sprintf("After scan %d, %d gaps of the package's scope were unresolved for %s.", p.Scan, p.Failing, p.Control)
	}
	return fmt.Sprintf("After scan %d, %d of %d subjects passed %s; %d failed.", p.Scan, *p.Passing, *p.Evaluated, p.Control, p.Failing)
}

// withProps sets m's props when there are any (OSCAL forbids an empty list).
func withProps(m map[string]any, p []prop) map[string]any {
	if len(p) > 0 {
		m["props"] = p
	}
	return m
}
