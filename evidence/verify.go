package evidence

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/nhi-inventory/nhi/inventory"
)

// maxSmallFile caps the files Verify reads whole (manifest, bundle,
// ledger): a header claiming more is refused rather than trusted.
const maxSmallFile = 256 << 20

// Check is one thing Verify checked.
type Check struct {
	Name   string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Verification is what Verify found.
type Verification struct {
	OK       bool      `json:"ok"`
	Checks   []Check   `json:"checks"`
	Manifest *Manifest `json:"-"`
	// Reason is the first failure, word for word as in its check.
	Reason string `json:"reason,omitempty"`
}

// ErrVerification is wrapped by Verify's error when a check fails.
var ErrVerification = errors.New("evidence package verification failed")

func (v *Verification) pass(name, format string, args ...any) {
	v.Checks = append(v.Checks, Check{Name: name, OK: true, Detail: fmt.Sprintf(format, args...)})
}

func (v *Verification) fail(name, format string, args ...any) {
	d := fmt.Sprintf(format, args...)
	v.Checks = append(v.Checks, Check{Name: name, OK: false, Detail: d})
	if v.Reason == "" {
		v.Reason = name + ": " + d
	}
}

// Verify checks an evidence package read from r against the public key:
// the signature over the statement, every file's digest against the
// statement and the manifest (no file missing, none added), the scan
// ledger's hash chain, and that the manifest's period and scans match the
// ledger and the control series, and its repository tips tips.csv. It returns every check made; the error
// (wrapping ErrVerification) names the first that failed.
func Verify(r io.Reader, pub crypto.PublicKey) (*Verification, error) {
	v := &Verification{}
	files, err := readArchive(r, v)
	if err != nil {
		v.fail("archive", "%v", err)
		return v, fmt.Errorf("%w: %s", ErrVerification, v.Reason)
	}
	m := files.manifest
	v.Manifest = m
	if m.Format != FormatVersion {
		v.fail("format", "the package is %q; this nhi reads %q", m.Format, FormatVersion)
	} else {
		v.pass("format", "%s, written by nhi %s", m.Format, m.ToolVersion)
	}
	v.checkSignature(files, pub)
	v.checkFiles(files)
	v.checkLedger(files)
	v.checkPeriod(files)
	v.checkTips(files)
	v.checkRestriction(m)
	v.OK = v.Reason == ""
	if !v.OK {
		return v, fmt.Errorf("%w: %s", ErrVerification, v.Reason)
	}
	return v, nil
}

// archiveFiles is what readArchive found.
type archiveFiles struct {
	manifestRaw []byte
	manifest    *Manifest
	bundle      []byte
	ledger      []byte
	digests     map[string]string
	sizes       map[string]int64
	order       []string
	// controlScans are the scan ids controls.csv names.
	controlScans map[int64]bool
	controlErr   error
	// tips are the rows of tips.csv: scan id -> "target\x00ref" -> commit.
	tips    map[int64]map[string]string
	hasTips bool
	tipsErr error
}

func readArchive(r io.Reader, v *Verification) (*archiveFiles, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, err := br.Peek(len(gzipHeader))
	if err != nil || !bytes.Equal(head, gzipHeader) {
		return nil, fmt.Errorf("the gzip header is % x, not the % x nhi writes: the archive was changed or recompressed", head, gzipHeader)
	}
	gz, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("not a gzip-compressed tar: %w", err)
	}
	tr := tar.NewReader(gz)
	af := &archiveFiles{digests: map[string]string{}, sizes: map[string]int64{}, controlScans: map[int64]bool{}, tips: map[int64]map[string]string{}}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the archive is damaged: %w", err)
		}
		name := h.Name
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%s: not a regular file (type %q): a package holds files only", name, string(h.Typeflag))
		}
		if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("%q: not a clean relative file name", name)
		}
		if _, dup := af.digests[name]; dup {
			return nil, fmt.Errorf("%s appears twice in the archive", name)
		}
		if len(af.order) == 0 && name != ManifestName {
			return nil, fmt.Errorf("the first file is %s, not %s", name, ManifestName)
		}
		small := name == ManifestName || name == BundleName || name == "ledger.jsonl"
		if small && h.Size > maxSmallFile {
			return nil, fmt.Errorf("%s claims %d bytes, more than a package holds", name, h.Size)
		}
		hs := &countingHash{Hash: sha256.New()}
		var keep bytes.Buffer
		var src io.Reader = io.TeeReader(tr, hs)
		if small {
			src = io.TeeReader(src, &keep)
		}
		if name == "controls.csv" && af.manifest != nil {
			af.controlErr = readControlScans(src, af.controlScans)
			src = strings.NewReader("")
		}
		if name == TipsName && af.manifest != nil {
			af.hasTips = true
			// Room for a tampered file's extra rows to be named per scan
			// (checkTips), and a bound on what a hostile one costs.
			af.tipsErr = readTips(src, 2*statedTips(af.manifest)+1024, af.tips)
			src = strings.NewReader("")
		}
		if _, err := io.Copy(io.Discard, src); err != nil {
			return nil, fmt.Errorf("the archive is damaged in %s: %w", name, err)
		}
		af.order = append(af.order, name)
		af.sizes[name] = hs.n
		af.digests[name] = hex.EncodeToString(hs.Sum(nil))
		switch name {
		case ManifestName:
			af.manifestRaw = keep.Bytes()
			var m Manifest
			dec := json.NewDecoder(bytes.NewReader(af.manifestRaw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				return nil, fmt.Errorf("%s is not a manifest: %w", ManifestName, err)
			}
			af.manifest = &m
		case BundleName:
			af.bundle = keep.Bytes()
		case "ledger.jsonl":
			af.ledger = keep.Bytes()
		}
	}
	// The gzip trailer (CRC-32 and length of everything) is checked only
	// when the stream is read to its end, past the tar's end marker.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, fmt.Errorf("the archive is damaged: %w", err)
	}
	if af.manifest == nil {
		return nil, fmt.Errorf("the archive holds no %s", ManifestName)
	}
	return af, nil
}

// countingHash is a hash that counts what it was given.
type countingHash struct {
	hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.Hash.Write(p)
}

// readControlScans reads the scan ids of controls.csv (and consumes r).
func readControlScans(r io.Reader, into map[int64]bool) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	line := 0
	var bad error
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			io.Copy(io.Discard, r)
			return fmt.Errorf("controls.csv: %w", err)
		}
		if line == 1 || len(rec) == 0 {
			continue
		}
		id, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("controls.csv line %d: scan id %q is not a number", line, rec[0])
		}
		into[id] = true
	}
	return bad
}

func (v *Verification) checkSignature(af *archiveFiles, pub crypto.PublicKey) {
	if af.bundle == nil {
		v.fail("signature", "the package is not signed: it holds no %s", BundleName)
		return
	}
	if pub == nil {
		v.fail("signature", "no public key to check it with: give --key (the .pub of `nhi evidence keygen`)")
		return
	}
	sum, _ := hex.DecodeString(af.digests[ManifestName])
	subjects, err := verifyBundle(af.bundle, pub, sum)
	if err != nil {
		v.fail("signature", "%s does not verify with this key: %v", BundleName, err)
		return
	}
	hint, _ := keyHint(pub)
	v.pass("signature", "DSSE envelope of an in-toto statement (%s) verified with the key %s; it names %d files", PredicateType, hint, len(subjects))
	var bad []string
	for name, d := range af.digests {
		if name == BundleName {
			continue
		}
		want, ok := subjects[name]
		switch {
		case !ok:
			bad = append(bad, name+" is in the archive but not in the signed statement (a file was added)")
		case want != d:
			bad = append(bad, fmt.Sprintf("%s has SHA-256 %s, the signed statement says %s (the file was changed)", name, d, want))
		}
	}
	for name := range subjects {
		if _, ok := af.digests[name]; !ok {
			bad = append(bad, name+" is in the signed statement but not in the archive (a file was removed)")
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		v.fail("signed files", "%s", strings.Join(bad, "; "))
		return
	}
	v.pass("signed files", "every file of the archive is named in the signed statement with its SHA-256")
}

func (v *Verification) checkFiles(af *archiveFiles) {
	listed := map[string]FileEntry{}
	var bad []string
	for _, f := range af.manifest.Files {
		listed[f.Name] = f
		d, ok := af.digests[f.Name]
		switch {
		case !ok:
			bad = append(bad, f.Name+" is listed in the manifest but missing from the archive")
		case d != f.SHA256:
			bad = append(bad, fmt.Sprintf("%s has SHA-256 %s, the manifest says %s", f.Name, d, f.SHA256))
		case af.sizes[f.Name] != f.Size:
			bad = append(bad, fmt.Sprintf("%s has %d bytes, the manifest says %d", f.Name, af.sizes[f.Name], f.Size))
		}
	}
	for _, name := range af.order {
		if _, ok := listed[name]; !ok && name != ManifestName && name != BundleName {
			bad = append(bad, name+" is in the archive but not listed in the manifest")
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		v.fail("file digests", "%s", strings.Join(bad, "; "))
		return
	}
	v.pass("file digests", "%d files match the SHA-256 and size in the manifest", len(af.manifest.Files))
}

func (v *Verification) checkLedger(af *archiveFiles) {
	m := af.manifest
	if af.ledger == nil {
		v.fail("ledger chain", "the package holds no ledger.jsonl")
		return
	}
	var rows []inventory.LedgerRow
	for i, line := range bytes.Split(bytes.TrimSuffix(af.ledger, []byte("\n")), []byte("\n")) {
		var r inventory.LedgerRow
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			v.fail("ledger chain", "ledger.jsonl line %d is not a scan row: %v", i+1, err)
			return
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		v.fail("ledger chain", "ledger.jsonl holds no scan")
		return
	}
	prev := m.Ledger.FirstPrevHash
	for _, r := range rows {
		if r.PrevHash != prev {
			v.fail("ledger chain", "scan %d's prev_hash %s is not the hash of the row before it (%s): a scan row was edited, removed or inserted", r.ID, r.PrevHash, prev)
			return
		}
		h := r.Hash()
		if r.RowHash != "" && r.RowHash != h {
			v.fail("ledger chain", "scan %d's fields hash to %s, its recorded row_hash is %s: the scan row was edited", r.ID, h, r.RowHash)
			return
		}
		prev = h
	}
	if !m.Completeness.ChainVerified {
		v.fail("ledger chain", "the inventory's own hash chain did not verify when the package was written (see nhi scans): its scan history was edited")
		return
	}
	v.pass("ledger chain", "%d scan rows chain from %s… to %s…", len(rows), short(m.Ledger.FirstPrevHash), short(prev))
	// The manifest's scans are the ledger's rows.
	if len(rows) != len(m.Scans) {
		v.fail("manifest scans", "the manifest lists %d scans, the ledger holds %d", len(m.Scans), len(rows))
		return
	}
	for i, r := range rows {
		s := m.Scans[i]
		started, err := time.Parse(time.RFC3339Nano, r.StartedAt)
		switch {
		case err != nil:
			v.fail("manifest scans", "ledger scan %d: started_at %q is not a time", r.ID, r.StartedAt)
			return
		case s.ID != r.ID || !s.StartedAt.Equal(started) || s.Status != r.Status || s.RowHash != r.RowHash || s.ConfigDigest != r.ConfigDigest:
			v.fail("manifest scans", "the manifest's scan %d (started %s, %s) is not the ledger's scan %d (started %s, %s)",
				s.ID, ts(s.StartedAt), s.Status, r.ID, r.StartedAt, r.Status)
			return
		}
	}
	v.pass("manifest scans", "the manifest's %d scans are the ledger's rows", len(rows))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (v *Verification) checkPeriod(af *archiveFiles) {
	m := af.manifest
	p := m.Period
	if !p.Until.After(p.Since) {
		v.fail("period", "the period [%s, %s) is empty", ts(p.Since), ts(p.Until))
		return
	}
	ids := map[int64]ScanRef{}
	for _, s := range m.Scans {
		if s.StartedAt.Before(p.Since) || !s.StartedAt.Before(p.Until) {
			v.fail("period", "scan %d started %s, outside the period [%s, %s)", s.ID, ts(s.StartedAt), ts(p.Since), ts(p.Until))
			return
		}
		ids[s.ID] = s
	}
	if s, ok := ids[m.InventoryScan]; !ok || s.Status != inventory.ScanComplete {
		v.fail("period", "the inventory is of scan %d, which is not a complete scan of the period", m.InventoryScan)
		return
	}
	if af.controlErr != nil {
		v.fail("period", "%v", af.controlErr)
		return
	}
	var outside []string
	for id := range af.controlScans {
		if _, ok := ids[id]; !ok {
			outside = append(outside, strconv.FormatInt(id, 10))
		}
	}
	sort.Strings(outside)
	if len(outside) > 0 {
		v.fail("period", "controls.csv holds results of scans %s, which are not scans of the period", strings.Join(outside, ", "))
		return
	}
	v.pass("period", "[%s, %s): %d scans (%d complete), inventory of scan %d, control results of %d scans, %d schedule gaps longer than %s",
		ts(p.Since), ts(p.Until), len(m.Scans), m.Completeness.Complete, m.InventoryScan, len(af.controlScans), len(m.Completeness.ScheduleGaps), m.Completeness.Interval)
}
