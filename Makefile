# orderhub: every command a newcomer needs. `make demo` and `make test` set everything up.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
STAGE ?= dev
STACK := orderhub-$(STAGE)

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
export UV_PROJECT_ENVIRONMENT := $(VENV)
export PYTHONPATH := $(CURDIR)
# jsii (CDK's bridge to Node) warns on every run that Node 20 is past end-of-life; it works.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 20

# Lambda runs python3.13: use it when the machine has it, else 3.12, else python3. pyenv keeps
# versions its shims do not expose, so look in its versions folder too. Never download one.
define find_python
for candidate in python3.13 python3.12; do \
  if command -v $$candidate >/dev/null 2>&1 && $$candidate -c 'import sys' >/dev/null 2>&1; then \
    command -v $$candidate; exit 0; fi; \
  for found in "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/$${candidate#python}*/bin/$$candidate; do \
    if [ -x "$$found" ]; then echo "$$found"; exit 0; fi; done; \
done; command -v python3
endef
PYTHON := $(shell $(find_python))

.PHONY: help setup demo local test lint format docs synth deploy bench api-key admin clean

help: ## this list (every target says what it does after its "##")
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	echo "creating $(VENV) with $(PYTHON)"
	$(UV) sync --frozen --python "$(PYTHON)"
	touch $@

setup: $(VENV)/.synced ## create .venv from uv.lock (python3.13 when the machine has it)

demo: setup ## set up, run the whole flow on the embedded stack, print a verdict
	$(PY) -m infra.local demo

local: setup ## serve the embedded stack on 127.0.0.1:3000 (ORDERHUB_PORT) until Ctrl-C
	exec $(PY) -m infra.local serve

# Two runs: moto's in-process mocks (unit, integration, infra) and the embedded stack
# (workflow, e2e) both own moto's process-wide backends, so they never share a process. Each
# run has two workers; in the second each worker deploys an embedded stack of its own.
test: setup ## set up and run every test (unit, integration, workflow, infra, e2e)
	$(PY) -m pytest -p no:cacheprovider -q -n 2 tests/unit tests/integration tests/infra
	$(PY) -m pytest -p no:cacheprovider -q -n 2 tests/workflow tests/e2e

lint: setup ## ruff + mypy (strict)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared functions infra tests

format: setup ## ruff format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

docs: setup ## regenerate docs/openapi.json, docs/events.md and docs/events/*.json from the code
	$(PY) -m functions.api.openapi
	$(PY) -m shared.domain_events

synth: setup ## cdk synth with bundled Lambda packages, cdk-nag and cfn-lint
	rm -rf cdk.out
	ORDERHUB_STAGE=$(STAGE) $(PY) -m infra.app
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- cdk.out/$(STACK).template.json
	echo "synth ok: cdk.out/$(STACK).template.json (cdk-nag AwsSolutions and cfn-lint clean)"

node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deploy: setup node_modules/.bin/cdk ## cdk deploy to the AWS account in your environment (STAGE=dev by default)
	node_modules/.bin/cdk deploy $(STACK) -c orderhub:stage=$(STAGE) $(CDK_ARGS)

bench: setup ## cold start, warm path, AWS calls and cost per order, sizes, ack under load
	$(PY) -m tests.bench

api-key: setup ## create an API key in the deployed stack (ARGS='--name erp --scopes orders:read')
	$(PY) -m infra.admin create-api-key --stack $(STACK) $(ARGS)

admin: setup ## operator commands on the deployed stack (ARGS='failed-webhooks' etc.)
	$(PY) -m infra.admin $(ARGS) --stack $(STACK)

clean: ## remove .venv, tools, build output and node_modules
	rm -rf $(VENV) $(TOOLS) .build cdk.out node_modules
