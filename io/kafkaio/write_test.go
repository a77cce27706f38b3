package kafkaio_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/transforms/changelog"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

func read(t *testing.T, b *kafkatest.Broker, topic string, want int) []kafka.Message {
	t.Helper()
	msgs, err := b.ReadPartition(topic, 0, want, 20*time.Second)
	beamtest.Must(t, err)
	return msgs
}

// A pipeline's changelog lands in a topic keyed by primary key, one message per change.
func TestWriteChangesKeyedByPrimaryKey(t *testing.T) {
	b, err := kafkatest.Start(1, "hs_order")
	beamtest.Must(t, err)
	defer b.Close()
	var changes []changelog.Change
	for i, k := range []string{"2024031010", "2024031011", "2024031010"} {
		c, err := changelog.Upsert(k, int64(i+1), map[string]any{"biz_date": k, "policy_cnt": i})
		beamtest.Must(t, err)
		changes = append(changes, c)
	}
	p, s := beam.NewPipelineWithRoot()
	beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "hs_order"}, kafkaio.Changes(s, beam.CreateList(s, changes))))
	ptest.RunAndValidate(t, p)

	var got []string
	for _, m := range read(t, b, "hs_order", len(changes)) {
		got = append(got, string(m.Key)+" "+string(m.Value))
	}
	sort.Strings(got)
	want := []string{
		`2024031010 {"op":"upsert","biz_date":"2024031010","policy_cnt":0,"version":1}`,
		`2024031010 {"op":"upsert","biz_date":"2024031010","policy_cnt":2,"version":3}`,
		`2024031011 {"op":"upsert","biz_date":"2024031011","policy_cnt":1,"version":2}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("topic holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func init() { register.Function2x0(atTime) }

// atTime emits the line {"ms":<ms>} at event time ms.
func atTime(ms int64, emit func(beam.EventTime, string)) {
	emit(mtime.FromMilliseconds(ms), fmt.Sprintf(`{"ms":%d}`, ms))
}

// Every message carries its element's event time in the event_time header, whatever its Kafka
// timestamp (the write time).
func TestWriteStampsTheEventTimeHeader(t *testing.T) {
	b, err := kafkatest.Start(1, "rows")
	beamtest.Must(t, err)
	defer b.Close()
	p, s := beam.NewPipelineWithRoot()
	lines := beam.ParDo(s, atTime, beam.Create(s, int64(1710000000000), int64(1710000000123), int64(-5)))
	beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "rows"}, kafkaio.Lines(s, lines)))
	ptest.RunAndValidate(t, p)
	for _, m := range read(t, b, "rows", 3) {
		var got []string
		for _, h := range m.Headers {
			got = append(got, h.Key+"="+string(h.Value))
		}
		want := "event_time=" + strings.TrimSuffix(strings.TrimPrefix(string(m.Value), `{"ms":`), "}")
		if len(got) != 1 || got[0] != want {
			t.Errorf("message %s has headers %q, want [%s]", m.Value, got, want)
		}
	}
}

func TestWriteLinesWithoutKey(t *testing.T) {
	b, err := kafkatest.Start(1, "alerts")
	beamtest.Must(t, err)
	defer b.Close()
	p, s := beam.NewPipelineWithRoot()
	beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "alerts"}, kafkaio.Lines(s, beam.Create(s, `{"id":1}`, `{"id":2}`))))
	ptest.RunAndValidate(t, p)
	msgs := read(t, b, "alerts", 2)
	if len(msgs[0].Key) != 0 || len(msgs[1].Key) != 0 {
		t.Errorf("alert messages have keys %q, %q", msgs[0].Key, msgs[1].Key)
	}
}

// Rows of a table are keyed by their key: one column's value as text, several columns' as a JSON array.
func TestWriteRowsKeyedByTheirKey(t *testing.T) {
	b, err := kafkatest.Start(1, "one", "two")
	beamtest.Must(t, err)
	defer b.Close()
	p, s := beam.NewPipelineWithRoot()
	rows := beam.Create(s, `{"id":"E1","ts":5}`, `{"id":7,"ts":null}`)
	beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "one"}, kafkaio.Rows(s, rows, []string{"id"})))
	beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "two"}, kafkaio.Rows(s, rows, []string{"id", "ts"})))
	ptest.RunAndValidate(t, p)
	for topic, want := range map[string][]string{"one": {"7", "E1"}, "two": {`["E1",5]`, `[7,null]`}} {
		var keys []string
		for _, m := range read(t, b, topic, 2) {
			keys = append(keys, string(m.Key))
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("%s: keys %q, want %q", topic, keys, want)
		}
	}
}

// A broker that is not there fails the pipeline with the topic named, rather than dropping messages.
func TestWriteToAMissingBrokerFails(t *testing.T) {
	b, err := kafkatest.Start(1, "gone")
	beamtest.Must(t, err)
	addrs := b.Addrs()
	b.Close()
	p, s := beam.NewPipelineWithRoot()
	beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: addrs, Topic: "gone"}, kafkaio.Lines(s, beam.Create(s, `{"id":1}`))))
	if err := ptest.Run(p); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("err = %v, want a failure naming the topic", err)
	}
}
