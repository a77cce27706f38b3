package gen

import (
	"fmt"
	"time"
)

// A lender's events (pipelines/variablepool): loan applications, logins and repayments of the same
// users, over LoanHistory before Config.Start and Config.Span after it, so that 7-day and 30-day
// variables have history and the last hour has a baseline the day before.
//
// A user has one to three devices and one or two IP addresses of its own, and now and then uses
// another. In the last hour of the span comes the drift episode: a tenth of the applications (and a
// twentieth of the logins) are a burst from the drift users (every tenth user), each from a device
// and an IP address never seen before, with larger amounts. Variables of applications and devices
// shift in that hour; failed logins, overdue repayments and account age do not.
//
// Every user opened its account before the history: the first lines of the logins (one per user,
// users in order) are each user's first login, at a time up to AccountAge before the history, so that
// account ages spread as a lender's do, not all from the start of the file.

// LoanHistory is how long before Config.Start the lender's events begin.
const LoanHistory = 7 * 24 * time.Hour

// AccountAge is how long before the history the oldest account was opened.
const AccountAge = 2 * 365 * 24 * time.Hour

// DriftHour is the start of the drift episode of c: the last hour of the span, in epoch ms.
func DriftHour(c Config) int64 {
	c = c.withDefaults()
	return c.Start.Add(c.Span - time.Hour).UnixMilli()
}

// DriftUser reports whether user id (as the generator writes it) takes part in the drift episode.
func DriftUser(id string) bool {
	var n int
	_, err := fmt.Sscanf(id, "U%d", &n)
	return err == nil && n%10 == 0
}

// loanTS returns an event time anywhere in the lender's range, rounded to the second half of the
// time so that ties happen.
func (g *gen) loanTS() int64 {
	from := g.Start.Add(-LoanHistory).UnixMilli()
	t := from + g.r.Int63n(g.Start.Add(g.Span).UnixMilli()-from)
	if g.r.Intn(2) == 0 {
		t -= t % 1000
	}
	return t
}

// driftTS returns an event time in the drift hour.
func (g *gen) driftTS() int64 { return DriftHour(g.Config) + g.r.Int63n(time.Hour.Milliseconds()) }

func (g *gen) loanUser() int { return g.r.Intn(g.Users) + 1 }

func (g *gen) driftUser() int { return 10 * (g.r.Intn(max(1, g.Users/10)) + 1) }

func userID(u int) string { return fmt.Sprintf("U%06d", u) }

// device returns one of user u's own devices (one to three of them), or now and then another one.
func (g *gen) device(u int) string {
	if g.r.Intn(20) == 0 {
		return fmt.Sprintf("D%06d-%d", g.r.Intn(g.Users)+1, g.r.Intn(3))
	}
	return fmt.Sprintf("D%06d-%d", u, g.r.Intn(1+u%3))
}

// ip returns one of user u's own addresses (one or two of them), or now and then another one.
func (g *gen) ip(u int) string {
	if g.r.Intn(10) == 0 {
		return fmt.Sprintf("172.16.%d.%d", g.r.Intn(256), g.r.Intn(256))
	}
	k := g.r.Intn(1 + u%2)
	return fmt.Sprintf("10.%d.%d.%d", u/65536%256, u/256%256, (u+k*97)%256)
}

// newDevice and newIP are a device and an address nobody used before (the drift episode).
func (g *gen) newDevice(n int) string { return fmt.Sprintf("N%08d", n) }
func (g *gen) newIP(n int) string     { return fmt.Sprintf("192.0.%d.%d", n/256%256, n%256) }

var loanProducts = []string{"cash_loan", "installment", "credit_line"}

// LoanApplications emits loan_application lines.
func LoanApplications(c Config, emit func(string)) {
	g := newGen(c, 11)
	for n := 0; n < g.Events; n++ {
		if g.bad(n) {
			emit([]string{badLines[(n/g.BadEvery)%4], `{"app_id": "A1", "amount": 100, "ts": 1710000000000}`, // user_id missing
				`{"user_id": "U000001", "app_id": "A1", "amount": "ten", "ts": 1710000000000}`}[(n/g.BadEvery)%3])
			continue
		}
		m := map[string]any{"app_id": fmt.Sprintf("A%08d", n), "product": loanProducts[g.r.Intn(len(loanProducts))]}
		if n%10 == 9 {
			u := g.driftUser()
			m["user_id"], m["device_id"], m["ip"], m["ts"], m["amount"] = userID(u), g.newDevice(n), g.newIP(n), g.driftTS(), g.money(50000)
		} else {
			u := g.loanUser()
			m["user_id"], m["device_id"], m["ip"], m["ts"], m["amount"] = userID(u), g.maybe(g.device(u), 25), g.maybe(g.ip(u), 25), g.loanTS(), g.money(20000)
		}
		emit(line(m))
	}
}

// Logins emits login lines: most succeed; a user now and then fails several times in a row.
func Logins(c Config, emit func(string)) {
	g := newGen(c, 12)
	for n := 0; n < g.Events; n++ {
		if g.bad(n) {
			emit([]string{badLines[(n/g.BadEvery)%4], `{"user_id": "U000001", "success": "yes", "ts": 1710000000000}`,
				`{"user_id": "U000001", "success": true}`}[(n/g.BadEvery)%3]) // success not a boolean; ts missing
			continue
		}
		m := map[string]any{}
		if n < g.Users {
			from := g.Start.Add(-LoanHistory - AccountAge).UnixMilli()
			m["user_id"], m["device_id"], m["ip"], m["success"], m["ts"] = userID(n+1), g.device(n+1), g.ip(n+1), true, from+g.r.Int63n(AccountAge.Milliseconds())
		} else if n%20 == 19 {
			u := g.driftUser()
			m["user_id"], m["device_id"], m["ip"], m["success"], m["ts"] = userID(u), g.newDevice(n+g.Events), g.newIP(n+g.Events), true, g.driftTS()
		} else {
			u := g.loanUser()
			m["user_id"], m["device_id"], m["ip"], m["success"], m["ts"] = userID(u), g.maybe(g.device(u), 25), g.maybe(g.ip(u), 25), g.r.Intn(100) >= 8+u%5*3, g.loanTS()
		}
		emit(line(m))
	}
}

// Repayments emits repayment lines: an instalment paid in time (due later), paid late (due before
// it was paid), or not paid (paid_ts null, reported after its due time).
func Repayments(c Config, emit func(string)) {
	g := newGen(c, 13)
	day := (24 * time.Hour).Milliseconds()
	for n := 0; n < g.Events; n++ {
		if g.bad(n) {
			emit([]string{badLines[(n/g.BadEvery)%4], `{"user_id": "U000001", "loan_id": "L1", "amount": 10, "due_ts": "soon", "ts": 1710000000000}`,
				`{"user_id": "", "loan_id": "L1", "amount": 10, "due_ts": 1710000000000, "ts": 1710000000000}`}[(n/g.BadEvery)%3]) // due_ts not an integer; user_id empty
			continue
		}
		u, ts := g.loanUser(), g.loanTS()
		m := map[string]any{"user_id": userID(u), "loan_id": fmt.Sprintf("L%06d-%d", u, g.r.Intn(3)), "amount": g.money(3000), "ts": ts}
		switch k := g.r.Intn(100); {
		case k < 80:
			m["paid_ts"], m["due_ts"] = ts, ts+g.r.Int63n(5*day)
		case k < 92:
			m["paid_ts"], m["due_ts"] = ts, ts-time.Hour.Milliseconds()-g.r.Int63n(10*day)
		default:
			m["paid_ts"], m["due_ts"] = nil, ts-day-g.r.Int63n(10*day)
		}
		emit(line(m))
	}
}
