# The two commands a newcomer needs: `make demo` and `make test`. Both create the
# virtualenv on first use, so a fresh clone needs only Python 3.10+, make and PyPI.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP) lint typecheck
	./scripts/install-hosts.sh
	$(BIN)/pytest -q -n auto

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# Benchmarks print ratios measured side by side in one run; not part of `make test`. The
# first three print issue 13's table (each script's docstring says what a line means, and
# which flags give the full sizes: intake.py --burst 1000000); about 10 minutes on 2 cores.
# PYTHONPATH: the package of this checkout is measured, even from a virtualenv another
# worktree installed.
bench: export PYTHONPATH := $(CURDIR)
bench: $(STAMP)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/backlog.py
	$(BIN)/python bench/delivery.py capacity
	$(BIN)/python bench/delivery.py shared
	$(BIN)/python bench/delivery.py priority
	$(BIN)/python bench/delivery.py duplicates

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .demo

# The Splunk app (integrations/splunk/) packed as dist/okta_risk_output-<version>.spl and
# .tgz, for Apps > Install app from file. It runs okta-risk-output installed beside Splunk.
.PHONY: splunk-app
splunk-app:
	$(PYTHON) scripts/build_splunk_app.py
