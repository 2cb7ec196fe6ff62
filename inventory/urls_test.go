package inventory

import "testing"

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + "Xq3" + "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
	cases := []struct{ in, want string }{
		{"https://user:" + tok + "@github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"https://" + tok + "@github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"https://oauth2:" + tok + "@gitlab.example.com:8443/g/r", "https://gitlab.example.com:8443/g/r"},
		{"https://host/r.git?private_token=" + tok + "&ref=main", "https://host/r.git?ref=main"},
		{"https://host/r?X-Amz-Signature=abc&X-Amz-Credential=def", "https://host/r"},
		{"ssh://git:" + tok + "@host/org/repo.git", "ssh://git@host/org/repo.git"},
		{"ssh://git@host/org/repo.git", "ssh://git@host/org/repo.git"},
		{"git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"/abs/path/repo", "/abs/path/repo"},
		{"https://github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"https://us%er:" + tok + "@host/%zz", "https://host/%zz"},
	}
	for _, c := range cases {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
		if URLHasCredential(c.in) != (c.in != c.want) {
			t.Errorf("URLHasCredential(%q) = %v", c.in, !(c.in != c.want))
		}
	}
}
