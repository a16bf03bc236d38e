# ringfence: `make run` serves the demo on the embedded store; `make test` runs everything CI runs.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install run test lint bench screenshots neo4j redis clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# pip's own cache keeps the large torch wheel between runs; nothing lands in the repo.
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv/ and install ringfence with pinned dependencies

run: install ## demo: generate, train, sweep, serve on 127.0.0.1:8000
	$(VENV)/bin/ringfence demo

lint: install ## ruff, mypy and import-linter (the layers in docs/architecture.md)
	$(VENV)/bin/ruff check ringfence graph gnn api workers cypher devservices tests bench
	# mypy and import-linter read files, not setuptools' editable import hook: give them the
	# installed namespace as a tree of links (build/ns/ringfence/graph/... -> graph/...).
	$(PY) -m devservices.namespace >/dev/null
	cd build/ns && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml
	cd build/ns && PYTHONPATH=. $(CURDIR)/$(VENV)/bin/lint-imports --config $(CURDIR)/pyproject.toml --no-cache

test: install ## lint, start Neo4j 5.26 and Redis, run pytest (services fail the run, never skip)
	$(MAKE) --no-print-directory lint
	$(PY) -m devservices prepare
	$(PY) -m pytest -m "not slow and not bench"

bench: install ## benchmarks; figures go in BENCHMARKS.md
	$(PY) -m devservices prepare
	for b in generate ingest quality rings scoring sweep api load investigation ui; do \
	  test -f bench/$$b.py && $(PY) bench/$$b.py || exit 1; done
	$(PY) bench/api.py --backend neo4j --rates 25,30,40,50 --ingest-accounts 20000

screenshots: install ## browser tests (screenshots in build/screenshots/) and the README's docs/ui-*.png
	$(PY) -m devservices prepare
	$(PY) -m pytest -q tests/browser
	$(PY) bench/ui.py --ring 12 --hub 60 --screenshots docs

neo4j: install ## start a Neo4j 5.26 server for manual use and print its URL
	$(PY) -m devservices neo4j

redis: install ## start redis-server on 127.0.0.1:6379 for manual use
	$(PY) -m devservices redis

clean: ## remove the virtualenv, build output and local data
	rm -rf $(VENV) build dist data devservices/neo4j/target *.egg-info
