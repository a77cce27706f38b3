package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/go-sql-driver/mysql"

	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/io/mysqlio"
)

// PreflightTimeout bounds each check preflight makes.
const PreflightTimeout = 10 * time.Second

// topicPoll is how often preflight looks again for a missing input topic of a streaming job.
const topicPoll = time.Second

// preflight checks, before the pipeline starts, what can be checked from here, and fails in one line
// that names the flag: the job server answers (portable runners); the MySQL server answers and takes
// the credentials (--sink=mysql, --source=mysqlcdc, premiumdrop --dim=mysql); the Kafka brokers answer
// and the input topics exist. A streaming job waits for a missing input topic, saying so once; a
// bounded one (--kafka_until=end) fails. ctx ending while it waits returns ctx's error.
func (c *Command) preflight(ctx context.Context, runner string) error {
	if portable(runner) {
		conn, err := net.DialTimeout("tcp", *jobopts.Endpoint, PreflightTimeout)
		if err != nil {
			return fmt.Errorf("--endpoint=%s: no job server answers there: %v", *jobopts.Endpoint, err)
		}
		conn.Close()
	}
	if c.mysql != nil {
		if err := checkMySQL(ctx, *c.mysql); err != nil {
			return err
		}
	}
	if *source != "kafka" && *sink != "kafka" {
		return nil
	}
	topics := c.topics
	if *source != "kafka" {
		topics = nil
	}
	waiting := false
	for {
		cctx, cancel := context.WithTimeout(ctx, PreflightTimeout)
		missing, err := kafkaio.MissingTopics(cctx, strings.Split(*kafkaBrokers, ","), c.kafkaSecurity(), topics)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return fmt.Errorf("--kafka_brokers=%s: no broker answers: %v", *kafkaBrokers, err)
		case len(missing) == 0:
			if waiting {
				Logf("topic %s exists now", strings.Join(topics, ", "))
			}
			return nil
		case !Streaming():
			return fmt.Errorf("--source=kafka --kafka_until=end: topic %s does not exist on %s", strings.Join(missing, ", "), *kafkaBrokers)
		case !waiting:
			Logf("waiting for topic %s to be created on %s (by an administrator, or by a producer's first message where the broker creates topics)", strings.Join(missing, ", "), *kafkaBrokers)
			waiting = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(topicPoll):
		}
	}
}

// checkMySQL connects to the server m names, as the job's sink or source will, and says which flag
// to look at when it cannot.
func checkMySQL(ctx context.Context, m mysqlio.Config) error {
	dsn := "--mysql_dsn=" + m.DSN // Validate refused a DSN that holds a password
	ctx, cancel := context.WithTimeout(ctx, PreflightTimeout)
	defer cancel()
	err := m.Ping(ctx)
	var me *mysql.MySQLError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me) && me.Number == 1045: // access denied
		return fmt.Errorf("%s: the server refused the user or password (%s): check %s", dsn, me.Message, passwordSource(m))
	case errors.As(err, &me):
		return fmt.Errorf("%s: %v", dsn, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: no MySQL server answered within %s", dsn, PreflightTimeout)
	}
	return fmt.Errorf("%s: cannot connect: %v", dsn, err)
}

// passwordSource names where the MySQL password comes from, for an error message (never the password).
func passwordSource(m mysqlio.Config) string {
	switch {
	case m.PasswordFile != "":
		return "--mysql_password_file=" + m.PasswordFile
	case m.PasswordEnv != "":
		return fmt.Sprintf("--mysql_password_env=%s (the variable is %s)", m.PasswordEnv, setOrNot(m.PasswordEnv))
	}
	return "--mysql_password_env or --mysql_password_file (no password was sent)"
}

// setOrNot says whether environment variable name is set (never its value).
func setOrNot(name string) string {
	if _, ok := os.LookupEnv(name); ok {
		return "set"
	}
	return "not set"
}
