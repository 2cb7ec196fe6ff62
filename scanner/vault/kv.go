package vault

import (
	"context"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

// Credential types this source records (the inventory's, which the
// controls compare against).
const (
	TypeKVSecret = inventory.TypeVaultKV
	TypeSecretID = inventory.TypeVaultSecretID
	TypeToken    = inventory.TypeVaultToken
)

// mount is a secret engine or auth method mount.
type mount struct {
	path      string // with trailing slash, e.g. "secret/"
	typ       string
	kvVersion int // 1 or 2 for KV mounts, else 0
}

// mounts lists secret and auth mounts: sys/mounts and sys/auth when the
// token may read them, else sys/internal/ui/mounts (which any token may
// read, and which shows the mounts the token has some access to).
func (sc *scan) mounts(ctx context.Context) (secret, auth []mount) {
	var ui map[string]any
	uiMounts := func(section string) map[string]any {
		if ui == nil {
			data, rerr := sc.c.read(ctx, "sys/internal/ui/mounts", nil)
			if rerr != nil {
				sc.itemError(rerr)
				ui = map[string]any{}
			} else {
				ui = data
			}
		}
		m, _ := ui[section].(map[string]any)
		return m
	}

	data, rerr := sc.c.read(ctx, "sys/mounts", nil)
	if rerr != nil {
		sc.itemError(rerr)
		data = uiMounts("secret")
	}
	secret = parseMounts(data)
	data, rerr = sc.c.read(ctx, "sys/auth", nil)
	if rerr != nil {
		sc.itemError(rerr)
		data = uiMounts("auth")
	}
	auth = parseMounts(data)
	return secret, auth
}

func parseMounts(data map[string]any) []mount {
	var out []mount
	for _, p := range sortedKeys(data) {
		m, ok := data[p].(map[string]any)
		if !ok || !strings.HasSuffix(p, "/") {
			continue // not a mount entry (e.g. request metadata)
		}
		mt := mount{path: p, typ: str(m["type"])}
		switch mt.typ {
		case "kv", "generic":
			mt.kvVersion = 1
			if opts, ok := m["options"].(map[string]any); ok && str(opts["version"]) == "2" {
				mt.kvVersion = 2
			}
		}
		out = append(out, mt)
	}
	return out
}

// kvKey is the stable key of a KV secret: server, namespace, mount, path.
func (sc *scan) kvKey(vaultPath string) string {
	return "vault-kv:" + sc.host + ":" + vaultPath
}

// vaultPath is mount+path, prefixed by the namespace when there is one.
func (sc *scan) vaultPath(mount, p string) string {
	if ns := strings.Trim(sc.opts.Namespace, "/"); ns != "" {
		return ns + "/" + mount + p
	}
	return mount + p
}

// putKV records a KV secret; unit is its path within the target
// (mount + path, e.g. "secret/app/db"), on the credential and its
// occurrence.
func (sc *scan) putKV(ctx context.Context, unit, vp string, c *inventory.Credential) {
	sc.sink.Add("kv_secrets", 1)
	c.Unit = unit
	if sc.sink.Credential(ctx, c) != nil {
		return
	}
	_ = sc.sink.Occurrence(ctx, &inventory.Occurrence{
		CredentialKey: c.Key,
		Source:        inventory.SourceVault,
		VaultPath:     vp,
		Detail:        map[string]any{"server": sc.host},
		Unit:          unit,
	})
}

// kvList LISTs prefix+dir, queues a kvList of each sub-directory and calls
// secret with the path (dir+key) of each secret.
func (sc *scan) kvList(prefix, dir string, secret func(ctx context.Context, add func(task), p string)) task {
	return func(ctx context.Context, add func(task)) {
		keys, rerr := sc.c.list(ctx, prefix+dir)
		if rerr != nil {
			sc.itemError(rerr)
			return
		}
		for _, k := range keys {
			if strings.HasSuffix(k, "/") {
				add(sc.kvList(prefix, dir+k, secret))
			} else {
				secret(ctx, add, dir+k)
			}
		}
	}
}

// kv2List walks mount/metadata/ from dir and queues a kv2Secret per secret.
func (sc *scan) kv2List(mnt, dir string) task {
	return sc.kvList(mnt+"metadata/", dir, func(_ context.Context, add func(task), p string) {
		add(sc.kv2Secret(mnt, p))
	})
}

// kv2Secret reads one secret's metadata (and, with Fingerprint, the values
// of its live versions) and records it.
func (sc *scan) kv2Secret(mnt, p string) task {
	return func(ctx context.Context, _ func(task)) {
		unit := mnt + p
		md, rerr := sc.c.read(ctx, mnt+"metadata/"+p, nil)
		if rerr != nil {
			sc.unitError(unit, rerr)
			return
		}
		if md == nil {
			return // deleted between LIST and read
		}
		now := sc.opts.Now()
		current := num(md["current_version"])
		versions, _ := md["versions"].(map[string]any)
		var nums []int64
		for k := range versions {
			if n, err := strconv.ParseInt(k, 10, 64); err == nil {
				nums = append(nums, n)
			}
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
		var live, deletedVersions, destroyedVersions []int64
		deleted, destroyed := false, false
		for _, n := range nums {
			v, _ := versions[strconv.FormatInt(n, 10)].(map[string]any)
			isDestroyed := boolean(v["destroyed"])
			dt := timeOf(v["deletion_time"])
			isDeleted := dt != nil && !dt.After(now)
			switch {
			case isDestroyed:
				destroyedVersions = append(destroyedVersions, n)
			case isDeleted:
				deletedVersions = append(deletedVersions, n)
			default:
				live = append(live, n)
			}
			if n == current {
				deleted, destroyed = isDeleted, isDestroyed
			}
		}
		custom := stringMap(md["custom_metadata"])
		vp := sc.vaultPath(mnt, p)
		attrs := map[string]any{
			"kv_version":         2,
			"mount":              mnt,
			"path":               p,
			"versions":           len(nums),
			"current_version":    current,
			"destroyed":          destroyed,
			"deleted_versions":   orEmpty(deletedVersions),
			"destroyed_versions": orEmpty(destroyedVersions),
			"max_versions":       num(md["max_versions"]),
		}
		facts := inventory.Facts(attrs)
		facts.Set(inventory.AttrDeleted, deleted)
		if custom != nil {
			facts.Set(inventory.AttrCustomMetadata, custom)
			if o := custom["owner"]; o != "" {
				facts.Set(inventory.AttrOwner, o)
			} else if t := custom["team"]; t != "" {
				facts.Set(inventory.AttrOwner, t)
			}
		}
		c := &inventory.Credential{
			Key:           sc.kvKey(vp),
			Type:          TypeKVSecret,
			CreatedAt:     timeOf(md["created_time"]),
			LastRotatedAt: timeOf(md["updated_time"]),
			Status:        "active",
			VaultStatus:   inventory.VaultVaulted,
			Attrs:         attrs,
		}
		if deleted || destroyed {
			c.Status = "deleted"
		}
		if sc.opts.Fingerprint {
			fps, current := sc.fingerprints(ctx, unit, mnt, p, live, current)
			attrs["value_fingerprints"] = fps
			c.Fingerprint = current
		}
		sc.putKV(ctx, unit, vp, c)
	}
}

func orEmpty(v []int64) []int64 {
	if v == nil {
		return []int64{}
	}
	return v
}

// valueFingerprint is one field of one version, fingerprinted.
type valueFingerprint struct {
	Key         string `json:"key"`
	Version     int64  `json:"version"`
	Fingerprint string `json:"fingerprint"`
}

// fingerprints reads each live version of mnt/p and fingerprints its string
// values; the values go out of scope here. It returns the fingerprints and,
// when the current version has exactly one field, that field's fingerprint.
func (sc *scan) fingerprints(ctx context.Context, unit, mnt, p string, versions []int64, current int64) ([]valueFingerprint, string) {
	keys := sc.sink.Keys()
	out := []valueFingerprint{}
	var currentFP string
	for _, n := range versions {
		v := strconv.FormatInt(n, 10)
		data, rerr := sc.c.read(ctx, mnt+"data/"+p, url.Values{"version": {v}})
		if rerr != nil {
			rerr.Path += "?version=" + v
			// The secret's fingerprints are incomplete: keep its earlier ones.
			sc.unitError(unit, rerr)
			continue
		}
		fields, _ := data["data"].(map[string]any)
		for _, k := range sortedKeys(fields) {
			value, ok := fields[k].(string)
			if !ok {
				continue
			}
			fp := keys.Fingerprint(value)
			out = append(out, valueFingerprint{Key: k, Version: n, Fingerprint: fp})
			if n == current && len(fields) == 1 {
				currentFP = fp
			}
		}
		sc.sink.Add("kv_versions_fingerprinted", 1)
	}
	return out, currentFP
}

// kv1List walks a KV v1 mount from dir; its secrets are recorded by path
// only.
func (sc *scan) kv1List(mnt, dir string) task {
	return sc.kvList(mnt, dir, func(ctx context.Context, _ func(task), p string) {
		vp := sc.vaultPath(mnt, p)
		sc.putKV(ctx, mnt+p, vp, &inventory.Credential{
			Key:         sc.kvKey(vp),
			Type:        TypeKVSecret,
			Status:      "active",
			VaultStatus: inventory.VaultVaulted,
			Attrs:       map[string]any{"kv_version": 1, "mount": mnt, "path": p},
		})
	})
}
