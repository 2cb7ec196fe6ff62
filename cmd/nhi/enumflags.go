package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// enumFlags are the flags whose values are words from a fixed list; they
// are read case-insensitively everywhere (--severity HIGH is --severity
// high, as --control nhi-sec-01 is NHI-SEC-01), so each command validates
// and compares the lower-case form only.
var enumFlags = map[string]bool{"format": true, "severity": true, "fail-on": true, "min-confidence": true, "status": true, "progress": true}

// normaliseEnumFlags lower-cases the enum flags a command was given.
func normaliseEnumFlags(cmd *cobra.Command) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err != nil || !enumFlags[f.Name] || f.Value.Type() != "string" {
			return
		}
		if low := strings.ToLower(strings.TrimSpace(f.Value.String())); low != f.Value.String() {
			err = f.Value.Set(low)
		}
	})
	return err
}
