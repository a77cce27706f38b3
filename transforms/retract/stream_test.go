package retract

import (
	"encoding/json"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/finbeam/finbeam/testing/beamtest"
)

func init() { register.Function1x1(decodeDelta) }

// decodeDelta reads the test stream's elements: TestStream carries them as JSON bytes.
func decodeDelta(b []byte) Delta {
	var d Delta
	if err := json.Unmarshal(b, &d); err != nil {
		panic(err)
	}
	return d
}

func encoded(t *testing.T, d Delta) []byte {
	b, err := json.Marshal(d)
	beamtest.Must(t, err)
	return b
}

// Once the watermark passes a key's expiry its state is gone: a later contribution to the same key
// starts again from version 1 with a count of 1. The first expiry is before 1970 on purpose.
func TestStreamClearsStateOncePastExpiry(t *testing.T) {
	first := delta("h", 1, "1.5", "o1")
	first.Expiry = -5000
	second := delta("h", 1, "2", "o2")
	second.Expiry = 10_000
	con := teststream.NewConfig()
	beamtest.Must(t, con.AddElements(-6000, encoded(t, first)))
	beamtest.Must(t, con.AdvanceWatermark(0))
	beamtest.Must(t, con.AddElements(5000, encoded(t, second)))
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	out := PerKey(s, beam.ParDo(s, decodeDelta, teststream.Create(s, con)))
	passert.Equals(s, beam.ParDo(s, describe, out), "h v1 sums=[1.5] distinct=[1 0] n=1", "h v1 sums=[2] distinct=[1 0] n=1")
	ptest.RunAndValidate(t, p)
}

// With Config.Late a contribution to a key whose expiry the watermark has passed goes to the late
// output and changes no row, even once the key's state is gone; one within its expiry still counts.
func TestStreamSendsLateDeltasToTheLateOutput(t *testing.T) {
	first, late, onTime := delta("h", 1, "1.5", "o1"), delta("h", 1, "2", "o2"), delta("k", 1, "3", "o3")
	late.Raw = "the late line"
	onTime.Expiry = 10_000
	con := teststream.NewConfig()
	beamtest.Must(t, con.AddElements(500, encoded(t, first)))
	beamtest.Must(t, con.AdvanceWatermark(5000)) // h expires at 1000: its state is cleared
	beamtest.Must(t, con.AddElements(600, encoded(t, late)))
	beamtest.Must(t, con.AddElements(6000, encoded(t, onTime)))
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	for _, combine := range []bool{false, true} {
		p, s := beam.NewPipelineWithRoot()
		out, lateOut := PerKeyOnTime(s, Config{Late: true, Buckets: 1, Combine: combine}, beam.ParDo(s, decodeDelta, teststream.Create(s, con)))
		passert.Equals(s, beam.ParDo(s, describe, out), "h v1 sums=[1.5] distinct=[1 0] n=1", "k v1 sums=[3] distinct=[1 0] n=1")
		passert.Equals(s, beam.ParDo(s, rawOf, lateOut), "the late line")
		ptest.RunAndValidate(t, p)
	}
}

func rawOf(d Delta) string { return d.Raw }

func init() { register.Function1x1(rawOf) }
