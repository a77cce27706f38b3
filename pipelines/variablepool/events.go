package variablepool

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/transforms/validate"
)

// The source streams.
const (
	LoanApplication = "loan_application"
	Login           = "login"
	Repayment       = "repayment"
)

// Sources lists the streams in the order Build takes their inputs; they are the input tables'
// names (topics, binlog tables, the sample's files).
var Sources = []string{LoanApplication, Login, Repayment}

type fieldKind string

const (
	kindNumber fieldKind = "number"
	kindString fieldKind = "string"
	kindBool   fieldKind = "boolean"
)

// sourceFields are the fields a variable may aggregate or filter on, per stream: the input's fields
// and, for repayments, the derived overdue.
var sourceFields = map[string]map[string]fieldKind{
	LoanApplication: {"user_id": kindString, "app_id": kindString, "amount": kindNumber, "product": kindString,
		"device_id": kindString, "ip": kindString, "ts": kindNumber},
	Login: {"user_id": kindString, "device_id": kindString, "ip": kindString, "success": kindBool, "ts": kindNumber},
	Repayment: {"user_id": kindString, "loan_id": kindString, "amount": kindNumber, "due_ts": kindNumber,
		"paid_ts": kindNumber, "ts": kindNumber, "overdue": kindBool},
}

func fieldNames(source string) []string {
	var n []string
	for f := range sourceFields[source] {
		n = append(n, f)
	}
	slices.Sort(n)
	return n
}

// Event is one normalised record of a source stream. Strings that are empty are null; amounts are
// canonical decimals; Overdue is derived: a repayment paid after its due time, or not paid.
type Event struct {
	Source   string  `json:"source"`
	UserID   string  `json:"user_id"`
	TS       int64   `json:"ts"`
	ID       string  `json:"id,omitempty"`     // app_id or loan_id
	Amount   string  `json:"amount,omitempty"` // loan_application and repayment
	Product  *string `json:"product,omitempty"`
	DeviceID *string `json:"device_id,omitempty"`
	IP       *string `json:"ip,omitempty"`
	Success  bool    `json:"success,omitempty"`
	DueTS    int64   `json:"due_ts,omitempty"`
	PaidTS   *int64  `json:"paid_ts,omitempty"`
	Overdue  bool    `json:"overdue,omitempty"`
}

// Parse reads one line of source: the fields of the event table, with the types below.
//
//	loan_application  user_id, app_id (non-empty strings), amount (decimal, not negative), product,
//	                  device_id, ip (string or null), ts (epoch ms)
//	login             user_id (non-empty string), device_id, ip (string or null), success (boolean), ts
//	repayment         user_id, loan_id (non-empty strings), amount (decimal, not negative), due_ts
//	                  (epoch ms), paid_ts (epoch ms or null: not paid), ts
func Parse(source, line string) (Event, error) {
	r := validate.NewReader(line)
	e := Event{Source: source, UserID: r.NonEmptyString("user_id")}
	negative := false
	amount := func() {
		a := r.Decimal("amount")
		negative = a.IsNegative()
		e.Amount = a.String()
	}
	switch source {
	case LoanApplication:
		e.ID = r.NonEmptyString("app_id")
		amount()
		e.Product, e.DeviceID, e.IP = r.OptString("product"), r.OptString("device_id"), r.OptString("ip")
	case Login:
		e.DeviceID, e.IP, e.Success = r.OptString("device_id"), r.OptString("ip"), r.Bool("success")
	case Repayment:
		e.ID = r.NonEmptyString("loan_id")
		amount()
		e.DueTS, e.PaidTS = r.EventTime("due_ts"), r.OptInt("paid_ts")
	default:
		return e, fmt.Errorf("variablepool: unknown source %q", source)
	}
	e.TS = r.EventTime("ts")
	if err := r.Err(); err != nil {
		return e, err
	}
	if negative {
		return e, &validate.Error{Kind: validate.InvalidValue, Field: "amount", Msg: "must not be negative"}
	}
	for _, p := range []**string{&e.Product, &e.DeviceID, &e.IP} {
		if *p != nil && strings.TrimSpace(**p) == "" {
			*p = nil
		}
	}
	if source == Repayment {
		e.Overdue = (e.PaidTS == nil && e.TS > e.DueTS) || (e.PaidTS != nil && *e.PaidTS > e.DueTS)
	}
	return e, nil
}

// value is a field's value: a decimal, a string or a boolean; null when ok is false.
type value struct {
	ok   bool
	kind fieldKind
	num  decimal.Decimal
	str  string
	b    bool
}

// field returns the event's value of a field of its source.
func (e *Event) field(name string) value {
	str := func(s *string) value {
		if s == nil {
			return value{}
		}
		return value{ok: true, kind: kindString, str: *s}
	}
	num := func(n int64) value { return value{ok: true, kind: kindNumber, num: decimal.NewFromInt(n)} }
	switch name {
	case "user_id":
		return str(&e.UserID)
	case "app_id", "loan_id":
		return str(&e.ID)
	case "amount":
		return value{ok: true, kind: kindNumber, num: decimal.RequireFromString(e.Amount)}
	case "product":
		return str(e.Product)
	case "device_id":
		return str(e.DeviceID)
	case "ip":
		return str(e.IP)
	case "success":
		return value{ok: true, kind: kindBool, b: e.Success}
	case "overdue":
		return value{ok: true, kind: kindBool, b: e.Overdue}
	case "ts":
		return num(e.TS)
	case "due_ts":
		return num(e.DueTS)
	case "paid_ts":
		if e.PaidTS == nil {
			return value{}
		}
		return num(*e.PaidTS)
	}
	return value{}
}

// key is the value's identity for distinct counts.
func (v value) key() string {
	switch v.kind {
	case kindNumber:
		return "n" + v.num.String()
	case kindBool:
		return fmt.Sprint("b", v.b)
	}
	return "s" + v.str
}

// JSON is the value as the changelog writes it: a number, a string, a boolean or null.
func (v value) JSON() string {
	if !v.ok {
		return "null"
	}
	switch v.kind {
	case kindNumber:
		return v.num.String()
	case kindBool:
		return fmt.Sprint(v.b)
	}
	b, _ := json.Marshal(v.str)
	return string(b)
}

// fieldEquals is one filter condition.
type fieldEquals struct {
	field string
	want  value
}

func newFieldEquals(field string, kind fieldKind, want any) (fieldEquals, error) {
	f := fieldEquals{field: field, want: value{ok: true, kind: kind}}
	switch w := want.(type) {
	case bool:
		if kind == kindBool {
			f.want.b = w
			return f, nil
		}
	case string:
		if kind == kindString {
			f.want.str = w
			return f, nil
		}
	case int, int64, float64:
		if kind == kindNumber {
			d, err := decimal.NewFromString(fmt.Sprint(w))
			f.want.num = d
			return f, err
		}
	case nil:
		f.want = value{}
		return f, nil
	}
	return f, fmt.Errorf("field %q is a %s; %v is not", field, kind, want)
}

func (f fieldEquals) match(e *Event) bool {
	got := e.field(f.field)
	switch {
	case !f.want.ok || !got.ok:
		return f.want.ok == got.ok
	case f.want.kind == kindNumber:
		return got.num.Equal(f.want.num)
	}
	return got.key() == f.want.key()
}

// Applies reports whether the variable takes the event: its source (or any) and its filter.
func (v *Variable) Applies(e *Event) bool {
	if v.Source != AnySource && v.Source != e.Source {
		return false
	}
	for _, f := range v.filter {
		if !f.match(e) {
			return false
		}
	}
	return true
}
