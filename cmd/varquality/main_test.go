package main

import (
	"context"
	"encoding/json"
	"fmt"
	imagepng "image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/browser"
	"github.com/finbeam/finbeam/testing/kafkatest"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main) }

// The variables the sample's drift episode moves (io/gen: a burst of applications, with larger
// amounts, from new devices and IP addresses) and those it leaves alone.
var (
	drifting = []string{"applications_1h", "applications_24h", "application_amount_7d", "distinct_devices_24h", "distinct_ips_7d"}
	steady   = []string{"failed_logins_1h", "overdue_repayments_30d", "days_since_first_seen"}
)

// go run ./cmd/varquality, with no setup: on the sample's last hour against the same hour a day
// before, the variables the drift episode moves cross the PSI alert limit and the others do not; the
// alerts are in the alert file and the log, the report shows every variable with its chart.
func TestSampleDrift(t *testing.T) {
	dir := t.TempDir()
	res := beamtest.RunCommand(t, "--report_dir="+dir)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	var r report
	b, err := os.ReadFile(filepath.Join(dir, "figures.json"))
	beamtest.Must(t, err)
	beamtest.Must(t, json.Unmarshal(b, &struct {
		Variables *[]result `json:"variables"`
	}{&r.Variables}))
	var f struct {
		Period, Baseline struct{ Start, End time.Time }
	}
	beamtest.Must(t, json.Unmarshal(b, &f))
	drift := time.UnixMilli(gen.DriftHour(gen.Config{})).UTC()
	if !f.Period.Start.Equal(drift) || !f.Period.End.Equal(drift.Add(time.Hour)) || !f.Baseline.Start.Equal(drift.Add(-24*time.Hour)) {
		t.Errorf("period %v, baseline %v: want the drift hour from %v and the same hour a day before", f.Period, f.Baseline, drift)
	}
	status := map[string]result{}
	for _, v := range r.Variables {
		status[v.Variable] = v
	}
	var wantAlerts []string
	for _, name := range drifting {
		v := status[name]
		if v.Status != StatusAlert || float64(v.PSI) < 0.25 {
			t.Errorf("%s: %s with PSI %v, want an alert (the drift episode moves it)", name, v.Status, v.PSI)
		}
		if v.Baseline.Count < 100 || v.Period.Count < 100 {
			t.Errorf("%s: %d and %d users: too few for the sample to test anything", name, v.Baseline.Count, v.Period.Count)
		}
		for _, f := range v.Findings {
			wantAlerts = append(wantAlerts, name+" "+f.Check)
		}
	}
	for _, name := range steady {
		if v := status[name]; v.Status == StatusAlert || v.Status == StatusInsufficient || float64(v.PSI) >= 0.25 || v.Baseline.Count < 100 {
			t.Errorf("%s: %s with PSI %v over %d users, want below the alert limit", name, v.Status, v.PSI, v.Baseline.Count)
		}
	}
	if v := status["last_application_time"]; v.Status != StatusOff {
		t.Errorf("last_application_time: %s, want not monitored (monitor: {enabled: false})", v.Status)
	}

	lines := beamtest.ReadLines(t, filepath.Join(dir, "alerts.jsonl"))
	var got []string
	for _, l := range lines {
		var a struct {
			Variable, Check, Level string
			Period                 struct{ Start time.Time }
		}
		beamtest.Must(t, json.Unmarshal([]byte(l), &a))
		got = append(got, a.Variable+" "+a.Check)
		if a.Level != StatusAlert || !a.Period.Start.Equal(drift) {
			t.Errorf("alert %s: want level alert and the drift hour", l)
		}
		if !strings.Contains(res.Stderr, "ALERT "+a.Variable+": ") {
			t.Errorf("alert of %s is not in the log:\n%s", a.Variable, res.Stderr)
		}
	}
	slices.Sort(got)
	slices.Sort(wantAlerts)
	if !slices.Equal(got, wantAlerts) || len(got) < len(drifting) {
		t.Errorf("alert lines %q, want the findings %q", got, wantAlerts)
	}

	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	beamtest.Must(t, err)
	for _, name := range append(append(slices.Clone(drifting), steady...), "last_application_time") {
		if !strings.Contains(string(html), `<section id="`+name+`">`) {
			t.Errorf("report.html has no section of %s", name)
		}
	}
	if n := strings.Count(string(html), "<svg"); n != len(r.Variables) {
		t.Errorf("report.html has %d charts, want one per variable (%d)", n, len(r.Variables))
	}
	if !strings.Contains(res.Stdout, filepath.Join(dir, "report.html")) {
		t.Errorf("stdout %q does not name the report", res.Stdout)
	}
	printable(t, string(html), filepath.Join(dir, "report.html"))
}

// printable checks that the report reads on paper: axes with percentages and each bar's share
// written, no number in scientific notation, times as dates, the not-monitored variable explained,
// the footer naming the sample rather than a temporary file; and it renders the page in headless
// Chromium, a screenshot and a PDF, kept in $FINBEAM_ARTIFACTS when set (make test: out/test-artifacts).
func printable(t *testing.T, html, path string) {
	t.Helper()
	for _, want := range []string{">50%</text>", `class="value"`, ">share of users</text>", "* Not monitored", "Not monitored: figures for reference only",
		"2024-03-", "from the variable pool of the embedded sample (seed 1, 20000 events per table)", "@media print"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`[0-9]e[+-][0-9]`).FindString(html); m != "" {
		t.Errorf("report.html shows a number in scientific notation (%s)", m)
	}
	if strings.Contains(html, os.TempDir()+"/finbeam-") {
		t.Errorf("report.html names a temporary file")
	}
	out := os.Getenv("FINBEAM_ARTIFACTS")
	if out == "" {
		out = t.TempDir()
	}
	beamtest.Must(t, os.MkdirAll(out, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	png, pdf := filepath.Join(out, "varquality-report.png"), filepath.Join(out, "varquality-report.pdf")
	err := browser.Screenshot(ctx, "file://"+path, png, 1280, 2400)
	beamtest.NeedService(t, err, browser.ErrNotInstalled)
	beamtest.Must(t, browser.PDF(ctx, "file://"+path, pdf))
	f, err := os.Open(png)
	beamtest.Must(t, err)
	defer f.Close()
	img, err := imagepng.Decode(f)
	beamtest.Must(t, err)
	// What a person sees: the alert rows' background and the period's bars, in the page's width.
	seen := map[string]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			switch [3]uint32{r >> 8, g >> 8, bl >> 8} {
			case [3]uint32{0xff, 0xdd, 0xdd}:
				seen["alert rows"] = true
			case [3]uint32{0xd9, 0x48, 0x0f}:
				seen["period bars"] = true
			}
		}
	}
	if b.Dx() != 1280 || !seen["alert rows"] || !seen["period bars"] {
		t.Errorf("screenshot %s: %dx%d, saw %v; want 1280 wide with alert rows and period bars", png, b.Dx(), b.Dy(), seen)
	}
	if st, err := os.Stat(pdf); err != nil || st.Size() < 20000 {
		t.Errorf("printout %s: %v, %v", pdf, st, err)
	}
}

// A changelog written by hand: three users of variable x, one of them deleted, rows past the
// period's end ignored, the newest version winning within the period.
const handChangelog = `{"op":"upsert","user_id":"A","name":"x","value":1,"as_of":3600000,"version":3600000000}
{"op":"upsert","user_id":"A","name":"x","value":5,"as_of":3700000,"version":3700000000}
{"op":"upsert","user_id":"B","name":"x","value":2,"as_of":1000,"version":1000000}
{"op":"upsert","user_id":"C","name":"x","value":3,"as_of":3650000,"version":3650000000}
{"op":"delete","user_id":"C","name":"x","as_of":3660000,"version":3660000000}
{"op":"upsert","user_id":"A","name":"x","value":9,"as_of":7200000,"version":7200000000}

{"op":"upsert","user_id":"D","name":"y","value":"z","as_of":3600001,"version":3600001000}
`

// Who the population of a period is and which value each user counts with.
func TestPopulation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cl.jsonl")
	beamtest.Must(t, os.WriteFile(path, []byte(handChangelog), 0o644))
	last, err := lastHour([]string{path})
	beamtest.Must(t, err)
	if last != (span{7200000, 10800000}) {
		t.Errorf("last hour %v, want the hour holding as_of 7200000: [7200000, 10800000)", last)
	}
	ps, err := readPopulations([]string{path}, span{3600000, 7200000}, span{0, 3600000})
	beamtest.Must(t, err)
	// Hour 1: A (newest before the end: 5), C (deleted: missing), D (no x: missing); B did not change.
	if got := show(ps[0].values("x")); got != "5 - -" {
		t.Errorf("hour 1 values of x %s, want A's 5 and two missing (C deleted, D without x)", got)
	}
	// Hour 0: B only, with 2.
	if got := show(ps[1].values("x")); got != "2" {
		t.Errorf("hour 0 values of x %s, want B's 2", got)
	}
}

// show prints values in a line, "-" for a user without a row.
func show(vals []json.RawMessage) string {
	var s []string
	for _, v := range vals {
		if v == nil {
			v = json.RawMessage("-")
		}
		s = append(s, string(v))
	}
	return strings.Join(s, " ")
}

// Mistakes name what is wrong.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	beamtest.Must(t, os.WriteFile(bad, []byte(handChangelog+`{"op":"upsert","name":"x","value":1,"as_of":1,"version":1}`+"\n"), 0o644))
	notOp := filepath.Join(dir, "op.jsonl")
	beamtest.Must(t, os.WriteFile(notOp, []byte(`{"op":"insert","user_id":"A","name":"x","value":1,"as_of":1,"version":1}`+"\n"), 0o644))
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--changelog=" + bad}, 1, `bad.jsonl line 8: changelog line: key column "user_id" missing`},
		{[]string{"--changelog=" + notOp}, 1, `op.jsonl line 1: changelog line: "op": want "upsert" or "delete"`},
		{[]string{"--changelog=" + filepath.Join(dir, "none*.jsonl")}, 1, `--changelog "` + filepath.Join(dir, "none*.jsonl") + `": no such file`},
		{[]string{"--changelog=" + bad, "--period=2024-03-10T00:00:00Z"}, 2, `--period "2024-03-10T00:00:00Z": want START/END`},
		{[]string{"--changelog=" + bad, "--baseline=2024-03-10T02:00:00Z/2024-03-10T01:00:00Z"}, 2, `--baseline "2024-03-10T02:00:00Z/2024-03-10T01:00:00Z": want START/END, two RFC 3339 times with END after START`},
		// Without --changelog: refused before the sample's variable pool is computed.
		{[]string{"--period=yesterday"}, 2, `--period "yesterday": want START/END`},
	} {
		res := beamtest.RunCommand(t, append(c.args, "--report_dir="+dir)...)
		if res.ExitCode != c.code || !strings.Contains(res.Stderr, c.want) || strings.Contains(res.Stderr, "embedded sample") {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q, and no sample computed", c.args, res.ExitCode, res.Stderr, c.code, c.want)
		}
	}
}

// With --sink=kafka the alerts go to the alert topic, keyed by variable; limits come from the
// variables file (here min_count 1, so that four users are enough).
func TestKafkaAlerts(t *testing.T) {
	b, err := kafkatest.Start(1)
	beamtest.Must(t, err)
	defer b.Close()
	dir := t.TempDir()
	cl := filepath.Join(dir, "cl.jsonl")
	var lines []string
	for i, v := range []int{1, 1, 2, 2, 9, 9, 9, 9} { // hour 0: 1, 1, 2, 2; hour 1: 9 × 4
		lines = append(lines, fmt.Sprintf(`{"op":"upsert","user_id":"U%d","name":"applications_1h","value":%d,"as_of":%d,"version":%d}`, i, v, i/4*3600000+i, i))
	}
	beamtest.Must(t, os.WriteFile(cl, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	vars := filepath.Join(dir, "vars.yaml")
	beamtest.Must(t, os.WriteFile(vars, []byte("monitor_defaults: {min_count: 1}\nvariables:\n  - {name: applications_1h, source: loan_application, aggregation: count, window: 1h}\n"), 0o644))
	res := beamtest.RunCommand(t, "--changelog="+cl, "--variables="+vars, "--baseline_shift=1h", "--report_dir="+dir,
		"--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_alert_topic=alerts")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	msgs, err := b.ReadPartition("alerts", 0, 2, 30*time.Second)
	beamtest.Must(t, err)
	var checks []string
	for _, m := range msgs {
		var a struct{ Variable, Check, Level string }
		beamtest.Must(t, json.Unmarshal(m.Value, &a))
		if string(m.Key) != "applications_1h" || a.Variable != "applications_1h" || a.Level != StatusAlert {
			t.Errorf("message %s = %s: want key applications_1h and an alert of it", m.Key, m.Value)
		}
		checks = append(checks, a.Check)
	}
	// 1,1,2,2 against 9,9,9,9: every value above the baseline's top cut point; mean 1.5 → 9.
	if slices.Sort(checks); strings.Join(checks, " ") != "mean_shift psi" {
		t.Errorf("alerts of %q, want psi and mean_shift", checks)
	}
	if _, err := os.Stat(filepath.Join(dir, "alerts.jsonl")); err == nil {
		t.Errorf("with --sink=kafka the alert file was written too")
	}
}
