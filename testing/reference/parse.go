package reference

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// kind is a field type of the input formats (README, "Formats").
type kind int

const (
	integer kind = iota
	dec
	str
	eventTime // an integer of epoch ms in the years 1 to 9999
	boolean
)

// field is one column of an input table.
type field struct {
	name        string
	kind        kind
	required    bool
	nonEmpty    bool
	nonNegative bool // a decimal
}

// record is a parsed line: values by field name (int64, decimal.Decimal, string, or nil for null) and
// its canonical encoding, the tie-breaker: the fields in schema order as a JSON object, decimals
// normalised, nulls written.
type record struct {
	v         map[string]any
	canonical []byte
}

func (r record) int(name string) int64 { return r.v[name].(int64) }

func (r record) dec(name string) (decimal.Decimal, bool) {
	d, ok := r.v[name].(decimal.Decimal)
	return d, ok
}

func (r record) str(name string) (string, bool) {
	s, ok := r.v[name].(string)
	return s, ok
}

var (
	yearOne  = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	year9999 = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() - 1
	intText  = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	decText  = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
)

// parse reads a line by the schema's rules; ok is false for a line that must be dead-lettered.
func parse(line string, schema []field) (record, bool) {
	dec0 := json.NewDecoder(strings.NewReader(line))
	dec0.UseNumber()
	var m map[string]any
	if !strings.HasPrefix(strings.TrimSpace(line), "{") || dec0.Decode(&m) != nil || dec0.More() {
		return record{}, false
	}
	r := record{v: map[string]any{}}
	var canon bytes.Buffer
	canon.WriteByte('{')
	for i, f := range schema {
		raw, present := m[f.name]
		var v any
		if present && raw != nil {
			switch f.kind {
			case integer, eventTime:
				n, isNum := raw.(json.Number)
				if !isNum || !intText.MatchString(string(n)) {
					return record{}, false
				}
				x, err := strconv.ParseInt(string(n), 10, 64)
				if err != nil || f.kind == eventTime && (x < yearOne || x > year9999) {
					return record{}, false
				}
				v = x
			case dec:
				var text string
				switch x := raw.(type) {
				case json.Number:
					text = string(x)
				case string:
					if !decText.MatchString(x) {
						return record{}, false
					}
					text = x
				default:
					return record{}, false
				}
				d, err := decimal.NewFromString(text)
				if err != nil {
					return record{}, false
				}
				v = d
			case str:
				s, isStr := raw.(string)
				if !isStr {
					return record{}, false
				}
				v = s
			case boolean:
				b, isBool := raw.(bool)
				if !isBool {
					return record{}, false
				}
				v = b
			}
		}
		if d, isDec := v.(decimal.Decimal); v == nil && f.required || f.nonEmpty && v == "" || f.nonNegative && isDec && d.IsNegative() {
			return record{}, false
		}
		r.v[f.name] = v
		if i > 0 {
			canon.WriteByte(',')
		}
		canon.WriteString(strconv.Quote(f.name) + ":")
		canon.Write(encode(v))
	}
	canon.WriteByte('}')
	r.canonical = canon.Bytes()
	return r, true
}

// rawJSON is a value that encode writes as it is.
type rawJSON []byte

// encode writes a value as the pipelines' outputs do: decimals as JSON numbers with their digits.
func encode(v any) []byte {
	switch x := v.(type) {
	case decimal.Decimal:
		return []byte(x.String())
	case rawJSON:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// object writes name/value pairs as a JSON object in the given order.
func object(kv ...any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(kv[i].(string)) + ":")
		b.Write(encode(kv[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

// The input tables, fields in the order the pipelines' package docs list them.
var (
	userOrder = []field{
		{name: "id", kind: integer, required: true}, {name: "order_no", kind: str, required: true, nonEmpty: true},
		{name: "order_type", kind: integer}, {name: "pay_time", kind: integer}, {name: "order_price", kind: dec},
		{name: "customer_name", kind: str}, {name: "customer_tel", kind: str}, {name: "certificate_no", kind: str},
		{name: "gmt_created", kind: integer}, {name: "gmt_modified", kind: eventTime, required: true}, {name: "account_payble", kind: dec},
	}
	updateInfo = []field{
		{name: "id", kind: integer, required: true}, {name: "channel", kind: str}, {name: "open_id", kind: str}, {name: "event", kind: str},
		{name: "now_premium", kind: dec, required: true}, {name: "creator", kind: str}, {name: "modifier", kind: str},
		{name: "gmt_modified", kind: eventTime, required: true}, {name: "now_info", kind: str},
	}
	rawInfo = []field{{name: "id", kind: integer, required: true}, {name: "raw_premium", kind: dec, required: true}, {name: "raw_info", kind: str}}
	userLog = []field{
		{name: "log_time", kind: eventTime, required: true}, {name: "device_id", kind: str}, {name: "account_id", kind: str},
		{name: "bury_point_type", kind: str}, {name: "page_name", kind: str},
	}
	loanApplication = []field{
		{name: "user_id", kind: str, required: true, nonEmpty: true}, {name: "app_id", kind: str, required: true, nonEmpty: true},
		{name: "amount", kind: dec, required: true, nonNegative: true}, {name: "product", kind: str}, {name: "device_id", kind: str},
		{name: "ip", kind: str}, {name: "ts", kind: eventTime, required: true},
	}
	login = []field{
		{name: "user_id", kind: str, required: true, nonEmpty: true}, {name: "device_id", kind: str}, {name: "ip", kind: str},
		{name: "success", kind: boolean, required: true}, {name: "ts", kind: eventTime, required: true},
	}
	repayment = []field{
		{name: "user_id", kind: str, required: true, nonEmpty: true}, {name: "loan_id", kind: str, required: true, nonEmpty: true},
		{name: "amount", kind: dec, required: true, nonNegative: true}, {name: "due_ts", kind: eventTime, required: true},
		{name: "paid_ts", kind: integer}, {name: "ts", kind: eventTime, required: true},
	}
)
