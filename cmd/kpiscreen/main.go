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
// It listens on --listen (127.0.0.1:8080). Beyond loopback it needs TLS (--tls_cert, --tls_key) and
// bearer tokens (--tokens_file or $FINBEAM_KPISCREEN_TOKENS, "caller token" lines as varserve's): a
// browser opens the page once with ?token=<token>, which sets a cookie. SIGHUP reloads the tokens and
// the certificate. The charts are drawn on the server as SVG (gonum/plot): the page
// loads nothing from elsewhere and works offline.
//
//	go run ./cmd/kpiscreen                         # the sample, live at http://127.0.0.1:8080
//	go run ./cmd/kpiscreen --speed=3600            # an hour of the sample per second
//	go run ./cmd/kpiscreen --source=kafka --kafka_brokers=127.0.0.1:9092
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/cmd/internal/bearer"
	"github.com/finbeam/finbeam/cmd/internal/httpsvc"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/transforms/eventtime"
)

var (
	listen       = flag.String("listen", "127.0.0.1:8080", "address of the screen's web server; beyond loopback it needs --tls_cert, --tls_key and --tokens_file or $"+TokensEnv)
	tokensFile   = flag.String("tokens_file", "", `bearer tokens, one "caller token" per line (default: $`+TokensEnv+`; none on loopback); SIGHUP reloads them`)
	tlsCert      = flag.String("tls_cert", "", "serve HTTPS with this certificate (PEM; with --tls_key); needed beyond loopback; SIGHUP reloads it")
	tlsKey       = flag.String("tls_key", "", "the private key of --tls_cert (PEM)")
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
		"listen", "tokens_file", "tls_cert", "tls_key", "speed", "replay_from", "timezone", "kafka_kpi_topic", "kafka_traffic_topic", "update_every")
	defer c.Close()
	zone, err := eventtime.Load(*timeZone)
	c.Check(err)
	if *speed <= 0 {
		c.Fail(app.UsageError("--speed=%g: must be above 0", *speed))
	}
	// The screen's viewers are few and its event streams long: no admission limits, no write timeout.
	opts := httpsvc.Options{Listen: *listen, TLSCert: *tlsCert, TLSKey: *tlsKey, MaxInFlight: -1, CallerRate: -1}
	tokens, err := authFor(opts)
	c.Check(err)
	front, err := httpsvc.Listen(opts, tokens, app.Logf) // before the replay: a busy port fails at once
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

	serveCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	served := make(chan error, 1)
	go func() { served <- front.Serve(serveCtx, (&server{board: b, tokens: tokens, every: *every}).routes()) }()
	app.Logf("kpiscreen: the screen is at %s/ (Ctrl-C stops it)", front.URL())
	select {
	case <-ctx.Done():
	case err = <-served:
		served <- err
	case err = <-read:
	case err = <-jobDone:
	}
	stopServing()
	if serr := <-served; err == nil {
		err = serr
	}
	c.Check(err)
	app.Logf("kpiscreen stopped")
}

// authFor is the tokens a listener needs: none on loopback unless some are configured; beyond it,
// configured ones with TLS (a usage error naming what is missing otherwise).
func authFor(opts httpsvc.Options) (*bearer.Set, error) {
	configured := *tokensFile != "" || os.Getenv(TokensEnv) != ""
	if err := httpsvc.CheckExposure(opts, configured); err != nil {
		return nil, app.UsageError("%v", err)
	}
	if configured {
		return bearer.LoadSet(*tokensFile, TokensEnv)
	}
	return nil, nil
}
