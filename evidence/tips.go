package evidence

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

// TipsName is the file listing every scan's repository tips.
const TipsName = "tips.csv"

// tipsHead is the header of tips.csv.
var tipsHead = []string{"scan_id", "scan_started_at", "target", "ref", "commit"}

// attachTips adds to each scan of the manifest the branch and tag heads
// it read in each git repository it covered, and says in the manifest
// which scans covered a repository with none recorded (scans from before
// the inventory recorded tips, or a repository with no branch or tag).
func (e *export) attachTips() error {
	tips, err := e.store.TipsBetween(e.ctx, e.first, e.last)
	if err != nil {
		return err
	}
	var missing []string
	for i := range e.m.Scans {
		s := &e.m.Scans[i]
		none := false
		for j := range s.Targets {
			t := &s.Targets[j]
			t.Tips = tips[s.ID][t.Target]
			covered := t.Status == inventory.TargetOK || t.Status == inventory.TargetPartial
			if covered && t.Tips == nil && inventory.TargetFamily(t.Target) == inventory.SourceGit {
				none = true
			}
		}
		if none {
			missing = append(missing, strconv.FormatInt(s.ID, 10))
		}
	}
	if len(missing) > 0 {
		e.m.Completeness.NotRecorded = append([]string{"repository tip commits of scans " + strings.Join(missing, ", ") +
			" (made before the inventory recorded the branch and tag heads each scan read, or of a repository with no branch or tag)"}, e.m.Completeness.NotRecorded...)
	}
	return nil
}

// writeTips writes tips.csv: one row per scan, repository and ref, the
// rows the manifest's scans list.
func (e *export) writeTips() error {
	f, err := e.wd.create(TipsName)
	if err != nil {
		return err
	}
	if err := f.row(tipsHead...); err != nil {
		return err
	}
	for _, s := range e.m.Scans {
		for _, t := range s.Targets {
			for _, tip := range t.Tips {
				if err := f.row(itoa(s.ID), ts(s.StartedAt), t.Target, tip.Ref, tip.Commit); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readTips reads tips.csv (and consumes r) as scan id -> "target\x00ref"
// -> commit. It stops beyond limit rows: the file is read before its
// signature is checked, and its rows are kept.
func readTips(r io.Reader, limit int, into map[int64]map[string]string) (err error) {
	defer func() {
		if err != nil {
			io.Copy(io.Discard, r)
		}
	}()
	cr := csv.NewReader(r)
	line := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line++
		if err != nil {
			return fmt.Errorf("%s: %w", TipsName, err)
		}
		if line == 1 {
			if strings.Join(rec, ",") != strings.Join(tipsHead, ",") {
				return fmt.Errorf("%s: the header is %q, not %q", TipsName, strings.Join(rec, ","), strings.Join(tipsHead, ","))
			}
			continue
		}
		if line-1 > limit {
			return fmt.Errorf("%s holds more than %d rows, far more than the manifest states: the package was changed", TipsName, limit)
		}
		id, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil {
			return fmt.Errorf("%s line %d: scan id %q is not a number", TipsName, line, rec[0])
		}
		if into[id] == nil {
			into[id] = map[string]string{}
		}
		k := rec[2] + "\x00" + rec[3]
		if _, dup := into[id][k]; dup {
			return fmt.Errorf("%s line %d: scan %d lists %s %s twice", TipsName, line, id, rec[2], rec[3])
		}
		into[id][k] = rec[4]
	}
}

// statedTips counts the tips the manifest lists.
func statedTips(m *Manifest) int {
	n := 0
	for _, s := range m.Scans {
		for _, t := range s.Targets {
			n += len(t.Tips)
		}
	}
	return n
}

// checkTips checks that the tips the manifest states per scan are those
// of tips.csv, row for row, and that each names a repository its scan
// covered: a scan that carried a target, or whose source failed, read no
// heads of it.
func (v *Verification) checkTips(af *archiveFiles) {
	m := af.manifest
	stated := statedTips(m)
	if !af.hasTips {
		if stated > 0 {
			v.fail("tips", "the manifest states %d repository tips but the package holds no %s", stated, TipsName)
			return
		}
		v.pass("tips", "no repository tips recorded (the package has no %s)", TipsName)
		return
	}
	if af.tipsErr != nil {
		v.fail("tips", "%v", af.tipsErr)
		return
	}
	var bad []string
	seen := map[int64]bool{}
	for _, s := range m.Scans {
		seen[s.ID] = true
		file := af.tips[s.ID]
		named := 0
		for _, t := range s.Targets {
			if len(t.Tips) > 0 && t.Status != inventory.TargetOK && t.Status != inventory.TargetPartial {
				bad = append(bad, fmt.Sprintf("scan %d lists tips of %s, which it %s", s.ID, t.Target, notRead(t.Status)))
			}
			if !sort.SliceIsSorted(t.Tips, func(i, j int) bool { return t.Tips[i].Ref < t.Tips[j].Ref }) {
				bad = append(bad, fmt.Sprintf("scan %d: the tips of %s are not sorted by ref", s.ID, t.Target))
			}
			for _, tip := range t.Tips {
				named++
				got, ok := file[t.Target+"\x00"+tip.Ref]
				switch {
				case !ok:
					bad = append(bad, fmt.Sprintf("scan %d: the manifest's tip %s %s=%s is not in %s", s.ID, t.Target, tip.Ref, tip.Commit, TipsName))
				case got != tip.Commit:
					bad = append(bad, fmt.Sprintf("scan %d: %s %s is %s in the manifest, %s in %s", s.ID, t.Target, tip.Ref, tip.Commit, got, TipsName))
				}
			}
		}
		if len(file) != named {
			bad = append(bad, fmt.Sprintf("scan %d: %s holds %d tips, the manifest states %d", s.ID, TipsName, len(file), named))
		}
	}
	for id := range af.tips {
		if !seen[id] {
			bad = append(bad, fmt.Sprintf("%s holds tips of scan %d, which is not a scan of the period", TipsName, id))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		v.fail("tips", "%s", strings.Join(bad, "; "))
		return
	}
	v.pass("tips", "%d branch and tag heads of the repositories each scan covered match %s", stated, TipsName)
}

func notRead(status string) string {
	if status == inventory.TargetFailed {
		return "did not read (its source failed)"
	}
	return "carried without reading"
}
