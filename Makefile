# Song generation service. `make demo` runs it end to end locally; `make test` runs every gate.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CDK_OUT := cdk.out
# checkov in its own virtualenv: its pins (boto3, networkx, ...) clash with the dev group's.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# torch first and pinned (the one torch line, shared with the GPU image: its requirements.txt): the CPU
# wheel; an unpinned torch would pull GBs of CUDA packages.
$(STAMP): pyproject.toml sagemaker_containers/music/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=25.1"
	$(PY) -m pip install -q "$$(grep -m1 "^torch==" sagemaker_containers/music/requirements.txt)"
	$(PY) -m pip install -q --group dev
	touch $@

$(CHECKOV_VENV)/.installed: Makefile
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q "checkov==$(CHECKOV_VERSION)"
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) node_modules/.installed ## create .venv and node_modules

lint: $(STAMP) ## ruff (style, bugs, security)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

synth: $(STAMP) node_modules/.installed ## synthesize with the pinned CDK CLI (cdk-nag runs here) into cdk.out
	rm -rf $(CDK_OUT)
	npx cdk synth --quiet --output $(CDK_OUT)

cfn-lint: synth ## cfn-lint every synthesized template
	$(VENV)/bin/cfn-lint $(CDK_OUT)/*.template.json

checkov: synth $(CHECKOV_VENV)/.installed ## checkov on every synthesized template (skips, each with its reason: .checkov.yaml)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml $$(printf -- '--file %s ' $(CDK_OUT)/*.template.json)

# REQUIRE_CLI_SYNTH: the infra tests compare their template with the CLI's in cdk.out (never skipped here).
test: install lint cfn-lint checkov ## every gate: ruff, cdk-nag + cfn-lint + checkov on the synthesized app, pytest
	REQUIRE_CLI_SYNTH=1 $(VENV)/bin/pytest

openapi: $(STAMP) ## regenerate docs/openapi.json from the API's resolver and models
	$(PY) -m lambdas.api.openapi > docs/openapi.json

local: install ## run the local stack in the foreground (Ctrl-C stops it); LOCAL_ARGS="--help" for options
	$(PY) -m local up $(LOCAL_ARGS)

demo: install ## run the service locally end to end: submit a song, follow it, download it to ./out
	$(PY) -m local.demo

deploy: install ## deploy to the AWS account of your credentials (see README)
	npx cdk deploy --require-approval broadening

clean: ## remove build outputs
	rm -rf $(CDK_OUT) .pytest_cache .ruff_cache

.PHONY: help install lint synth cfn-lint checkov test openapi local demo deploy clean
