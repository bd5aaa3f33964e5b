# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp

.PHONY: setup run test lint eval bench samples clean

setup: $(STAMP)
	@$(PY) -m models.prepare

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(PY) -m service.serve

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

eval: setup  ## accuracy on a seeded set of 48 generated clips (about 4 minutes on 2 cores)
	$(PY) -m samples.evaluate --out data/eval

bench: setup  ## speed and memory: decode vs analysis vs a naive per-frame pose baseline
	$(PY) -m samples.bench --out data/bench

samples: setup  ## the small clips committed under samples/ (with their truth)
	$(PY) -m samples.make_samples samples/clips

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) models/cache .pytest_cache .hypothesis
