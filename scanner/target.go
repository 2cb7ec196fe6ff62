package scanner

import "path/filepath"

// CanonicalPath is a local path as a scope target names it: absolute,
// cleaned, every symbolic link resolved, so that "dir", "./dir/", the
// absolute path and a symlink to it are one target (Source.Target). A
// path that does not exist keeps its absolute, cleaned form: the source
// then fails on it under a name the user recognises.
func CanonicalPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}
