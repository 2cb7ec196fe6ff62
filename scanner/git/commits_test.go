package git

import "testing"

func TestUnquoteName(t *testing.T) {
	for in, want := range map[string]string{
		"b/plain.txt":             "b/plain.txt",
		"b/with space.txt\t":      "b/with space.txt",
		`"b/tab\there"`:           "b/tab\there",
		`"b/esc\a\b\n\v\f\r\"\\"`: "b/esc\a\b\n\v\f\r\"\\",
		`"b/caf\303\251"`:         "b/café",
		`"b/not-octal\8"`:         "b/not-octal8",
		`"b/short\3"`:             "b/short3",
	} {
		if got := unquoteName([]byte(in)); got != want {
			t.Errorf("unquoteName(%q) = %q, want %q", in, got, want)
		}
	}
}
