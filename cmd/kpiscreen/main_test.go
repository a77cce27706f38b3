package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/cmd/internal/bearer"
	"github.com/finbeam/finbeam/cmd/internal/httpsvc"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/entrytraffic"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/browser"
	"github.com/finbeam/finbeam/testing/reference"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main) }

func kpiLine(grain, bizDate, platform string, pv, uv int, premium string, version int) string {
	money := `"premium":null,"policies":null,"policy_holders":null`
	if platform == "all" {
		money = fmt.Sprintf(`"premium":%s,"policies":3,"policy_holders":2`, premium)
	}
	return fmt.Sprintf(`{"op":"upsert","grain":"%s","biz_date":"%s","platform":"%s","pv":%d,"uv":%d,"activations":1,%s,"version":%d}`,
		grain, bizDate, platform, pv, uv, money, version)
}

// The board keeps the newest version of each row and shows the latest day: its tiles, its hours
// against the day before, its platforms, and its activity entries by page views.
func TestBoardShowsTheLatestDay(t *testing.T) {
	b := newBoard()
	for _, l := range []string{
		kpiLine("day", "20240309", "all", 5, 2, "10", 1),
		kpiLine("day", "20240310", "all", 9, 4, "100.5", 1),
		kpiLine("day", "20240310", "all", 12, 5, "120.25", 2),
		kpiLine("day", "20240310", "all", 10, 5, "99", 1), // an older version, replayed: ignored
		kpiLine("day", "20240310", "ios", 7, 3, "", 1),
		kpiLine("day", "20240310", "h5", 5, 2, "", 1),
		kpiLine("hour", "2024030923", "all", 5, 2, "10", 1),
		kpiLine("hour", "2024031008", "all", 12, 5, "120.25", 1),
	} {
		beamtest.Must(t, b.apply(kpiTable, []byte(l)))
	}
	for _, l := range []string{
		`{"op":"upsert","activity_id":"spring_sale","entry_id":"push","grain":"day","biz_date":"20240310","pv":3,"uv":2,"clicks":1,"applications":1,"paid_orders":1,"conversion":0.5,"version":1}`,
		`{"op":"upsert","activity_id":"<b>x</b>","entry_id":"banner","grain":"day","biz_date":"20240310","pv":8,"uv":4,"clicks":0,"applications":0,"paid_orders":0,"conversion":0,"version":1}`,
		`{"op":"upsert","activity_id":"spring_sale","entry_id":"push","grain":"hour","biz_date":"2024031008","pv":3,"uv":2,"clicks":1,"applications":1,"paid_orders":1,"conversion":0.5,"version":1}`,
	} {
		beamtest.Must(t, b.apply(trafficTable, []byte(l)))
	}
	if err := b.apply(kpiTable, []byte(`{"op":"upsert","grain":"day"}`)); err == nil {
		t.Error("a line without the table's key was applied")
	}
	v, err := b.view()
	beamtest.Must(t, err)
	if v.Today != "20240310" || v.Yesterday != "20240309" || v.Tiles != (Figures{Premium: "120.25", Policies: 3, PolicyHolders: 2, PV: 12, UV: 5, Activations: 1}) {
		t.Errorf("today %s, yesterday %s, tiles %+v", v.Today, v.Yesterday, v.Tiles)
	}
	if v.Hourly[0][23] != 10 || v.Hourly[1][8] != 120.25 || v.HoursSeen != 9 {
		t.Errorf("hourly %v, hours seen %d", v.Hourly, v.HoursSeen)
	}
	if fmt.Sprint(v.Platforms) != "[{h5 5 2} {ios 7 3}]" {
		t.Errorf("platforms %v", v.Platforms)
	}
	if len(v.Entries) != 2 || v.Entries[0].ActivityID != "<b>x</b>" || v.Entries[1].EntryID != "push" {
		t.Errorf("entries %+v", v.Entries)
	}
	if v.Changes != 10 || v.Bad != 1 {
		t.Errorf("%d changes and %d bad lines, want 10 and 1", v.Changes, v.Bad)
	}
	charts, err := charts(v)
	beamtest.Must(t, err)
	for name, svg := range charts {
		if !strings.HasPrefix(svg, "<svg") || strings.Contains(svg, "<b>") {
			t.Errorf("chart %s is not a clean SVG element: %.80s", name, svg)
		}
	}
}

// On loopback no token is needed; beyond it the command refuses to start without tokens. With
// tokens, a request needs one: in the Authorization header, or once on the page's address, which
// then sets a cookie the page's own requests carry.
func TestTokens(t *testing.T) {
	if tk, err := authFor(httpsvc.Options{Listen: "127.0.0.1:8080"}); tk != nil || err != nil {
		t.Errorf("loopback: %v, %v", tk, err)
	}
	if _, err := authFor(httpsvc.Options{Listen: "0.0.0.0:8080"}); err == nil || !strings.Contains(err.Error(), "beyond loopback: it needs TLS (--tls_cert and --tls_key) and bearer tokens") {
		t.Errorf("0.0.0.0 without TLS and tokens: %v", err)
	}
	tokens, token := bearer.New("screen")
	ts := httptest.NewServer((&server{board: newBoard(), tokens: bearer.Fixed(tokens), every: time.Millisecond}).routes())
	defer ts.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, header http.Header) *http.Response {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header = header
		res, err := noRedirect.Do(req)
		beamtest.Must(t, err)
		res.Body.Close()
		return res
	}
	if res := get("/", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", res.StatusCode)
	}
	if res := get("/view.json", http.Header{"Authorization": {"Bearer " + token}}); res.StatusCode != http.StatusOK {
		t.Errorf("bearer header: %d", res.StatusCode)
	}
	res := get("/?token="+token, nil)
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 || !res.Cookies()[0].HttpOnly {
		t.Fatalf("?token=: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	if res := get("/view.json", http.Header{"Cookie": {res.Cookies()[0].String()}}); res.StatusCode != http.StatusOK {
		t.Errorf("cookie: %d", res.StatusCode)
	}
	if res := get("/?token=wrong-token-of-some-length", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d", res.StatusCode)
	}
	if res := get("/healthz", nil); res.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", res.StatusCode)
	}
}

// The event stream sends the whole view at once, and again after a change.
func TestEventsSendTheViewAndItsChanges(t *testing.T) {
	b := newBoard()
	ts := httptest.NewServer((&server{board: b, every: time.Millisecond}).routes())
	defer ts.Close()
	res, err := http.Get(ts.URL + "/events")
	beamtest.Must(t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	next := func() View {
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var v View
				beamtest.Must(t, json.Unmarshal([]byte(data), &v))
				return v
			}
		}
		t.Fatalf("the stream ended: %v", sc.Err())
		return View{}
	}
	if v := next(); v.Today != "" || v.Changes != 0 {
		t.Errorf("first view %+v, want an empty one", v)
	}
	beamtest.Must(t, b.apply(kpiTable, []byte(kpiLine("day", "20240310", "all", 1, 1, "5", 1))))
	if v := next(); v.Today != "20240310" || v.Tiles.Premium != "5" || v.Charts["premium"] == "" {
		t.Errorf("after a change: today %q, tiles %+v", v.Today, v.Tiles)
	}
}

// The whole screen in a real browser: the command replays the sample (two days from 2024-03-09) into
// its in-process broker, the DWD and ADS jobs stream it, and headless Chromium opens the page while
// events stream. Its tiles and its hourly premium chart's data reach the reference's figures of the
// last day, its table lists the reference's activity entries, and a screenshot is kept
// ($FINBEAM_ARTIFACTS, default out/artifacts at the top of the repository).
func TestScreenInABrowser(t *testing.T) {
	if _, err := browser.Path(); err != nil {
		beamtest.NeedService(t, err, browser.ErrNotInstalled)
	}
	port, err := beamtest.FreePort()
	beamtest.Must(t, err)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	cmd := beamtest.StartCommand(t, fmt.Sprintf("--listen=127.0.0.1:%d", port), "--replay_from=2024-03-09", "--speed=4000", "--sample_events=1500")
	cmd.WaitForStderr(t, "the screen is at", 2*time.Minute)

	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	cfg := ReplayConfig(gen.Config{Seed: 1, Events: 1500}, time.Date(2024, 3, 9, 0, 0, 0, 0, shanghai))
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	kpis, _ := reference.KPI(rows, gen.Lines(cfg, gen.Orders), shanghai)
	var day struct {
		PV, UV, Activations int64
		Premium             json.Number
		Policies            int64
		PolicyHolders       int64 `json:"policy_holders"`
	}
	beamtest.Must(t, json.Unmarshal([]byte(kpis[`["day","20240310","all"]`]), &day))
	want := map[string]string{"premium": day.Premium.String(), "policies": fmt.Sprint(day.Policies), "policy_holders": fmt.Sprint(day.PolicyHolders),
		"pv": fmt.Sprint(day.PV), "uv": fmt.Sprint(day.UV), "activations": fmt.Sprint(day.Activations)}
	entries := reference.EntryTraffic(rows, gen.Lines(cfg, gen.Orders), shanghai)
	var wantEntries, wantPremiums []string // the entries of the day, and the premium cells they show
	for _, e := range entries {
		var r entrytraffic.Row
		beamtest.Must(t, json.Unmarshal([]byte(e), &r))
		if r.Grain == "day" && r.BizDate == "20240310" {
			wantEntries = append(wantEntries, r.ActivityID+"/"+r.EntryID)
			if p, _ := decimal.NewFromString(string(r.Premium)); p.IsPositive() {
				wantPremiums = append(wantPremiums, "<td>"+grouped(p)+"</td>")
			}
		}
	}
	if len(wantPremiums) == 0 {
		t.Fatal("no activity entry of 2024-03-10 has a premium in the reference: the column is not checked")
	}

	tile := regexp.MustCompile(`id="tile-([a-z_]+)" data-value="([^"]*)"`)
	var dom string
	deadline := time.Now().Add(4 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		dom, err = browser.DOM(ctx, url, 5*time.Second)
		cancel()
		beamtest.Must(t, err)
		got := map[string]string{}
		for _, m := range tile.FindAllStringSubmatch(dom, -1) {
			got[m[1]] = m[2]
		}
		missing := slices.DeleteFunc(slices.Clone(wantPremiums), func(cell string) bool { return strings.Contains(dom, cell) })
		if strings.Contains(dom, `<b id="today">2024-03-10</b>`) && fmt.Sprint(got) == fmt.Sprint(want) && len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tiles and entries did not reach the reference's figures of 2024-03-10: got %v, want %v; premium cells missing %v\ncommand:\n%s", got, want, missing, cmd.Stderr())
		}
		time.Sleep(2 * time.Second)
	}
	chart := regexp.MustCompile(`id="chart-premium" data-today="([^"]*)"`).FindStringSubmatch(dom)
	var hourly []float64
	if chart == nil || json.Unmarshal([]byte(strings.ReplaceAll(chart[1], "&quot;", `"`)), &hourly) != nil || len(hourly) == 0 {
		t.Fatalf("the premium chart carries no hourly figures: %v", chart)
	}
	sum := 0.0
	for _, h := range hourly {
		sum += h
	}
	if p, _ := day.Premium.Float64(); sum < p-0.01 || sum > p+0.01 || !strings.Contains(dom, "<svg") {
		t.Errorf("the chart's hours sum to %.2f, the day's premium is %s", sum, day.Premium)
	}
	for _, e := range wantEntries {
		activity, entry, _ := strings.Cut(e, "/")
		if !strings.Contains(dom, "<td>"+activity+"</td><td>"+entry+"</td>") {
			t.Errorf("the entries table lacks %s", e)
		}
	}
	if len(wantEntries) == 0 {
		t.Error("the reference has no activity entry on 2024-03-10: the table is not checked")
	}

	dir := os.Getenv("FINBEAM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "out", "artifacts")
	}
	beamtest.Must(t, os.MkdirAll(dir, 0o755))
	png := filepath.Join(dir, "kpiscreen.png")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := browser.Screenshot(ctx, url, png, 1400, 1150); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("screenshot: %v", err)
	}
	t.Logf("screenshot: %s", png)
	res := cmd.Interrupt(t)
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, "kpiscreen stopped") {
		t.Errorf("after SIGINT: exit %d: %s", res.ExitCode, res.Stderr)
	}
}

// grouped is d as the page shows money: two decimals, thousands separated by commas.
func grouped(d decimal.Decimal) string {
	whole, frac, _ := strings.Cut(d.StringFixed(2), ".")
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	return whole + "." + frac
}
