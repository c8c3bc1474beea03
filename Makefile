# The two set-up commands of the README: `make demo` and `make test`. Both create the environment and fetch the
# models first; they work on a fresh machine with Python >= 3.11 and access to the package index.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test env models browser postgresql bench clean

$(BIN)/anonymizer: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

env: $(BIN)/anonymizer

models: env
	$(BIN)/anonymizer models fetch

demo: models
	$(BIN)/anonymizer demo demo

# The DPO review page is tested in a real headless Chromium (Debian's packages). Installed here when missing and
# possible (root with apt-get); otherwise that one test says why it did not run.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium and chromium-driver for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) || echo "chromium could not be installed: the browser test will be skipped"; \
	else echo "chromium not installed and cannot be installed here: the review-page browser test will be skipped"; fi

# The catalogue tests run on SQLite and on a throwaway PostgreSQL server started from Debian's packages
# (tests/pg.py). Installed here when missing and possible; otherwise the PostgreSQL cases say why they skip.
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's postgresql for the catalogue tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || echo "postgresql could not be installed: the PostgreSQL catalogue tests will be skipped"; \
	else echo "postgresql not installed and cannot be installed here: the PostgreSQL catalogue tests will be skipped"; fi

test: models browser postgresql
	$(BIN)/python -m pytest -q

clean:
	rm -rf demo .pytest_cache .hypothesis
