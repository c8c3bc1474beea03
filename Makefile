# The two set-up commands of the README: `make demo` and `make test`. Both create the environment and fetch the
# models first; they work on a fresh machine with Python >= 3.11 and access to the package index.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test env models bench clean

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

test: models
	$(BIN)/python -m pytest -q

clean:
	rm -rf demo .pytest_cache .hypothesis
