package app

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/finbeam/finbeam/io/bigqueryio"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/io/mysqlcdc"
	"github.com/finbeam/finbeam/io/mysqlio"
)

// The source and sink flags every command shares. Secrets are never flag values: the SASL password
// comes from the environment variable or file the flags name.
var (
	source       = flag.String("source", "file", "where inputs come from: file (JSONL), kafka, or mysqlcdc (row changes of the input tables from the binlog of the --mysql_dsn server, MariaDB)")
	sink         = flag.String("sink", "file", "where outputs go: file (JSONL), kafka, mysql or bigquery (the tables; dead letters and other outputs stay JSONL files)")
	kafkaBrokers = flag.String("kafka_brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	kafkaGroup   = flag.String("kafka_group", "", "consumer group: --kafka_start=group resumes from its committed offsets, and the job commits its progress to it")
	kafkaStart   = flag.String("kafka_start", "", "where reading starts: group, earliest, latest or an RFC 3339 time (default: group with --kafka_group, else earliest)")
	kafkaUntil   = flag.String("kafka_until", "", "end: read up to the high watermarks seen at start and finish; empty: stream until stopped (Ctrl-C)")
	kafkaOOO     = flag.Duration("kafka_out_of_orderness", kafkaio.DefaultOutOfOrder, "how far the watermark stays behind the newest event time of a partition")
	kafkaIdle    = flag.Duration("kafka_idle", kafkaio.DefaultIdle, "after this long without messages a partition stops holding the watermark back (ten times as long while messages wait behind its last one read); when all are idle, event time advances with wall time")
	kafkaTLS     = flag.Bool("kafka_tls", false, "connect to Kafka with TLS")
	kafkaCA      = flag.String("kafka_ca", "", "PEM file of the CAs to trust for Kafka TLS (default: the system's)")
	kafkaCert    = flag.String("kafka_cert", "", "PEM client certificate for Kafka mutual TLS")
	kafkaKey     = flag.String("kafka_key", "", "PEM key of --kafka_cert")
	kafkaSASL    = flag.String("kafka_sasl", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	kafkaUser    = flag.String("kafka_user", "", "SASL username")
	kafkaPwEnv   = flag.String("kafka_password_env", "", "environment variable holding the SASL password")
	kafkaPwFile  = flag.String("kafka_password_file", "", "file holding the SASL password")
	mysqlDSN     = flag.String("mysql_dsn", "root@tcp(127.0.0.1:3306)/finbeam", "with --sink=mysql: go-sql-driver DSN without a password, user@tcp(host:port)/database")
	mysqlPwEnv   = flag.String("mysql_password_env", "MYSQL_PASSWORD", "environment variable holding the MySQL password (unset: no password)")
	mysqlPwFile  = flag.String("mysql_password_file", "", "file holding the MySQL password")
	mysqlCreate  = flag.Bool("mysql_create_tables", false, "create the output tables when missing (DDL: README, \"Writing to MySQL\")")
	mysqlTLS     = flag.Bool("mysql_tls", false, "connect to MySQL with TLS")
	cdcTables    = flag.String("cdc_tables", "", "with --source=mysqlcdc: the input tables, comma-separated in the order of the job's inputs (default: the sample's table names, e.g. user_order, or requests,responses,tracks)")
	cdcStart     = flag.String("cdc_start", "", "with --source=mysqlcdc: a MariaDB GTID (domain-server-seq) to read after, or a binlog file position (file:pos) to read from (default: the current position)")
	mysqlCA      = flag.String("mysql_ca", "", "PEM file of the CAs to trust for MySQL TLS (default: the system's)")
	mysqlCert    = flag.String("mysql_cert", "", "PEM client certificate for MySQL (users that REQUIRE X509)")
	mysqlKey     = flag.String("mysql_key", "", "PEM key of --mysql_cert")
	bqProject    = flag.String("bq_project", "", "with --sink=bigquery: the Google Cloud project (credentials: Application Default Credentials)")
	bqDataset    = flag.String("bq_dataset", "finbeam", "with --sink=bigquery: the dataset of the tables")
	bqEndpoint   = flag.String("bq_endpoint", "", "with --sink=bigquery: REST URL of a BigQuery emulator, e.g. http://127.0.0.1:9050 (empty: Google BigQuery)")
	bqStorage    = flag.String("bq_storage_endpoint", "", "with --bq_endpoint: the emulator's Storage API (gRPC) address, e.g. 127.0.0.1:9060")
	bqCreate     = flag.Bool("bq_create_tables", false, "create the dataset, the tables and their _current views when missing (README, \"Writing to BigQuery\")")
)

// kafkaFlags are listed in --help after the command's own flags.
var kafkaFlags = []string{"source", "sink", "kafka_brokers", "kafka_group", "kafka_start", "kafka_until",
	"kafka_out_of_orderness", "kafka_idle", "kafka_tls", "kafka_ca", "kafka_cert", "kafka_key", "kafka_sasl",
	"kafka_user", "kafka_password_env", "kafka_password_file", "mysql_dsn", "mysql_password_env",
	"mysql_password_file", "mysql_create_tables", "mysql_tls", "mysql_ca", "mysql_cert", "mysql_key", "cdc_tables", "cdc_start",
	"bq_project", "bq_dataset", "bq_endpoint", "bq_storage_endpoint", "bq_create_tables"}

// IO is the endpoint configuration the source and sink flags select.
func (c *Command) IO() endpoint.Config {
	var cfg endpoint.Config
	sec := c.kafkaSecurity()
	brokers := strings.Split(*kafkaBrokers, ",")
	switch *source {
	case "file":
	case "kafka":
		switch *kafkaUntil {
		case "", "end":
		default:
			c.Fail(fmt.Errorf("--kafka_until=%q: want end or nothing", *kafkaUntil))
		}
		cfg.Source = &kafkaio.ReadConfig{Brokers: brokers, Group: *kafkaGroup, Start: *kafkaStart, UntilEnd: *kafkaUntil == "end",
			OutOfOrder: NonZero(*kafkaOOO), Idle: NonZero(*kafkaIdle), Security: sec}
	case "mysqlcdc":
		cfg.CDC = &mysqlcdc.ReadConfig{Config: mysqlcdc.Config{Conn: c.mysqlConfig()}, Start: *cdcStart,
			OutOfOrder: NonZero(*kafkaOOO), Idle: NonZero(*kafkaIdle)}
	default:
		c.Fail(fmt.Errorf("--source=%q: want file, kafka or mysqlcdc", *source))
	}
	switch *sink {
	case "file":
	case "kafka":
		cfg.Sink = &kafkaio.WriteConfig{Brokers: brokers, Security: sec}
	case "mysql":
		m := c.mysqlConfig()
		cfg.MySQL = &m
	case "bigquery":
		b := bigqueryio.Config{Project: *bqProject, Dataset: *bqDataset, Endpoint: *bqEndpoint, StorageEndpoint: *bqStorage, CreateTables: *bqCreate}
		if err := b.Validate(); err != nil {
			c.Fail(fmt.Errorf("--sink=bigquery: %w", err))
		}
		cfg.BigQuery = &b
	default:
		c.Fail(fmt.Errorf("--sink=%q: want file, kafka, mysql or bigquery", *sink))
	}
	return cfg
}

// Kafka is the Kafka connection the --kafka_* flags describe (brokers, TLS, SASL), for a command that
// reads topics outside a job (a screen).
func (c *Command) Kafka() (brokers []string, sec kafkaio.Security) {
	return strings.Split(*kafkaBrokers, ","), c.kafkaSecurity()
}

// kafkaSecurity is the TLS and SASL setting the --kafka_* flags describe.
func (c *Command) kafkaSecurity() kafkaio.Security {
	return kafkaio.Security{TLS: *kafkaTLS, CAFile: *kafkaCA, CertFile: *kafkaCert, KeyFile: *kafkaKey,
		SASL: *kafkaSASL, Username: *kafkaUser, PasswordEnv: *kafkaPwEnv, PasswordFile: *kafkaPwFile}
}

// mysqlConfig is the MySQL connection the flags describe, for the sink and the binlog source; Run
// checks before the pipeline starts that the server answers and takes the credentials.
func (c *Command) mysqlConfig() mysqlio.Config {
	m := mysqlio.Config{DSN: *mysqlDSN, PasswordEnv: *mysqlPwEnv, PasswordFile: *mysqlPwFile, CreateTables: *mysqlCreate,
		TLS: *mysqlTLS, CAFile: *mysqlCA, CertFile: *mysqlCert, KeyFile: *mysqlKey}
	if *mysqlPwFile != "" {
		m.PasswordEnv = ""
		if _, err := os.Stat(*mysqlPwFile); err != nil {
			c.Fail(UsageError("--mysql_password_file: %v", err))
		}
	}
	switch err := m.Validate(); {
	case errors.Is(err, mysqlio.ErrPasswordInDSN):
		c.Fail(UsageError("--mysql_dsn holds a password: remove it from the DSN and pass it with --mysql_password_env=VARIABLE (default MYSQL_PASSWORD) or --mysql_password_file=FILE"))
	case err != nil:
		c.Fail(UsageError("--mysql_dsn: %v", err))
	}
	c.mysql = &m
	return m
}

// In is an input's name: the topic flag's value when the source is Kafka (Run checks that the topic
// exists before it starts); with the binlog, the next name of --cdc_tables (the inputs are named in
// order) or the sample table's name; else Input(fileFlag, table).
func (c *Command) In(fileFlag, topic, table string) string {
	switch *source {
	case "kafka":
		c.topics = append(c.topics, topic)
		return topic
	case "mysqlcdc":
		c.tables++
		if *cdcTables == "" {
			return table
		}
		names := strings.Split(*cdcTables, ",")
		if c.tables > len(names) {
			c.Fail(fmt.Errorf("--cdc_tables=%q names %d tables: this job reads more inputs", *cdcTables, len(names)))
		}
		return strings.TrimSpace(names[c.tables-1])
	}
	return c.Input(fileFlag, table)
}

// Out is an output's name: the topic flag's value when the sink is Kafka; with MySQL or BigQuery,
// the file flag's value, or name without ".jsonl" (the table), which is where the companions'
// default files are named after; else the file flag's value or, when it is empty, a temporary file
// whose table the command prints (print true).
func (c *Command) Out(file, topic, name string) (out string, print bool) {
	switch *sink {
	case "kafka":
		return topic, false
	case "mysql", "bigquery":
		if file != "" {
			return file, false
		}
		return strings.TrimSuffix(name, ".jsonl"), false
	}
	return c.Output(file, name)
}

// Companion is the name of output's secondary output called suffix (a dimension changelog, metrics,
// ...): the topic flag's value when the sink is Kafka, else the file flag's; when that is empty,
// "<output>.<suffix>" for a topic and "<output>.<suffix>.jsonl" for a file. Every default output
// name of the commands is made here, by Out, Kept or Companion.
func (c *Command) Companion(file, topic, output, suffix string) string {
	name := file
	if *sink == "kafka" {
		name = topic
	}
	if name == "" {
		name = companion(output, suffix)
	}
	return name
}

// companion is the default name of output's companion called suffix; "" when output is "".
func companion(output, suffix string) string {
	switch {
	case output == "":
		return ""
	case *sink == "kafka":
		return output + "." + suffix
	}
	return output + "." + suffix + ".jsonl"
}

// Streaming reports whether the job reads Kafka without an end: it then runs until stopped.
func Streaming() bool { return *source == "mysqlcdc" || *source == "kafka" && *kafkaUntil == "" }

// MySQL is the MySQL connection the --mysql_* flags describe, for commands that read a table.
func (c *Command) MySQL() mysqlio.Config { return c.mysqlConfig() }
