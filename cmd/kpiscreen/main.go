// Command kpiscreen serves the insurer's real-time KPI screen: a web page with today's tiles
// (premium, policies, policy holders, page views, unique devices, activations), the premium per hour
// today against yesterday, page views and unique devices per platform, and the activity entries ranked
// by traffic with their premium and conversion, updated live (server-sent events) as the ADS changelogs change.
//
// Where the figures come from:
//   - with no source flags, the embedded sample replayed in this process: an in-process broker, the
//     sample's app events and orders produced --speed times faster than they happened, and the DWD and
//     ADS jobs streaming on prism (see demo.go) — so that `go run ./cmd/kpiscreen` shows a live screen
//     with no setup;
//   - --source=kafka: the ads_kpi and ads_entry_traffic changelog topics (--kafka_kpi_topic,
//     --kafka_traffic_topic) of --kafka_brokers, which cmd/kpi and cmd/entrytraffic write, read from
//     their start and followed.
//
// It listens on --listen (127.0.0.1:8080). Beyond loopback it needs bearer tokens (--tokens_file or
// $FINBEAM_KPISCREEN_TOKENS, "caller token" lines as varserve's): a browser opens the page once with
// ?token=<token>, which sets a cookie. The charts are drawn on the server as SVG (gonum/plot): the page
// loads nothing from elsewhere and works offline.
//
//	go run ./cmd/kpiscreen                         # the sample, live at http://127.0.0.1:8080
//	go run ./cmd/kpiscreen --speed=3600            # an hour of the sample per second
//	go run ./cmd/kpiscreen --source=kafka --kafka_brokers=127.0.0.1:9092
package main

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/cmd/internal/bearer"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/transforms/eventtime"
)

var (
	listen       = flag.String("listen", "127.0.0.1:8080", "address of the screen's web server; beyond loopback it needs --tokens_file or $"+TokensEnv)
	tokensFile   = flag.String("tokens_file", "", `bearer tokens, one "caller token" per line (default: $`+TokensEnv+`; none on loopback)`)
	speed        = flag.Float64("speed", 720, "sample replay: how many times faster than they happened the sample's events are sent (720: an hour in 5 s)")
	replayFrom   = flag.String("replay_from", "", "sample replay: the first of the sample's two days, yyyy-mm-dd in --timezone (default: yesterday)")
	timeZone     = flag.String("timezone", "Asia/Shanghai", "IANA time zone of the screen's days and hours (the sample replay's jobs use it too)")
	kpiTopic     = flag.String("kafka_kpi_topic", kpiTable, "with --source=kafka: the ads_kpi changelog topic")
	trafficTopic = flag.String("kafka_traffic_topic", trafficTable, "with --source=kafka: the ads_entry_traffic changelog topic")
	every        = flag.Duration("update_every", 500*time.Millisecond, "the page is updated at most this often")
)

// TokensEnv holds the tokens when --tokens_file is not given.
const TokensEnv = "FINBEAM_KPISCREEN_TOKENS"

func main() {
	c := app.Start("kpiscreen", "The real-time KPI screen: a web page of today's figures and charts, updated live from the ADS changelogs (by default the embedded sample, replayed).",
		"listen", "tokens_file", "speed", "replay_from", "timezone", "kafka_kpi_topic", "kafka_traffic_topic", "update_every")
	defer c.Close()
	zone, err := eventtime.Load(*timeZone)
	c.Check(err)
	if *speed <= 0 {
		c.Fail(app.UsageError("--speed=%g: must be above 0", *speed))
	}
	tokens, err := authFor(*listen)
	c.Check(err)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b := newBoard()
	brokers, sec := c.Kafka()
	topics := []string{*kpiTopic, *trafficTopic}
	var jobDone <-chan error
	if src := flag.Lookup("source").Value.String(); src == "file" {
		from := time.Now().In(zone)
		from = time.Date(from.Year(), from.Month(), from.Day()-1, 0, 0, 0, 0, zone)
		if *replayFrom != "" {
			if from, err = time.ParseInLocation("2006-01-02", *replayFrom, zone); err != nil {
				c.Fail(app.UsageError("--replay_from=%s: want a date yyyy-mm-dd", *replayFrom))
			}
		}
		addr, done, err := replay(ctx, c, ReplayConfig(c.SampleConfig(), from), *speed, zone, app.Logf)
		c.Check(err)
		brokers, sec, topics, jobDone = []string{addr}, kafkaio.Security{}, []string{kpiTable, trafficTable}, done
	} else if src != "kafka" {
		c.Fail(app.UsageError("--source=%s: the screen reads the ADS changelogs from kafka (or, with no source, replays the sample)", src))
	}
	tables := map[string]string{topics[0]: kpiTable, topics[1]: trafficTable}
	read := make(chan error, 1)
	go func() {
		read <- kafkaio.Tail(ctx, brokers, sec, topics, func(topic string, value []byte) error {
			if err := b.apply(tables[topic], value); err != nil {
				app.Logf("kpiscreen: skipping a line of %s: %v", topic, err) // the error names the column, never a value
			}
			return nil
		})
	}()

	l, err := net.Listen("tcp", *listen)
	c.Check(err)
	srv := &http.Server{Handler: (&server{board: b, tokens: tokens, every: *every}).routes(), ReadHeaderTimeout: 10 * time.Second}
	app.Logf("kpiscreen: the screen is at http://%s/ (Ctrl-C stops it)", l.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
	case err = <-served:
	case err = <-read:
	case err = <-jobDone:
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		c.Check(err)
	}
	app.Logf("kpiscreen stopped")
}

// authFor is the tokens a listener on addr needs: none on loopback unless some are configured; beyond
// it, configured ones (an error when there are none).
func authFor(addr string) (*bearer.Tokens, error) {
	configured := *tokensFile != "" || os.Getenv(TokensEnv) != ""
	if configured {
		return bearer.Load(*tokensFile, TokensEnv)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, app.UsageError("--listen=%s: %v", addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil, nil
	}
	return nil, app.UsageError("--listen=%s is beyond loopback: give the accepted bearer tokens (--tokens_file or $%s)", addr, TokensEnv)
}
