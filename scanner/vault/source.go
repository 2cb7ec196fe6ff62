// Package vault is nhi's HashiCorp Vault (and OpenBao) source: it records
// what is vaulted in KV mounts (path, age, last rotation, owner, deletion
// state, and optionally value fingerprints) and the machine identities
// Vault itself issues (AppRoles and their secret-ids, tokens, roles of
// other auth methods).
//
// Secret values are read only with Options.Fingerprint, only to compute
// keyed fingerprints in memory; they are never kept. The token is never
// logged, stored or put in an error.
package vault

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// ScanPolicy is the minimal read-only Vault policy a scan needs
// (nhi-scan-policy.hcl).
//
//go:embed nhi-scan-policy.hcl
var ScanPolicy string

// Options configure one Vault server to scan.
type Options struct {
	// Address is the server's URL (VAULT_ADDR), e.g. https://vault:8200.
	Address string
	// Token authenticates the scan (VAULT_TOKEN). It is never kept.
	Token string
	// Namespace is the Vault Enterprise / OpenBao namespace (VAULT_NAMESPACE).
	Namespace string
	// CACert is a PEM file of the CA that signed the server's certificate
	// (VAULT_CACERT).
	CACert string
	// IncludeMounts, when set, limits the scan to these mounts. Secret
	// mounts are named by path ("secret"), auth mounts as "auth/<path>";
	// auth mounts are all read unless an "auth/..." mount is included.
	IncludeMounts []string
	// ExcludeMounts skips these mounts (same names as IncludeMounts).
	ExcludeMounts []string
	// Fingerprint reads every KV version's values (needs read on
	// <mount>/data/*) to fingerprint them in memory.
	Fingerprint bool
	// Concurrency bounds parallel requests to the server (default 4).
	Concurrency int
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// ScanTimeout bounds the scan of the server as a whole (default 30
	// minutes); a scan that has not finished by then fails the source.
	ScanTimeout time.Duration
	// Now is the clock used to judge expiry (default time.Now).
	Now func() time.Time
}

// DefaultScanTimeout is the default of Options.ScanTimeout.
const DefaultScanTimeout = 30 * time.Minute

type source struct {
	opts Options
	addr string // the address, normalised (CanonicalAddress)
	host string // host[:port] of addr, the prefix of every key
}

// New returns a Source that scans the Vault server in opts.
//
// Its scope target is the server: vault:<normalised address>, plus
// /<namespace> when a namespace is set, so the same server typed two ways
// is one target. Each KV secret, auth role and token is a unit (its Vault
// path); a path the token cannot read keeps its earlier state.
func New(opts Options) scanner.Source {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.ScanTimeout <= 0 {
		opts.ScanTimeout = DefaultScanTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Address = strings.TrimRight(strings.TrimSpace(opts.Address), "/")
	addr := CanonicalAddress(opts.Address)
	host := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		host = u.Host
	}
	return &source{opts: opts, addr: addr, host: host}
}

// CanonicalAddress normalises a Vault address: scheme and host lowercased,
// the scheme's default port dropped (443 for https, 80 for http), no
// credentials, query or trailing slash; a unix socket path cleaned. An
// address that is not a URL is only lowercased.
func CanonicalAddress(addr string) string {
	addr = strings.TrimRight(strings.TrimSpace(addr), "/")
	u, err := url.Parse(addr)
	if err != nil || u.Scheme == "" || !strings.Contains(addr, "://") {
		return strings.ToLower(inventory.RedactURL(addr))
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "unix" {
		return "unix://" + path.Clean("/"+u.Host+u.Path)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	p := strings.TrimRight(path.Clean("/"+u.Path), "/")
	return scheme + "://" + host + p
}

// Name is "vault:" + Target(), so that several namespaces of one server
// are distinct sources.
func (s *source) Name() string { return "vault:" + s.Target() }

func (s *source) Kind() string { return inventory.SourceVault }

// Target is the normalised address, with "/<namespace>" when one is set.
func (s *source) Target() string {
	if ns := strings.Trim(s.opts.Namespace, "/"); ns != "" {
		return s.addr + "/" + ns
	}
	return s.addr
}

// scan is the state of one Scan call.
type scan struct {
	*source
	c    *conn
	sink scanner.Sink
}

// Scan implements scanner.Source.
func (s *source) Scan(ctx context.Context, sink scanner.Sink) error {
	if s.opts.Address == "" {
		return errors.New("no Vault address: set VAULT_ADDR or vault.servers[].address in nhi.yaml")
	}
	if s.opts.Token == "" {
		return fmt.Errorf("no Vault token for %s: set VAULT_TOKEN (or the variable named by token_env in nhi.yaml)", s.addr)
	}
	c, err := s.connect()
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancelDeadline := context.WithTimeout(parent, s.opts.ScanTimeout)
	defer cancelDeadline()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.cancel = cancel
	sc := &scan{source: s, c: c, sink: sink}
	deadline := func() error {
		return fmt.Errorf("vault %s: the scan did not finish within %v; raise vault.servers[].timeout in nhi.yaml for a large server", s.Target(), s.opts.ScanTimeout)
	}
	if err := sc.check(ctx); err != nil {
		if parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return deadline()
		}
		return err
	}

	secretMounts, authMounts := sc.mounts(ctx)
	var seed []task
	for _, m := range secretMounts {
		if !s.wanted(m.path, false) {
			continue
		}
		switch {
		case m.kvVersion == 2:
			sink.Add("kv_mounts", 1)
			seed = append(seed, sc.kv2List(m.path, ""))
		case m.kvVersion == 1:
			sink.Add("kv_mounts", 1)
			seed = append(seed, sc.kv1List(m.path, ""))
		}
	}
	tokensSeen := false
	for _, m := range authMounts {
		if !s.wanted(m.path, true) {
			continue
		}
		sink.Add("auth_mounts", 1)
		switch m.typ {
		case "approle":
			seed = append(seed, sc.approleRoles(m.path))
		case "token":
			if !tokensSeen {
				tokensSeen = true
				seed = append(seed, sc.tokens())
			}
		default:
			seed = append(seed, sc.authRoles(m))
		}
	}
	sink.Progress(fmt.Sprintf("reading %d secret and %d auth mounts", len(secretMounts), len(authMounts)))
	runPool(ctx, s.opts.Concurrency, seed)
	switch {
	case parent.Err() != nil:
		return parent.Err()
	case c.fatal() != nil:
		return fmt.Errorf("vault %s: %w", s.Target(), c.fatal())
	case ctx.Err() != nil:
		return deadline()
	}
	return nil
}

func (s *source) connect() (*conn, error) {
	cfg := vaultapi.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault client configuration: %w", cfg.Error)
	}
	cfg.Address = s.opts.Address
	cfg.Timeout = s.opts.Timeout
	// Retries would multiply the timeout a slow or sealed server costs;
	// a failed path is recorded and the walk goes on instead.
	cfg.MaxRetries = 0
	if s.opts.CACert != "" {
		if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: s.opts.CACert}); err != nil {
			return nil, fmt.Errorf("vault CA certificate %s: %w", s.opts.CACert, err)
		}
	}
	api, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client for %s: %w", s.addr, err)
	}
	api.SetToken(s.opts.Token)
	if s.opts.Namespace != "" {
		api.SetNamespace(s.opts.Namespace)
	} else {
		api.ClearNamespace()
	}
	return &conn{api: api, timeout: s.opts.Timeout, token: s.opts.Token}, nil
}

// check fails the source when the server is unreachable, sealed, or
// rejects the token: nothing useful can be read then.
func (sc *scan) check(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, sc.opts.Timeout)
	defer cancel()
	st, err := sc.c.api.Sys().SealStatusWithContext(rctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := sc.c.scrub(err.Error())
		if errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("no answer within %v", sc.opts.Timeout)
		}
		return fmt.Errorf("vault %s unreachable: %s (check VAULT_ADDR and that the server is up)", sc.addr, msg)
	}
	if st.Sealed {
		return fmt.Errorf("vault %s is sealed: unseal it, then scan again", sc.addr)
	}
	if _, rerr := sc.c.read(ctx, "auth/token/lookup-self", nil); rerr != nil {
		if rerr.cancelled {
			return ctx.Err()
		}
		if rerr.Status == 403 {
			return fmt.Errorf("vault %s rejected the token (403): set VAULT_TOKEN to a valid token with the nhi-scan policy", sc.addr)
		}
		return fmt.Errorf("vault %s: token lookup failed: %s; check VAULT_TOKEN (or token_env) and VAULT_NAMESPACE, then scan again", sc.addr, rerr.Error())
	}
	return nil
}

// wanted applies IncludeMounts/ExcludeMounts to a secret or auth mount.
func (s *source) wanted(mount string, auth bool) bool {
	name := strings.Trim(mount, "/")
	if auth {
		name = "auth/" + name
	}
	match := func(list []string) bool {
		for _, m := range list {
			if strings.Trim(m, "/") == name {
				return true
			}
		}
		return false
	}
	if match(s.opts.ExcludeMounts) {
		return false
	}
	if len(s.opts.IncludeMounts) == 0 {
		return true
	}
	if auth {
		for _, m := range s.opts.IncludeMounts {
			if strings.HasPrefix(strings.Trim(m, "/"), "auth/") {
				return match(s.opts.IncludeMounts)
			}
		}
		return true
	}
	return match(s.opts.IncludeMounts)
}

// itemError records a failed request that maps to no unit (a LIST of a
// directory, the mount tables): the server counts as read in part.
func (sc *scan) itemError(e *requestError) {
	if e.cancelled {
		return
	}
	if e.Status == 403 {
		sc.sink.Add("permission_denied", 1)
	}
	sc.sink.ItemError(e.item(), e)
}

// unitError records a failed request about one unit (a KV secret's path,
// an auth role, a token accessor): that unit keeps its earlier state.
func (sc *scan) unitError(unit string, e *requestError) {
	if e.cancelled {
		return
	}
	if e.Status == 403 {
		sc.sink.Add("permission_denied", 1)
	}
	sc.sink.UnitError(unit, fmt.Errorf("%s: %w", e.item(), e))
}
