package mysqltest

import (
	"context"

	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// Table reads the live rows (is_deleted = 0) of schema's table in the form of changelog.Table.Objects:
// primary key (a JSON array) -> the row as a JSON object with the schema's columns in order. Decimals
// come out without trailing zeros, as finbeam writes them, so the two forms compare as strings.
func Table(dsn string, schema changelog.Schema) (map[string]string, error) {
	r, err := mysqlio.NewReader(mysqlio.Config{DSN: dsn}, schema)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.All(context.Background())
}
