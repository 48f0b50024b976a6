# Two commands a newcomer needs: `make run` and `make test`. Each bootstraps .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test lint bench screenshots sample clean

# Reinstall only when the project metadata changes, so the second call starts in seconds.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mnist-dash $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check core tui tests bench scripts

bench: $(STAMP)
	$(BIN)/python bench/engine.py

screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

sample: $(STAMP)
	$(BIN)/python scripts/make_sample.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
