PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One stamp per install step: each reruns only when the packaging files change (idempotent).
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test

.PHONY: venv test test-slow lint demo clean

# The JAX and PyTorch backends the `backends` tests also run on. PyTorch is pinned to its
# CPU build's exact version: an unpinned `torch` pulls several GB of CUDA packages.
BACKEND_PACKAGES := torch==2.13.0 jax jaxlib

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What the demo needs: TensorFlow's CPU build and the data extras (no PyTorch, no JAX).
$(DEMO_STAMP): setup.cfg pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[tensorflow-cpu,datasets]"
	touch $@

# The tests add the other two backends and the test tools.
$(TEST_STAMP): $(DEMO_STAMP)
	$(BIN)/python -m pip install --quiet $(BACKEND_PACKAGES)
	$(BIN)/python -m pip install --quiet -e ".[tensorflow-cpu,tests]"
	touch $@

venv: $(TEST_STAMP)

# Trains MGIC-ResNet-20 and ResNet-20 on the offline digits set (a few minutes on 2 cores).
demo: $(DEMO_STAMP)
	$(BIN)/python -m keras_mgic.demo

# The default suite: every test not marked `slow` on TensorFlow (it includes the cross-backend
# .keras test), then the `backends` subset (layers, builders, fit, save/load) on JAX and on
# PyTorch. Every stage runs even when an earlier one fails; one summary line per backend at
# the end, and the exit status says whether all passed (tools/run_tests.py).
test: $(TEST_STAMP)
	$(BIN)/python tools/run_tests.py fast

# The long end-to-end checks: whole examples, multi-process runs, full-size builders,
# kill-and-resume runs (CI runs them after `make test`).
test-slow: $(TEST_STAMP)
	$(BIN)/python tools/run_tests.py slow

lint: $(TEST_STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build dist *.egg-info
