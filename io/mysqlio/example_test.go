package mysqlio_test

import (
	"fmt"

	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
)

// The DDL of a table: the schema's columns, the version and the delete marker; the key is the
// schema's key, or row_key when a key column may be null.
func ExampleCreateTable() {
	fmt.Println(mysqlio.CreateTable(hourlygmv.Schema))
	fmt.Println(mysqlio.CreateTable(lastpage.Schema))
	fmt.Println(mysqlio.CreateTable(premiumdrop.Schema)) // append-only: no version, no delete marker
	// Output:
	// CREATE TABLE IF NOT EXISTS `hs_order` (
	//   `biz_date` VARCHAR(255) NOT NULL,
	//   `total_premium` DECIMAL(38,4) NULL,
	//   `policy_cnt` BIGINT NULL,
	//   `policy_holder_cnt` BIGINT NULL,
	//   `version` BIGINT NOT NULL,
	//   `is_deleted` TINYINT(1) NOT NULL DEFAULT 0,
	//   PRIMARY KEY (`biz_date`)
	// ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
	// CREATE TABLE IF NOT EXISTS `user_last_log` (
	//   `account_id` VARCHAR(255) NOT NULL,
	//   `device_id` VARCHAR(255) NULL,
	//   `bury_point_type` TEXT NULL,
	//   `page_name` TEXT NULL,
	//   `log_time` BIGINT NULL,
	//   `version` BIGINT NOT NULL,
	//   `is_deleted` TINYINT(1) NOT NULL DEFAULT 0,
	//   `row_key` VARCHAR(768) NOT NULL,
	//   PRIMARY KEY (`row_key`),
	//   KEY `by_account_id_device_id` (`account_id`, `device_id`)
	// ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
	// CREATE TABLE IF NOT EXISTS `wechat_activity_user` (
	//   `id` BIGINT NOT NULL,
	//   `raw_info` TEXT NULL,
	//   `now_info` TEXT NULL,
	//   `raw_premium` DECIMAL(38,4) NULL,
	//   `now_premium` DECIMAL(38,4) NULL,
	//   `gmt_modified` BIGINT NOT NULL,
	//   PRIMARY KEY (`id`, `gmt_modified`)
	// ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
}
