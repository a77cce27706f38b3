package premiumdrop

import (
	"testing"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// Any update_info line is refused naming a field and none of its values, or parsed into an update
// that, written back, parses to itself.
func FuzzParseUpdate(f *testing.F) {
	fuzzcheck.Seeds(f, gen.Updates, 20,
		`{"id":7,"channel":"app","open_id":"oX9secret","event":"renew","now_premium":"1200.50","creator":"c","modifier":"m","gmt_modified":1710000000000,"now_info":"{\"tel\":\"13800138000\"}"}`,
		`{"id":7,"now_premium":"12,50","gmt_modified":1}`,
		`{"id":7,"now_premium":1e-7,"gmt_modified":1}`)
	fields := fuzzcheck.Fields(Update{})
	f.Fuzz(func(t *testing.T, line string) { fuzzcheck.Line(t, line, ParseUpdate, fields) })
}

// The same of raw_info, the key-user dimension.
func FuzzParseDim(f *testing.F) {
	fuzzcheck.Seeds(f, gen.KeyUsers, 20,
		`{"id":7,"raw_premium":"1500","raw_info":"Li Lei 13800138000"}`,
		`{"id":7,"raw_premium":"abc","raw_info":null}`)
	fields := fuzzcheck.Fields(Dim{})
	f.Fuzz(func(t *testing.T, line string) { fuzzcheck.Line(t, line, ParseDim, fields) })
}
