# failed-payments — the two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The pinned, hash-checked versions of everything installed: requirements-dev.lock here,
# requirements.lock (runtime only) in the Docker image. `make lock` re-pins after a change
# to pyproject.toml's dependencies.
LOCK     := requirements-dev.lock
LOCKVENV := $(VENV)/lock-tools
COMPILE  := $(LOCKVENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --generate-hashes \
            --no-emit-index-url --no-emit-find-links

.PHONY: demo test lint format-check typecheck unit bench sandbox run check lock clean

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)  ## the whole bot against local stand-ins, on http://localhost:$${PORT:-3000}
	$(PY) app.py demo

test: $(STAMP) lint typecheck unit  ## ruff, mypy and pytest (starts a throwaway Redis when none answers)

lint: $(STAMP)
	$(PY) -m ruff check .

format-check: $(STAMP)  ## the code as `ruff format` would write it (not yet part of lint)
	$(PY) -m ruff format --check .

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

lock:  ## re-pin both lock files from pyproject.toml, keeping existing pins (UPGRADE=1: newest)
	@test -x $(LOCKVENV)/bin/pip-compile || \
	  { $(PYTHON) -m venv $(LOCKVENV) && $(LOCKVENV)/bin/pip install --quiet pip-tools; }
	$(COMPILE) $(if $(UPGRADE),--upgrade) --extra dev -o requirements-dev.lock pyproject.toml
	cp requirements-dev.lock requirements.lock  # the runtime lock takes the dev lock's versions
	$(COMPILE) -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info test-artifacts .bench-results
