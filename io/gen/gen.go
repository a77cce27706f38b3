// Package gen generates deterministic sample inputs for every finbeam pipeline, a source of input
// tables as Beam's io/synthetic is one of synthetic records: the same Config gives the same lines,
// byte for byte. The commands run on it when given no input (the embedded sample), go run ./cmd/gen
// writes it to files, and the tests and make bench use it as their workload.
//
// The samples are made to exercise the rules, not only the happy path: orders updated several times
// (same order_no, later gmt_modified), equal event times, nulls, decimals written as numbers and as
// strings with different scales, days that end at different instants in UTC and Asia/Shanghai, users
// outside the key-user dimension, rows without an account, lines out of event-time order, and a few
// bad lines for the dead-letter output (BadEvery).
package gen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"time"
)

// Config sizes a sample.
type Config struct {
	Seed     int64 // random seed; default 1
	Events   int   // lines per input (orders, updates, page views); default 2000
	Users    int   // distinct users; default Events/8 (at least 1)
	BadEvery int   // one bad line per BadEvery lines; default 97; negative: none
	Start    time.Time
	Span     time.Duration // event times spread over [Start, Start+Span); default 36h
	// Clean makes traces follow the arrival profile only: no missing or copied parts, no bad lines.
	Clean bool
}

// DefaultStart is Config.Start when it is zero: a Saturday 14:00 UTC, so the span crosses midnight in
// UTC and in Asia/Shanghai at different instants.
var DefaultStart = time.Date(2024, 3, 9, 14, 0, 0, 0, time.UTC)

// UserCount is the number of distinct users of c: Users, or its default. Users are "U000001" up to it.
func (c Config) UserCount() int { return c.withDefaults().Users }

func (c Config) withDefaults() Config {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Events <= 0 {
		c.Events = 2000
	}
	if c.Users <= 0 {
		c.Users = max(1, c.Events/8)
	}
	if c.BadEvery == 0 {
		c.BadEvery = 97
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.Span <= 0 {
		c.Span = 36 * time.Hour
	}
	return c
}

type gen struct {
	Config
	r *rand.Rand
}

func newGen(c Config, stream int64) *gen {
	c = c.withDefaults()
	return &gen{Config: c, r: rand.New(rand.NewSource(c.Seed*1000 + stream))}
}

// ts returns an event time in the span, rounded to the minute half of the time so that ties happen.
func (g *gen) ts() int64 {
	t := g.Start.UnixMilli() + g.r.Int63n(g.Span.Milliseconds())
	if g.r.Intn(2) == 0 {
		t -= t % 60000
	}
	return t
}

func (g *gen) bad(n int) bool { return g.BadEvery > 0 && n%g.BadEvery == g.BadEvery-1 }

// money returns a decimal as a JSON number or a JSON string, with 0 to 2 decimals.
func (g *gen) money(maxUnits int) any {
	cents := g.r.Intn(maxUnits*100) + 1
	var s string
	switch g.r.Intn(3) {
	case 0:
		s = fmt.Sprintf("%d.%02d", cents/100, cents%100)
	case 1:
		s = fmt.Sprintf("%d.%d", cents/100, (cents%100)/10)
	default:
		s = fmt.Sprintf("%d", cents/100+1)
	}
	if g.r.Intn(2) == 0 {
		return s
	}
	return json.Number(s)
}

func (g *gen) maybe(v any, nullOneIn int) any {
	if g.r.Intn(nullOneIn) == 0 {
		return nil
	}
	return v
}

func line(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // maps of strings, numbers and nil
	}
	return string(b)
}

var badLines = []string{
	`not json at all`,
	`{"id": 1, "truncated": `,
	`[1, 2, 3]`,
	`{}`,
}

// Orders emits user_order lines.
func Orders(c Config, emit func(string)) {
	g := newGen(c, 1)
	type order struct {
		no  string
		tel any
	}
	byUser := map[int][]order{}
	for n := 0; n < g.Events; n++ {
		if g.bad(n) {
			emit(g.badOrder(n))
			continue
		}
		user := g.r.Intn(g.Users) + 1
		orders := byUser[user]
		var o order
		if len(orders) > 0 && g.r.Intn(3) > 0 { // an update of an order the user already has
			o = orders[g.r.Intn(len(orders))]
		} else {
			o = order{no: fmt.Sprintf("P%07d", g.r.Intn(10*g.Events)), tel: g.maybe(fmt.Sprintf("138%08d", user*7%100000000), 5)}
			byUser[user] = append(orders, o)
		}
		mod := g.ts()
		emit(line(map[string]any{
			"id": user, "order_no": o.no, "order_type": g.maybe(g.r.Intn(4), 4), "pay_time": g.maybe(mod-60000, 3),
			"order_price": g.maybe(g.money(5000), 4), "customer_name": g.maybe(fmt.Sprintf("customer %d", user), 4),
			"customer_tel": o.tel, "certificate_no": g.maybe(fmt.Sprintf("1101011990%08d", user), 3),
			"gmt_created": mod - 3600000, "gmt_modified": mod, "account_payble": g.maybe(g.money(3000), 6),
		}))
	}
}

func (g *gen) badOrder(n int) string {
	switch (n / g.BadEvery) % 7 {
	case 0, 1, 2, 3:
		return badLines[(n/g.BadEvery)%4]
	case 4:
		return `{"id": "12", "order_no": "P1", "gmt_modified": 1710000000000}` // id of the wrong type
	case 5:
		if n%2 == 0 {
			return `{"id": 12, "order_no": "P1", "gmt_modified": 9223372036854775807}` // beyond year 9999
		}
		return `{"id": 12, "order_no": "", "gmt_modified": 1710000000000}` // empty order_no
	default:
		return `{"id": 12, "order_no": "P1", "gmt_modified": 1710000000000, "account_payble": "ten"}`
	}
}

// KeyUsers emits raw_info lines: the dimension of key users (ids 1..Users, every other one).
func KeyUsers(c Config, emit func(string)) {
	g := newGen(c, 2)
	for id := 1; id <= g.Users; id += 2 {
		emit(line(map[string]any{"id": id, "raw_premium": g.money(10000), "raw_info": g.maybe(fmt.Sprintf("key user %d, agent A%03d", id, id%50), 6)}))
	}
	emit(`{"id": 1, "raw_premium": "not a number"}`) // a bad dimension line
}

// Updates emits update_info lines for users 1..Users (half of them key users).
func Updates(c Config, emit func(string)) {
	g := newGen(c, 3)
	for n := 0; n < g.Events; n++ {
		if g.bad(n) {
			if n%2 == 0 {
				emit(badLines[(n/g.BadEvery)%4])
			} else {
				emit(`{"id": 3, "now_premium": 12.5}`) // gmt_modified missing
			}
			continue
		}
		user := g.r.Intn(g.Users) + 1
		emit(line(map[string]any{
			"id": user, "channel": g.maybe([]string{"app", "wechat", "agent"}[g.r.Intn(3)], 5), "open_id": g.maybe(fmt.Sprintf("o%06d", user), 5),
			"event": g.maybe("policy_change", 4), "now_premium": g.money(10000), "creator": g.maybe("sys", 3), "modifier": g.maybe("sys", 3),
			"gmt_modified": g.ts(), "now_info": g.maybe(fmt.Sprintf("info %d", g.r.Intn(1000)), 5),
		}))
	}
}

// PageViews emits user_log lines.
func PageViews(c Config, emit func(string)) {
	g := newGen(c, 4)
	pages := []string{"home", "product", "quote", "pay", "policy", "claims"}
	for n := 0; n < g.Events; n++ {
		if g.bad(n) {
			if n%2 == 0 {
				emit(badLines[(n/g.BadEvery)%4])
			} else {
				emit(`{"log_time": "yesterday", "account_id": "a1"}`)
			}
			continue
		}
		var account any = fmt.Sprintf("A%05d", g.r.Intn(g.Users))
		switch g.r.Intn(12) {
		case 0:
			account = nil
		case 1:
			account = ""
		}
		emit(line(map[string]any{
			"log_time": g.ts(), "device_id": g.maybe(fmt.Sprintf("D%d", g.r.Intn(2)), 8), "account_id": account,
			"bury_point_type": g.maybe([]string{"view", "click"}[g.r.Intn(2)], 6), "page_name": g.maybe(pages[g.r.Intn(len(pages))], 8),
		}))
	}
}

// Files are the names of the files WriteAll writes, one per input table.
var Files = map[string]func(Config, func(string)){
	"user_order.jsonl":  Orders,
	"raw_info.jsonl":    KeyUsers,
	"update_info.jsonl": Updates,
	"user_log.jsonl":    PageViews,
	"requests.jsonl":    Requests,
	"responses.jsonl":   Responses,
	"tracks.jsonl":      Tracks,
	"actions.jsonl":     ProcessActions,

	"loan_application.jsonl": LoanApplications,
	"login.jsonl":            Logins,
	"repayment.jsonl":        Repayments,

	"app_event.jsonl":     AppEvents,
	"benefit_event.jsonl": BenefitEvents,
}

// WriteAll writes every input table of c into dir, one JSONL file each (see Files), and returns the
// lines written per file name.
func WriteAll(dir string, c Config) (map[string]int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lines := map[string]int{}
	for name, f := range Files {
		n, err := writeFile(filepath.Join(dir, name), c, f)
		if err != nil {
			return nil, err
		}
		lines[name] = n
	}
	return lines, nil
}

// WriteFile writes the lines of one generator to path.
func WriteFile(path string, c Config, f func(Config, func(string))) error {
	_, err := writeFile(path, c, f)
	return err
}

func writeFile(path string, c Config, f func(Config, func(string))) (lines int, err error) {
	file, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriter(file)
	f(c, func(l string) {
		w.WriteString(l)
		w.WriteByte('\n')
		lines++
	})
	if err := w.Flush(); err != nil {
		file.Close()
		return 0, err
	}
	return lines, file.Close()
}

// Lines collects the lines of one generator.
func Lines(c Config, f func(Config, func(string))) []string {
	var out []string
	f(c, func(l string) { out = append(out, l) })
	return out
}
