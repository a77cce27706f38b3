package kafkaio_test

import (
	"context"
	"fmt"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/testing/kafkatest"
)

func init() { beam.RegisterFunction(value) }

func value(r kafkaio.Record) string { return string(r.Value) }

// Reading a topic to its end (a bounded read: the high watermarks seen at start) and writing the
// values to another topic, on an in-process broker.
func Example() {
	b, err := kafkatest.Start(2, "user_order", "copy")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	b.Produce("user_order", []string{`{"id":1,"gmt_modified":1700000000000}`, `{"id":2,"gmt_modified":1700000001000}`}, "id")

	p, s := beam.NewPipelineWithRoot()
	recs, err := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"user_order"}, TimeField: "gmt_modified", UntilEnd: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	msgs := kafkaio.Lines(s, beam.ParDo(s, value, recs))
	if err := kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "copy"}, msgs); err != nil {
		fmt.Println(err)
		return
	}
	if err := beamrun.WithPrivateTemp(func() error { _, err := beam.Run(context.Background(), "prism", p); return err }); err != nil {
		fmt.Println(err)
		return
	}
	got, err := b.Values("copy")
	sort.Strings(got)
	fmt.Println(got, err)
	// Output: [{"id":1,"gmt_modified":1700000000000} {"id":2,"gmt_modified":1700000001000}] <nil>
}
