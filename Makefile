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
# wheel; an unpinned torch would pull GBs of CUDA packages. basic-pitch last and with --no-deps (the
# transcription image does the same): its metadata pins TensorFlow, which it does not need on ONNX
# Runtime and which has no Python 3.12 wheel; the `transcribe` group holds what it does need.
# The Python client (clients/python: the `song_client` package and the `songs` command) is installed
# editable, so the tests run the checkout's code.
TRANSCRIBE_NO_DEPS := lambda_images/transcribe/requirements-no-deps.txt
$(STAMP): pyproject.toml sagemaker_containers/music/requirements.txt $(TRANSCRIBE_NO_DEPS) clients/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=25.1"
	$(PY) -m pip install -q "$$(grep -m1 "^torch==" sagemaker_containers/music/requirements.txt)"
	$(PY) -m pip install -q --group dev
	$(PY) -m pip install -q --no-deps -r $(TRANSCRIBE_NO_DEPS)
	$(PY) -m pip install -q -e ./clients/python
	# librosa's numba kernels compile once into the venv's numba cache (as the GPU image does at
	# build), not in the first test or song that measures audio.
	PYTHONPATH=sagemaker_containers/music $(PY) -c "from song_model import analysis; analysis.warm_up()"
	touch $@

$(CHECKOV_VENV)/.installed: Makefile
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q "checkov==$(CHECKOV_VERSION)"
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# Lambda layers, one per folder of layers/ (its requirements.txt pins every wheel): the upload
# check's decoder (stacks/uploads.py), the webhook sender's Standard Webhooks library
# (stacks/webhooks.py) and the authorizer's PyJWT with cryptography (stacks/api.py). Pinned manylinux or pure wheels for the Lambda runtime (python3.12, x86_64,
# glibc 2.34), whatever this machine runs. No Docker needed.
LAYERS := audio webhooks auth
LAYER_STAMPS := $(foreach layer,$(LAYERS),build/layers/.$(layer)-installed)
LAMBDA_PLATFORMS := $(foreach v,17 24 25 26 27 28 31 34,--platform manylinux_2_$(v)_x86_64) --platform manylinux2014_x86_64
build/layers/.%-installed: layers/%/requirements.txt $(STAMP)
	rm -rf build/layers/$*
	$(PY) -m pip install -q --no-deps --no-compile --only-binary=:all: --implementation cp --python-version 3.12 \
		--abi cp312 --abi abi3 --abi none $(LAMBDA_PLATFORMS) --target build/layers/$*/python -r $<
	touch $@

audio-layer: build/layers/.audio-installed ## build the upload check's Lambda layer (soundfile + numpy wheels)
webhooks-layer: build/layers/.webhooks-installed ## build the webhook sender's Lambda layer (standardwebhooks)
auth-layer: build/layers/.auth-installed ## build the authorizer's Lambda layer (PyJWT, cryptography)

install: $(STAMP) node_modules/.installed $(LAYER_STAMPS) ## create .venv, node_modules, the Lambda layers

# The web app (web/): pinned by web/package-lock.json; rebuilt only when its sources change.
WEB_STAMP := web/node_modules/.installed
# docs/openapi.json: every build generates the app's API types from it (web/src/api-schema.d.ts).
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json \
	docs/openapi.json

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/dist/index.html: $(WEB_STAMP) $(WEB_SOURCES)
	cd web && npm run --silent build
	touch $@

web: web/dist/index.html ## build the web app into web/dist (type check + Vite); synth deploys it

browser: ## Debian's chromium for the browser tests (installed with apt when missing)
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }

screenshots: install web browser ## refresh docs/screenshots from the browser tests
	SCREENSHOT_DIR=docs/screenshots $(VENV)/bin/pytest tests/browser -q

lint: $(STAMP) ## ruff (style, bugs, security)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The gates' template is never deployed, so it may lack staged weights (allow_no_model_data; the
# tests synthesize with the same context). `make deploy` does not pass it: a deploy without
# model_data_s3_uri (or model_internet_access) stops at synthesis with the fix in the message.
synth: $(STAMP) node_modules/.installed web ## synthesize with the pinned CDK CLI (cdk-nag runs here) into cdk.out
	rm -rf $(CDK_OUT)
	npx cdk synth --quiet --output $(CDK_OUT) -c allow_no_model_data=true

cfn-lint: synth ## cfn-lint every synthesized template
	$(VENV)/bin/cfn-lint $(CDK_OUT)/*.template.json

checkov: synth $(CHECKOV_VENV)/.installed ## checkov on every synthesized template (skips, each with its reason: .checkov.yaml)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml $$(printf -- '--file %s ' $(CDK_OUT)/*.template.json)

# REQUIRE_CLI_SYNTH: the infra tests compare their template with the CLI's in cdk.out (never skipped here).
test: install lint cfn-lint checkov browser ## every gate: ruff, cdk-nag + cfn-lint + checkov on the synthesized app, pytest
	REQUIRE_CLI_SYNTH=1 $(VENV)/bin/pytest

openapi: $(STAMP) ## regenerate docs/openapi.json from the API's resolver and models, and the Python client's models from it
	$(PY) -m lambdas.api > docs/openapi.json
	$(PY) clients/python/tools/generate_models.py

local: install web ## run the local stack in the foreground (Ctrl-C stops it); LOCAL_ARGS="--help" for options
	$(PY) -m local up $(LOCAL_ARGS)

demo: install web ## run the service locally end to end: submit a song, follow it, download it to ./out; DEMO_ARGS="--help" for options
	$(PY) -m local.demo $(DEMO_ARGS)

deploy: install web ## deploy to the AWS account of your credentials (see README)
	npx cdk deploy --require-approval broadening

clean: ## remove build outputs
	rm -rf $(CDK_OUT) .pytest_cache .ruff_cache web/dist web/src/api-schema.d.ts build

.PHONY: help install audio-layer webhooks-layer auth-layer lint synth cfn-lint checkov test openapi local demo deploy clean web browser screenshots
