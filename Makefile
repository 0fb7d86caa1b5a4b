# The two README commands: `make demo` (set up + run the pipeline) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# stage commands run `python` and `audiolens`: the venv's, without activating it first
RUN := env PATH="$(abspath $(BIN)):$$PATH" DVC_NO_ANALYTICS=1
# Which lock to install: the CUDA build when `nvidia-smi -L` lists a GPU, the CPU build otherwise
# (CI); force one with `make setup VARIANT=gpu` / `VARIANT=cpu`.
VARIANT ?= $(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU' && echo gpu || echo cpu)
LOCK := requirements/$(VARIANT).lock
OTHER := $(if $(filter gpu,$(VARIANT)),cpu,gpu)
UV_COMPILE := uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--annotation-style line --no-emit-package setuptools

.PHONY: setup demo test bench locks

$(BIN)/activate:
	$(PY) -m venv $(VENV)

# tensorflow-cpu and tensorflow share an import package: switching variant removes both first
# (.installed: a venv made before the locks, i.e. CPU)
$(VENV)/.installed-$(VARIANT): $(LOCK) pyproject.toml | $(BIN)/activate
	@echo "installing $(LOCK)"
	$(BIN)/pip install -q --upgrade pip
	@if [ -e $(VENV)/.installed-$(OTHER) ] || { [ $(VARIANT) = gpu ] && [ -e $(VENV)/.installed ]; }; then \
		$(BIN)/pip uninstall -q -y tensorflow tensorflow-cpu || true; fi
	rm -f $(VENV)/.installed $(VENV)/.installed-$(OTHER)
	$(BIN)/pip install -q -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/python -m audiolens.warmup
	touch $@

setup: $(VENV)/.installed-$(VARIANT)

# Regenerate both locks after editing pyproject.toml dependencies (needs `uv`); existing pins are kept
locks:
	$(UV_COMPILE) --extra test -o requirements/cpu.lock
	$(UV_COMPILE) --extra gpu --extra test -c requirements/cpu.lock --override requirements/gpu-overrides.txt \
		-o requirements/gpu.lock

demo: setup
	@git rev-parse --git-dir >/dev/null 2>&1 || (git init -q && git add -A && git -c user.name=audiolens -c user.email=audiolens@localhost commit -qm init)
	$(RUN) dvc repro

test: setup
	$(RUN) python -m pytest -q -n 2 --dist loadfile

bench: setup
	$(RUN) python benchmarks/preprocess.py
	$(RUN) python benchmarks/uncertainty.py
	$(RUN) python benchmarks/fsdd_speaker.py
	$(RUN) python benchmarks/fsdd_gate.py
