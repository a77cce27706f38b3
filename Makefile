# finbeam's commands. `make test` is what CI runs (.ci/run) on a fresh clone; it needs only Go and
# network access to the Go module proxy.
GO ?= go

.PHONY: test fmt-check vet sample bench kafka

## test: format check, go vet, and every test (pipelines run on Beam's prism runner)
test: fmt-check vet
	$(GO) test -count=1 ./...

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

## sample: run a pipeline on the embedded sample and print its table
sample:
	$(GO) run ./cmd/hourlygmv --runner=direct
