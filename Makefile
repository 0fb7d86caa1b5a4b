# The two README commands: `make demo` (set up + run the pipeline) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# stage commands run `python` and `audiolens`: the venv's, without activating it first
RUN := env PATH="$(abspath $(BIN)):$$PATH" DVC_NO_ANALYTICS=1

.PHONY: setup demo test bench

$(BIN)/activate:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

setup: $(VENV)/.installed

demo: setup
	@git rev-parse --git-dir >/dev/null 2>&1 || (git init -q && git add -A && git -c user.name=audiolens -c user.email=audiolens@localhost commit -qm init)
	$(RUN) dvc repro

test: setup
	$(RUN) python -m pytest -q

bench: setup
	$(RUN) python benchmarks/preprocess.py
	$(RUN) python benchmarks/uncertainty.py
	$(RUN) python benchmarks/fsdd_speaker.py
