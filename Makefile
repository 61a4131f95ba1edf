# Two commands matter: `make demo` runs the main job, `make test` runs the tests.
# Everything installs into .venv from the pinned requirements.lock; the database is an
# embedded PostgreSQL under .pgdata unless LIBRARY_INTEGRATIONS_DSN names another server.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)

.PHONY: install test test-unit lint demo ui generate bench db-stop clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: requirements.lock | $(BIN)/uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	touch $@

# plugins/ and the project root on the venv's path (a .pth file), so the venv's tools
# (lint-imports, pytest, python -m dev) work without PYTHONPATH too.
$(VENV)/.paths: $(VENV)/.installed
	$(BIN)/python -c "import pathlib, sys, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'library_integrations_dev.pth').write_text(sys.argv[1] + '/plugins\n' + sys.argv[1] + '\n')" "$(CURDIR)"
	touch $@

install: $(VENV)/.installed $(VENV)/.paths

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit layer and the package's doctests: no database is started.
test-unit: lint
	$(BIN)/python -m pytest plugins/library_integrations tests/unit $(PYTEST_ARGS)

demo: install
	$(BIN)/python -m dev demo $(DEMO_ARGS)

ui: install
	$(BIN)/python -m dev ui

generate: install
	$(BIN)/python -m dev generate $(GENERATE_ARGS)

bench: install bench-nb bench-onix
	$(BIN)/python -m dev.bench $(BENCH_ARGS)

# NB monthly statistics at scale: a month of 10 million loans over 300 libraries (dev/bench_nb.py).
.PHONY: bench-nb
bench-nb: install
	$(BIN)/python -m dev.bench_nb $(BENCH_NB_ARGS)

# ONIX parse + upsert throughput of the metadata sync against iterparse alone, and its memory (dev/bench_onix.py).
.PHONY: bench-onix
bench-onix: install
	$(BIN)/python -m dev.bench_onix $(BENCH_ONIX_ARGS)

# Rebuild the reference snapshot in include/reference from Bring's and SSB's registers (needs
# network, or REFRESH_ARGS="--from-dir DIR"); see include/reference/README.md.
.PHONY: refresh-reference
refresh-reference: install
	$(BIN)/python -m dev.refresh_reference $(REFRESH_ARGS)

# Airflow on CeleryExecutor with real parts on 127.0.0.1: redis broker, S3 (moto) staging,
# scheduler, DAG processor, API server, two Celery workers, fake Bokbasen (docs/deploy.md).
.PHONY: cluster cluster-stop
cluster: install
	$(BIN)/python -m dev cluster start $(CLUSTER_ARGS)

cluster-stop:
	$(BIN)/python -m dev cluster stop

db-stop:
	-$(BIN)/python -m dev db stop

clean:
	-$(BIN)/python -m dev cluster stop
	-$(BIN)/python -m dev db stop
	rm -rf .pgdata .airflow .airflow-ui .airflow-cluster var bench-results
