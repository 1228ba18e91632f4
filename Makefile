# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv (CPU torch first, so pip does not pull a multi-GB CUDA build).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean integrations

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/safetymix demo

test: $(STAMP)
	$(PY) -m pytest -q

# LLaMA-Factory's and Axolotl's own venvs, read by tests/integrations (skipped without them)
integrations:
	bash .ci/integrations.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts

clean:
	rm -rf $(VENV) .venv-integrations safetymix-demo
