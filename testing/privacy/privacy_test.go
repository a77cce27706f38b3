package privacy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/portable"
)

// The secrets and personal data planted; none may be printed.
const (
	mysqlPassword = "Pw-9f2c-S3cret-mysql"
	kafkaPassword = "Pw-41d7-S3cret-kafka"
	varserveToken = "tok-77a1-S3cret-varserve"
	screenToken   = "tok-0b5e-S3cret-kpiscreen"
	phone         = "13912345678"
	certificate   = "110101199003074514"
	name          = "Zhang Sanfeng"
	ip            = "203.0.113.77"
	lat, lon      = "31.23041234", "121.47370001"
)

var planted = []string{mysqlPassword, kafkaPassword, varserveToken, screenToken, phone, certificate, name, ip, lat, lon}

// plantedFields are the fields whose values are replaced in every seventh line of the input.
var plantedFields = map[string]string{
	"customer_tel": phone, "certificate_no": certificate, "customer_name": name, "ip": ip, "lat": lat, "lon": lon,
	"raw_info": name + " " + phone, "now_info": name + " " + certificate,
}

// badLines are added to every input: refused, they become dead letters, whose reasons are counted and
// may be logged.
var badLines = []string{
	`{"customer_tel":"` + phone + `","certificate_no":"` + certificate + `","customer_name":"` + name + `","ip":"` + ip + `","lat":"` + lat + `","lon":"` + lon + `"}`,
	`{"id":"` + phone + `","order_no":` + certificate + `,"gmt_modified":"` + lat + `","trace_id":` + phone + `,"ts":"` + ip + `","user_id":` + phone + `,"event_id":` + phone + `,"log_time":"` + name + `","account_id":` + phone + `}`,
	`tel ` + phone + ` cert ` + certificate + ` ` + name + ` at ` + lat + `,` + lon + ` from ` + ip,
}

// input writes the generated tables with the personal data planted.
func input(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	_, err := gen.WriteAll(dir, gen.Config{Seed: 3, Events: 300, Span: 6 * time.Hour})
	beamtest.Must(t, err)
	for file := range gen.Files {
		path := filepath.Join(dir, file)
		var out []string
		n := 0
		beamtest.Must(t, jsonl.EachLine(path, func(line string) {
			n++
			var row map[string]json.RawMessage
			if n%7 == 0 && json.Unmarshal([]byte(line), &row) == nil {
				for f, v := range plantedFields {
					if _, ok := row[f]; ok {
						row[f], _ = json.Marshal(v)
					}
				}
				b, _ := json.Marshal(row)
				line = string(b)
			}
			out = append(out, line)
		}))
		beamtest.Must(t, os.WriteFile(path, []byte(strings.Join(append(out, badLines...), "\n")+"\n"), 0o644))
	}
	return dir
}

// printed fails the test when the output holds a planted string.
func printed(t *testing.T, what, output string) {
	t.Helper()
	for _, s := range planted {
		if strings.Contains(output, s) {
			i := strings.Index(output, s)
			t.Errorf("%s printed %q: ...%s...", what, s, output[max(0, i-120):min(len(output), i+len(s)+40)])
		}
	}
}

// run runs a built command with the secrets in its environment and returns all it printed.
func run(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), append([]string{"TMPDIR=" + t.TempDir(), "MYSQL_PASSWORD=" + mysqlPassword, "KAFKA_PASSWORD=" + kafkaPassword,
		"FINBEAM_VARSERVE_TOKENS=engine:" + varserveToken, "FINBEAM_KPISCREEN_TOKENS=screen:" + screenToken}, env...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return string(out), code
}

func binaries(t *testing.T) map[string]string {
	pkgs := []string{"./cmd/variablepool", "./cmd/varserve", "./cmd/varquality", "./cmd/gen", "./cmd/produce", "./cmd/kpiscreen"}
	for _, p := range bench.Pipelines {
		if !slices.Contains(pkgs, "./cmd/"+p.Name) {
			pkgs = append(pkgs, "./cmd/"+p.Name)
		}
	}
	bins := map[string]string{}
	for pkg, path := range portable.Binaries(t, pkgs...) {
		bins[filepath.Base(pkg)] = path
	}
	return bins
}

// Every job over input with personal data in good lines and bad ones, its table printed and to MySQL (its
// password in the environment and in a file); then the failures: a wrong password, a database that
// is gone, a Kafka broker that refuses the SASL password, one that does not answer.
func TestNothingPersonalOrSecretIsPrinted(t *testing.T) {
	bins := binaries(t)
	in := input(t)
	db := mysqltest.Private(t, mysqltest.Options{})
	root, err := db.CreateDatabase("finbeam")
	beamtest.Must(t, err)
	mysqltest.Exec(t, root, "CREATE USER 'writer'@'127.0.0.1' IDENTIFIED BY '"+mysqlPassword+"'", "GRANT ALL ON *.* TO 'writer'@'127.0.0.1'")
	dsn := strings.Replace(root, "root@", "writer@", 1)
	pwFile := filepath.Join(t.TempDir(), "pw")
	beamtest.Must(t, os.WriteFile(pwFile, []byte(mysqlPassword+"\n"), 0o600))

	for i, p := range bench.Pipelines {
		out := t.TempDir()
		args := append([]string{"--dead_letter=" + filepath.Join(out, "dead.jsonl")}, p.Args...) // no --output: the table is printed
		for flag, file := range p.Inputs {
			args = append(args, "--"+flag+"="+filepath.Join(in, file))
		}
		got, code := run(t, bins[p.Name], nil, args...)
		if code != 0 || !strings.Contains(got, "dead letter") {
			t.Errorf("%s: exit %d, want 0 with dead letters counted:\n%s", p.Name, code, got)
		}
		printed(t, p.Name, got)
		dead, _ := os.ReadFile(filepath.Join(out, "dead.jsonl"))
		if !strings.Contains(string(dead), phone) {
			t.Errorf("%s: the bad lines are not in the dead letters (the test planted nothing)", p.Name)
		}

		mysql := []string{"--sink=mysql", "--mysql_dsn=" + dsn, "--mysql_create_tables", "--dead_letter=" + filepath.Join(out, "dead2.jsonl")}
		if i%2 == 1 {
			mysql = append(mysql, "--mysql_password_file="+pwFile)
		}
		args = append(mysql, args[1:]...)
		got, code = run(t, bins[p.Name], nil, args...)
		if code != 0 {
			t.Errorf("%s --sink=mysql: exit %d:\n%s", p.Name, code, got)
		}
		printed(t, p.Name+" --sink=mysql", got)
	}

	hourly := []string{"--input=" + filepath.Join(in, "user_order.jsonl"), "--dead_letter=" + filepath.Join(t.TempDir(), "d.jsonl")}
	wrong, code := run(t, bins["hourlygmv"], []string{"MYSQL_PASSWORD=" + mysqlPassword + "-wrong"}, append(hourly, "--sink=mysql", "--mysql_dsn="+dsn)...)
	if code == 0 || !strings.Contains(wrong, "Access denied") {
		t.Errorf("a wrong MySQL password: exit %d:\n%s", code, wrong)
	}
	printed(t, "a wrong MySQL password", wrong)

	broker, err := kafkatest.StartSASL("SCRAM-SHA-256", "finbeam", kafkaPassword+"-other", 1, "user_order", "hs_order")
	beamtest.Must(t, err)
	defer broker.Close()
	sasl, code := run(t, bins["hourlygmv"], nil, "--source=kafka", "--kafka_brokers="+broker.Addrs()[0], "--kafka_until=end",
		"--kafka_sasl=SCRAM-SHA-256", "--kafka_user=finbeam", "--kafka_password_env=KAFKA_PASSWORD", "--output="+filepath.Join(t.TempDir(), "o.jsonl"))
	if code == 0 {
		t.Errorf("a refused SASL password: exit 0:\n%s", sasl)
	}
	printed(t, "a refused SASL password", sasl)
	gone, code := run(t, bins["hourlygmv"], nil, "--source=kafka", "--kafka_brokers=127.0.0.1:1", "--kafka_sasl=PLAIN", "--kafka_user=finbeam",
		"--kafka_password_env=KAFKA_PASSWORD", "--output="+filepath.Join(t.TempDir(), "o.jsonl"))
	if code == 0 {
		t.Errorf("no broker: exit 0:\n%s", gone)
	}
	printed(t, "no broker", gone)

	db.Close()
	down, code := run(t, bins["variablepool"], nil, "--applications="+filepath.Join(in, "loan_application.jsonl"), "--logins="+filepath.Join(in, "login.jsonl"),
		"--repayments="+filepath.Join(in, "repayment.jsonl"), "--sink=mysql", "--mysql_dsn="+dsn, "--dead_letter="+filepath.Join(t.TempDir(), "d.jsonl"))
	if code == 0 {
		t.Errorf("MySQL gone: exit 0:\n%s", down)
	}
	printed(t, "MySQL gone", down)
}

// The query service and the screen, with tokens in the environment and in a file: good and refused
// requests for a user whose id is a phone number, a SIGHUP with a token file that does not read, the
// overload; varquality and gen.
func TestServicesPrintNothingPersonalOrSecret(t *testing.T) {
	bins := binaries(t)
	in := input(t)
	dir := t.TempDir()
	changelog := filepath.Join(dir, "user_variables.jsonl")
	got, code := run(t, bins["variablepool"], nil, "--applications="+filepath.Join(in, "loan_application.jsonl"), "--logins="+filepath.Join(in, "login.jsonl"),
		"--repayments="+filepath.Join(in, "repayment.jsonl"), "--output="+changelog, "--dead_letter="+filepath.Join(dir, "dead.jsonl"))
	if code != 0 {
		t.Fatalf("variablepool: %d\n%s", code, got)
	}
	report, code := run(t, bins["varquality"], nil, "--changelog="+changelog, "--report_dir="+filepath.Join(dir, "report"))
	if code != 0 {
		t.Errorf("varquality: exit %d\n%s", code, report)
	}
	printed(t, "varquality", report)

	tokens := filepath.Join(dir, "tokens.txt")
	beamtest.Must(t, os.WriteFile(tokens, []byte("engine "+varserveToken+"\n"), 0o600))
	port, err := beamtest.FreePort()
	beamtest.Must(t, err)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var log strings.Builder
	srv := exec.Command(bins["varserve"], "--changelog="+changelog, fmt.Sprintf("--listen=127.0.0.1:%d", port), "--tokens_file="+tokens,
		"--query_log="+filepath.Join(dir, "q.jsonl"), "--caller_rate=5", "--caller_burst=1")
	srv.Stdout, srv.Stderr = &log, &log
	beamtest.Must(t, srv.Start())
	defer srv.Process.Kill()
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("varserve did not start:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tok := range []string{varserveToken, varserveToken + "x", ""} {
		for range 5 {
			req, _ := http.NewRequest("GET", base+"/v1/users/"+phone+"/variables", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		body := strings.NewReader(`{"requests":[{"user_id":"` + phone + `","ip":"` + ip + `"}]}`)
		req, _ := http.NewRequest("POST", base+"/v1/variables:batchGet", body)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	beamtest.Must(t, os.WriteFile(tokens, []byte("engine "+varserveToken[:10]+"\n"), 0o600))
	beamtest.Must(t, srv.Process.Signal(syscall.SIGHUP))
	time.Sleep(500 * time.Millisecond)
	beamtest.Must(t, srv.Process.Signal(syscall.SIGINT))
	if err := srv.Wait(); err != nil {
		t.Errorf("varserve: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "tokens kept") || !strings.Contains(log.String(), "over --caller_rate") {
		t.Errorf("varserve's log misses the reload or the refusals (the test did not exercise them):\n%s", log.String())
	}
	printed(t, "varserve", log.String())

	bad, _ := run(t, bins["varserve"], nil, "--changelog="+changelog, "--tokens_file="+filepath.Join(dir, "bad-tokens.txt"))
	beamtest.Must(t, os.WriteFile(filepath.Join(dir, "bad-tokens.txt"), []byte(varserveToken+"\n"), 0o600))
	bad2, _ := run(t, bins["varserve"], nil, "--changelog="+changelog, "--tokens_file="+filepath.Join(dir, "bad-tokens.txt"))
	if !strings.Contains(bad2, "entry 1: want a caller and a token") {
		t.Errorf("varserve with a bad token file:\n%s", bad2)
	}
	printed(t, "varserve with a missing and a bad token file", bad+bad2)

	screen, _ := run(t, bins["kpiscreen"], nil, "--listen=0.0.0.0:18081")
	printed(t, "kpiscreen beyond loopback", screen)
	g, _ := run(t, bins["gen"], nil, "--dir="+filepath.Join(dir, "gen"), "--events=50")
	printed(t, "gen", g)
}
