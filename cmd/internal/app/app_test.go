package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
)

func TestSummaryNamesEveryCounter(t *testing.T) {
	got := Summary("x", map[string]int64{"read": 10, "deadletter_not_json": 2, "deadletter_late": 1, "filtered": 3, "emitted": 4, "alerts": 5})
	want := "x done: read=10 dead_lettered=3 (late=1 not_json=2) filtered=3 late=1 emitted=4 alerts=5"
	if got != want {
		t.Errorf("Summary = %q\nwant      %q", got, want)
	}
}

func TestRunnerMapping(t *testing.T) {
	var logs bytes.Buffer
	Stderr = &logs
	defer func() { *runners.Runner, *jobopts.Endpoint = "", "" }()
	for _, c := range []struct{ runner, endpoint, want, err string }{
		{"", "", "prism", ""},
		{"direct", "", "prism", ""},
		{"dataflow", "", "dataflow", ""},
		{"flink", "", "", "needs --endpoint"},
		{"flink", "localhost:8099", "flink", ""},
		{"universal", "localhost:8073", "universal", ""},
	} {
		*runners.Runner, *jobopts.Endpoint = c.runner, c.endpoint
		got, err := RunnerName()
		if got != c.want || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("--runner=%q --endpoint=%q: %q, %v; want %q, %q", c.runner, c.endpoint, got, err, c.want, c.err)
		}
	}
	if strings.Count(logs.String(), "runs on prism") != 1 {
		t.Errorf("want one log line for direct, got %q", logs.String())
	}
}

func TestPrintRowsAlignsAndUnquotes(t *testing.T) {
	var b bytes.Buffer
	err := PrintRows(&b, []string{"k", "v"}, []map[string][]byte{{"k": []byte(`"a b"`), "v": []byte("12.5")}, {"k": []byte(`"c"`), "v": []byte("null")}})
	if err != nil || b.String() != "k    v\na b  12.5\nc    null\n" {
		t.Errorf("got %q, %v", b.String(), err)
	}
}
