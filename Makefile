# The two commands of the README: `make run` and `make test`. Everything else follows from them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint bench bench-hostile chroma soak browser wheel-check clean selector

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

test: install lint browser wheel-check
	$(BIN)/python -m pytest -q
	$(BIN)/qa eval --gold eval/gold.jsonl --docs corpus --md $(or $(EVAL_MD),/dev/null) \
		$(shell cat eval/gates.txt 2>/dev/null)

# The wheel installed outside the Makefile's venv: qa --help, ingest and ask from that install.
wheel-check: install
	PYTHON=$(PYTHON) bash .ci/wheel-check

# Debian's Chromium for the headless browser test (playwright's own download is unavailable).
browser:
	-command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

soak: install
	$(BIN)/python -m pytest -q -m slow tests/test_reliability_crash.py

bench: install
	$(BIN)/python -m bench.run

# hostile inputs: time to refusal, peak memory, /ask latency during a hostile upload
bench-hostile: install
	$(BIN)/python -m bench.hostile

chroma: install
	$(BIN)/chroma run --path .qa-data/chroma-server --host 127.0.0.1 --port $(or $(QA_CHROMA_PORT),8000)

clean:
	rm -rf $(VENV) .qa-data .pytest_cache .ruff_cache .mypy_cache .wheel-check build
