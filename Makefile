# Agent Data Store — the two quick-start commands are `make serve` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock sdk/pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
# Deployment tools, each in its own venv (their pins conflict with each other and with the dev venv).
TOOLS := .venv-tools
SAM_VENV := $(TOOLS)/sam
CHECKOV_VENV := $(TOOLS)/checkov
SAM := $(SAM_VENV)/bin/sam
CHECKOV := $(CHECKOV_VENV)/bin/checkov
SAM_STAMP := $(SAM_VENV)/.installed-$(shell sha1sum < infra/tools/sam.txt | cut -c1-12)
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell sha1sum < infra/tools/checkov.txt | cut -c1-12)
# The SAM CLI sends no telemetry and checks for no update.
export SAM_CLI_TELEMETRY := 0
export SAM_CLI_DISABLE_VERSION_CHECK := 1

.PHONY: install install-serve serve test test-fast browser check iac-check sam-build sam-tools checkov-tools format bench soak clean help

help:
	@echo "make serve   install what serving needs and run the local server on 127.0.0.1:8080 (SQLite)"
	@echo "make test    install everything, start the test servers, run the whole test suite"
	@echo "make check   ruff, mypy, cfn-lint, checkov, sam validate --lint, sam build (arm64)"
	@echo "make bench   benchmarks (writes bench/results.md)"

# The venv is created when missing and refreshed when the pins change.
# `make serve` installs only the package and the runtime dependencies of the backend it serves;
# `make test`/`make check` add the dev tools (moto, mypy, playwright, cfn-lint, ...) on top.
STORE_BACKEND ?= sqlite
SERVE_EXTRA := $(if $(filter dynamodb,$(STORE_BACKEND)),[aws],$(if $(filter firestore,$(STORE_BACKEND)),[gcp],))
SERVE_STAMP := $(VENV)/.serving-$(STORE_BACKEND)-$(shell cat pyproject.toml requirements.lock 2>/dev/null | sha1sum | cut -c1-12)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@if [ -f sdk/pyproject.toml ]; then $(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e './sdk[aws]'; fi
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

$(SERVE_STAMP): pyproject.toml requirements.lock
	@echo "make serve: installing agent-datastore and what serving $(STORE_BACKEND) needs into $(VENV)/ (first run only)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.$(SERVE_EXTRA)'
	@touch $@

install-serve: $(SERVE_STAMP)

# `admin create` is idempotent: SQLite's file, or the table/database of STORE_BACKEND.
serve: install-serve
	STORE_BACKEND=$(STORE_BACKEND) $(BIN)/agent-datastore admin create
	STORE_BACKEND=$(STORE_BACKEND) $(BIN)/agent-datastore serve

test: install browser sam-tools
	$(BIN)/python -m tests.servers.run -- $(BIN)/python -m pytest $(PYTEST_ARGS)

# The viewer test drives Debian's chromium (playwright never downloads a browser).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the viewer test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "!!! chromium is not installed and cannot be installed here: the viewer test will be SKIPPED"; fi

# Unit, contract (memory + SQLite) and HTTP tests only: no servers to start.
test-fast: install
	$(BIN)/python -m pytest -q tests/unit tests/e2e tests/contract -k "not dynamodb and not firestore and not couchdb"

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --strict sdk/src/agent_datastore_sdk
	@if command -v terraform >/dev/null 2>&1; then env -u TF_CLI_CONFIG_FILE terraform fmt -check -recursive infra/gcp; \
	else echo "terraform not installed: skipping terraform fmt -check"; fi
	@$(MAKE) --no-print-directory iac-check sam-build

$(SAM_STAMP): infra/tools/sam.txt
	@rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --disable-pip-version-check -r infra/tools/sam.txt
	@touch $@

$(CHECKOV_STAMP): infra/tools/checkov.txt
	@rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check -r infra/tools/checkov.txt
	@touch $@

sam-tools: $(SAM_STAMP)
checkov-tools: $(CHECKOV_STAMP)

# The templates: cfn-lint, SAM's own validation and lint, and checkov (CloudFormation and
# Terraform) with the findings accepted on purpose in .ci/checkov-baseline.json (each with its reason).
iac-check: install sam-tools checkov-tools
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation -f template.yaml --baseline .ci/checkov-baseline.json
	$(CHECKOV) --quiet --compact --skip-download --framework terraform -d infra/gcp --baseline .ci/checkov-baseline.json
	@echo "checkov: no finding beyond .ci/checkov-baseline.json"

# The deployable build, as `sam deploy` takes it (.aws-sam/build, arm64), checked against the
# sources. SAM's python3.12 workflow needs a python3.12 on PATH: infra/tools/python312.sh finds one.
sam-build: install sam-tools
	@python312=$$(infra/tools/python312.sh) && echo "sam build with $$python312" && \
		PATH="$$(dirname "$$python312"):$$PATH" $(SAM) build
	$(BIN)/python infra/tools/check_build.py .aws-sam/build arm64

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Many more generated cases than `make test`: the model test on every backend and schemathesis, fresh seeds.
.PHONY: fuzz
fuzz: install
	MODEL_FUZZ=1 MODEL_EXAMPLES=$${MODEL_EXAMPLES:-300} MODEL_STEPS=$${MODEL_STEPS:-50} \
	OPENAPI_EXAMPLES=$${OPENAPI_EXAMPLES:-500} OPENAPI_SEED=random \
	$(BIN)/python -m tests.servers.run -- $(BIN)/python -m pytest -q -o timeout=0 tests/model tests/fuzz $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m tests.servers.run -- $(BIN)/python -m bench.run --out bench/results.md
	$(BIN)/python -m tests.servers.run --only dynamodb,firestore -- $(BIN)/python -m bench.coldstart --append bench/results.md
	$(BIN)/python -m bench.crowd --append bench/results.md

soak: install
	$(BIN)/python -m tests.servers.run -- $(BIN)/python -m bench.soak --seconds 300

clean:
	rm -rf $(VENV) .test-servers .pytest_cache .mypy_cache .ruff_cache
