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
 * <p>Usage: FinbeamSql JOB INPUT PARALLELISM, with JOB hourlygmv (INPUT: user_order lines).
 */
public class FinbeamSql {
    public static void main(String[] args) throws Exception {
        if (args.length != 3 || !args[0].equals("hourlygmv")) {
            System.err.println("usage: FinbeamSql hourlygmv INPUT PARALLELISM");
            System.exit(2);
        }
        Configuration conf = new Configuration();
        conf.setString("parallelism.default", args[2]);
        conf.setString("table.local-time-zone", "UTC");
        TableEnvironment t = TableEnvironment.create(EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
        hourlyGMV(t, args[1]);
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
        Map<String, String> table = new TreeMap<>();
        try (CloseableIterator<Row> it = r.collect()) {
            while (it.hasNext()) {
                Row row = it.next();
                String key = String.valueOf(row.getField(0));
                if (row.getKind() == RowKind.DELETE || row.getKind() == RowKind.UPDATE_BEFORE) {
                    table.remove(key);
                    continue;
                }
                table.put(key, "{\"biz_date\":\"" + key + "\",\"total_premium\":"
                    + ((BigDecimal) row.getField(1)).stripTrailingZeros().toPlainString()
                    + ",\"policy_cnt\":" + row.getField(2) + ",\"policy_holder_cnt\":" + row.getField(3) + "}");
            }
        }
        table.values().forEach(System.out::println);
    }
}
