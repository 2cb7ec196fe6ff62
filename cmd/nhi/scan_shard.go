package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nhi-inventory/nhi/scanner"
)

// parseShard reads --shard K/N or --shard-index I/N (0-based, as
// Kubernetes' JOB_COMPLETION_INDEX counts); the zero Shard when neither.
func (o *scanOpts) parseShard() (scanner.Shard, error) {
	var shard scanner.Shard
	var err error
	switch {
	case o.shard != "" && o.shardIndex != "":
		return shard, usageError("give --shard K/N or --shard-index I/N, not both")
	case o.shard != "":
		if shard, err = scanner.ParseShard(o.shard); err != nil {
			return shard, usageError("%v", err)
		}
	case o.shardIndex != "":
		i, n, _ := strings.Cut(o.shardIndex, "/")
		k, err := strconv.Atoi(strings.TrimSpace(i))
		if err != nil {
			return shard, usageError("--shard-index must be I/N with 0 <= I < N (e.g. 0/3), not %q", o.shardIndex)
		}
		if shard, err = scanner.ParseShard(fmt.Sprintf("%d/%s", k+1, n)); err != nil {
			return shard, usageError("--shard-index must be I/N with 0 <= I < N (e.g. 0/3), not %q", o.shardIndex)
		}
	}
	return shard, nil
}
