package entrytraffic

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/transforms/retract"
)

// The join of an order-day in any arrival order: the premium ends up counted once, for the entry of
// the day's earliest payment, at the latest version's amount; every change before that is taken
// back, in batches of any size.
func TestPremiumJoinInAnyOrder(t *testing.T) {
	day := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	pay := func(id string, ts int64, entry string) premiumInput {
		return premiumInput{Key: "o1", Expiry: day + 86_400_000, IsPay: true, TS: day + ts, EventID: id, Activity: "spring_sale", Entry: entry}
	}
	version := func(modified int64, amount, canon string) premiumInput {
		return premiumInput{Key: "o1", Expiry: day + 86_400_000, Modified: day + modified, Amount: amount, Line: "order " + amount, Canon: canon}
	}
	inputs := []premiumInput{
		pay("e2", 3_600_000, "banner"), // 01h, banner
		version(1000, "100", "c"),
		pay("e1", 7_200_000, "push"),         // later: not the first payment
		version(5000, "120.50", "b"),         // the latest version
		pay("e0", 3_600_000, "wechat_share"), // the same ts as e2, a smaller event id: the first payment
		version(5000, "90", "a"),             // same time as 120.50, smaller canonical encoding: not latest
	}
	want := map[string]string{
		`["spring_sale","wechat_share","day","20240310"]`:    "120.5",
		`["spring_sale","wechat_share","hour","2024031001"]`: "120.5",
	}
	r := rand.New(rand.NewSource(7))
	for trial := 0; trial < 30; trial++ {
		order := append([]premiumInput(nil), inputs...)
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		net := map[string]decimal.Decimal{}
		var raws []string
		rules := premiumRules{f: &premiumFn{Join: joinConfig{loc: time.UTC}, Sums: 5}, emit: func(d retract.Delta) {
			x := decimal.RequireFromString(d.Sums[4]).Mul(decimal.NewFromInt(d.Sign))
			net[d.Key] = net[d.Key].Add(x)
			if d.Raw != "" {
				raws = append(raws, d.Raw)
			}
		}}
		var st premiumState
		for start := 0; start < len(order); {
			n := 1 + r.Intn(3) // batches of one to three, as bundles bring them
			end := min(start+n, len(order))
			if err := rules.Add(context.Background(), "o1", &st, order[start:end], keyed.Watermark{}); err != nil {
				t.Fatal(err)
			}
			start = end
		}
		got := map[string]string{}
		for k, v := range net {
			if !v.IsZero() {
				got[k] = v.String()
			}
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
			t.Errorf("arrival order %v: net premium %v, want %v", ids(order), got, want)
		}
		for _, raw := range raws { // what a late contribution dead-letters: an order version's line, never a payment
			if !strings.HasPrefix(raw, "order ") {
				t.Errorf("arrival order %v: a contribution carries %q", ids(order), raw)
			}
		}
	}
}

func sorted(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func ids(in []premiumInput) []string {
	var out []string
	for _, v := range in {
		if v.IsPay {
			out = append(out, v.EventID)
		} else {
			out = append(out, v.Amount)
		}
	}
	return out
}
