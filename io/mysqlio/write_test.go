package mysqlio_test

import (
	"context"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/tlstest"
	"github.com/finbeam/finbeam/transforms/changelog"
)

func TestMain(m *testing.M) { beamtest.Main(m, mysqltest.Stop) }

// hourlyChanges runs hourlygmv over the sample's orders and returns its changelog.
func hourlyChanges(t *testing.T, lines []string) []changelog.Change {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	changes, _, err := hourlygmv.Build(s, beam.CreateList(s, lines), hourlygmv.Options{})
	beamtest.Must(t, err)
	out, err := beamtest.CollectChanges(p, s, changes, hourlygmv.KeyColumns...)
	beamtest.Must(t, err)
	return out
}

// write applies changes to the table in one pipeline run.
func write(t *testing.T, cfg mysqlio.Config, schema changelog.Schema, changes []changelog.Change) error {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	beamtest.Must(t, cfg.WriteChanges(s, schema, beam.CreateList(s, changes)))
	return beamrun.WithPrivateTemp(func() error { _, err := beam.Run(context.Background(), "prism", p); return err })
}

func table(t *testing.T, dsn string, schema changelog.Schema) map[string]string {
	t.Helper()
	got, err := mysqltest.Table(dsn, schema)
	beamtest.Must(t, err)
	return got
}

// The hourlygmv changelog written to MySQL gives the reference table; writing it again, in another
// order, in part, and with an older version of every row mixed in, leaves the table unchanged.
func TestHourlyGMVIntoMySQLAndReplays(t *testing.T) {
	dsn := mysqltest.Database(t)
	cfg := mysqlio.Config{DSN: dsn, CreateTables: true, BatchRows: 50}
	lines := gen.Lines(gen.Config{Seed: 3, Events: 3000}, gen.Orders)
	changes := hourlyChanges(t, lines)
	want, _ := reference.HourlyGMV(lines, time.UTC)
	if len(want) < 20 {
		t.Fatalf("%d rows: want a sample with more hours", len(want))
	}
	beamtest.Must(t, write(t, cfg, hourlygmv.Schema, changes))
	beamtest.SameTable(t, "hs_order in MySQL", table(t, dsn, hourlygmv.Schema), want)

	var mixed []changelog.Change // every row at version+1, and a stale version of it
	for _, c := range changes {
		stale, err := changelog.Upsert(c.Key, c.Version, map[string]any{"biz_date": "x", "total_premium": jsonNumber("0.5"), "policy_cnt": 0, "policy_holder_cnt": 0})
		beamtest.Must(t, err)
		stale.Row = []byte(strings.Replace(string(stale.Row), `"biz_date":"x"`, `"biz_date":`+c.Key[1:len(c.Key)-1], 1))
		c.Version++
		mixed = append(mixed, stale, c)
	}
	r := rand.New(rand.NewSource(1))
	r.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
	shuffled := append([]changelog.Change(nil), changes...)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for name, replay := range map[string][]changelog.Change{"again": changes, "shuffled": shuffled, "half": shuffled[:len(shuffled)/2], "stale versions mixed in": mixed} {
		beamtest.Must(t, write(t, cfg, hourlygmv.Schema, replay))
		beamtest.SameTable(t, "hs_order after a replay, "+name, table(t, dsn, hourlygmv.Schema), want)
	}
}

// Shuffled into an empty table, the changelog still ends as its newest versions say: an older upsert
// arriving after a delete does not bring the row back.
func TestOutOfOrderIntoAnEmptyTable(t *testing.T) {
	dsn := mysqltest.Database(t)
	cfg := mysqlio.Config{DSN: dsn, CreateTables: true}
	up := func(v int64, premium string) changelog.Change {
		c, err := changelog.Upsert(`["2024031010"]`, v, map[string]any{"biz_date": "2024031010", "total_premium": jsonNumber(premium), "policy_cnt": v, "policy_holder_cnt": 1})
		beamtest.Must(t, err)
		return c
	}
	del, err := changelog.Delete(`["2024031011"]`, 3, map[string]any{"biz_date": "2024031011"})
	beamtest.Must(t, err)
	old, err := changelog.Upsert(`["2024031011"]`, 2, map[string]any{"biz_date": "2024031011", "total_premium": jsonNumber("5"), "policy_cnt": 1, "policy_holder_cnt": 1})
	beamtest.Must(t, err)
	beamtest.Must(t, write(t, cfg, hourlygmv.Schema, []changelog.Change{up(3, "30.25"), del}))
	beamtest.Must(t, write(t, cfg, hourlygmv.Schema, []changelog.Change{up(1, "10"), old, up(2, "20.5")}))
	got := table(t, dsn, hourlygmv.Schema)
	want := map[string]string{`["2024031010"]`: `{"biz_date":"2024031010","total_premium":30.25,"policy_cnt":3,"policy_holder_cnt":1}`}
	beamtest.SameTable(t, "hs_order", got, want)
}

// A decimal with more digits than the column keeps fails the job, naming the table and column and
// not the value; so does a DSN with a password in it, without showing it.
func TestErrorsNameTheColumnNotTheValue(t *testing.T) {
	dsn := mysqltest.Database(t)
	c, err := changelog.Upsert(`["x"]`, 1, map[string]any{"biz_date": "x", "total_premium": jsonNumber("1.234567"), "policy_cnt": 1, "policy_holder_cnt": 1})
	beamtest.Must(t, err)
	err = write(t, mysqlio.Config{DSN: dsn, CreateTables: true}, hourlygmv.Schema, []changelog.Change{c})
	if err == nil || !strings.Contains(err.Error(), "hs_order.total_premium") || strings.Contains(err.Error(), "1.234567") {
		t.Errorf("err = %v, want one naming hs_order.total_premium without the value", err)
	}
	_, s := beam.NewPipelineWithRoot()
	err = mysqlio.Config{DSN: "u:hunter2@tcp(127.0.0.1:1)/db"}.WriteChanges(s, hourlygmv.Schema, beam.Create(s, c))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "password") {
		t.Errorf("err = %v, want a refusal of the password in the DSN that does not show it", err)
	}
}

// The password comes from an environment variable; a wrong one fails without showing either.
func TestPasswordFromTheEnvironment(t *testing.T) {
	dsn := mysqltest.Database(t)
	mysqltest.Exec(t, dsn, "CREATE USER IF NOT EXISTS 'writer'@'127.0.0.1' IDENTIFIED BY 'S3cret-pw'", "GRANT ALL ON *.* TO 'writer'@'127.0.0.1'")
	userDSN := strings.Replace(dsn, "root@", "writer@", 1)
	c, err := changelog.Upsert(`["y"]`, 1, map[string]any{"biz_date": "y", "total_premium": jsonNumber("1"), "policy_cnt": 1, "policy_holder_cnt": 1})
	beamtest.Must(t, err)
	cfg := mysqlio.Config{DSN: userDSN, PasswordEnv: "FINBEAM_TEST_MYSQL_PW", CreateTables: true}
	t.Setenv("FINBEAM_TEST_MYSQL_PW", "S3cret-pw")
	beamtest.Must(t, write(t, cfg, hourlygmv.Schema, []changelog.Change{c}))
	if got := table(t, dsn, hourlygmv.Schema); len(got) != 1 {
		t.Errorf("%d rows, want 1", len(got))
	}
	t.Setenv("FINBEAM_TEST_MYSQL_PW", "wrong-pw")
	err = write(t, cfg, hourlygmv.Schema, []changelog.Change{c})
	if err == nil || strings.Contains(err.Error(), "S3cret-pw") || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("err = %v, want a failure that shows no password", err)
	}
}

func jsonNumber(s string) json.Number { return json.Number(s) }

// lastpage's key may hold a null device: null and "" are different rows, keyed by row_key, and the
// table equals the file run's.
func TestNullableKeyLastPage(t *testing.T) {
	dsn := mysqltest.Database(t)
	lines := gen.Lines(gen.Config{Seed: 4, Events: 2000}, gen.PageViews)
	lines = append(lines, `{"log_time":1710000000000,"account_id":"Z1","device_id":null,"page_name":"home"}`,
		`{"log_time":1710000000001,"account_id":"Z1","device_id":"","page_name":"pay"}`)
	p, s := beam.NewPipelineWithRoot()
	changes, _, err := lastpage.Build(s, beam.CreateList(s, lines), lastpage.Options{})
	beamtest.Must(t, err)
	beamtest.Must(t, mysqlio.Config{DSN: dsn, CreateTables: true}.WriteChanges(s, lastpage.Schema, changes))
	beamtest.Run(t, p)
	want, _, _ := reference.LastPage(lines)
	got := table(t, dsn, lastpage.Schema)
	beamtest.SameTable(t, "user_last_log in MySQL", got, want)
	if got[`["Z1",null]`] == "" || got[`["Z1",""]`] == "" {
		t.Errorf("null and empty device are not two rows: %q, %q", got[`["Z1",null]`], got[`["Z1",""]`])
	}
}

// TLS: a user that must present a client certificate (REQUIRE X509) writes with the CA and its
// certificate; without the certificate it is refused.
func TestMutualTLS(t *testing.T) {
	files, err := tlstest.Make(t.TempDir())
	beamtest.Must(t, err)
	srv := mysqltest.Private(t, mysqltest.Options{TLS: &files})
	dsn, err := srv.CreateDatabase("tls")
	beamtest.Must(t, err)
	mysqltest.Exec(t, dsn, "CREATE USER 'secure'@'127.0.0.1' REQUIRE X509", "GRANT ALL ON *.* TO 'secure'@'127.0.0.1'")
	c, err := changelog.Upsert(`["z"]`, 1, map[string]any{"biz_date": "z", "total_premium": jsonNumber("2.5"), "policy_cnt": 1, "policy_holder_cnt": 1})
	beamtest.Must(t, err)
	userDSN := strings.Replace(dsn, "root@", "secure@", 1)
	ok := mysqlio.Config{DSN: userDSN, CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey, CreateTables: true}
	beamtest.Must(t, write(t, ok, hourlygmv.Schema, []changelog.Change{c}))
	if got := table(t, dsn, hourlygmv.Schema); len(got) != 1 {
		t.Errorf("%d rows over TLS, want 1", len(got))
	}
	noCert := mysqlio.Config{DSN: userDSN, CAFile: files.CA}
	if err := write(t, noCert, hourlygmv.Schema, []changelog.Change{c}); err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Errorf("without a client certificate: %v, want access denied", err)
	}
}
