# Two commands a newcomer needs: `make run` and `make test`. Each bootstraps .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test fuzz lint bench bench-all screenshots sample clean

# Reinstall only when the project metadata changes, so the second call starts in seconds.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mnist-dash $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxschedchunk 1 $(ARGS)

# Every property test (hypothesis marks them) with fresh random draws instead of the suite's fixed ones.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -n auto -m hypothesis $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check core tui tests bench scripts

# The engine's speed-up over the seed's own engine (../shared/reference), both timed in one run.
bench: $(STAMP)
	$(BIN)/python bench/engine.py

# Every benchmark; each prints ratios against a baseline measured in the same run.
bench-all: $(STAMP)
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/watch.py
	$(BIN)/python bench/data.py
	$(BIN)/python bench/lightning.py
	$(BIN)/python bench/contention.py
	$(BIN)/python bench/open_record.py
	$(BIN)/python bench/open_dashboard.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/tui_latency.py --compare
	$(BIN)/python bench/canvas_latency.py
	$(BIN)/python bench/gpu.py

# PNGs need rsvg-convert (Debian: librsvg2-bin), a development-only tool.
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py
	$(BIN)/python scripts/screenshot_inspector.py

sample: $(STAMP)
	$(BIN)/python scripts/make_sample.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
