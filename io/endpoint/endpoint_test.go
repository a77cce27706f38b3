package endpoint_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/io/mysqlcdc"
)

func TestStreamingIsKafkaWithoutAnEndOrTheBinlog(t *testing.T) {
	for _, c := range []struct {
		cfg  endpoint.Config
		want bool
	}{
		{endpoint.Config{}, false},
		{endpoint.Config{Source: &kafkaio.ReadConfig{UntilEnd: true}}, false},
		{endpoint.Config{Source: &kafkaio.ReadConfig{}}, true},
		{endpoint.Config{CDC: &mysqlcdc.ReadConfig{}}, true},
	} {
		if got := c.cfg.Streaming(); got != c.want {
			t.Errorf("%+v: Streaming() = %v, want %v", c.cfg, got, c.want)
		}
	}
}

// A bounded job rewrites its JSONL outputs when the pipeline is built (Write); a streaming one keeps
// what an earlier run wrote and appends.
func TestStreamingAppendsBoundedRewrites(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	must(t, os.WriteFile(in, []byte("{}\n"), 0o644))
	for _, c := range []struct {
		name string
		cfg  endpoint.Config
		keep bool
	}{
		{"files", endpoint.Config{}, false},
		{"kafka until end", endpoint.Config{Source: &kafkaio.ReadConfig{Brokers: []string{"127.0.0.1:1"}, UntilEnd: true}}, false},
		{"kafka streaming", endpoint.Config{Source: &kafkaio.ReadConfig{Brokers: []string{"127.0.0.1:1"}}}, true},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".jsonl")
		must(t, os.WriteFile(out, []byte("earlier run\n"), 0o644))
		_, s := beam.NewPipelineWithRoot()
		ins, err := c.cfg.Read(s, endpoint.Input{Name: in, TimeField: "ts"})
		must(t, err)
		must(t, c.cfg.Write(s, endpoint.Output{Name: out, Lines: ins[0]}))
		b, _ := os.ReadFile(out)
		if kept := string(b) == "earlier run\n"; kept != c.keep || !kept && len(b) != 0 {
			t.Errorf("%s: after building the pipeline the output holds %q; want the earlier run's line kept: %v", c.name, b, c.keep)
		}
	}
}

func TestReadAndWriteErrorsNameWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	must(t, os.WriteFile(in, []byte("{}\n"), 0o644))
	_, s := beam.NewPipelineWithRoot()
	ins, err := endpoint.Config{}.Read(s, endpoint.Input{Name: in})
	must(t, err)
	if err := (endpoint.Config{}).Write(s, endpoint.Output{Lines: ins[0]}); err == nil || err.Error() != "output 1: no name given" {
		t.Errorf("an output without a name: %v", err)
	}
	missing := filepath.Join(dir, "none*.jsonl")
	if _, err := (endpoint.Config{}).Read(s, endpoint.Input{Name: missing}); err == nil || !strings.Contains(err.Error(), "no file matches") {
		t.Errorf("an input that names no file: %v", err)
	}
	recs := beam.Create(s, kafkaio.Record{Topic: "a"})
	for _, topics := range [][]string{nil, {"a", "b", "c", "d"}} {
		if _, err := endpoint.ByTopic(s, recs, topics); err == nil || !strings.Contains(err.Error(), "one to three are supported") {
			t.Errorf("ByTopic of %d topics: %v", len(topics), err)
		}
	}
	if _, err := endpoint.ByTopic(s, recs, []string{"a", "a"}); err == nil || err.Error() != "topic a is given for two inputs" {
		t.Errorf("ByTopic of a topic given twice: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
