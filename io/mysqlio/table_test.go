package mysqlio

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/finbeam/finbeam/transforms/changelog"
)

// A value the column cannot hold is an error that names the table and the column, never the value.
func TestToRowNamesTheColumn(t *testing.T) {
	schema := changelog.Schema{Table: "t", Key: []string{"k"}, Columns: []changelog.Column{
		{Name: "k", Type: changelog.String}, {Name: "n", Type: changelog.Int64}, {Name: "m", Type: changelog.Decimal, Scale: 2},
		{Name: "f", Type: changelog.Float64}, {Name: "b", Type: changelog.Bool},
	}}
	good := changelog.Change{Op: changelog.OpUpsert, Version: 3, Row: []byte(`{"k":"a","n":7,"m":"12.50","f":1.5,"b":true}`)}
	r, err := toRow(schema, good)
	if err != nil || r.key != `["a"]` || r.version != 3 || len(r.args) != 7 || r.args[2] != "12.5" || r.args[6] != false {
		t.Errorf("toRow = %+v, %v", r, err)
	}
	for row, want := range map[string]string{
		`{"k":13800138000}`:          "t.k: want a JSON string",
		`{"k":"a","n":"7"}`:          "t.n: want a JSON integer",
		`{"k":"a","m":"12.505"}`:     "t.m: a decimal with more than the column's 2 decimals",
		`{"k":"a","m":"lots"}`:       "t.m: want a decimal",
		`{"k":"a","f":"x"}`:          "t.f: want a JSON number",
		`{"k":"a","b":1}`:            "t.b: want true or false",
		`["not","an","object"]`:      "t: a change is not a JSON object",
		`{"k":"a","n":1.5e300000}`:   "t.n: want a JSON integer",
		`{"k":"a","m":12.3456789e1}`: "t.m: a decimal with more",
	} {
		_, err := toRow(schema, changelog.Change{Op: changelog.OpUpsert, Version: 1, Row: []byte(row)})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "13800138000") {
			t.Errorf("%s: err = %v, want %q and no value", row, err, want)
		}
	}
}

// Deadlocks, lock wait timeouts and lost connections are tried again; a missing table or column,
// access denied or a value the column cannot hold is not.
func TestTransientErrors(t *testing.T) {
	for err, want := range map[error]bool{
		&mysql.MySQLError{Number: 1213, Message: "Deadlock found"}:    true,
		&mysql.MySQLError{Number: 1205, Message: "Lock wait timeout"}: true,
		mysql.ErrInvalidConn:                                            true,
		fmt.Errorf("writing: %w", driver.ErrBadConn):                    true,
		&net.OpError{Op: "dial", Err: errors.New("connection refused")}: true,
		&mysql.MySQLError{Number: 1146, Message: "Table doesn't exist"}: false,
		&mysql.MySQLError{Number: 1054, Message: "Unknown column"}:      false,
		&mysql.MySQLError{Number: 1045, Message: "Access denied"}:       false,
		&mysql.MySQLError{Number: 1406, Message: "Data too long"}:       false,
	} {
		if got := transient(err); got != want {
			t.Errorf("transient(%v) = %v, want %v", err, got, want)
		}
	}
}
