# Two commands do the whole set-up on a fresh machine:
#   make report   -> creates .venv if needed, runs the default contraction report
#   make test     -> creates .venv if needed, runs ruff and the default pytest suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU torch wheel lives in /opt/wheels on these machines; never let pip fetch a CUDA build.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: report test lint format clean-venv

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(FIND_LINKS) "torch==2.13.0"
	$(BIN)/python -m pip install -q $(FIND_LINKS) -c constraints.txt -e ".[all]"
	touch $@

report: $(VENV)/.installed
	$(BIN)/sobolev-verify report

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-venv:
	rm -rf $(VENV)
