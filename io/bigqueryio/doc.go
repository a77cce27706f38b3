// Package bigqueryio writes finbeam's outputs to BigQuery as history tables, streaming, through the
// Storage Write API (managedwriter, each table's default stream, with write retries): every change
// a job emits is appended as one row, so the table holds the whole history of the output.
//
// A changelog table has the schema's columns followed by three bookkeeping columns:
//
//	op          STRING    NOT NULL  "upsert" or "delete" (a delete carries the key columns only)
//	version     INT64     NOT NULL  the change's version (see transforms/changelog)
//	ingested_at TIMESTAMP NOT NULL  when the sink appended the row
//
// and the view <table>_current selects, per primary key, the row with the highest version unless it
// is a delete: the same rows the MySQL sink keeps (io/mysqlio), queried like that table. An
// append-only table (alerts) has the schema's columns and ingested_at; its view keeps the first row
// appended per key. Money (DECIMAL) is NUMERIC (BIGNUMERIC beyond 9 decimals), sent as its exact
// decimal string; FLOAT64 columns are FLOAT64; JSON columns JSON. Tables are partitioned by day of
// ingested_at and clustered by the key.
//
// Replays and retries are harmless: a bundle the runner retries appends its rows again, and the
// duplicates carry the same key and version, so the view picks the same row. The writer appends a
// bundle's rows and waits for BigQuery to acknowledge them before the bundle ends; a row that cannot
// be converted (a decimal with more places than its column, a value of the wrong type) or an append
// that fails after the client's retries fails the bundle with an error that names table.column,
// never a value.
//
// Config.Endpoint and Config.StorageEndpoint point the sink at an emulator
// (github.com/goccy/bigquery-emulator: REST and gRPC addresses) without credentials; left empty, it
// writes to Google BigQuery with Application Default Credentials.
package bigqueryio
