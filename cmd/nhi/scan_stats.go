package main

import (
	"fmt"
	"sort"
	"strings"
)

func statLine(st map[string]int64) string {
	if len(st) == 0 {
		return ""
	}
	keys := make([]string, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := st[k]
		if strings.HasPrefix(k, "bytes") {
			parts = append(parts, k+" "+bytesHuman(v))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
