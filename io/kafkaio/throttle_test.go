package kafkaio

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A reader's errors come out at most once per interval, with the number held back.
func TestThrottledReaderErrors(t *testing.T) {
	var lines []string
	old := Logf
	Logf = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	defer func() { Logf = old }()
	log := throttled("orders/0", 50*time.Millisecond)
	for i := 0; i < 100; i++ {
		log("dial tcp 127.0.0.1:9092: connection refused")
	}
	time.Sleep(60 * time.Millisecond)
	log("dial tcp 127.0.0.1:9092: connection refused")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "reader of orders/0: dial tcp") || !strings.Contains(lines[1], "(and 99 more errors in the last") {
		t.Errorf("lines %q, want one, then one holding back 99", lines)
	}
}
