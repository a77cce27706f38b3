// Package beamtest runs finbeam's pipeline tests on Beam's prism runner with the settings finbeam's
// stateful pipelines need.
package beamtest

import (
	"flag"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

// Experiments are the runner experiments every finbeam run on prism sets: prism may split a stateful
// bundle while it runs, and a few keys' state came out wrong when it did.
const Experiments = "prism_disable_sdf_split"

// Main is ptest.Main on prism with Experiments set and Beam's info logging off.
func Main(m *testing.M) {
	if err := flag.Set("experiments", Experiments); err != nil {
		panic(err)
	}
	log.SetupLogging("warn", "text")
	ptest.MainWithDefault(m, "prism")
}
