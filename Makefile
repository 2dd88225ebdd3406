# carbonstat — the two commands a newcomer needs are `make run` and `make test`.
# Both set up everything themselves on a machine with Rust, Python 3.11 and pip.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Build artefacts live outside the clone, so a fresh clone reuses a warm build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/carbonstat-target
CARBONSTAT := $(CARGO_TARGET_DIR)/debug/carbonstat
VENV := .venv
PYTHON_REQUIREMENTS := jobs/tests/python/requirements.txt
# Azurite (Azure Blob Storage emulator) for the storage tests: the newest
# version that runs on Node 20, installed once into .node/.
AZURITE_VERSION := 3.35.0
AZURITE := .node/node_modules/.bin/azurite-blob

.PHONY: help run run-bureau build browser test test-rust test-python lint fmt clean-out schema bench

help:
	@echo "make run     build, run the sample region (data-samples/pipeline.yaml), write out/, print a summary"
	@echo "make run-bureau  the same county from a GB18030 CSV and an Excel workbook (data-samples/pipeline-bureau.yaml)"
	@echo "make test    Rust unit, integration and SQL logic tests, then the Python read-back tests"
	@echo "make lint    cargo fmt --check and clippy -D warnings"
	@echo "make fmt     format the code"
	@echo "make schema  print the output data dictionary (Markdown)"
	@echo "make bench   carbonstat vs DuckDB on generated data (SCALE=1e7 RUNS=3 THREADS=2 MEMORY=1536MiB)"

build:
	cargo build --bin carbonstat

run: build
	$(CARBONSTAT) run --config data-samples/pipeline.yaml --force

run-bureau: build
	$(CARBONSTAT) run --config data-samples/pipeline-bureau.yaml --force

# The Python environment of the read-back tests: created once, reused.
$(VENV)/.installed: $(PYTHON_REQUIREMENTS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(PYTHON_REQUIREMENTS)
	touch $@

test: test-rust test-python

test-rust: $(VENV)/.installed
	cargo test --workspace
	# cluster mode: a scheduler and two executors on 127.0.0.1, inputs on a
	# local S3 server (moto, from .venv) in one test (docs/distributed.md)
	cargo test -p carbonstat --features distributed --lib -- engine::cluster input::file_scan
	MOTO_SERVER=$(CURDIR)/$(VENV)/bin/moto_server \
		cargo test -p carbonstat-jobs --features distributed --test cluster -- --test-threads=1

# Debian packages of the tests, installed once: Chromium and CJK fonts (the
# bulletin's browser test), prometheus-pushgateway (the metrics push test).
browser:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -qi 'noto' \
		&& command -v prometheus-pushgateway >/dev/null || { \
		echo "installing chromium, fonts-noto-cjk and prometheus-pushgateway (apt)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium fonts-noto-cjk prometheus-pushgateway >/dev/null; }

$(AZURITE): Makefile
	npm install --prefix .node --no-audit --no-fund --silent azurite@$(AZURITE_VERSION)
	touch $@

test-python: build browser $(VENV)/.installed $(AZURITE)
	CARBONSTAT=$(CARBONSTAT) $(VENV)/bin/python -m pytest -q jobs/tests/python

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy -p carbonstat-jobs --features distributed --all-targets -- -D warnings

fmt:
	cargo fmt --all

schema: build
	@$(CARBONSTAT) schema --markdown

# Release build with thin LTO, generated data, DuckDB side by side: docs/benchmarks.md.
# SCALE (input rows, default 1e7), RUNS (3), THREADS (2), MEMORY (1536MiB; empty = unbounded).
bench: $(VENV)/.installed
	cargo build --release --bin carbonstat --features distributed
	$(VENV)/bin/python bench/run_bench.py

clean-out:
	rm -rf out
