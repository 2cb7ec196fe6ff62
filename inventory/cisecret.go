package inventory

import "time"

// CIReferenceKey is the key of the credential a CI pipeline references
// by name (a secret of the CI system's store, a Vault path): one per
// provider, scope (the repository id or directory) and name, so that the
// pipelines referencing it and the store holding it are one credential.
func CIReferenceKey(provider, scope, name string) string {
	return "ci-secret:" + provider + ":" + scope + ":" + name
}

// StoredSecret is what a CI system's own secret store says of a secret,
// never its value: where it is kept ("repository", "environment:prod",
// "organization") and when it was created and last updated (rotated).
type StoredSecret struct {
	Name       string
	Store      string
	CreatedAt  *time.Time
	UpdatedAt  *time.Time
	Visibility string // of an organisation secret: all, private, selected
}
