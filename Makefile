# Every target sets up .venv when it is missing; only Python 3.11+ is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint types pytest bench docs clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: lint types pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) chromium
	$(BIN)/pytest --cov --cov-report=term

# The browser test of the HTML reports needs Chromium: install it when it is missing.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
			|| echo "chromium could not be installed: the browser test will be skipped"; \
	fi

# Diagrams are drawn at build time by the Mermaid command line (npm) with Chromium; without
# them the pages carry the diagrams for mermaid.js to draw in the browser.
docs: $(STAMP) chromium $(VENV)/node_modules/.bin/mmdc
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	$(BIN)/sphinx-build -b html -W --keep-going docs docs/_build/html

$(VENV)/node_modules/.bin/mmdc: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --no-save \
			--prefix $(VENV) @mermaid-js/mermaid-cli@11 >/dev/null \
			|| echo "the Mermaid command line could not be installed: diagrams drawn in the browser"; \
	else echo "npm not found: diagrams will be drawn in the browser"; fi

demo: $(STAMP)
	$(BIN)/stemjourney demo

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist .coverage htmlcov
