package gen_test

import (
	"fmt"

	"github.com/finbeam/finbeam/testing/gen"
)

// Live sets the event-time field of a line to the time it is sent; bad lines pass unchanged.
func ExampleLive() {
	fmt.Println(gen.Live(`{"log_time":1710000000000,"account_id":"A1","amount":12.50}`, "log_time", 1795334400000))
	fmt.Println(gen.Live(`{"log_time":"yesterday","account_id":"a1"}`, "log_time", 1795334400000))
	fmt.Println(gen.Live(`not json at all`, "log_time", 1795334400000))
	// Output:
	// {"account_id":"A1","amount":12.50,"log_time":1795334400000}
	// {"log_time":"yesterday","account_id":"a1"}
	// not json at all
}
