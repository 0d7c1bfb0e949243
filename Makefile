# The verbs people type. Everything installs what it needs into .venv/ and .tools/.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	@mkdir -p .tools/bin
	python3 -m venv .tools/uv-venv
	.tools/uv-venv/bin/pip install --quiet uv==$(UV_VERSION)
	ln -sf ../uv-venv/bin/uv .tools/bin/uv

.PHONY: sync
sync: $(UV) ## install the package and its pinned dependencies into .venv
	$(UV) sync --frozen --quiet

.PHONY: tools
tools: ## install the checking tools (helm, promtool, tflint, ...) into .tools/
	@set -e; for installer in tools/install-*.sh; do [ -e "$$installer" ] || continue; bash "$$installer"; done

.PHONY: fmt
fmt: sync ## format the code
	$(RUN) ruff format src tests bench
	$(RUN) ruff check --fix src tests bench

.PHONY: lint
lint: sync ## formatting and lint checks
	$(RUN) ruff format --check src tests bench
	$(RUN) ruff check src tests bench

.PHONY: typecheck
typecheck: sync ## mypy, strict
	$(RUN) mypy

.PHONY: test
test: sync tools lint typecheck ## everything CI runs: lint, types, tests (incl. chart, Terraform, dashboards)
	$(RUN) pytest

.PHONY: dashboards
dashboards: sync ## regenerate observability/grafana/dashboards/*.json from src/myhealth/dashboards
	$(RUN) python -m myhealth.dashboards.generate observability/grafana/dashboards

.PHONY: fuzz
fuzz: sync ## the ingest property tests with many more examples (HYPOTHESIS_PROFILE=fuzz; about an hour)
	HYPOTHESIS_PROFILE=fuzz $(RUN) pytest -o timeout=7200 -p no:randomly \
		tests/processor/test_ingest_properties.py tests/collector/test_collect_properties.py \
		tests/processor/test_heart_rate_rollup.py

.PHONY: demo
demo: sync ## the local demo: PostgreSQL, sandbox, processor, API and a 12-month backfill
	$(RUN) python -m myhealth.demo $(DEMO_ARGS)

.PHONY: bench
bench: sync ## benchmarks (not tests): prints tables, writes bench/results/*.json
	$(RUN) python -m bench $(BENCH_ARGS)
