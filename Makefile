# Every target sets up what it needs: a fresh clone only needs python3 (3.10+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test test-fast lint format bench clean postgres-bin screenshots chromium-bin

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The command-line demo runs on a fresh SQLite store under build/ (ignored by git).
DEMO_STORE := build/demo-jobs.db
DEMO := $(BIN)/routilux
demo: setup
	rm -f $(DEMO_STORE) $(DEMO_STORE)-wal $(DEMO_STORE)-shm
	$(DEMO) run examples/demo_flow.yaml --store sqlite:///$(DEMO_STORE)
	@echo
	$(DEMO) jobs list --store sqlite:///$(DEMO_STORE)
	@echo
	job=$$($(DEMO) jobs list --store sqlite:///$(DEMO_STORE) --limit 1 --json \
		| $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)[0]["job_id"])') \
		&& $(DEMO) graph examples/demo_flow.yaml --format mermaid \
			--store sqlite:///$(DEMO_STORE) --job "$$job"
	@echo
	@echo "Serve the demo flow over HTTP on the same store (docs/service.md):"
	@echo "  $(DEMO) keys create --scope run --store sqlite:///$(DEMO_STORE)"
	@echo "  $(DEMO) serve --store sqlite:///$(DEMO_STORE) --flows-dir examples --port 8000"
	@echo '  curl -X POST localhost:8000/flows/orders/jobs -H "Authorization: Bearer KEY" -H "Content-Type: application/json" -d "{}"'
	@echo "  then open http://127.0.0.1:8000/ (the dashboard; it asks for the key once)"

# lint-imports checks the allowed imports between layers (docs/architecture.md).
lint: setup
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

# Four pytest workers on the two cores of the CI machine (many tests wait on
# subprocesses, servers and sleeps), each taking the next test when it is free.
# The tests and the Python processes they start cache their bytecode (and
# pytest its rewritten test modules) under build/pycache, even where
# PYTHONDONTWRITEBYTECODE is set: compiling them again in every worker and
# every subprocess costs more than a third of a minute a run.
# While lint runs and the servers' packages install, one pytest collects the
# suite in the background to fill that cache, so the four workers start warm.
PYTEST := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/build/pycache $(BIN)/python -m pytest
test: setup
	@mkdir -p build; \
	$(PYTEST) --collect-only -q -p no:cacheprovider >build/collect.log 2>&1 & warm=$$!; \
	$(MAKE) --no-print-directory lint postgres-bin chromium-bin; status=$$?; \
	wait $$warm; \
	[ $$status -eq 0 ] || exit $$status; \
	echo "$(PYTEST) -n 4 --dist worksteal"; \
	$(PYTEST) -n 4 --dist worksteal

# Retake the dashboard screenshots of docs/service.md into docs/images/ (a
# plain test run takes them into its temporary directory and leaves the tree).
screenshots: setup chromium-bin
	ROUTILUX_UPDATE_SCREENSHOTS=1 $(PYTEST) -q tests/server/dashboard/test_dashboard_screenshots.py

# The everyday loop: no lint, no PostgreSQL, no tests marked slow (crash, stress,
# benchmark smoke, size limits: see README.md, Development).
test-fast: setup
	ROUTILUX_SKIP_POSTGRES=1 $(PYTEST) -n 4 --dist worksteal -m "not slow" -q

# The PostgreSQL store tests start a server of their own: make sure its binaries
# (initdb, pg_ctl) exist, installing Debian's package when we are root. Without
# them those tests fail, unless ROUTILUX_SKIP_POSTGRES=1.
postgres-bin:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing the PostgreSQL server (apt-get install postgresql)..."; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
			|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }; \
	else \
		echo "PostgreSQL server binaries not found; install postgresql or set ROUTILUX_SKIP_POSTGRES=1."; \
	fi

# The dashboard tests drive Debian's Chromium with Playwright, launched by its
# path (no browser download): install the package when it is missing and we
# are root. Without it those tests fail, unless ROUTILUX_SKIP_BROWSER=1.
chromium-bin:
	@if command -v chromium >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Chromium for the dashboard tests (apt-get install chromium)..."; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null \
			|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; \
	else \
		echo "Chromium not found; install Debian's chromium package or set ROUTILUX_SKIP_BROWSER=1."; \
	fi

bench: setup
	$(BIN)/python -m bench

# Runs the suite and compares it with bench/baseline.json; exits 1 if a
# workload got more than 25% worse. Not part of `make test` (it takes minutes).
.PHONY: bench-check
bench-check: setup
	$(BIN)/python -m bench --check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
