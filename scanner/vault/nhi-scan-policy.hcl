# nhi-scan: the minimal read-only Vault (or OpenBao) policy `nhi scan --vault` needs.
#
#   vault policy write nhi-scan nhi-scan-policy.hcl
#   vault token create -policy=nhi-scan -period=24h -orphan   # or an AppRole with this policy
#
# Nothing here reads a secret value, except the optional block at the end
# for --vault-fingerprint. KV grants name each mount: a wildcard such as
# "+/metadata/*" would also match a KV v1 mount's "metadata/" folder and
# read v1 values. Repeat the KV blocks for every mount you scan (here:
# secret/ and apps/ are KV v2, kv1/ is KV v1).

# Which secret engines and auth methods exist. Without these the scan falls
# back to sys/internal/ui/mounts (open to every token) and records the gap.
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/auth" {
  capabilities = ["read"]
}

# KV v2: list paths and read metadata (created/updated time, versions,
# deletion state, custom_metadata). Metadata holds no secret values.
path "secret/metadata/*" {
  capabilities = ["list", "read"]
}
path "apps/metadata/*" {
  capabilities = ["list", "read"]
}

# KV v1: list paths only (v1 has no metadata; a read would return values).
path "kv1/*" {
  capabilities = ["list"]
}

# AppRole: roles, their settings, and secret-ids by accessor. A lookup by
# accessor is a POST (hence "update") but changes nothing. Reading
# role-id and generating secret-ids are not granted.
path "auth/+/role" {
  capabilities = ["list"]
}
path "auth/+/role/+" {
  capabilities = ["read"]
}
path "auth/+/role/+/secret-id" {
  capabilities = ["list"]
}
path "auth/+/role/+/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

# Roles of other auth methods (kubernetes, jwt/oidc, aws, cert): list and read.
path "auth/+/certs" {
  capabilities = ["list"]
}
path "auth/+/certs/+" {
  capabilities = ["read"]
}

# Tokens by accessor. Listing accessors needs sudo; the lookup is a POST
# that returns metadata only (never the token itself).
path "auth/token/accessors" {
  capabilities = ["list", "sudo"]
}
path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}

# Only for --vault-fingerprint: read every version's values so they can be
# fingerprinted in memory (values are never stored). Remove otherwise.
path "secret/data/*" {
  capabilities = ["read"]
}
path "apps/data/*" {
  capabilities = ["read"]
}
