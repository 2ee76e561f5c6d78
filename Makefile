# Two commands on a fresh machine:  `make app`  and  `make test`  (each sets everything up first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: app test test-fast setup browser run bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

## app: install everything and start the Streamlit app on the default scenario
app: $(STAMP)
	$(BIN)/python -m sim.app.serve --server.port $(PORT) --browser.gatherUsageStats false

## browser: Debian's Chromium for the real-browser tests (Playwright must not download one)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "chromium missing: install Debian's chromium package for the browser tests"; fi; }

## test: install everything and run the whole test suite (what CI runs)
test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

## test-fast: the suite without the browser and slow statistical tests
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not browser and not slow" tests

## run: the headless job on the baseline scenario
run: $(STAMP)
	$(BIN)/supportsim run scenarios/baseline.toml --out results/baseline

bench: $(STAMP)
	$(BIN)/python bench/run_benchmarks.py

lint: $(STAMP)
	$(BIN)/ruff check sim tests app.py bench

clean:
	rm -rf $(VENV) results artifacts .pytest_cache
