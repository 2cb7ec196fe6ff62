package inventory

// SourceShard is the kind of the source a sharded scan records (named
// "shard:K/N"): which share of the sources it took. Merge reads it.
const SourceShard = "shard"
