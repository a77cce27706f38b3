package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/io/internal/backoff"
)

// admin makes the metadata, offset and commit requests of a read.
type admin struct {
	client  *kafka.Client
	brokers []string
}

func newAdmin(brokers []string, sec Security) (*admin, error) {
	t, err := sec.transport()
	if err != nil {
		return nil, err
	}
	return &admin{client: &kafka.Client{Addr: kafka.TCP(brokers...), Transport: t, Timeout: 10 * time.Second}, brokers: brokers}, nil
}

// partitions lists the partitions of topics, sorted; a missing topic is an error that names it.
func (a *admin) partitions(ctx context.Context, topics []string) ([]kafka.Partition, error) {
	md, err := a.client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("listing the partitions of %v on %v: %w", topics, a.brokers, err)
	}
	var out []kafka.Partition
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		if len(t.Partitions) == 0 {
			return nil, fmt.Errorf("topic %s has no partitions", t.Name)
		}
		out = append(out, t.Partitions...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// bounds returns each partition's first offset and high watermark (the offset the next message gets).
func (a *admin) bounds(ctx context.Context, parts []kafka.Partition) (first, end map[string]int64, err error) {
	req := map[string][]kafka.OffsetRequest{}
	for _, p := range parts {
		req[p.Topic] = append(req[p.Topic], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	res, err := a.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		return nil, nil, fmt.Errorf("listing offsets: %w", err)
	}
	first, end = map[string]int64{}, map[string]int64{}
	for topic, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, nil, fmt.Errorf("listing offsets of %s: %w", partKey(topic, p.Partition), p.Error)
			}
			first[partKey(topic, p.Partition)], end[partKey(topic, p.Partition)] = p.FirstOffset, p.LastOffset
		}
	}
	return first, end, nil
}

// atTime returns each partition's first offset whose message timestamp is at or after t; partitions
// without one are missing from the map (they start at their high watermark).
func (a *admin) atTime(ctx context.Context, parts []kafka.Partition, t time.Time) (map[string]int64, error) {
	req := map[string][]kafka.OffsetRequest{}
	for _, p := range parts {
		req[p.Topic] = append(req[p.Topic], kafka.TimeOffsetOf(p.ID, t))
	}
	res, err := a.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		return nil, fmt.Errorf("listing offsets at %s: %w", t.Format(time.RFC3339), err)
	}
	out := map[string]int64{}
	for topic, ps := range res.Topics {
		for _, p := range ps {
			for off := range p.Offsets { // one entry when a message is found; none (or -1) otherwise
				if off >= 0 {
					out[partKey(topic, p.Partition)] = off
				}
			}
		}
	}
	return out, nil
}

// committed returns the group's committed offsets; partitions without one are missing from the map.
func (a *admin) committed(ctx context.Context, group string, parts []kafka.Partition) (map[string]int64, error) {
	req := map[string][]int{}
	for _, p := range parts {
		req[p.Topic] = append(req[p.Topic], p.ID)
	}
	var res *kafka.OffsetFetchResponse
	err := retryTemporary(ctx, func() (err error) {
		if res, err = a.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: req}); err == nil {
			err = res.Error
		}
		return err
	})
	if errors.Is(err, kafka.GroupIdNotFound) { // a group that never committed (kfake says so)
		return map[string]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetching the committed offsets of group %s: %w", group, err)
	}
	out := map[string]int64{}
	for topic, ps := range res.Topics {
		for _, p := range ps {
			if p.Error == nil && p.CommittedOffset >= 0 {
				out[partKey(topic, p.Partition)] = p.CommittedOffset
			}
		}
	}
	return out, nil
}

// commit stores next as the group's position in one partition, as a consumer outside group
// management does (generation -1), so lag tools show the job's progress.
func (a *admin) commit(ctx context.Context, group, topic string, partition int, next int64) error {
	return retryTemporary(ctx, func() error {
		res, err := a.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1,
			Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: partition, Offset: next}}}})
		if err != nil {
			return err
		}
		for _, ps := range res.Topics {
			for _, p := range ps {
				if p.Error != nil {
					return p.Error
				}
			}
		}
		return nil
	})
}

// retryTemporary runs op until it succeeds, fails with an error Kafka does not call temporary, or
// has failed for TemporaryFor: a group coordinator that is still being elected or loading (a new
// cluster creates __consumer_offsets on the first group request), a leader that is moving.
func retryTemporary(ctx context.Context, op func() error) error {
	return backoff.Policy{For: TemporaryFor, First: 100 * time.Millisecond, Max: time.Second, Transient: temporary}.Do(ctx, op)
}

// temporary reports whether err is one Kafka calls temporary.
func temporary(err error) bool {
	var ke kafka.Error
	return errors.As(err, &ke) && ke.Temporary()
}

// TemporaryFor is how long retryTemporary tries again.
const TemporaryFor = 30 * time.Second

func partKey(topic string, partition int) string { return fmt.Sprintf("%s/%d", topic, partition) }

// MissingTopics asks the brokers for the metadata of topics and returns those that do not exist
// there; an error when no broker answers (or the connection is refused: TLS, SASL). With no topics
// it only checks that the brokers answer. Commands call it before a pipeline starts, so a wrong
// address or a missing topic is one clear line rather than a failed job.
func MissingTopics(ctx context.Context, brokers []string, sec Security, topics []string) ([]string, error) {
	a, err := newAdmin(brokers, sec)
	if err != nil {
		return nil, err
	}
	md, err := a.client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for _, t := range md.Topics {
		found[t.Name] = t.Error == nil && len(t.Partitions) > 0
	}
	var missing []string
	for _, t := range topics {
		if !found[t] {
			missing = append(missing, t)
		}
	}
	return missing, nil
}
