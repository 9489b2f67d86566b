# The two commands: `make serve` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/viberouter-*)
# `make serve` needs only the runtime (core + bundled plugins); the dev toolchain
# (test clients, linters, browsers, fuzzers) comes with the first `make test`.
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench install runtime clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): $(BIN)/python pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(BIN)/pip install -q -e . $(foreach p,$(PLUGINS),-e $(p))
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

runtime: $(RUNTIME)

install: $(STAMP)

serve: $(RUNTIME)
	$(BIN)/viberouter serve

# Plugins type-check one at a time (their test folders share module names such as
# conftest); MYPYPATH points mypy at this checkout's router_core whatever the install.
LINT_PLUGINS := $(PLUGINS) docs/example-plugin

lint: $(STAMP)
	$(BIN)/ruff check router_core plugins tests bench docs
	$(BIN)/mypy router_core
	@set -e; for p in $(LINT_PLUGINS); do \
		echo "mypy --strict $$p"; \
		(cd $$p && MYPYPATH=$(CURDIR) $(CURDIR)/$(BIN)/mypy --strict --python-version 3.11 \
			$$(ls -d viberouter_*/ | grep -v egg-info) tests); \
	done

test: $(STAMP)
	./scripts/test-deps
	$(MAKE) lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) build *.egg-info
