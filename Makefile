# One entry point for people and CI. `make demo` shows the exporter working; `make check` is the
# fast loop (lint, types, unit tests: under a minute); `make test` runs every test (lint, types,
# unit, integration against the simulator, end to end against a real Prometheus). All create
# .venv and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo check test lint typecheck unit system-deps docs dashboards bench bench-polls bench-round3 soak clean spec-data

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/usage-exporter demo

# promtool and the prometheus server come from the Debian package `prometheus`, amtool from
# `prometheus-alertmanager`, wrk (the scrape benchmark) from `wrk`; npm (for the dashboards'
# schema check) from `nodejs` and `npm`.
system-deps:
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null || ! command -v amtool >/dev/null \
	    || ! command -v wrk >/dev/null || ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager wrk >/dev/null; \
	    command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else \
	    echo "promtool/prometheus/amtool/wrk/npm missing: sudo apt-get install prometheus prometheus-alertmanager wrk nodejs npm"; \
	    exit 1; \
	  fi; \
	fi

# Every directory of Python in the repository: ruff, ruff format and mypy cover them all.
PY_DIRS := exporter testkit tests bench grafana tools scripts deploy

# lint-imports: the layers of docs/architecture.md ([tool.importlinter] in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/lint-imports
	$(BIN)/ruff format --check $(PY_DIRS)

# Strict everywhere; tests/ per its pyproject section (check_untyped_defs). deploy/ apart: its
# generate.py and grafana/'s are two top-level modules of one name.
typecheck: $(STAMP)
	$(BIN)/mypy --strict exporter testkit bench tests grafana tools scripts
	$(BIN)/mypy --strict deploy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 tests/unit tests/meta

# The fast loop: lint, types and the unit tests that are not `slow` (no external tool needed),
# on two workers (pytest-xdist).
check: lint typecheck
	$(BIN)/python -m pytest -q -n 2 -m "not slow" tests/unit tests/meta

# --durations: the slowest tests, to keep the documented figures true to a measured run.
# The suites with real processes run on PROCESS_WORKERS workers (pytest-xdist): most of their
# time is spent waiting on polls, processes and Prometheus, not computing, so more workers than
# cores pays; a file's module-scoped fixture keeps its tests on one worker (tests/conftest.py).
PROCESS_WORKERS ?= 4

test: system-deps lint typecheck
	$(BIN)/python -m pytest -q -n 2 tests/unit tests/meta
	$(BIN)/python -m pytest -q -n $(PROCESS_WORKERS) --dist loadgroup --durations=15 \
	    tests/conformance tests/integration tests/e2e

# Every benchmark, full size (about half an hour); each prints Markdown for bench/RESULTS.md.
bench: $(STAMP) system-deps
	$(BIN)/python -m bench.ledger_render
	$(BIN)/python -m bench.scrape
	$(BIN)/python -m bench.scrape --during-only --series 10000 100000 1000000
	$(BIN)/python -m bench.end_to_end
	$(BIN)/python -m bench.memory_stages
	$(BIN)/python -m bench.upstream_calls
	$(BIN)/python -m bench.startup

# Issue 17's tables in one run (about 25 minutes): render and fold CPU, memory by stage, scrapes
# during polls (40 s per row, so that a whole 1M-series poll falls inside one), end to end.
bench-polls: $(STAMP) system-deps
	$(BIN)/python -m bench.ledger_render 10000 100000
	$(BIN)/python -m bench.memory_stages 100000 1000000
	$(BIN)/python -m bench.scrape --during-only --series 10000 100000 1000000 --seconds 40
	$(BIN)/python -m bench.end_to_end 100000

# Issue 26's tables (round three) in one run: the first load after a poll against the second,
# scrapes between and during back-to-back polls in two processes (the default) and one, the end
# to end CPU by stage, memory per poll from the first to the tenth, a lone scrape once a second
# (Prometheus' pattern) between and during polls, 1M series with the defaults (about 8 minutes),
# and the scale curve at 10k, 100k and 1M series (about 10 minutes).
bench-round3: $(STAMP) system-deps
	$(BIN)/python -m bench.scrape --first-load --series 100000 150000
	$(BIN)/python -m bench.scrape --during-only --series 10000 100000 150000 --seconds 20 --modes process polls
	$(BIN)/python -m bench.end_to_end 10000 100000
	$(BIN)/python -m bench.memory_stages 10000 100000 --polls 10
	$(BIN)/python -m bench.memory_stages 100000 --polls 4 --unchanged
	$(BIN)/python -m bench.scrape --lone --series 100000 150000
	$(BIN)/python -m bench.scrape --during-only --series 1000000 --modes process-idle process --seconds 120
	$(BIN)/python -m bench.scale_curve 10000 100000 1000000
	$(BIN)/python -m bench.month_on 1000 --days 40

soak: $(STAMP)
	$(BIN)/python -m bench.soak --seconds 600

docs: $(STAMP)
	$(BIN)/python -m exporter.exposition.reference

dashboards: $(STAMP)
	$(BIN)/python grafana/generate.py
	$(BIN)/python deploy/kubernetes/generate.py

# The conformance data the tests use (tests/spec_data/*.json), derived from the vendors' spec
# files and the pinned `openai` package; then the generated part of docs/upstreams.md.
SPECS ?= ../shared/specs
spec-data: $(STAMP)
	$(BIN)/python -m tools.derive_spec_data $(SPECS)
	$(BIN)/python -m tools.derive_grafana_mixin $(SPECS)/grafana-anthropic-mixin
	$(BIN)/python -m tools.upstreams_doc

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache grafana/schema-check/node_modules grafana/schema-check/generated
