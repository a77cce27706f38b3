package validate

import (
	"encoding/json"

	"github.com/shopspring/decimal"
)

// Money returns d as a JSON number with exactly the digits of the decimal, never a binary float.
func Money(d decimal.Decimal) json.Number { return json.Number(d.String()) }

// OptMoney is Money for an optional value: nil stays nil (JSON null).
func OptMoney(d *decimal.Decimal) *json.Number {
	if d == nil {
		return nil
	}
	n := Money(*d)
	return &n
}
