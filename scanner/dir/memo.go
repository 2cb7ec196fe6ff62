package dir

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// memoKind is the ledger memo kind of a tree's file states. Bump the
// version with any change to what a state holds. 2: a binary file holds
// the hits of the rules on its name, a large file those of its pieces
// (chunks); states of 1 would keep an unchanged .p12 file unreported.
const memoKind = "dir-files/2"

// fileState is what a scan keeps of one file for the next: how to tell
// it unchanged, and what was found in it (fingerprints and redacted
// previews only, never a secret value).
type fileState struct {
	Size  int64   `json:"s"`
	Mtime int64   `json:"m"`
	Ino   uint64  `json:"i,omitempty"`
	Hits  []found `json:"h,omitempty"`
}

// found is one hit of a file as it is re-reported without reading it.
type found struct {
	Rule string                `json:"r"`
	Line int                   `json:"l"`
	Cred *inventory.Credential `json:"c"`
}

func (a fileState) unchanged(b fileState) bool {
	return a.Size == b.Size && a.Mtime == b.Mtime && a.Ino == b.Ino
}

// loadStates returns the file states kept by the last scan of the tree
// under key; nil when there are none or they cannot be read (which costs
// a full read, never a result; counted in memos_unreadable, as
// scanner.LoadMemo counts the JSON memos).
func loadStates(ctx context.Context, sink scanner.Sink, key string) map[string]fileState {
	b, ok, err := sink.Ledger().Memo(ctx, memoKind, key)
	if err == nil && !ok {
		return nil
	}
	var m map[string]fileState
	if err == nil {
		m, err = decodeStates(b)
	}
	if err != nil {
		sink.Add("memos_unreadable", 1)
		return nil
	}
	return m
}

func decodeStates(b []byte) (map[string]fileState, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 1<<30))
	if err != nil {
		return nil, err
	}
	var m map[string]fileState
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func storeStates(ctx context.Context, l scanner.Ledger, key string, m map[string]fileState) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return l.PutMemo(ctx, memoKind, key, buf.Bytes())
}
