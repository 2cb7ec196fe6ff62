package inventory

import (
	"encoding/json"
	"slices"
	"testing"
)

// Facts read the same whether a source just wrote them or they come back
// from the database as decoded JSON.
func TestFactsReadBackFromJSON(t *testing.T) {
	id := Identity{Attrs: map[string]any{}}
	f := id.Facts()
	f.Set(AttrServiceLinked, true)
	f.Set(AttrPath, "/svc/")
	f.Set(AttrAdminPolicies, []string{"AdministratorAccess"})
	f.Set(AttrTrust, map[string]any{string(TrustGitHubOIDC): true})
	f.Set(AttrWildcardPolicies, []map[string]any{{"arn": "arn:aws:iam::aws:policy/x"}})
	b, err := json.Marshal(id.Attrs)
	if err != nil {
		t.Fatal(err)
	}
	var back Identity
	if err := json.Unmarshal(b, &back.Attrs); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]Facts{"written": id.Facts(), "read back": back.Facts()} {
		if !f.Bool(AttrServiceLinked) || f.String(AttrPath) != "/svc/" || !f.Map(AttrTrust).Bool(TrustGitHubOIDC) {
			t.Errorf("%s: facts not read: %v", name, f)
		}
		if got := f.Strings(AttrAdminPolicies); !slices.Equal(got, []string{"AdministratorAccess"}) {
			t.Errorf("%s: admin policies %q", name, got)
		}
		if f.Bool(AttrRoot) || f.String(AttrServiceLinked) != "" || f.Map(AttrPath) != nil || f.Strings(AttrPath) != nil {
			t.Errorf("%s: a missing or mistyped fact reads as its zero value", name)
		}
	}
	// An object in a list is named by its name, else its ARN.
	if got := back.Facts().Strings(AttrWildcardPolicies); !slices.Equal(got, []string{"arn:aws:iam::aws:policy/x"}) {
		t.Errorf("policy objects read as %q", got)
	}
}

func TestCredentialActive(t *testing.T) {
	for status, want := range map[string]bool{"Active": true, "active": true, "Inactive": false, "expired": false, "": false} {
		c := Credential{Status: status}
		if got := c.Active(); got != want {
			t.Errorf("status %q: Active() = %v, want %v", status, got, want)
		}
	}
}
