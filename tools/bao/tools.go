//go:build tools

// Package tools pins the OpenBao server (a Vault-API-compatible server) used
// by nhi's real-service tests. It lives in its own module so OpenBao's
// dependencies stay out of the main module. Build it with scripts/bao.sh.
package tools

import _ "github.com/openbao/openbao"
