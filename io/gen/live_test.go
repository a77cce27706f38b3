package gen_test

import (
	"fmt"

	"github.com/finbeam/finbeam/io/gen"
)

// Live sets the event-time field of a line to the time it is sent and moves the line's other time
// fields with it (a null stays null); bad lines pass unchanged.
func ExampleLive() {
	fmt.Println(gen.Live(`{"log_time":1710000000000,"account_id":"A1","amount":12.50}`, "log_time", 1795334400000))
	fmt.Println(gen.Live(`{"gmt_created":1710000000000,"gmt_modified":1710003600000,"pay_time":null}`, "gmt_modified", 1795334400000))
	fmt.Println(gen.Live(`{"log_time":"yesterday","account_id":"a1"}`, "log_time", 1795334400000))
	fmt.Println(gen.Live(`not json at all`, "log_time", 1795334400000))
	// Output:
	// {"account_id":"A1","amount":12.50,"log_time":1795334400000}
	// {"gmt_created":1795330800000,"gmt_modified":1795334400000,"pay_time":null}
	// {"log_time":"yesterday","account_id":"a1"}
	// not json at all
}
