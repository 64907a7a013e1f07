// Package bridge copies Kafka topics from one region's cluster to another's
// in order, acknowledging the source only after the target has the
// messages, with no duplicate after a crash, a rebalance or a timeout, and
// without echoing messages back to where they came from, so that two
// regions can bridge the same topics to each other. It speaks to Kafka
// through segmentio/kafka-go.
//
//	b, err := bridge.New(eastBrokers, westBrokers, "orders-to-west", []string{"orders", "payments"},
//		bridge.WithMetrics(metrics), bridge.WithDeadLetter("bridge.dead-letter"))
//	if err != nil {
//		return err
//	}
//	go b.Run(ctx) // until ctx ends; run as many processes as you like with the same group
//	...
//	lag := b.Lag() // live RPO: the age of the oldest message the target lacks
//
// # How it works
//
// A bridge reads the source as a member of a consumer group, so several
// processes share the partitions and take over each other's. For each
// partition it holds, one worker copies the messages strictly in order,
// and the partitions go in parallel. The worker's fetcher reads the source
// and encodes what it read into produce batches (at most WithMaxBatchBytes, one
// target partition each) while its publisher sends the previous batch, so
// the target never waits for a fetch; the publisher sends one batch at a
// time, with acknowledgement from all in-sync replicas, because a second
// batch in flight could land before a first one that failed, and without an
// idempotent producer nothing would put them back in order.
//
// Only once a batch is acknowledged is its source offset committed. Commits
// are synchronous requests whose answers are checked, one at a time per
// generation, each carrying the latest acknowledged offset of every
// partition; the publisher does not wait for them, since the target, not
// the commit, says where the bridge stands (see below). A commit carries the
// consumer group generation it belongs to, and commits stop when the
// coordinator says the generation is over. Per partition, commits only move
// forward.
//
// # Zombies
//
// A process cut off from the source cluster loses its partitions when its
// session expires, but it learns that only when it hears from the
// coordinator again: until then it is a zombie, still publishing and
// committing what it holds, with requests the network may deliver long
// after the new owner took over. Both are fenced. The coordinator refuses a
// commit of an old generation, so a zombie never moves the committed offsets
// back. And every batch the bridge publishes goes out under an idempotent
// producer of the target cluster, with sequence numbers: the producer id
// belongs to the source partition, not to the process (the first owner gets
// one with InitProducerId and commits it, in the commit metadata, before it
// publishes anything), and each owner continues the sequence where the
// target's tail shows it ends. The target appends a batch only if it
// continues the sequence, so when a zombie and the new owner publish the
// same messages, the second to arrive is refused (or recognised as the
// duplicate it is), and the refused one reads the target back and sends
// only what is not there.
//
// # Provenance, restarts and duplicates
//
// Every message the bridge publishes carries its source's headers, key,
// value and timestamp, and four headers of its own, in text that any Kafka
// client reads:
//
//	xregion-id      the message's id, the same in every cluster (HeaderID)
//	xregion-origin  the cluster it was first produced to (HeaderOrigin)
//	xregion-hops    the clusters it has been in, comma-separated (HeaderHops)
//	xregion-src     cluster/topic/partition/offset it was read from (HeaderSource)
//
// Whenever the bridge takes a partition over (start, rebalance) it reads the
// tail of the target partition back to the last message read from that
// source partition, and resumes right after it, whatever the committed
// offset says (the committed offset only helps when it is further, past
// messages that were never to be published). A publish whose outcome is
// unknown (a timeout, a dropped connection) is sent again as it was, with
// the same sequence numbers: if the first copy was written after all, the
// target recognises the second, whenever either arrives. kafka-go has no
// idempotent producer; the bridge encodes its batches itself, producer
// fields included. The search is bounded: each commit's metadata records
// where in the target the partition's last message sits, so a restart reads
// only what was written since, however much else (local messages, other
// bridges') the target partition holds.
//
// ParseProvenance reads the headers back; consumers can deduplicate by
// HeaderID across regions.
//
// # Active-active
//
// A bridge never publishes a message into a cluster named in its hop list:
// bridges A→B and B→A on the same topic names copy each region's own
// messages to the other, and the copies stop there. Confluent Replicator
// works this way; MirrorMaker 2 renames the topics instead (A.orders).
// Clusters are named by their Kafka cluster ids, or by WithNames.
//
// # Failures
//
// A failed request is retried with exponential backoff (WithBackoff). A
// partition that keeps failing for WithPauseAfter is reported paused, in Lag,
// in the metrics and in the log at Error, while it keeps retrying every
// maximum backoff; the other partitions carry on, and it resumes by itself.
// A message the target refuses for good (too large, invalid) is never
// skipped silently: a batch holding it is split until it is alone, then it
// goes to the dead-letter topic (WithDeadLetter) with HeaderReason, or, without one, its
// partition stops there (Stopped, with a *RefusedError) until the bridge
// restarts. Messages the source deleted before they were bridged
// (retention) are counted as skipped and logged at Error.
//
// A cluster that does not answer (brokers down or misaddressed) or a
// consumer group the bridge cannot join is retried the same way, without
// end: Run does not return for it. Meanwhile Lag reports State "failing"
// with the error, never "standby", and the log says so at Warn once, and
// at Info when a retry succeeds.
//
// # Consumers failing over
//
// Translate maps a consumer group's committed source offset to the target
// offset right after the copy of the last message it read, found through
// the exact provenance of the copies, not through sampled offset pairs as in
// MirrorMaker 2, whose translation loses or repeats messages on failover.
// FailoverGroup does it for a whole group and commits the result in the
// target, so its consumers resume there without loss or duplicate.
//
// # Lag and metrics
//
// Lag reports, for the partitions a process holds, what a loss of the
// source region would cost now: the age of the oldest message not yet in
// the target (the live RPO of messaging, next to the databases'), the
// messages pending and when the target last answered. Every WithLagInterval
// the bridge measures each partition against the source, idle ones too, and
// asks the target for an answer, so a stalled bridge or a dead link shows.
// ReplicationLag gives the same as an xregion.PeerLag, with the link states
// every package reports in, so that replicate.NewLagCollector exports the
// messaging RPO beside the databases' (xregion_replication_rpo_seconds).
// Metrics (see NewMetrics) carry
// MirrorMaker 2's names where it has them: record_count, byte_rate,
// record_age_ms, replication_latency_ms; and records_lag,
// oldest_unbridged_age_seconds, rpo_seconds, partition_paused,
// dedupe_hits_total, echo_suppressed_total, dead_letters_total,
// skipped_total, errors_total, bytes_total and assigned_partitions.
//
// # Choices
//
// Topics keep their names. A target topic that does not exist is created
// with the source's partition count. Partition counts must match
// (SamePartition) unless WithMapping(KeyHash) is given, which hashes keys as
// Kafka's Java producer does and gives up order between different keys and
// offset translation. The dead-letter topic lives in the target cluster, so
// the bridge never writes to the source, which it only reads and commits a
// group's offsets in. A partition with nothing committed and nothing bridged
// starts at its first offset (WithStartOffset). Batches go uncompressed unless
// WithCompression says otherwise; TLS and SASL secure each cluster's
// connections.
//
// Where the bridge stands against a raw kafka-go consume→produce pipe is
// measured by bench/bridge: on two in-process clusters it moves messages at
// about twice the pipe's rate, for less CPU per message (it reads and
// publishes partitions in parallel, and encodes batches itself instead of
// going through kafka-go's Writer).
//
// # Hazards
//
// HAZARD: producer state. The fencing rests on the target keeping each
// producer's sequence per partition. Kafka drops that state for a producer
// idle longer than producer.id.expiration.ms (a day by default), after
// which it accepts any sequence: a zombie whose batch is held that long is
// not fenced. Where the target refuses a sequence yet shows nothing newer
// of ours (its state outlived our last messages: compaction removed them),
// the bridge logs it at Warn and moves that target partition to a new
// producer. The bridge needs IdempotentWrite on the target cluster, or
// Write on its topics; kafka-go sends InitProducerId to the coordinator of
// the empty transactional id.
//
// HAZARD: transactions. The bridge reads committed data only, and skips
// transaction markers, but kafka-go does not expose the aborted
// transactions of a fetch, so messages of aborted transactions are bridged.
//
// HAZARD: truncated sources. If the source loses messages it already handed
// out (an unclean leader election), new messages reuse their offsets and the
// bridge takes them for ones it already published; it logs the truncation
// at Error.
//
// HAZARD: names. The provenance and the hop list name clusters; every bridge
// must name a cluster the same way, and a cluster whose id changes (rebuilt
// from scratch) is a new cluster to the bridge unless WithNames keeps it.
//
// HAZARD: dead letters are at least once. A crash between a dead-letter
// write and the next commit writes the message to the dead-letter topic
// again on restart.
//
// HAZARD: memory. Each partition a process holds keeps up to three fetches
// (WithFetchMaxBytes each) in decoded and encoded form, about 10 MiB at the
// default; lower WithFetchMaxBytes for processes that hold hundreds of
// partitions.
//
// HAZARD: active-active translation. In a pair of bridges, the target
// partition also holds messages produced in the target region. Translate
// places a consumer right after the copy of the last source message it read:
// local messages before that point that it had not yet seen through the
// reverse bridge are not read again.
package bridge
