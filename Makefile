# lessdata: setup, build, test, example and benchmarks. `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help
GO ?= go
BIN := bin/lessdata
SHARED ?= ../shared
PY := .deps/venv/bin/python

.PHONY: help setup setup-test build test example bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

setup: ## install the pinned TensorFlow C library (and the Python tools' venv) into .deps/
	@bash scripts/setup-tf.sh

build: setup ## build bin/lessdata
	$(GO) build -o $(BIN) ./cmd/lessdata

setup-test: setup ## also install Chromium (Debian's package) for the report rendering test
	@bash scripts/setup-chromium.sh

test: build setup-test ## run every test: gofmt, go vet, Go tests, Python tests of models/
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(PY) -m pytest -q models/tests tests

example: build ## fetch MobileNetV2 and classify the check images
	@bash scripts/example.sh

bench: build ## feature-extraction throughput: lessdata against TensorFlow in Python
	@bash bench/features.sh

clean: ## remove the build output (not .deps/)
	rm -rf bin
