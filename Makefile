# finbeam's commands. `make test` is what CI runs (.ci/run) on a fresh clone; it needs Go, network
# access to the Go module proxy, and Debian's packages (it installs mariadb-server when missing).
GO ?= go

.PHONY: test fmt-check vet mariadb mysql sample bench kafka

## test: format check, go vet, and every test (pipelines run on Beam's prism runner; the MySQL tests
## start their own MariaDB on 127.0.0.1)
test: fmt-check vet mariadb
	$(GO) test -count=1 ./...

## mariadb: install MariaDB from the distribution's packages when it is not there (the tests start it)
mariadb:
	@if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then \
	  echo "installing mariadb-server from the distribution's packages"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$sudo apt-get install -y -q mariadb-server >/dev/null 2>&1 || \
	  { $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q mariadb-server >/dev/null; }; \
	fi

fmt-check:
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## bench: print the benchmark lines (now: the trace join's state bound against an interval join)
bench:
	$(GO) run ./cmd/bench

## kafka: run a local Kafka broker on 127.0.0.1:9092 until Ctrl-C (in memory, for trying streaming)
kafka:
	$(GO) run ./cmd/broker --port=9092

## mysql: run a throwaway MariaDB on 127.0.0.1:3306 with database finbeam until Ctrl-C (for --sink=mysql)
mysql: mariadb
	$(GO) run ./cmd/mariadb --port=3306 --database=finbeam

## sample: run a pipeline on the embedded sample and print its table
sample:
	$(GO) run ./cmd/hourlygmv --runner=direct
