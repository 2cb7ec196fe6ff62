package main

import (
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
	"github.com/nhi-inventory/nhi/scanner/vault"
)

// resolveScope turns the --scope values (KIND:ID as the user spells
// them) into the canonical scope targets scans recorded, through the same
// canonicalisation the sources use (a path made absolute and
// symlink-resolved, a URL without credentials, a Vault address
// normalised). repo:X names everything read from repository X (its git
// history, CI configuration, agent configuration); git:, ci:, dir:,
// aws:, vault: name one target; any target exactly as `nhi scans` shows
// it is accepted too. A value that names no target a scan covered is a
// usage error listing the known ones.
func resolveScope(specs, known []string) ([]string, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	have := map[string]bool{}
	for _, t := range known {
		have[t] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, spec := range specs {
		kind, id, ok := strings.Cut(strings.TrimSpace(spec), ":")
		if !ok || kind == "" || strings.TrimSpace(id) == "" {
			return nil, usageError("--scope %q: want KIND:ID (repo:PATH-or-URL, git:, ci:, dir:, aws:ACCOUNT, vault:ADDR)", spec)
		}
		var matched []string
		for _, c := range scopeCandidates(kind, strings.TrimSpace(id), known) {
			if have[c] && !seen[c] {
				seen[c] = true
				matched = append(matched, c)
			}
		}
		if len(matched) == 0 {
			list := " none (run nhi scan first)"
			if len(known) > 0 {
				list = "\n  " + strings.Join(known, "\n  ")
			}
			return nil, usageError("--scope %s: no scan of this inventory covered it; the targets scans covered are:%s", spec, list)
		}
		out = append(out, matched...)
	}
	return out, nil
}

// scopeCandidates are the canonical targets kind:id may name.
func scopeCandidates(kind, id string, known []string) []string {
	out := []string{kind + ":" + id}
	local := !gitrepo.IsURL(id) && !strings.Contains(id, "://")
	switch kind {
	case "repo":
		repo := gitrepo.ID(id)
		for _, t := range known {
			if _, rest, _ := strings.Cut(t, ":"); rest == repo {
				out = append(out, t)
			}
		}
	case inventory.SourceGit, inventory.SourceCI, inventory.SourceAgent:
		out = append(out, kind+":"+gitrepo.ID(id))
		if local {
			out = append(out, kind+":"+scanner.CanonicalPath(id))
		}
	case inventory.SourceDir:
		out = append(out, kind+":"+scanner.CanonicalPath(id))
	case inventory.SourceVault:
		out = append(out, kind+":"+vault.CanonicalAddress(id))
	}
	return out
}
