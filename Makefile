# failed-payments — the two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench sandbox run check clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## the whole bot against local stand-ins, on http://localhost:$${PORT:-3000}
	$(PY) app.py demo

test: $(STAMP) lint typecheck unit  ## ruff, mypy and pytest (starts a throwaway Redis when none answers)

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m tests.redis_server --check
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)  ## every benchmark under bench/, figures printed and kept in .bench-results/
	$(PY) -m bench

sandbox: $(STAMP)
	$(PY) app.py sandbox

run: $(STAMP)
	$(PY) app.py run

check: $(STAMP)
	$(PY) app.py check

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info test-artifacts .bench-results
