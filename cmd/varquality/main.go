// Command varquality watches the variable pool for drift: for a period (default: the last hour of
// the changelog) against a baseline (default: the same hour a day before), it computes per declared
// variable the PSI, the missing rate, the mean, the variance and the count, checks them against the
// limits of the variables file, sends what crosses a limit to the alert sink and the log, and writes
// an HTML report (a table, and each variable's distribution against the baseline) and the figures
// as JSON.
//
// Figures are over a population: a period's users are those whose variables changed in it (an event
// of theirs, or one of their windows moving on), each counted with its values at the period's end
// (its newest changelog row before the end). A value that is null, or that a user has no row of, is
// missing. PSI compares the shares of values in ten bins cut at the baseline's deciles (equal cut
// points merged; strings and booleans: the baseline's nine most frequent values and "other"), an
// empty bin counting as a share of 0.0001. The mean shift is |mean - baseline mean| in baseline
// standard deviations. The statistics are float64: they describe, they do not account money.
//
// Limits come from the variables file: monitor_defaults, and a variable's own monitor (see
// pipelines/variablepool/variables.yaml). PSI at or above psi_alert is an alert, at or above
// psi_warn a warning; a missing rate above missing_rate_max and a mean shift above mean_shift_max
// are alerts. With fewer than min_count values on either side a variable is "insufficient": PSI
// over ten bins of a few dozen values is mostly noise (about 9 × (1/n_baseline + 1/n_period) with
// no drift at all).
//
// With no --changelog it first computes the variable pool of the embedded sample, at 20,000 events
// per stream: the sample's last hour holds a drift episode (a burst of applications from new
// devices), which the report shows.
//
//	go run ./cmd/varquality
//	go run ./cmd/varquality --changelog=user_variables.jsonl --period=2024-03-11T01:00:00Z/2024-03-11T02:00:00Z --baseline=2024-03-03T00:00:00Z/2024-03-10T00:00:00Z
//	go run ./cmd/varquality --changelog=user_variables.jsonl --sink=kafka --kafka_brokers=127.0.0.1:9092 --kafka_alert_topic=variable_alerts
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/cmd/internal/loans"
	"github.com/finbeam/finbeam/pipelines/variablepool"
)

var (
	changelogIn = flag.String("changelog", "", "the variable changelog JSONL, a path or a glob (default: computed from the embedded sample)")
	variables   = flag.String("variables", "", "the declared variables and their monitor limits, YAML (default: the shipped variables.yaml)")
	periodFlag  = flag.String("period", "", "the period checked, START/END in RFC 3339 (default: the UTC hour holding the changelog's newest as_of)")
	baseFlag    = flag.String("baseline", "", "the baseline period, START/END in RFC 3339 (default: --period moved back by --baseline_shift)")
	baseShift   = flag.Duration("baseline_shift", 24*time.Hour, "without --baseline: how far before the period the baseline lies")
	reportDir   = flag.String("report_dir", filepath.Join(os.TempDir(), "finbeam-varquality"), "where report.html and figures.json are written")
	alertsOut   = flag.String("alerts", "", "alert JSONL, appended to across runs (default: <report_dir>/alerts.jsonl, this run's alerts only); with --sink=kafka see --kafka_alert_topic")
	alertTopic  = flag.String("kafka_alert_topic", "variable_alerts", "with --sink=kafka: the alert topic, keyed by variable")
)

func main() {
	app.SampleEvents(20000)
	c := app.Start("varquality", "Drift monitoring of the variable pool: PSI, missing rate, mean and variance of each variable in a period against a baseline; alerts, an HTML report and the figures as JSON.",
		"changelog", "variables", "period", "baseline", "baseline_shift", "report_dir", "alerts", "kafka_alert_topic")
	defer c.Close()
	vars, err := variablepool.LoadVariables(*variables)
	c.Check(err)
	period, baseline := periodFlags(c) // checked before the sample is computed
	sink := alertSinkOf(c)
	path, source := *changelogIn, "the changelog "+*changelogIn
	if path == "" {
		path, source = loans.SampleChangelog(c, vars), "the variable pool of "+c.Sample()
	}
	files, err := changelogFiles(path)
	c.Check(err)
	defaultPeriods(c, files, &period, &baseline)
	r, err := run(vars, files, period, baseline)
	c.Check(err)
	r.Source = source
	figures, html, err := r.write(*reportDir)
	c.Check(err)
	as := r.alerts()
	for _, a := range as {
		app.Logf("varquality: %s %s: %s", strings.ToUpper(a.Level), a.Variable, a.Message)
	}
	c.Check(sink.write(context.Background(), as))
	n := r.counts()
	app.Logf("varquality: period %s (%d users) against %s (%d users): %d alert, %d warn, %d ok, %d insufficient, %d not monitored; %d alert lines to %s",
		period, r.PeriodUsers, baseline, r.BaselineUsers, n[StatusAlert], n[StatusWarn], n[StatusOK], n[StatusInsufficient], n[StatusOff], len(as), sink)
	fmt.Printf("report:  %s\nfigures: %s\n", html, figures)
}

// periodFlags returns the period and the baseline --period and --baseline give (zero when empty),
// failing on a bad value before anything is computed.
func periodFlags(c *app.Command) (period, baseline span) {
	var err error
	for _, f := range []struct {
		name, value string
		dst         *span
	}{{"period", *periodFlag, &period}, {"baseline", *baseFlag, &baseline}} {
		if f.value != "" {
			if *f.dst, err = parseSpan(f.value); err != nil {
				c.Fail(app.UsageError("--%s %w", f.name, err))
			}
		}
	}
	if *baseFlag == "" && *baseShift <= 0 {
		c.Fail(app.UsageError("--baseline_shift %s: want a positive duration", *baseShift))
	}
	return period, baseline
}

// defaultPeriods fills what the flags left empty: the period is the UTC hour of the changelog's
// newest as_of, the baseline the period moved back by --baseline_shift.
func defaultPeriods(c *app.Command, files []string, period, baseline *span) {
	if *periodFlag == "" {
		p, err := lastHour(files)
		c.Check(err)
		*period = p
	}
	if *baseFlag == "" {
		d := baseShift.Milliseconds()
		*baseline = span{period.Start - d, period.End - d}
	}
}

// run reads the changelog into the two populations and evaluates every declared variable.
func run(vars variablepool.Variables, files []string, period, baseline span) (report, error) {
	ps, err := readPopulations(files, baseline, period)
	if err != nil {
		return report{}, err
	}
	r := report{GeneratedAt: time.Now().UTC().Format(time.RFC3339), Changelog: files, Period: period, Baseline: baseline,
		BaselineUsers: len(ps[0].users), PeriodUsers: len(ps[1].users)}
	for _, v := range vars.Variables {
		m, on := vars.Monitoring(v)
		r.Variables = append(r.Variables, evaluate(v.Name, kindOf(v), ps[0].values(v.Name), ps[1].values(v.Name), m, on))
	}
	return r, nil
}

// alertSinkOf is the alert sink the flags select.
func alertSinkOf(c *app.Command) alertSink {
	if s := c.IO().Sink; s != nil {
		cfg := *s
		cfg.Topic = *alertTopic
		return kafkaSink{cfg: cfg}
	}
	if *alertsOut != "" {
		return fileSink{path: *alertsOut}
	}
	c.Check(os.MkdirAll(*reportDir, 0o755))
	return fileSink{path: filepath.Join(*reportDir, "alerts.jsonl"), replace: true}
}
