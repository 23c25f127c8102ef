# Every target installs into .venv, so a fresh machine needs only python3 (3.11+), git and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test faults unit e2e lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[sandbox,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m reconciler.demo

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/cfn-lint deploy-manifests/reconciler/stack.yaml deploy-manifests/reconciler/target-role.yaml
	$(BIN)/pytest -q -p no:cacheprovider tests --ignore=tests/faults

# The fault matrix (docs/reliability.md): daemons killed mid-rollout, takeovers, outages, hostile
# input and traffic against the sandbox; a few minutes, run by CI after `make test`.
faults: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/faults

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests bench

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

bench: $(STAMP)
	$(BIN)/python bench/noop_cycle.py

clean:
	rm -rf $(VENV) build *.egg-info
