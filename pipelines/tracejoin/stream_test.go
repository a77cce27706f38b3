package tracejoin_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
)

var tenth = regexp.MustCompile(`"trace_id":"t\d\d0"`)

// Streaming from Kafka: traces are produced over about three seconds; joined actions and the
// incomplete traces (every tenth lacks its track, found by an event-time timer) are written while
// the producer still runs, bad values are dead-lettered without stopping the job, and the final
// outputs are complete once the stream is idle. Cancelling stops the job.
func TestStreamingFromKafka(t *testing.T) {
	b, err := kafkatest.Start(2, "requests", "responses", "tracks")
	beamtest.Must(t, err)
	defer b.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "actions.jsonl")
	io := endpoint.Config{Source: &kafkaio.ReadConfig{Brokers: b.Addrs(), OutOfOrder: time.Second, Idle: 500 * time.Millisecond}}
	p, s := beam.NewPipelineWithRoot()
	in, err := io.Read(s, endpoint.Input{Name: "requests", TimeField: tracejoin.TimeField}, endpoint.Input{Name: "responses", TimeField: tracejoin.TimeField},
		endpoint.Input{Name: "tracks", TimeField: tracejoin.TimeField})
	beamtest.Must(t, err)
	joinedCol, incompl, deadLetters, err := tracejoin.Build(s, in[0], in[1], in[2], tracejoin.Options{MaxDelay: 5 * time.Second})
	beamtest.Must(t, err)
	beamtest.Must(t, io.Write(s, endpoint.Output{Name: out, Lines: joinedCol}, endpoint.Output{Name: out + ".incomplete", Lines: incompl},
		endpoint.Output{Name: out + ".dead", DeadLetters: deadLetters}))
	run := beamtest.StartBackground(p)

	const n, base = 300, 1_700_000_000_000
	for i := 0; i < n; i++ {
		ts := int64(base + i*1000)
		id := fmt.Sprintf("t%03d", i)
		beamtest.Must(t, b.Produce("requests", []string{fmt.Sprintf(`{"trace_id":%q,"ts":%d,"channel":"app","system":"card","action":"apply","process_id":"p%d","product":"gold","branch":"sz","user_id":"u1"}`, id, ts, i)}, "trace_id"))
		beamtest.Must(t, b.Produce("responses", []string{fmt.Sprintf(`{"trace_id":%q,"ts":%d,"status":"ok","code":"0"}`, id, ts+100)}, "trace_id"))
		if i%10 != 0 {
			beamtest.Must(t, b.Produce("tracks", []string{fmt.Sprintf(`{"trace_id":%q,"ts":%d,"page":"home","device_id":"d1"}`, id, ts+200)}, "trace_id"))
		}
		if i == n/2 {
			beamtest.Must(t, b.Produce("tracks", []string{`not json`, `{"trace_id":"x"}`}, ""))
		}
		time.Sleep(10 * time.Millisecond)
	}
	joinedEarly, incompleteEarly := len(beamtest.LinesSoFar(out)), len(beamtest.LinesSoFar(out+".incomplete"))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && (len(beamtest.LinesSoFar(out)) < n*9/10 || len(beamtest.LinesSoFar(out+".incomplete")) < n/10) {
		time.Sleep(100 * time.Millisecond)
	}
	joined, incomplete, dead := beamtest.LinesSoFar(out), beamtest.LinesSoFar(out+".incomplete"), beamtest.LinesSoFar(out+".dead")
	run.Stop(t)
	t.Logf("written while producing: %d joined, %d incomplete", joinedEarly, incompleteEarly)
	if joinedEarly == 0 || incompleteEarly == 0 {
		t.Errorf("written while producing: %d joined, %d incomplete; want some of each", joinedEarly, incompleteEarly)
	}
	if len(joined) != n*9/10 || len(incomplete) != n/10 {
		t.Fatalf("%d joined and %d incomplete, want %d and %d", len(joined), len(incomplete), n*9/10, n/10)
	}
	for _, l := range incomplete {
		if !strings.Contains(l, `"missing":["track"]`) || !tenth.MatchString(l) {
			t.Errorf("incomplete trace %s: want a tenth trace missing its track", l)
		}
	}
	if len(dead) != 2 {
		t.Errorf("%d dead letters, want 2: %v", len(dead), dead)
	}
}
