# One entry point for people and CI. `make demo` shows the exporter working; `make test` runs
# every test (lint, types, unit, integration against the simulator, end to end against a real
# Prometheus). Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit system-deps docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/usage-exporter demo

# promtool and the prometheus server come from the Debian package `prometheus`, amtool from
# `prometheus-alertmanager`.
system-deps:
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null || ! command -v amtool >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null; \
	  else \
	    echo "promtool/prometheus/amtool missing: sudo apt-get install prometheus prometheus-alertmanager"; \
	    exit 1; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check exporter tests bench
	$(BIN)/ruff format --check exporter

typecheck: $(STAMP)
	$(BIN)/mypy --strict exporter

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test: system-deps lint typecheck
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.ledger_render

docs: $(STAMP)
	$(BIN)/python -m exporter.reference > docs/metrics.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
