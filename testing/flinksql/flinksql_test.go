package flinksql_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/flinksql"
	"github.com/finbeam/finbeam/testing/mavenjars"
	"github.com/finbeam/finbeam/testing/reference"
)

// The Flink SQL peer of hourlygmv, on orders in event-time order (ties in finbeam's order) without
// nulls in the columns it aggregates, gives finbeam's table: the reference's, which the pipeline's
// property test holds finbeam to.
func TestHourlyGMVPeerMatchesOnOrderedInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	peer, err := flinksql.Build(ctx, t.Logf)
	if errors.Is(err, flinksql.ErrNotInstalled) || errors.Is(err, mavenjars.ErrNotInstalled) {
		beamtest.NeedService(t, err, err)
	}
	beamtest.Must(t, err)

	type order struct {
		ts        int64
		canonical string
		line      string
	}
	var orders []order
	gen.Orders(gen.Config{Seed: 7, Events: 3000, BadEvery: -1}, func(line string) {
		o, err := hourlygmv.ParseOrder(line)
		if err != nil || o.CustomerTel == nil || o.AccountPayble == nil {
			return
		}
		b, _ := json.Marshal(o)
		orders = append(orders, order{o.GmtModified, string(b), line})
	})
	slices.SortFunc(orders, func(a, b order) int {
		if a.ts != b.ts {
			return int(a.ts - b.ts)
		}
		return strings.Compare(a.canonical, b.canonical)
	})
	lines := make([]string, len(orders))
	for i, o := range orders {
		lines[i] = o.line
	}
	in := filepath.Join(t.TempDir(), "user_order.jsonl")
	beamtest.Must(t, os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644))

	out, err := peer.Command(ctx, "hourlygmv", in, 1).Output()
	if err != nil {
		t.Fatalf("the peer: %v", err)
	}
	got, err := beamtest.Rows(hourlygmv.Schema, strings.Split(strings.TrimSpace(string(out)), "\n"))
	beamtest.Must(t, err)
	ref, _ := reference.HourlyGMV(lines, time.UTC)
	var refLines []string
	for _, row := range ref {
		refLines = append(refLines, row)
	}
	want, err := beamtest.Rows(hourlygmv.Schema, refLines)
	beamtest.Must(t, err)
	if len(want) < 20 {
		t.Fatalf("the reference has %d hours; want a day and more", len(want))
	}
	beamtest.SameTable(t, "hs_order from Flink SQL", got, want)
}
