import java.math.BigDecimal;
import java.util.Map;
import java.util.TreeMap;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.CloseableIterator;

/**
 * The peer of finbeam's jobs: the job as its users wrote it in Flink SQL, run as they run it, in
 * streaming mode (its aggregates are changelogs; last_value follows arrival order), on a local Flink
 * in this JVM over a JSONL file (a bounded source: the job ends at its end). The changelog is applied
 * here and the final table printed to stdout as JSON lines. Batch mode is not used: its sort-based
 * aggregation does not keep arrival order, so last_value there picks an arbitrary row.
 *
 * <p>Usage: FinbeamSql JOB INPUT PARALLELISM, with JOB hourlygmv (INPUT: user_order lines), lastpage
 * (INPUT: user_log lines) or tracejoin (INPUT: the request, response and tracking files, comma-separated);
 * FinbeamSql premiumdrop INPUT PARALLELISM JDBC_URL FLUSH_ROWS (INPUT: update_info lines; the tables
 * raw_info, loaded, and wechat_activity_user, empty, in the database of JDBC_URL, which the job
 * writes and prints nothing).
 */
public class FinbeamSql {
    public static void main(String[] args) throws Exception {
        boolean drop = args.length == 5 && args[0].equals("premiumdrop");
        if (!drop && (args.length != 3 || !(args[0].equals("hourlygmv") || args[0].equals("lastpage") || args[0].equals("tracejoin")))) {
            System.err.println("usage: FinbeamSql hourlygmv|lastpage|tracejoin INPUT PARALLELISM\n"
                + "       FinbeamSql premiumdrop INPUT PARALLELISM JDBC_URL FLUSH_ROWS");
            System.exit(2);
        }
        Configuration conf = new Configuration();
        conf.setString("parallelism.default", args[2]);
        conf.setString("table.local-time-zone", "UTC");
        TableEnvironment t = TableEnvironment.create(EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
        switch (args[0]) {
            case "hourlygmv": hourlyGMV(t, args[1]); break;
            case "lastpage": lastPage(t, args[1]); break;
            case "premiumdrop": premiumDrop(t, args[1], args[3], args[4]); break;
            default: traceJoin(t, args[1].split(","));
        }
    }

    /**
     * wechat_activity_user and raw_info: each update joined at processing time with its user's row of
     * the key-user dimension, read from the database at that moment (a lookup join, no cache); a user
     * whose amount fell by more than 15% goes to wechat_activity_user, and every key user's row is
     * written back with the new amount. Both writes are the JDBC connector's upserts, buffered up to
     * flushRows rows or one second (its defaults: 100 rows), so a lookup sees a write-back only once
     * it is flushed. Updates take effect in arrival order. Each insert has a lookup of its own (the
     * planner moves the alert's condition into its join); the source is shared and, in the one chained
     * task at parallelism 1, an update reaches the alert's lookup before the write-back's.
     */
    static void premiumDrop(TableEnvironment t, String input, String url, String flushRows) throws Exception {
        t.executeSql("CREATE TABLE update_info (id BIGINT, channel STRING, open_id STRING, event STRING, "
            + "now_premium DECIMAL(38, 4), creator STRING, modifier STRING, gmt_modified BIGINT, now_info STRING, "
            + "proc AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '" + input.replace("'", "''") + "', "
            + "'format' = 'json', 'json.ignore-parse-errors' = 'true')");
        String jdbc = "'connector' = 'jdbc', 'url' = '" + url.replace("'", "''") + "', "
            + "'sink.buffer-flush.max-rows' = '" + Integer.parseInt(flushRows) + "', 'sink.buffer-flush.interval' = '1s'";
        t.executeSql("CREATE TABLE raw_info (id BIGINT, raw_premium DECIMAL(38, 4), raw_info STRING, "
            + "PRIMARY KEY (id) NOT ENFORCED) WITH (" + jdbc + ", 'table-name' = 'raw_info')");
        t.executeSql("CREATE TABLE wechat_activity_user (id BIGINT, raw_info STRING, now_info STRING, "
            + "raw_premium DECIMAL(38, 4), now_premium DECIMAL(38, 4), gmt_modified BIGINT, "
            + "PRIMARY KEY (id, gmt_modified) NOT ENFORCED) WITH (" + jdbc + ", 'table-name' = 'wechat_activity_user')");
        t.executeSql("CREATE TEMPORARY VIEW joined AS SELECT u.id, r.raw_info, u.now_info, r.raw_premium, u.now_premium, "
            + "u.gmt_modified FROM update_info AS u JOIN raw_info FOR SYSTEM_TIME AS OF u.proc AS r ON u.id = r.id "
            + "WHERE u.now_premium IS NOT NULL AND u.gmt_modified IS NOT NULL");
        org.apache.flink.table.api.StatementSet set = t.createStatementSet();
        set.addInsertSql("INSERT INTO wechat_activity_user SELECT id, raw_info, now_info, raw_premium, now_premium, gmt_modified "
            + "FROM joined WHERE now_premium < raw_premium * 0.85");
        set.addInsertSql("INSERT INTO raw_info SELECT id, now_premium, now_info FROM joined");
        if (System.getenv("FINBEAM_PEER_EXPLAIN") != null) {
            System.err.println(set.explain());
        }
        set.execute().await();
    }

    /**
     * actions: the bank's second version, an interval join of the three streams by trace_id, the
     * response and the tracking record each within one hour of the request in event time (watermarks
     * 5 s behind the newest record; a record behind the watermark is dropped, and so is one without a
     * ts, whose event time is taken as 1970 to keep the source running). It keeps every record
     * for the whole interval and emits every match: a copied part joins twice.
     */
    static void traceJoin(TableEnvironment t, String[] inputs) throws Exception {
        String[][] tables = {
            {"requests", "trace_id STRING, ts BIGINT, channel STRING, `system` STRING, action STRING, process_id STRING, product STRING, branch STRING, user_id STRING"},
            {"responses", "trace_id STRING, ts BIGINT, status STRING, code STRING"},
            {"tracks", "trace_id STRING, ts BIGINT, page STRING, device_id STRING"},
        };
        for (int i = 0; i < 3; i++) {
            t.executeSql("CREATE TABLE " + tables[i][0] + " (" + tables[i][1] + ", rt AS TO_TIMESTAMP_LTZ(COALESCE(ts, 0), 3), "
                + "WATERMARK FOR rt AS rt - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '"
                + inputs[i].replace("'", "''") + "', 'format' = 'json', 'json.ignore-parse-errors' = 'true')");
        }
        TableResult r = t.executeSql(
            "SELECT q.trace_id, q.process_id, q.action, q.channel, q.product, q.branch, s.status, s.code, k.page, "
            + "q.ts, s.ts, k.ts, s.ts - q.ts FROM requests q, responses s, tracks k "
            + "WHERE q.trace_id = s.trace_id AND q.trace_id = k.trace_id AND q.trace_id <> '' "
            + "AND s.rt BETWEEN q.rt - INTERVAL '1' HOUR AND q.rt + INTERVAL '1' HOUR "
            + "AND k.rt BETWEEN q.rt - INTERVAL '1' HOUR AND q.rt + INTERVAL '1' HOUR");
        String[] cols = {"trace_id", "process_id", "action", "channel", "product", "branch", "status", "code", "page",
            "request_ts", "response_ts", "track_ts", "latency_ms"};
        try (CloseableIterator<Row> it = r.collect()) {
            while (it.hasNext()) {
                Row row = it.next();
                StringBuilder b = new StringBuilder("{");
                for (int i = 0; i < cols.length; i++) {
                    b.append(i == 0 ? "" : ",").append('"').append(cols[i]).append("\":").append(json(row.getField(i)));
                }
                System.out.println(b.append('}'));
            }
        }
    }

    /**
     * user_last_log: rows without an account dropped, then per (account_id, device_id) the last page
     * type and page name (last_value, in arrival order, which skips nulls) and the last log_time.
     */
    static void lastPage(TableEnvironment t, String input) throws Exception {
        t.executeSql("CREATE TABLE user_log (log_time BIGINT, device_id STRING, account_id STRING, bury_point_type STRING, "
            + "page_name STRING) WITH ('connector' = 'filesystem', 'path' = '" + input.replace("'", "''") + "', "
            + "'format' = 'json', 'json.ignore-parse-errors' = 'true')");
        TableResult r = t.executeSql(
            "SELECT account_id, device_id, LAST_VALUE(bury_point_type) AS bury_point_type, LAST_VALUE(page_name) AS page_name, "
            + "LAST_VALUE(log_time) AS log_time FROM user_log "
            + "WHERE account_id IS NOT NULL AND account_id <> '' AND log_time IS NOT NULL GROUP BY account_id, device_id");
        printTable(r, 2, row -> "{\"account_id\":" + json(row.getField(0)) + ",\"device_id\":" + json(row.getField(1))
            + ",\"bury_point_type\":" + json(row.getField(2)) + ",\"page_name\":" + json(row.getField(3))
            + ",\"log_time\":" + row.getField(4) + "}");
    }

    /** Applies a changelog of rows keyed by their first keyColumns fields and prints the final table. */
    static void printTable(TableResult r, int keyColumns, java.util.function.Function<Row, String> line) throws Exception {
        Map<String, String> table = new TreeMap<>();
        try (CloseableIterator<Row> it = r.collect()) {
            while (it.hasNext()) {
                Row row = it.next();
                StringBuilder key = new StringBuilder();
                for (int i = 0; i < keyColumns; i++) {
                    key.append(json(row.getField(i))).append(',');
                }
                if (row.getKind() == RowKind.DELETE || row.getKind() == RowKind.UPDATE_BEFORE) {
                    table.remove(key.toString());
                } else {
                    table.put(key.toString(), line.apply(row));
                }
            }
        }
        table.values().forEach(System.out::println);
    }

    /** A value as JSON: null, a number, or a string with JSON's escapes. */
    static String json(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Number) {
            return v.toString();
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : v.toString().toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }

    /**
     * hs_order: each user's last order of the day (last_value per user and day, in arrival order,
     * which skips nulls), then per hour of that order's gmt_modified the premium summed and the
     * distinct policies and policy holders counted. Lines that are not JSON are skipped.
     */
    static void hourlyGMV(TableEnvironment t, String input) throws Exception {
        t.executeSql("CREATE TABLE user_order (id BIGINT, order_no STRING, order_type BIGINT, pay_time BIGINT, "
            + "order_price DECIMAL(38, 4), customer_name STRING, customer_tel STRING, certificate_no STRING, "
            + "gmt_created BIGINT, gmt_modified BIGINT, account_payble DECIMAL(38, 4)) "
            + "WITH ('connector' = 'filesystem', 'path' = '" + input.replace("'", "''") + "', 'format' = 'json', "
            + "'json.ignore-parse-errors' = 'true')");
        TableResult r = t.executeSql(
            "SELECT biz_date, SUM(COALESCE(account_payble, 0)) AS total_premium, COUNT(DISTINCT order_no) AS policy_cnt, "
            + "COUNT(DISTINCT customer_tel) AS policy_holder_cnt FROM ("
            + "  SELECT DATE_FORMAT(TO_TIMESTAMP_LTZ(LAST_VALUE(gmt_modified), 3), 'yyyyMMddHH') AS biz_date, "
            + "    LAST_VALUE(order_no) AS order_no, LAST_VALUE(customer_tel) AS customer_tel, LAST_VALUE(account_payble) AS account_payble "
            + "  FROM user_order WHERE id IS NOT NULL AND gmt_modified IS NOT NULL "
            + "  GROUP BY id, DATE_FORMAT(TO_TIMESTAMP_LTZ(gmt_modified, 3), 'yyyyMMdd')"
            + ") GROUP BY biz_date");
        printTable(r, 1, row -> "{\"biz_date\":" + json(row.getField(0)) + ",\"total_premium\":"
            + ((BigDecimal) row.getField(1)).stripTrailingZeros().toPlainString()
            + ",\"policy_cnt\":" + row.getField(2) + ",\"policy_holder_cnt\":" + row.getField(3) + "}");
    }
}
