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

.PHONY: help install up test lint typecheck protos protos-check test-python bench format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

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

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test,bench]'
	touch $@

install: $(INSTALLED) ## create .venv and install the project with its test and bench extras

up: $(INSTALLED) ## run NATS, the scheduler and a trainer here until Ctrl-C (docs/running.md)
	$(BIN)/forge up

test: lint typecheck protos-check test-python ## everything CI runs: lint, types, protos, tests

lint: $(INSTALLED) ## ruff check, ruff format --check and buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/buf lint

typecheck: $(INSTALLED) ## mypy on the Python packages and the tests
	$(BIN)/mypy $(wildcard $(PY_PACKAGES)) tests

protos: $(INSTALLED) ## regenerate the Python code beside the .proto files
	rm -f $(PROTO_DIR)/*_pb2.py $(PROTO_DIR)/*_pb2.pyi $(PROTO_DIR)/*_pb2_grpc.py
	$(PROTOC) --python_out=protos --grpc_python_out=protos --pyi_out=protos $(PROTO_DIR)/*.proto

protos-check: $(INSTALLED) ## fail if the generated code does not match the .proto files
	@generated=$$(mktemp -d); trap 'rm -rf "$$generated"' EXIT; \
	$(PROTOC) --python_out="$$generated" --grpc_python_out="$$generated" --pyi_out="$$generated" \
		$(PROTO_DIR)/*.proto; \
	if ! diff -r -x '*.proto' -x '__init__.py' -x 'py.typed' -x '__pycache__' \
		"$$generated/azuraforge" protos/azuraforge; then \
		echo "The generated code in $(PROTO_DIR) does not match the .proto files: run \`make protos\` and commit the result." >&2; \
		exit 1; \
	fi; \
	echo "Generated code matches the .proto files."

test-python: $(INSTALLED) ## pytest
	$(BIN)/python -m pytest

bench: $(INSTALLED) ## time training steps of forge against PyTorch (docs/benchmarks.md)
	$(BIN)/python bench/engine.py

format: $(INSTALLED) ## fix what ruff can fix and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## remove .venv, caches and build outputs
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
