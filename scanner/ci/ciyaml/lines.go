package ciyaml

import "gopkg.in/yaml.v3"

// The line reading of the lenient repair, for readers of files that are
// not YAML at all (the CI source's line-wise reading of hard-coded
// values): the same splitting of a line into indentation, key and value,
// so both agree on what a line holds.

// ExpandTabs turns leading whitespace into spaces, a tab advancing to
// the next multiple of width.
func ExpandTabs(lead string, width int) string { return expandTabs(lead, width) }

// SplitLine splits a block-context line into what precedes its value
// (indentation, sequence dashes, a key and its colon) and the value with
// any comment; owner is the column of the node the value belongs to. ok
// is false for lines that are not an entry.
func SplitLine(l string) (prefix, rest string, owner int, ok bool) { return splitLine(l) }

// IsBlockIndicator says whether a value starts a block scalar (| or >,
// with its indicators and an optional comment).
func IsBlockIndicator(rest string) bool { return blockRe.MatchString(rest) }

// ClosingQuote returns the index of the quote closing the quoted scalar
// that s begins with, on this line, or -1.
func ClosingQuote(s string) int { return closingQuote(s) }

// CutComment splits a plain value from a trailing comment.
func CutComment(rest string) (value, comment string) { return cutComment(rest) }

// DocRoot returns the root node of a parsed document (nil when empty).
func DocRoot(doc *yaml.Node) *yaml.Node { return docRoot(doc) }
