# etl_tasks — `make demo` runs the demo, `make test` runs the whole test suite.
# Only python3 is needed on the machine: everything else is installed into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: help install demo test test-stress lint bench validate clean browser luigid

# make test-stress ROUNDS=3: the suite N times in a row, stopping at the first failure.
ROUNDS ?= 1
# Extra pytest options for test / test-stress, e.g. PYTEST_ARGS="--durations=10".
PYTEST_ARGS ?=
# pytest-xdist worker processes (each has its own databases, sandbox and fork server; the suite is
# sized for 2 cores). PYTEST_WORKERS=0 runs it in this one process.
PYTEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal

help:
	@echo "make demo      run both pipelines against the bundled sandbox into SQLite (output/demo/)"
	@echo "make test      install test dependencies, lint, run the whole test suite"
	@echo "make test-stress  the suite with 2 busy-loop processes in the background (ROUNDS=N)"
	@echo "make luigid    central scheduler + visualiser on http://127.0.0.1:8082 (PORT=N to change)"
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

# The status-page test renders the page in headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the status page test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium not found: install it (apt-get install chromium) or the browser test is skipped (fails under CI=true)"; \
	  fi; }

install: $(STAMP)

# make luigid PORT=8090 ARGS="--background": luigid with task history, on loopback.
PORT ?= 8082
luigid: $(STAMP)
	$(BIN)/pip install --quiet -e '.[history]'
	$(BIN)/python -m etl_tasks.cli.scheduler --port $(PORT) $(ARGS)

demo: $(STAMP)
	$(BIN)/python -m etl_tasks.demo

validate: $(STAMP)
	$(BIN)/etl-validate

lint: $(DEV_STAMP)
	$(BIN)/ruff check etl_tasks etl_sandbox tests benchmarks

test: $(DEV_STAMP) browser lint
	$(PYTEST) $(PYTEST_ARGS)

# A busy 2-core CI machine on purpose: two processes spinning the CPU while the suite runs, so a
# test that races or budgets wall-clock time fails here first. Prints each round's duration.
test-stress: $(DEV_STAMP) browser lint
	@sh -c 'while :; do :; done' & busy1=$$!; \
	sh -c 'while :; do :; done' & busy2=$$!; \
	trap 'kill $$busy1 $$busy2 2>/dev/null' EXIT INT TERM; \
	round=1; status=0; \
	while [ $$round -le $(ROUNDS) ]; do \
	  start=$$(date +%s); \
	  $(PYTEST) $(PYTEST_ARGS) || status=$$?; \
	  echo "test-stress round $$round/$(ROUNDS): pytest exit $$status in $$(( $$(date +%s) - start )) s (2 busy-loop processes)"; \
	  [ $$status -eq 0 ] || exit $$status; \
	  round=$$((round + 1)); \
	done

bench: $(STAMP)
	$(BIN)/python -m benchmarks.load_benchmark --rows 1000000 --target both

clean:
	rm -rf $(VENV) build dist *.egg-info
	find output logs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
