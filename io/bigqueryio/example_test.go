package bigqueryio_test

import (
	"fmt"

	"github.com/finbeam/finbeam/io/bigqueryio"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
)

// A changelog table: the schema's columns, then op, version and ingested_at; money is NUMERIC.
func ExampleTableSchema() {
	for _, f := range bigqueryio.TableSchema(hourlygmv.Schema) {
		fmt.Println(f.Name, f.Type, f.Required)
	}
	// Output:
	// biz_date STRING true
	// total_premium NUMERIC false
	// policy_cnt INT64 false
	// policy_holder_cnt INT64 false
	// op STRING true
	// version INT64 true
	// ingested_at TIMESTAMP true
}

// The _current views: the newest version per key unless it is a delete; for an append-only table,
// the first row appended per key.
func ExampleView() {
	fmt.Println(bigqueryio.View("`proj.finbeam.hs_order`", hourlygmv.Schema))
	fmt.Println(bigqueryio.View("`proj.finbeam.wechat_activity_user`", premiumdrop.Schema))
	// Output:
	// SELECT `biz_date`, `total_premium`, `policy_cnt`, `policy_holder_cnt`, `version` FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY `biz_date` ORDER BY `version` DESC, `ingested_at` DESC) AS finbeam_rank FROM `proj.finbeam.hs_order`) WHERE finbeam_rank = 1 AND `op` = 'upsert'
	// SELECT `id`, `raw_info`, `now_info`, `raw_premium`, `now_premium`, `gmt_modified` FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY `id`, `gmt_modified` ORDER BY `ingested_at` ASC) AS finbeam_rank FROM `proj.finbeam.wechat_activity_user`) WHERE finbeam_rank = 1
}
