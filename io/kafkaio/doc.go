// Package kafkaio reads from and writes to Kafka with github.com/segmentio/kafka-go; Beam's Go SDK
// has none of its own (apache/beam#18810), and its cross-language one needs a Java expansion service.
//
// Read: Impulse → a DoFn that lists the partitions of one or more topics and resolves where each
// starts (a group's committed offsets, earliest, latest or a time) → a splittable DoFn per partition
// whose restriction is an offset range: growable up to the high watermark when streaming, or ending
// at the high watermark seen at start (ReadConfig.UntilEnd), so batch replays use the same source.
// Each record carries its topic, partition, offset, key and value, at the event time read from a
// field of its JSON value or the Kafka timestamp. The watermark is the newest event time of each
// partition less an out-of-orderness bound, the minimum over partitions that are not idle, shared by
// all partitions of a read within a process; once all are idle it advances with wall time. A
// partition is idle after ReadConfig.Idle without a message, unless its last fetch showed messages
// waiting after it: a reader the runner has not run lately is behind, not idle, and holds the
// watermark ten times as long (io/internal/watermark.BehindIdle). A call
// reads for a short budget and then checkpoints, so output flows on while the stream runs.
//
// Positions: on a runner that checkpoints (Flink, Dataflow) the restriction is the read's position.
// With a consumer group, the offset after the records already handed to the runner is also
// committed to the group (at most once a second per partition), so lag tools show the job's
// progress and a restarted job with the same group resumes there.
//
// Write: a sink DoFn that buffers a bundle's messages and writes them in one synchronous batch at
// FinishBundle, so a bundle is committed only once its messages are acknowledged; a retried bundle
// writes them again. Changelog messages are keyed by the row's primary key and carry its version, so
// a log-compacted topic keeps each key's newest row and a consumer can drop stale replays.
//
// Security (TLS, SASL PLAIN and SCRAM) applies to both; passwords come from the environment or a
// file on the worker, never from the pipeline's configuration.
package kafkaio
