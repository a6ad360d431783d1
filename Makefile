# AzuraForge developer tasks. `make test` and `make up` build what they need from nothing:
# the virtual environment in .venv, the editable install of the project and its tools.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# `make test` runs its steps in order and stops at the first failure, even under -j.
.NOTPARALLEL:

VENV := .venv
BIN := $(VENV)/bin
# Installing is slow, so it re-runs only when pyproject.toml is newer than this stamp.
INSTALLED := $(VENV)/.installed
# The Python packages mypy checks; one not written yet is skipped.
PY_PACKAGES := forge_core forge_learner apps scheduler trainer gateway forge_cli bench
PROTO_DIR := protos/azuraforge/v1
PROTOC = $(BIN)/python -m grpc_tools.protoc -I protos
# The web UI (docs/webapp.md): npm ci re-runs only when package-lock.json changes, the build
# only when a source does; the gateway serves webapp/dist.
WEBAPP_MODULES := webapp/node_modules/.installed
WEBAPP_SOURCES := $(shell find webapp/src webapp/public webapp/scripts -type f 2>/dev/null) \
	webapp/index.html webapp/vite.config.ts webapp/tsconfig.json webapp/package.json
WEBAPP_BUILT := webapp/dist/index.html
# The web UI's TypeScript for the .proto files: buf.gen.yaml runs the webapp's protoc-gen-es.
WEBAPP_GENERATED := webapp/src/gen
# The browser the end-to-end test drives; Debian's chromium package installs it here.
CHROMIUM ?= /usr/bin/chromium

.PHONY: help install up test lint typecheck protos protos-check test-python bench bench-platform
.PHONY: bench-sweeps format clean
.PHONY: webapp webapp-check e2e

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/python:
	@python=$$(command -v python3.11 || command -v python3 || true); \
	if [[ -z "$$python" ]]; then \
		echo "make: neither python3.11 nor python3 is on PATH; install Python 3.11 or newer." >&2; exit 1; \
	fi; \
	if ! "$$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
		echo "make: $$python is Python $$("$$python" -V 2>&1); AzuraForge needs 3.11 or newer." >&2; exit 1; \
	fi; \
	echo "Creating $(VENV) with $$python"; \
	"$$python" -m venv $(VENV)

$(INSTALLED): pyproject.toml setup.py $(wildcard forge_core/_native/*) | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test,bench,mkl]'
	touch $@

install: $(INSTALLED) ## create .venv and install the project with its test, bench and mkl extras

up: $(INSTALLED) $(WEBAPP_BUILT) ## run NATS, the scheduler, a trainer and the gateway here until Ctrl-C (docs/running.md)
	$(BIN)/forge up

test: lint typecheck protos-check test-python webapp-check webapp e2e ## everything CI runs: lint, types, protos, tests

lint: $(INSTALLED) ## ruff check, ruff format --check and buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/buf lint

typecheck: $(INSTALLED) ## mypy on the Python packages and the tests
	$(BIN)/mypy $(wildcard $(PY_PACKAGES)) tests

protos: $(INSTALLED) $(WEBAPP_MODULES) ## regenerate the Python beside the .proto files and the web UI's TypeScript
	rm -f $(PROTO_DIR)/*_pb2.py $(PROTO_DIR)/*_pb2.pyi $(PROTO_DIR)/*_pb2_grpc.py
	$(PROTOC) --python_out=protos --grpc_python_out=protos --pyi_out=protos $(PROTO_DIR)/*.proto
	$(BIN)/buf generate

protos-check: $(INSTALLED) $(WEBAPP_MODULES) ## fail if the generated code does not match the .proto files
	@generated=$$(mktemp -d); trap 'rm -rf "$$generated"' EXIT; \
	$(PROTOC) --python_out="$$generated" --grpc_python_out="$$generated" --pyi_out="$$generated" \
		$(PROTO_DIR)/*.proto; \
	$(BIN)/buf generate --output "$$generated"; \
	if ! diff -r -x '*.proto' -x '__init__.py' -x '__pycache__' \
		"$$generated/azuraforge/v1" protos/azuraforge/v1 \
		|| ! diff -r "$$generated/$(WEBAPP_GENERATED)" $(WEBAPP_GENERATED); then \
		echo "The generated code in $(PROTO_DIR) or $(WEBAPP_GENERATED) does not match the .proto files:" \
			"run \`make protos\` and commit the result." >&2; \
		exit 1; \
	fi; \
	echo "Generated code matches the .proto files."

test-python: $(INSTALLED) ## pytest
	$(BIN)/python -m pytest

$(WEBAPP_MODULES): webapp/package-lock.json webapp/package.json
	@command -v npm >/dev/null || { \
		echo "make: npm is not on PATH; the web UI needs Node 20.19 or newer with npm (https://nodejs.org)." >&2; exit 1; }
	cd webapp && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $@

$(WEBAPP_BUILT): $(WEBAPP_MODULES) $(WEBAPP_SOURCES)
	cd webapp && npm run build

webapp: $(WEBAPP_BUILT) ## install the web UI's packages (npm ci) and build it into webapp/dist

webapp-check: $(WEBAPP_MODULES) ## the web UI's type check (tsc --noEmit) and component tests (vitest)
	cd webapp && npm run typecheck
	cd webapp && npm test

$(CHROMIUM):
	@if [[ $$(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium for the end-to-end test (apt-get install chromium)"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "make: the end-to-end test needs Chromium at $(CHROMIUM). Install it as root" \
			"(Debian: apt-get install chromium) or run make with CHROMIUM=/path/to/chromium." >&2; \
		exit 1; \
	fi
	@test -x $(CHROMIUM) || { echo "make: installing Chromium left no $(CHROMIUM)." >&2; exit 1; }

e2e: $(INSTALLED) $(WEBAPP_BUILT) | $(CHROMIUM) ## the web UI in headless Chromium against a real forge up; screenshots in artifacts/
	cd webapp && CHROMIUM=$(CHROMIUM) node e2e/run.mjs

bench: $(INSTALLED) ## time training steps of forge against PyTorch (docs/benchmarks.md)
	$(BIN)/python -m bench.engine

bench-sweeps: $(INSTALLED) ## a 16-trial ASHA sweep against the same configs in full (docs/benchmarks.md)
	$(BIN)/python -m bench.sweeps

bench-platform: $(INSTALLED) ## the services' benchmark: ingest, live fan-out, submit to first event (~10 min)
	$(BIN)/python -m bench.platform

format: $(INSTALLED) ## fix what ruff can fix and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## remove .venv, caches and build outputs
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache .hypothesis
	rm -rf webapp/node_modules webapp/dist artifacts forge_core/_native.*.so
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
