# The same commands on a laptop and in CI (.ci/run calls `make test`).
VENV ?= .venv
PYTHON ?= python3
# torch is installed first and alone: pinned to the CPU build, so no other package can pull a CUDA one.
# Where pip has no CPU wheel of torch 2.13.0 at hand, point it at one, e.g. TORCH_PIP_ARGS="--index-url URL".
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.govrag-installed

.PHONY: install demo test lint typecheck check clean

$(STAMP): pyproject.toml constraints.txt clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet torch==2.13.0 $(TORCH_PIP_ARGS)
	$(VENV)/bin/pip install --quiet -c constraints.txt -e ./clients/python -e '.[test,dev,s3,ray]'
	touch $(STAMP)

install: $(STAMP)

demo: install ## start the service with the sample corpora ingested
	$(VENV)/bin/govrag demo

test: install ## run the whole test suite (SQLite and PostgreSQL)
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check govrag retrieval ingest clients tests policies migrations bench
	$(VENV)/bin/ruff format --check govrag retrieval ingest clients tests policies

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .govrag .pytest_cache .mypy_cache .ruff_cache
