/*
 * finbeam's entry point to Beam's Flink job server (built by testing/flinktest, BuildJobServer).
 *
 * The Go SDK sends a job server none of Beam's Flink pipeline options (only parallelism and
 * experiments), so a Go job always reaches Beam's Flink runner with checkpointing "disabled" as far
 * as Beam knows, even when the Flink configuration enables it. Beam then shuts its sources down as
 * soon as they are idle (shutdownSourcesAfterIdleMs = 0): the Impulse that starts a Go splittable
 * DoFn (the Kafka read) ends at once, the operators after it are told their input ended, and the
 * streaming read's operator drains its never-ending restriction forever, never taking a checkpoint
 * barrier. This driver is Beam's FlinkJobServerDriver with one difference: a job whose options do not
 * set checkpointing_interval gets the Flink configuration's execution.checkpointing.interval (and
 * mode), so Beam keeps its sources alive and knows bundles must end before checkpoints, as it does
 * for a Java job run with --checkpointingInterval. It also sets finishBundleBeforeCheckpointing (see
 * below), which no Go job can set either.
 *
 * It sits in Beam's package for FlinkServerConfiguration's package-private configuration directory.
 */
package org.apache.beam.runners.flink;

import java.time.Duration;
import org.apache.beam.model.pipeline.v1.RunnerApi;
import org.apache.beam.runners.jobsubmission.JobInvocation;
import org.apache.beam.runners.jobsubmission.PortablePipelineRunner;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.vendor.guava.v32_1_2_jre.com.google.common.util.concurrent.ListeningExecutorService;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.util.TimeUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public final class FinbeamFlinkJobServer {
  private static final Logger LOG = LoggerFactory.getLogger(FinbeamFlinkJobServer.class);

  private FinbeamFlinkJobServer() {}

  public static void main(String[] args) throws Exception {
    FileSystems.setDefaultPipelineOptions(PipelineOptionsFactory.create());
    FlinkJobServerDriver.FlinkServerConfiguration config = FlinkJobServerDriver.parseArgs(args);
    FlinkJobServerDriver.fromConfig(config, () -> new Invoker(config)).run();
  }

  /** FlinkJobInvoker that fills the checkpointing options from the Flink configuration. */
  static final class Invoker extends FlinkJobInvoker {
    private final String confDir;

    Invoker(FlinkJobServerDriver.FlinkServerConfiguration config) {
      super(config);
      this.confDir = config.getFlinkConfDir();
    }

    @Override
    protected JobInvocation createJobInvocation(
        String invocationId,
        String retrievalToken,
        ListeningExecutorService executorService,
        RunnerApi.Pipeline pipeline,
        FlinkPipelineOptions options,
        PortablePipelineRunner pipelineRunner) {
      if (options.getCheckpointingInterval() == -1 && confDir != null) {
        Configuration flink = GlobalConfiguration.loadConfiguration(confDir);
        String interval = flink.getString("execution.checkpointing.interval", null);
        if (interval != null) {
          Duration d = TimeUtils.parseDuration(interval);
          options.setCheckpointingInterval(d.toMillis());
          String mode = flink.getString("execution.checkpointing.mode", null);
          if (mode != null) {
            options.setCheckpointingMode(mode);
          }
          LOG.info(
              "Job {}: checkpointing every {} ms ({}) from the Flink configuration in {}",
              invocationId,
              d.toMillis(),
              options.getCheckpointingMode(),
              confDir);
        }
      }
      // Bundles end before the checkpoint barrier goes downstream. Otherwise Beam ends them inside
      // the snapshot and keeps their outputs in state to send after it; with the Go SDK's Kafka read
      // (a splittable DoFn) the records read between that checkpoint and a crash were then lost on
      // restore: the restored restriction resumed after them (three runs of three here, the records
      // of the last ~4 s before the kill missing), and none with this option.
      options.setFinishBundleBeforeCheckpointing(true);
      return super.createJobInvocation(
          invocationId, retrievalToken, executorService, pipeline, options, pipelineRunner);
    }
  }
}
