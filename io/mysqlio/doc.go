// Package mysqlio writes finbeam's outputs into MySQL or MariaDB tables (github.com/go-sql-driver/mysql).
//
// WriteChanges applies a changelog (transforms/changelog) as version-guarded upserts: each bundle's
// changes are written in batches of multi-row INSERT ... ON DUPLICATE KEY UPDATE, one transaction per
// batch, and a row is changed only when the incoming version is greater than the stored one. So
// replays, retries and reordering leave the table as the newest version of every key says, and a
// delete is a tombstone (is_deleted = 1, the other columns null) that an older upsert arriving later
// cannot undo. Readers select `WHERE is_deleted = 0`.
//
// WriteRows inserts rows into append-only tables (Schema.AppendOnly: alerts, joined actions): a row
// whose key is already there is kept. Reader looks rows up (premiumdrop's dimension) and reads
// tables back.
//
// Every table has the schema's columns, then (unless append-only) `version BIGINT NOT NULL` and
// `is_deleted TINYINT(1) NOT NULL`. The primary key is the schema's key, or, when a key column may be
// null (which a MySQL primary key cannot hold), a `row_key` column with the key columns' values as a
// JSON array. Config.CreateTables creates missing tables (CREATE TABLE IF NOT EXISTS, DDL from the
// schema: README, "Writing to MySQL").
//
// Errors. A deadlock, a lock wait timeout or a lost connection is retried with backoff (counted as
// mysql_retries); anything else (a missing table or column, a value the column cannot hold) fails the
// bundle, and so the job, with a message that names the table and column, never a value of a row.
//
// Secrets. The DSN carries no password: it comes from the environment variable or file the Config
// names, read on the worker, and appears in no error or log line. TLS: Config.TLS, CAFile, CertFile
// and KeyFile (a client certificate for users that REQUIRE X509).
package mysqlio
