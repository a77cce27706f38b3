# finbeam's commands. `make test` is what CI runs (.ci/run) on a fresh clone; it needs Go, network
# access to the Go module proxy, Maven Central and Debian's packages (it installs mariadb-server,
# chromium, Java 17 and Maven when missing, builds the BigQuery emulator and fetches Flink's jars).
GO ?= go

.PHONY: test fuzz soak-kafkaio soak-flink fmt-check vet mariadb netns chromium jvm mysql bqemulator bigquery sample bench kafka flink

## test: format check, go vet, every test, then every fuzz target for FUZZTIME_BRIEF (2000
## executions after its seeds) each
## (pipelines run on Beam's prism runner; the MySQL and BigQuery tests start their own MariaDB and
## BigQuery emulators on 127.0.0.1; the portable-runner tests run every command on prism's job server
## in a network namespace of its own, and on a Flink cluster through Beam's Flink job server, built
## once from Beam's sources; the report tests render pages in headless Chromium and keep the
## screenshots and printouts in out/test-artifacts)
test: fmt-check vet mariadb netns chromium jvm bqemulator
	@rm -rf .portable-bin
	$(GO) build -o .portable-bin/ github.com/apache/beam/sdks/v2/go/cmd/prism ./cmd/...
	FINBEAM_PORTABLE_BIN=$(CURDIR)/.portable-bin FINBEAM_ARTIFACTS=$(CURDIR)/out/test-artifacts $(GO) test -count=1 -timeout=30m ./...
	.portable-bin/fuzz --fuzztime=$(FUZZTIME_BRIEF)

FUZZTIME_BRIEF ?= 2000x

## fuzz: fuzz every parser of outside input for FUZZTIME each (default 60s; README, "Fuzzing"): a line
## per target with its executions and findings; a finding is written to the package's testdata/fuzz
FUZZTIME ?= 60s
fuzz:
	$(GO) run ./cmd/fuzz --fuzztime=$(FUZZTIME)

## soak-kafkaio: run go test ./io/kafkaio RUNS times in a row (default 50), each run's output in
## out/soak-kafkaio/<n>.log; it stops at the first failure and names its log
RUNS ?= 50
soak-kafkaio:
	@mkdir -p out/soak-kafkaio; for i in $$(seq 1 $(RUNS)); do \
	  if CI=true $(GO) test -count=1 ./io/kafkaio >out/soak-kafkaio/$$i.log 2>&1; then echo "run $$i of $(RUNS): ok"; \
	  else echo "run $$i of $(RUNS): FAILED, see out/soak-kafkaio/$$i.log"; exit 1; fi; done

## soak-flink: run hourlygmv's Flink crash test (a TaskManager killed while it streams into MariaDB;
## make test runs it once) RUNS_FLINK times (default 4), each run's output in out/soak-flink/<n>.log
soak-flink: jvm mariadb
	@mkdir -p out/soak-flink; pass=0; for i in $$(seq 1 $(RUNS_FLINK)); do \
	  if CI=true $(GO) test -v -count=1 -run TestFlinkTaskManagerKilledWhileStreaming ./cmd/hourlygmv >out/soak-flink/$$i.log 2>&1; \
	  then pass=$$((pass+1)); echo "run $$i: ok"; else echo "run $$i: FAILED, see out/soak-flink/$$i.log"; fi; done; \
	  echo "$$pass of $(RUNS_FLINK) runs passed"; [ $$pass = $(RUNS_FLINK) ]
RUNS_FLINK ?= 4

# apt_install: install Debian package $(2) unless command $(1) is there (in $PATH or /usr/sbin).
apt_install = if ! command -v $(1) >/dev/null 2>&1 && [ ! -x /usr/sbin/$(1) ]; then \
	  echo "installing $(2) from the distribution's packages"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$sudo apt-get install -y -q $(2) >/dev/null 2>&1 || \
	  { $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q $(2) >/dev/null; }; \
	fi

## mariadb: install MariaDB from the distribution's packages when it is not there (the tests start it)
mariadb:
	@$(call apt_install,mariadbd,mariadb-server)

## jvm: install Java 17 and Maven from the distribution's packages when they are missing (the Flink
## cluster's JVMs; its jars come from Maven Central, see make flink)
jvm:
	@$(call apt_install,java,openjdk-17-jre-headless)
	@$(call apt_install,javac,openjdk-17-jdk-headless)
	@$(call apt_install,mvn,maven)

## chromium: install headless Chromium from the distribution's packages (the report tests look at pages with it)
chromium:
	@$(call apt_install,chromium,chromium)

## netns: install what the portable-runner test needs to give prism's job server a network
## namespace of its own: unshare (util-linux) and ip (iproute2)
netns:
	@$(call apt_install,unshare,util-linux)
	@$(call apt_install,ip,iproute2)

# Where `go install` puts binaries.
GOBIN_DIR = $$(bin=$$($(GO) env GOBIN); [ -n "$$bin" ] || bin=$$($(GO) env GOPATH)/bin; echo $$bin)

## bqemulator: build the BigQuery emulator (github.com/goccy/bigquery-emulator v0.8.1, pinned by
## testing/bqtest/emulator/go.mod, not a dependency of finbeam) into $(go env GOPATH)/bin. The first
## build takes about 8 minutes and 6.5 GB of memory; later ones come from Go's build cache.
bqemulator:
	@[ -x "$(GOBIN_DIR)/bigquery-emulator" ] || echo "building the BigQuery emulator (the first build takes about 8 minutes)"
	cd testing/bqtest/emulator && $(GO) install tool

fmt-check:
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## bench: print the benchmark lines: each pipeline's throughput and peak memory in bounded mode on
## prism and on a local Flink cluster at each parallelism of FLINK_PARALLELISM (empty: no Flink runs;
## at 1,000,000 events hourlygmv runs about a minute there, a job whose stateful steps still take the
## runner's bundles as their batches can run ten; see README's Performance),
## over a workload of EVENTS generated events, and the Flink SQL peers', the trace join's state bound against an interval join,
## each pipeline's event-to-row latency streaming from Kafka at 5,000 events/s (that part takes up to
## about 25 minutes: 40 s per pipeline, then up to 2 minutes for a job that fell behind to catch up),
## the highest rate each sustains, the query service's p50/p99 reading MySQL at 1,000 requests/s, the
## highest rate it answers within 10 ms at p99 and what it admits and sheds at five times that
## (about 4 minutes), and the KPI screen's update latency at 5,000 events/s (about 2 minutes)
EVENTS ?= 1000000
FLINK_PARALLELISM ?= 1,2
bench: jvm
	$(GO) run ./cmd/bench --events=$(EVENTS) --flink_parallelism=$(FLINK_PARALLELISM)

## kafka: run a local Kafka broker on 127.0.0.1:$(KAFKA_PORT) until Ctrl-C (in memory, for trying
## streaming), with the topics the commands use created. Ctrl-C prints "broker: stopped"; the shell then
## shows status 130, as for any command stopped with Ctrl-C, and make prints no error.
## KAFKA_REAL=1 runs Apache Kafka itself (KRaft, in a JVM; its jars from Maven Central once) instead.
KAFKA_PORT ?= 9092
KAFKA_REAL ?=
kafka: $(if $(KAFKA_REAL),jvm)
	@$(GO) build -o bin/broker ./cmd/broker
	@trap '' INT; bin/broker --port=$(KAFKA_PORT) $(if $(KAFKA_REAL),--real)

## flink: run a Flink 1.20 session cluster and Beam's Flink job server on 127.0.0.1 until Ctrl-C: REST
## API and web UI on http://127.0.0.1:$(FLINK_REST_PORT), a JobManager and one TaskManager (JVMs),
## exactly-once checkpoints every 5 s with RocksDB state in $(FLINK_DIR); the job server on
## 127.0.0.1:$(FLINK_JOB_PORT) (a command's --runner=flink --endpoint). The jars come from Maven Central
## once, pinned and checked (testing/flinktest/cluster, testing/flinktest/jobserver); the job server is
## built once from Beam's sources (about 3 minutes); it needs java and mvn.
FLINK_REST_PORT ?= 8081
FLINK_JOB_PORT ?= 8099
FLINK_DIR ?= out/flink
flink: jvm
	@$(GO) build -o bin/flink ./cmd/flink
	@trap '' INT; bin/flink --rest_port=$(FLINK_REST_PORT) --job_port=$(FLINK_JOB_PORT) --dir=$(FLINK_DIR)

## mysql: run a throwaway MariaDB on 127.0.0.1:$(MYSQL_PORT) with database finbeam until Ctrl-C (for
## --sink=mysql); Ctrl-C as with make kafka
MYSQL_PORT ?= 3306
mysql: mariadb
	@$(GO) build -o bin/mariadb ./cmd/mariadb
	@trap '' INT; bin/mariadb --port=$(MYSQL_PORT) --database=finbeam

## bigquery: run a BigQuery emulator until Ctrl-C, REST on 127.0.0.1:9050 and gRPC on 127.0.0.1:9060,
## project and dataset finbeam, in memory (for --sink=bigquery; README, "Writing to BigQuery")
bigquery: bqemulator
	"$(GOBIN_DIR)/bigquery-emulator" --project=finbeam --dataset=finbeam --host=127.0.0.1 --port=9050 --grpc-port=9060

## sample: run a pipeline on the embedded sample and print its table
sample:
	$(GO) run ./cmd/hourlygmv --runner=direct
