package mysqlcdc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// fuzzRow makes a binlog row of the kinds of values go-mysql decodes (NULL, integers of each width,
// floats, DECIMAL, strings and byte strings) from raw: a kind byte and 8 bytes of value per column.
func fuzzRow(raw []byte, text string) (cols []string, row []any) {
	for i := 0; i+9 <= len(raw) && len(row) < 32; i += 9 {
		bits := binary.LittleEndian.Uint64(raw[i+1 : i+9])
		var v any
		switch raw[i] % 9 {
		case 0:
			v = nil
		case 1:
			v = int8(bits)
		case 2:
			v = int32(bits)
		case 3:
			v = int64(bits)
		case 4:
			v = uint64(bits)
		case 5:
			v = math.Float64frombits(bits)
		case 6:
			v = decimal.New(int64(bits>>8), -int32(bits%40))
		case 7:
			v = text
		case 8:
			v = []byte(text)
		}
		cols, row = append(cols, fmt.Sprintf("c%d", len(row))), append(row, v)
	}
	return cols, row
}

// Any binlog row becomes one JSON object with the table's columns in order whose values read back as
// the row's (integers and DECIMAL digit for digit, text byte for byte when it is UTF-8), or, for a
// value JSON cannot hold (NaN, ±Inf), an error that names the table and column and not the value.
func FuzzRowJSON(f *testing.F) {
	f.Add([]byte("\x01\xff\x00\x00\x00\x00\x00\x00\x00\x06\x39\x30\x00\x00\x00\x00\x00\x02\x07abcdefgh"), "Li Lei 13800138000")
	f.Add([]byte("\x05\x00\x00\x00\x00\x00\x00\xf8\x7f"), "x") // NaN
	f.Add([]byte("\x08\x00\x00\x00\x00\x00\x00\x00\x00"), "\xff\xfe")
	f.Fuzz(func(t *testing.T, raw []byte, text string) {
		cols, row := fuzzRow(raw, text)
		b, err := rowJSON("user_order", cols, row)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mysql CDC: user_order.c") || strings.Contains(err.Error(), "NaN") || len(text) >= 4 && strings.Contains(err.Error(), text) {
				t.Fatalf("%v: error %q does not name the column, or quotes a value", row, err)
			}
			return
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || len(obj) != len(cols) {
			t.Fatalf("%v: %s is not an object of %d columns: %v", row, b, len(cols), err)
		}
		for i, v := range row {
			got := obj[cols[i]]
			var ok bool
			switch x := v.(type) {
			case nil:
				ok = got == nil
			case decimal.Decimal:
				n, isNum := got.(json.Number)
				d, err := decimal.NewFromString(string(n))
				ok = isNum && err == nil && d.Equal(x)
			case string, []byte:
				s, isStr := got.(string)
				ok = isStr && (s == fmt.Sprintf("%s", x) || !utf8.ValidString(fmt.Sprintf("%s", x)))
			case float64:
				n, isNum := got.(json.Number)
				g, err := n.Float64()
				ok = isNum && err == nil && g == x
			default:
				n, isNum := got.(json.Number)
				ok = isNum && string(n) == fmt.Sprint(x)
			}
			if !ok {
				t.Fatalf("column %s: %T %v written as %v in %s", cols[i], v, v, got, b)
			}
		}
	})
}
