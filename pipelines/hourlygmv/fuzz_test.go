package hourlygmv

import (
	"testing"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// Any user_order line is refused naming a field and none of its values (a phone number, a
// certificate number), or parsed into an order that, written back, parses to itself.
func FuzzParseOrder(f *testing.F) {
	fuzzcheck.Seeds(f, gen.Orders, 20,
		`{"id":1,"order_no":"O1","order_type":1,"pay_time":1710000000000,"order_price":"12.30","customer_name":"Wang Fang","customer_tel":"13800138000","certificate_no":"110101199003074514","gmt_created":1,"gmt_modified":1710000000000,"account_payble":0.1}`,
		`{"id":1,"order_no":"O1","gmt_modified":1710000000000,"customer_tel":13800138000}`,
		`{"id":"13800138000","order_no":"O1","gmt_modified":1}`,
		`{"id":1,"order_no":"O1","gmt_modified":1,"order_price":"1e3"}`,
		`{"id":1,"order_no":"O1","gmt_modified":1,"order_price":-0.000}`)
	fields := fuzzcheck.Fields(Order{})
	f.Fuzz(func(t *testing.T, line string) { fuzzcheck.Line(t, line, ParseOrder, fields) })
}
