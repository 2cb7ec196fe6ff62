package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// maxTransportErrors is how many requests may fail without an HTTP answer
// (connection refused, timeout) before the server is taken as gone and the
// source fails, instead of recording one item error per remaining path.
const maxTransportErrors = 5

// conn is one scan's connection to a Vault server: the API client, the
// per-request timeout, and the bookkeeping that turns request failures
// into item errors or a source failure.
type conn struct {
	api     *vaultapi.Client
	timeout time.Duration
	token   string // only ever used to scrub error text

	transportErrs atomic.Int64
	firstFatal    atomic.Pointer[error]
	cancel        context.CancelFunc
}

// requestError is a failed Vault request: the operation and path, and the
// HTTP status when the server answered.
type requestError struct {
	Op     string // LIST, READ, LOOKUP
	Path   string
	Status int // 0 when the server did not answer
	Msg    string
	// cancelled is set when the walk was stopping anyway: not an item error.
	cancelled bool
}

func (e *requestError) Error() string {
	switch {
	case e.Status == 403:
		return "permission denied (403)"
	case e.Status != 0:
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Msg)
	default:
		return e.Msg
	}
}

// item is how the failed unit is named in the scan's item errors.
func (e *requestError) item() string { return "vault " + e.Op + " " + e.Path }

func (c *conn) scrub(s string) string {
	if c.token != "" {
		s = strings.ReplaceAll(s, c.token, "<token>")
	}
	return s
}

// wrap classifies err from a request on path. A transport failure counts
// towards the limit after which the whole walk is cancelled.
func (c *conn) wrap(ctx context.Context, op, path string, err error) *requestError {
	re := &requestError{Op: op, Path: path}
	var resp *vaultapi.ResponseError
	if errors.As(err, &resp) {
		re.Status = resp.StatusCode
		re.Msg = c.scrub(strings.Join(resp.Errors, "; "))
		return re
	}
	if ctx.Err() != nil {
		re.Msg = ctx.Err().Error()
		re.cancelled = true
		return re
	}
	re.Msg = c.scrub(err.Error())
	if errors.Is(err, context.DeadlineExceeded) {
		re.Msg = fmt.Sprintf("no answer within %v", c.timeout)
	}
	n := c.transportErrs.Add(1)
	if gone := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET); gone || n >= maxTransportErrors {
		// A refused or reset connection is the server gone (it answered
		// the listing of its mounts): every further request would fail
		// too, and a walk whose few requests all failed is no scan.
		fatal := fmt.Errorf("vault server stopped answering (%d requests failed; last: %s %s: %s)", n, op, path, re.Msg)
		if c.firstFatal.CompareAndSwap(nil, &fatal) && c.cancel != nil {
			c.cancel()
		}
	}
	return re
}

// fatal is the error that made the walk stop, if any.
func (c *conn) fatal() error {
	if p := c.firstFatal.Load(); p != nil {
		return *p
	}
	return nil
}

// list LISTs path and returns its keys (nil when the path has none).
func (c *conn) list(ctx context.Context, path string) ([]string, *requestError) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	s, err := c.api.Logical().ListWithContext(rctx, path)
	if err != nil {
		return nil, c.wrap(ctx, "LIST", path, err)
	}
	if s == nil || s.Data == nil {
		return nil, nil
	}
	return strs(s.Data["keys"]), nil
}

// read GETs path with optional query values; nil data when not found.
func (c *conn) read(ctx context.Context, path string, query url.Values) (map[string]any, *requestError) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var (
		s   *vaultapi.Secret
		err error
	)
	if len(query) > 0 {
		s, err = c.api.Logical().ReadWithDataWithContext(rctx, path, query)
	} else {
		s, err = c.api.Logical().ReadWithContext(rctx, path)
	}
	if err != nil {
		return nil, c.wrap(ctx, "READ", path, err)
	}
	if s == nil {
		return nil, nil
	}
	return s.Data, nil
}

// lookup POSTs a lookup (it changes nothing, but Vault routes lookups by
// accessor as updates so the secret accessor stays out of URLs and logs).
func (c *conn) lookup(ctx context.Context, path string, body map[string]any) (map[string]any, *requestError) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	s, err := c.api.Logical().WriteWithContext(rctx, path, body)
	if err != nil {
		return nil, c.wrap(ctx, "LOOKUP", path, err)
	}
	if s == nil {
		return nil, nil
	}
	return s.Data, nil
}

// Helpers over the loosely typed JSON the API returns (numbers arrive as
// json.Number).

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func num(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return int64(f)
	case float64:
		return int64(x)
	case int:
		return int64(x)
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func boolean(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, _ := strconv.ParseBool(x)
		return b
	}
	return false
}

// strs returns a list of strings; a comma-separated string (how some
// endpoints return CIDR lists) is split.
func strs(v any) []string {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s := str(e); s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	case string:
		if x == "" {
			return []string{}
		}
		parts := strings.Split(x, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	return []string{}
}

// timeOf parses an RFC 3339 time; the zero time Vault uses for "never"
// ("0001-01-01T00:00:00Z") and empty values give nil.
func timeOf(v any) *time.Time {
	s := str(v)
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() || t.Year() <= 1 {
		return nil
	}
	t = t.UTC()
	return &t
}

func unixTime(v any) *time.Time {
	n := num(v)
	if n <= 0 {
		return nil
	}
	t := time.Unix(n, 0).UTC()
	return &t
}

func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		out[k] = str(e)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
