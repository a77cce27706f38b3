package mysqlio_test

import (
	"os"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/antifraud"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/entrytraffic"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/kpi"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
	"github.com/finbeam/finbeam/pipelines/processmetrics"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// The README's "Writing to MySQL" shows the DDL of every table a job writes, as CreateTable makes it
// (what --mysql_create_tables runs), so that a DBA can create the tables by hand.
func TestREADMEShowsTheDDLOfEveryTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []changelog.Schema{hourlygmv.Schema, lastpage.Schema, premiumdrop.Schema, premiumdrop.DimSchema,
		tracejoin.Schema, tracejoin.IncompleteSchema, processmetrics.Schema, processmetrics.MetricsSchema, variablepool.Schema,
		dwd.Schema, entrytraffic.Schema, kpi.Schema, antifraud.Schema} {
		ddl := mysqlio.CreateTable(s)
		// The README may comment a statement's first line.
		first, rest, _ := strings.Cut(ddl, "\n")
		if !strings.Contains(string(b), first) || !strings.Contains(string(b), rest+";") {
			t.Errorf("README.md lacks the DDL of %s:\n%s;", s.Table, ddl)
		}
	}
}
