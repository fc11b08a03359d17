# etl_tasks — `make demo` runs the demo, `make test` runs the whole test suite.
# Only python3 is needed on the machine: everything else is installed into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: help install demo test lint bench validate clean

help:
	@echo "make demo      run both pipelines against the bundled sandbox into SQLite (output/)"
	@echo "make test      install test dependencies, lint, run the whole test suite"
	@echo "make lint      ruff"
	@echo "make bench     load benchmark: project loader vs psql \\copy / LOAD DATA (1M rows)"
	@echo "make validate  etl-validate with your .env"
	@echo "make clean     remove .venv and runtime data under output/ and logs/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt setup.py
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m etl_tasks.demo

validate: $(STAMP)
	$(BIN)/etl-validate

lint: $(DEV_STAMP)
	$(BIN)/ruff check etl_tasks tests benchmarks

test: $(DEV_STAMP) lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks.load_benchmark --rows 1000000 --target both

clean:
	rm -rf $(VENV) build *.egg-info
	find output logs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
