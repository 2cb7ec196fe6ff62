package vault

import (
	"context"
	"slices"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

// Auth methods whose roles can be listed, and the path that lists them.
// Others (userpass, ldap, radius, ...) hold people or cannot be listed:
// they are recorded as one identity per mount.
var roleListPath = map[string]string{
	"kubernetes": "role",
	"jwt":        "role",
	"oidc":       "role",
	"aws":        "role",
	"gcp":        "role",
	"azure":      "role",
	"alicloud":   "role",
	"oci":        "role",
	"cert":       "certs",
}

// approleAttrs are the role fields kept on a vault:approle identity.
var approleAttrs = []string{"token_ttl", "token_max_ttl", "secret_id_ttl", "secret_id_num_uses", "token_period",
	"token_num_uses", "token_explicit_max_ttl"}

func (sc *scan) identityKey(kind, rest string) string {
	return kind + ":" + sc.host + ":" + rest
}

// tokenUnit is the unit of a token: its accessor's path.
func tokenUnit(accessor string) string { return "auth/token/accessors/" + accessor }

// approleRoles LISTs auth/<mount>/role and queues a read per role.
func (sc *scan) approleRoles(mnt string) task {
	return func(ctx context.Context, add func(task)) {
		roles, rerr := sc.c.list(ctx, "auth/"+mnt+"role")
		if rerr != nil {
			sc.itemError(rerr)
			return
		}
		for _, r := range roles {
			add(sc.approleRole(mnt, r))
		}
	}
}

func (sc *scan) approleRole(mnt, role string) task {
	return func(ctx context.Context, add func(task)) {
		// The role's path is the unit of the role and its secret-ids.
		base := "auth/" + mnt + "role/" + role
		data, rerr := sc.c.read(ctx, base, nil)
		if rerr != nil {
			sc.unitError(base, rerr)
			return
		}
		if data == nil {
			return
		}
		attrs := map[string]any{"mount": "auth/" + mnt}
		for _, k := range approleAttrs {
			attrs[k] = num(data[k])
		}
		policies := strs(data["token_policies"])
		attrs["token_policies"] = policies
		attrs["token_bound_cidrs"] = strs(data["token_bound_cidrs"])
		attrs["secret_id_bound_cidrs"] = strs(data["secret_id_bound_cidrs"])
		attrs["bind_secret_id"] = boolean(data["bind_secret_id"])
		attrs["token_type"] = str(data["token_type"])
		attrs["secret_id_expires"] = num(data["secret_id_ttl"]) > 0

		accessors, lerr := sc.c.list(ctx, base+"/secret-id")
		if lerr != nil {
			sc.unitError(base, lerr)
		} else {
			attrs["secret_id_count"] = len(accessors)
		}
		id := &inventory.Identity{
			Key:        sc.identityKey(inventory.KindVaultAppRole, mnt+role),
			Kind:       inventory.KindVaultAppRole,
			Name:       role,
			Source:     inventory.SourceVault,
			Provider:   "vault",
			Account:    sc.host,
			Privileges: strings.Join(policies, ", "),
			AuthMode:   "approle",
			Attrs:      attrs,
			Unit:       base,
		}
		sc.sink.Add("approles", 1)
		if sc.sink.Identity(ctx, id) != nil {
			return
		}
		for _, acc := range accessors {
			add(sc.secretID(mnt, role, id.Key, acc))
		}
	}
}

// secretID looks up one secret-id by its accessor (never by the secret-id).
func (sc *scan) secretID(mnt, role, identityKey, accessor string) task {
	return func(ctx context.Context, _ func(task)) {
		unit := "auth/" + mnt + "role/" + role
		data, rerr := sc.c.lookup(ctx, unit+"/secret-id-accessor/lookup", map[string]any{"secret_id_accessor": accessor})
		if rerr != nil {
			sc.unitError(unit, rerr)
			return
		}
		if data == nil {
			return // expired and tidied between LIST and lookup
		}
		expires := timeOf(data["expiration_time"])
		status := "active"
		if expires != nil && !expires.After(sc.opts.Now()) {
			status = "expired"
		}
		sc.sink.Add("secret_ids", 1)
		_ = sc.sink.Credential(ctx, &inventory.Credential{
			Key:         "vault-secret-id:" + sc.host + ":" + accessor,
			Type:        TypeSecretID,
			IdentityKey: identityKey,
			CreatedAt:   timeOf(data["creation_time"]),
			ExpiresAt:   expires,
			Status:      status,
			VaultStatus: inventory.VaultVaulted,
			Attrs: map[string]any{
				"accessor":          accessor,
				"mount":             "auth/" + mnt,
				"role":              role,
				"num_uses":          num(data["secret_id_num_uses"]),
				"ttl":               num(data["secret_id_ttl"]),
				"last_updated_time": str(data["last_updated_time"]),
				"cidr_list":         strs(data["cidr_list"]),
				"token_bound_cidrs": strs(data["token_bound_cidrs"]),
				"no_expiry":         expires == nil,
			},
			Unit: unit,
		})
	}
}

// tokens LISTs token accessors (needs sudo) and looks each up.
func (sc *scan) tokens() task {
	return func(ctx context.Context, add func(task)) {
		accessors, rerr := sc.c.list(ctx, "auth/token/accessors")
		if rerr != nil {
			sc.itemError(rerr)
			return
		}
		for _, a := range accessors {
			add(sc.token(a))
		}
	}
}

func (sc *scan) token(accessor string) task {
	return func(ctx context.Context, _ func(task)) {
		unit := tokenUnit(accessor)
		data, rerr := sc.c.lookup(ctx, "auth/token/lookup-accessor", map[string]any{"accessor": accessor})
		if rerr != nil {
			if rerr.Status == 400 {
				return // revoked or expired between LIST and lookup
			}
			sc.unitError(unit, rerr)
			return
		}
		if data == nil {
			return
		}
		policies := strs(data["policies"])
		ttl := num(data["ttl"])
		expires := timeOf(data["expire_time"])
		created := unixTime(data["creation_time"])
		idKey := sc.identityKey(inventory.KindVaultToken, accessor)
		attrs := map[string]any{
			"accessor":         accessor,
			"policies":         policies,
			"ttl":              ttl,
			"creation_ttl":     num(data["creation_ttl"]),
			"explicit_max_ttl": num(data["explicit_max_ttl"]),
			"creation_time":    num(data["creation_time"]),
			"expire_time":      nil,
			"renewable":        boolean(data["renewable"]),
			"orphan":           boolean(data["orphan"]),
			"period":           num(data["period"]),
			"num_uses":         num(data["num_uses"]),
			"no_expiry":        ttl == 0 || expires == nil,
			"type":             str(data["type"]),
			"entity_id":        str(data["entity_id"]),
		}
		facts := inventory.Facts(attrs)
		facts.Set(inventory.AttrRoot, slices.Contains(policies, "root"))
		facts.Set(inventory.AttrPath, str(data["path"]))
		if expires != nil {
			attrs["expire_time"] = expires.Format("2006-01-02T15:04:05Z07:00")
		}
		if meta := stringMap(data["meta"]); meta != nil {
			attrs["meta"] = meta
		}
		name := str(data["display_name"])
		if name == "" {
			name = accessor
		}
		sc.sink.Add("tokens", 1)
		if sc.sink.Identity(ctx, &inventory.Identity{
			Key:        idKey,
			Kind:       inventory.KindVaultToken,
			Name:       name,
			Source:     inventory.SourceVault,
			Provider:   "vault",
			Account:    sc.host,
			CreatedAt:  created,
			Privileges: strings.Join(policies, ", "),
			AuthMode:   "token",
			Attrs:      attrs,
			Unit:       unit,
		}) != nil {
			return
		}
		status := "active"
		if expires != nil && !expires.After(sc.opts.Now()) {
			status = "expired"
		}
		_ = sc.sink.Credential(ctx, &inventory.Credential{
			Key:         "vault-token:" + sc.host + ":" + accessor,
			Type:        TypeToken,
			IdentityKey: idKey,
			CreatedAt:   created,
			ExpiresAt:   expires,
			Status:      status,
			VaultStatus: inventory.VaultVaulted,
			Attrs: map[string]any{
				"accessor":                 accessor,
				"no_expiry":                attrs["no_expiry"],
				string(inventory.AttrRoot): facts.Get(inventory.AttrRoot),
				"renewable":                attrs["renewable"],
			},
			Unit: unit,
		})
	}
}

// authRoles records the roles of another auth method (kubernetes, jwt,
// cert, ...) where its API lists them, else the mount itself.
func (sc *scan) authRoles(m mount) task {
	return func(ctx context.Context, add func(task)) {
		mountIdentity := func(listed bool) {
			sc.sink.Add("auth_roles", 1)
			_ = sc.sink.Identity(ctx, &inventory.Identity{
				Key:      sc.identityKey(inventory.KindVaultAuthRole, m.path),
				Kind:     inventory.KindVaultAuthRole,
				Name:     "auth/" + m.path,
				Source:   inventory.SourceVault,
				Provider: "vault",
				Account:  sc.host,
				AuthMode: m.typ,
				Attrs:    map[string]any{"type": m.typ, "mount": "auth/" + m.path, "roles_listed": listed},
				Unit:     "auth/" + strings.TrimSuffix(m.path, "/"),
			})
		}
		sub, ok := roleListPath[m.typ]
		if !ok {
			mountIdentity(false)
			return
		}
		roles, rerr := sc.c.list(ctx, "auth/"+m.path+sub)
		if rerr != nil {
			sc.itemError(rerr)
			mountIdentity(false)
			return
		}
		if len(roles) == 0 {
			mountIdentity(true)
			return
		}
		for _, r := range roles {
			add(sc.authRole(m, sub, r))
		}
	}
}

// authRole reads one role of another auth method, keeping only what says
// who may log in and what they get (never config such as client secrets).
func (sc *scan) authRole(m mount, sub, role string) task {
	return func(ctx context.Context, _ func(task)) {
		attrs := map[string]any{"type": m.typ, "mount": "auth/" + m.path}
		unit := "auth/" + m.path + sub + "/" + role
		data, rerr := sc.c.read(ctx, unit, nil)
		if rerr != nil {
			sc.unitError(unit, rerr)
		}
		var policies []string
		for k, v := range data {
			switch {
			case k == "token_policies":
				policies = strs(v)
				attrs[k] = policies
			case strings.HasPrefix(k, "token_"), strings.HasPrefix(k, "bound_"), strings.HasPrefix(k, "allowed_"),
				k == "role_type", k == "user_claim", k == "auth_type", k == "groups_claim", k == "audience":
				attrs[k] = v
			}
		}
		sc.sink.Add("auth_roles", 1)
		_ = sc.sink.Identity(ctx, &inventory.Identity{
			Key:        sc.identityKey(inventory.KindVaultAuthRole, m.path+role),
			Kind:       inventory.KindVaultAuthRole,
			Name:       role,
			Source:     inventory.SourceVault,
			Provider:   "vault",
			Account:    sc.host,
			Privileges: strings.Join(policies, ", "),
			AuthMode:   m.typ,
			Attrs:      attrs,
			Unit:       unit,
		})
	}
}
