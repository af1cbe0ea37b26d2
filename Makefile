PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-slow lint demo clean

# The venv is rebuilt only when the packaging files change (idempotent).
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[tensorflow-cpu,tests]"
	touch $(STAMP)

venv: $(STAMP)

# Trains MGIC-ResNet-20 and ResNet-20 on the offline digits set (a few minutes on 2 cores).
demo: $(STAMP)
	$(BIN)/python -m keras_mgic.demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build dist *.egg-info
