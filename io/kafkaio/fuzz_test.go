package kafkaio

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/transforms/validate"
)

// Any message gets the event time encoding/json reads from its topic's time field (an integer of
// epoch milliseconds in the years 1 to 9999), or none (then the source stamps it with its watermark
// and the job's parser dead-letters it); a source without a time field takes the Kafka timestamp.
func FuzzEventTime(f *testing.F) {
	f.Add("orders", []byte(`{"gmt_modified":1710000000000,"ts":1}`), int64(5))
	f.Add("app_event", []byte(`{"ts":1710000000000}`), int64(5))
	f.Add("app_event", []byte(`{"ts":1.71e12}`), int64(5))
	f.Add("app_event", []byte(`{"ts":"1710000000000"}`), int64(5))
	f.Add("app_event", []byte(`{"ts":253402300800000}`), int64(5))
	f.Add("app_event", []byte(`{"ts":1,"ts":2}`), int64(5))
	f.Add("app_event", []byte("\xff"), int64(0))
	byField := &readFn{Cfg: ReadConfig{TimeField: "ts", TopicTimeFields: map[string]string{"orders": "gmt_modified"}}}
	byKafka := &readFn{Cfg: ReadConfig{}}
	f.Fuzz(func(t *testing.T, topic string, value []byte, kafkaMs int64) {
		kafkaMs %= validate.MaxEventTime
		m := kafka.Message{Topic: topic, Value: value, Time: time.UnixMilli(kafkaMs)}
		if ts, ok := byKafka.eventTime(m); !ok || ts != kafkaMs {
			t.Fatalf("Kafka time %d: got %d, %v", kafkaMs, ts, ok)
		}
		field := "ts"
		if topic == "orders" {
			field = "gmt_modified"
		}
		want, wantOK := int64(0), false
		var obj map[string]json.RawMessage
		if json.Unmarshal(value, &obj) == nil && obj != nil {
			if n, err := strconv.ParseInt(string(obj[field]), 10, 64); err == nil && n >= validate.MinEventTime && n <= validate.MaxEventTime {
				want, wantOK = n, true
			}
		}
		if ts, ok := byField.eventTime(m); ok != wantOK || ok && ts != want {
			t.Fatalf("%s %q: event time %d, %v; encoding/json reads %d, %v", topic, value, ts, ok, want, wantOK)
		}
	})
}
