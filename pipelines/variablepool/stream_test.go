package variablepool_test

import (
	"encoding/json"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

func init() {
	register.Function4x0(splitSource)
	register.Function1x1(badOrLate)
	register.Emitter1[string]()
}

// splitSource routes a test stream's "<source>|<line>" elements to the source's output.
func splitSource(tagged string, applications, logins, repayments func(string)) {
	source, line, _ := strings.Cut(tagged, "|")
	map[string]func(string){variablepool.LoanApplication: applications, variablepool.Login: logins, variablepool.Repayment: repayments}[source](line)
}

// badOrLate tells late events from bad lines, whatever the field at fault.
func badOrLate(kind string) string {
	if kind == validate.Late {
		return kind
	}
	return "bad"
}

type streamed struct {
	tagged string
	ts     int64
}

// The same events as a stream, arriving out of order within each step of the watermark, give the
// same changelog as the reference, and so as the backfill over files (TestBackfillMatchesReference);
// an event that comes after its user was evaluated at a later instant is dead-lettered as late.
func TestStreamMatchesReference(t *testing.T) {
	vars, err := variablepool.ParseVariables([]byte(testVariables))
	beamtest.Must(t, err)
	r := rand.New(rand.NewSource(5))
	cfg := gen.Config{Seed: 3, Events: 150, Users: 6, BadEvery: 40, Span: 4 * time.Hour}
	streams := map[string][]string{}
	var all []streamed
	for source, f := range map[string]func(gen.Config, func(string)){variablepool.LoanApplication: gen.LoanApplications, variablepool.Login: gen.Logins, variablepool.Repayment: gen.Repayments} {
		streams[source] = gen.Lines(cfg, f)
		for _, l := range streams[source] {
			var e struct{ TS int64 }
			_ = json.Unmarshal([]byte(l), &e) // bad lines: time 0, streamed first
			all = append(all, streamed{source + "|" + l, e.TS})
		}
	}
	slices.SortStableFunc(all, func(a, b streamed) int { return int(min(max(a.ts-b.ts, -1), 1)) })
	until := all[len(all)-1].ts

	con := teststream.NewConfig()
	for lo := 0; lo < len(all); lo += 25 {
		step := slices.Clone(all[lo:min(lo+25, len(all))])
		r.Shuffle(len(step), func(i, j int) { step[i], step[j] = step[j], step[i] })
		for _, e := range step {
			beamtest.Must(t, con.AddElements(max(e.ts, 0), e.tagged))
		}
		if lo+25 < len(all) {
			beamtest.Must(t, con.AdvanceWatermark(all[lo+25].ts-1)) // every later event is after the watermark
		}
	}
	beamtest.Must(t, con.AdvanceWatermark(until+1))
	var late string
	for _, l := range streams[variablepool.Login] {
		if strings.Contains(l, `"user_id":"U000002"`) {
			late = strings.Replace(l, `"success":true`, `"success":false`, 1)
			break
		}
	}
	beamtest.Must(t, con.AddElements(until, variablepool.Login+"|"+late))
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	apps, logins, reps := beam.ParDo3(s, splitSource, teststream.Create(s, con))
	changes, dead, err := variablepool.Build(s, apps, logins, reps, variablepool.Options{Variables: vars, Until: until})
	beamtest.Must(t, err)
	out := filepath.Join(t.TempDir(), "variables.jsonl")
	beamtest.Must(t, jsonl.Write(s, out, changelog.Lines(s, changes)))
	want, bad := reference.VariablePool(streams, bench.ReferenceVariables(vars), until)
	reasons := []any{validate.Late}
	for i := 0; i < bad; i++ {
		reasons = append(reasons, "bad")
	}
	kinds := beam.ParDo(s, badOrLate, beamtest.Reasons(s, dead))
	passert.Equals(s, kinds, reasons...)
	ptest.RunAndValidate(t, p)
	sameRows(t, "stream", readRows(t, out), want)
	if bad == 0 || late == "" {
		t.Errorf("%d bad lines and late event %q: the sample tests too little", bad, late)
	}
}
