package premiumdrop_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	for i, ratio := range []string{"0.15", "0.15", "0", "0.5"} {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 200 + r.Intn(600), Users: 2 + r.Intn(30), BadEvery: 10 + r.Intn(40)}
		updates, dims := gen.Lines(cfg, gen.Updates), gen.Lines(cfg, gen.KeyUsers)
		for j := 0; j < 20; j++ { // same gmt_modified, another amount: ties
			l := updates[r.Intn(len(updates))]
			updates = append(updates, strings.Replace(l, `"now_premium":`, `"now_premium":"1.5","x":`, 1))
		}
		dims = append(dims, strings.Replace(dims[0], `"raw_premium":`, `"raw_premium":"5","x":`, 1)) // an id twice
		dir := t.TempDir()
		out := filepath.Join(dir, "alerts.jsonl")
		p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "update_info", updates, r, 1+r.Intn(4)),
			beamtest.WriteShuffled(t, dir, "raw_info", dims, r, 1+r.Intn(2)))
		alerts, dimChanges, dead, err := premiumdrop.Build(s, in[0], in[1], premiumdrop.Options{DropRatio: ratio, Bounded: true})
		if err != nil {
			t.Fatal(err)
		}
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Lines: alerts}, endpoint.Output{Name: out + ".dim.jsonl", Changes: dimChanges},
			endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		counters := beamtest.Run(t, p)

		wantAlerts, wantDim, bad := reference.PremiumDrop(updates, dims, ratio)
		gotAlerts := beamtest.ReadLines(t, out)
		sort.Strings(gotAlerts)
		if strings.Join(gotAlerts, "\n") != strings.Join(wantAlerts, "\n") {
			t.Errorf("case %d: %d alerts, want %d; first got %q want %q", i, len(gotAlerts), len(wantAlerts), first(gotAlerts), first(wantAlerts))
		}
		if ratio == "0.15" && len(wantAlerts) == 0 {
			t.Errorf("case %d: the sample made no alert: the test checks nothing", i)
		}
		dim := beamtest.ReadChangelog(t, out+".dim.jsonl", premiumdrop.DimKeyColumns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d: dimension", i), dim.Objects(premiumdrop.DimColumns...), wantDim)
		if dead := beamtest.ReadLines(t, out+".deadletter.jsonl"); len(dead) != bad {
			t.Errorf("case %d: %d dead letters, want %d", i, len(dead), bad)
		}
		if counters["not_key_user"] == 0 {
			t.Errorf("case %d: no update of a user outside the dimension was counted", i)
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func update(id int, ms int64, now string) []byte {
	return fmt.Appendf(nil, `{"id": %d, "now_premium": %s, "gmt_modified": %d, "channel": "app"}`, id, now, ms)
}

// Updates that arrive out of order take effect in gmt_modified order: the alert shows which raw
// premium each was compared with. A drop of exactly 15% does not alert. An update older than one that
// already took effect is late. A user outside the dimension is ignored.
func TestStreamAppliesUpdatesInEventTimeOrder(t *testing.T) {
	con := teststream.NewConfig()
	beamtest.Must(t, con.AddElements(2000, update(1, 2000, `"72.24"`))) // arrives first, happens second
	beamtest.Must(t, con.AddElements(1000, update(1, 1000, `85`)))      // exactly 15% below 100: no alert
	beamtest.Must(t, con.AdvanceWatermark(5000))
	beamtest.Must(t, con.AddElements(1500, update(1, 1500, `1`))) // older than an applied update: late
	beamtest.Must(t, con.AddElements(9000, update(2, 9000, `1`))) // not a key user
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	dims := beam.Create(s, `{"id": 1, "raw_premium": "100.00", "raw_info": "vip"}`)
	alerts, dimChanges, dead, err := premiumdrop.Build(s, beamtest.Strings(s, teststream.Create(s, con)), dims, premiumdrop.Options{})
	beamtest.Must(t, err)
	passert.Equals(s, alerts, `{"id":1,"raw_info":null,"now_info":null,"raw_premium":85,"now_premium":72.24,"gmt_modified":2000}`)
	passert.Equals(s, changelog.Lines(s, dimChanges),
		`{"op":"upsert","id":1,"raw_premium":85,"raw_info":null,"version":1000000}`, // versions: gmt_modified × 1000
		`{"op":"upsert","id":1,"raw_premium":72.24,"raw_info":null,"version":2000000}`)
	passert.Equals(s, beamtest.Reasons(s, dead), validate.Late)
	ptest.RunAndValidate(t, p)
}
