# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp

.PHONY: setup browser run test lint eval bench samples load clean

setup: $(STAMP)
	@$(PY) -m models.prepare

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(PY) -m service.serve

# The report page's browser test needs Debian's Chromium and its driver; installed here when missing.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing chromium and chromium-driver (Debian packages) for the browser test"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	fi

test: setup browser
	$(PY) -m ruff check .
	$(PY) -m pytest

eval: setup  ## accuracy: 48 generated clips (found and in a drawn region); 25 recordings that look like a real exam and 11 look-alikes; real videos from PyPI packages as negatives; faces obscured, by width, on real photos (a group, a street) and in real face videos
	$(PY) -m tools.evaluate --out data/eval
	$(PY) -m tools.evaluate_exams --out data/eval-exams
	$(PY) -m tools.evaluate_real --out data/eval-real
	$(PY) -m tools.evaluate_deid --out data/eval-deid

bench: setup  ## speed and memory: decode vs analysis vs a naive per-frame pose baseline
	$(PY) -m tools.bench --out data/bench

samples: setup  ## the small clips committed under samples/ (with their truth)
	$(PY) -m tools.make_samples samples/clips

load: setup  ## concurrent uploads against a server started here on 127.0.0.1:8765
	@mkdir -p data; CLONUS_PORT=8765 $(PY) -m service.serve > data/load-server.log 2>&1 & echo $$! > data/load-server.pid; \
	for i in $$(seq 60); do curl -sf http://127.0.0.1:8765/healthz >/dev/null && break; sleep 0.5; done; \
	$(PY) -m tools.load --url http://127.0.0.1:8765; rc=$$?; kill $$(cat data/load-server.pid); exit $$rc

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) models/cache .pytest_cache .hypothesis
