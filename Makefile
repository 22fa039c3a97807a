# The two commands of the README: `make run` and `make test`. Everything else follows from them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint bench chroma soak browser clean selector

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

run: install
	$(BIN)/qa ingest corpus/
	$(BIN)/qa ui

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install lint browser
	$(BIN)/python -m pytest -q
	$(BIN)/qa eval --gold eval/gold.jsonl --docs corpus --md $(or $(EVAL_MD),/dev/null) \
		$(shell cat eval/gates.txt 2>/dev/null)

# Debian's Chromium for the headless browser test (playwright's own download is unavailable).
browser:
	-command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

soak: install
	$(BIN)/python -m pytest -q -m slow tests/test_reliability_crash.py

bench: install
	$(BIN)/python -m bench.run

chroma: install
	$(BIN)/chroma run --path .qa-data/chroma-server --host 127.0.0.1 --port $(or $(QA_CHROMA_PORT),8000)

clean:
	rm -rf $(VENV) .qa-data .pytest_cache .ruff_cache .mypy_cache
