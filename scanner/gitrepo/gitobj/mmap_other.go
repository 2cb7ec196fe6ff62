//go:build !unix

package gitobj

import "os"

// mapFile reads a file whole where mapping is not available.
func mapFile(path string) ([]byte, error) { return os.ReadFile(path) }

func unmapFile([]byte) {}

func releaseMapped([]byte) {}
