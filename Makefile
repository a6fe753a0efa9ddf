# The two set-up commands from README: `make test` and `make demo`. Both build the
# environment from nothing (venv, the project installed editable with every package pinned, the
# pinned CDK CLI). Without make, the CDK Python convention works too: `pip install -r requirements.txt`
# (what `cdk synth` needs) or `-r requirements-dev.txt` (what `make env` installs), then `npx cdk synth`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_CLI_TELEMETRY_DISABLED := 1
# mkdocs-material prints a banner about its successor on every build otherwise.
export NO_MKDOCS_2_WARNING := 1
# Always passed to the CDK CLI; CDK_FLAGS on the command line adds to them (`make synth CDK_FLAGS="-c key=value"`).
CDK_DEFAULT_FLAGS := --no-notices --no-version-reporting
CDK_FLAGS ?=
CDK_ALL_FLAGS = $(CDK_DEFAULT_FLAGS) $(CDK_FLAGS)
# `make demo DEMO_ARGS="--existing-graph"` plays the existing-cluster stack, synthesized from the example file.
EXISTING_CLUSTER_EXAMPLE := examples/existing-cluster.json
# `--model rdf` (DEMO_ARGS, CHAOS_ARGS) synthesizes the stack for the RDF graph, as a deploy with
# `-c neptune-stream:graphModel=rdf` would be: the local run plays the handler's GRAPH_MODEL from the template.
MODEL_CONTEXT = $(if $(filter rdf --model=rdf,$(1)),-c neptune-stream:graphModel=rdf)
DEMO_CONTEXT = $(if $(findstring --existing-graph,$(DEMO_ARGS)),-c neptune-stream:existingCluster=$(EXISTING_CLUSTER_EXAMPLE)) $(call MODEL_CONTEXT,$(DEMO_ARGS))

.PHONY: env prerequisites unit test lint typecheck synth deploy destroy demo bench bench-asof bench-emulator chaos docs diagram clean

env: prerequisites $(VENV)/.installed $(CDK)

# node and npm (the CDK CLI, DynamoDB Local's package) and a Java 17+ JDK (DynamoDB Local, the local run's
# DynamoDB): says what is missing and how to install it (`.ci/run` installs it).
prerequisites:
	@$(PYTHON) neptune_local/prerequisites.py

# The first run installs everything (docs/first-run.md has the measured time and disk); later runs skip it.
$(VENV)/.installed: pyproject.toml constraints.txt requirements.txt requirements-dev.txt
	@echo "first run: installing the Python packages pinned in constraints.txt into $(VENV) (AWS CDK, boto3, moto, test tools; several minutes, about 1 GB; see docs/first-run.md)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@
	@echo "Python packages installed"

$(CDK): package.json package-lock.json
	@echo "first run: installing the pinned AWS CDK CLI into node_modules (npm ci; about a minute)"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: env
	$(VENV)/bin/mypy

# No servers, under a minute: the capture core, the handlers, the template, cdk-nag and cfn-lint.
unit: env
	$(VENV)/bin/pytest -m "not e2e"

# What CI and the README run: linters, types, and every test (the emulator, the local pipeline, chaos).
test: env lint typecheck
	$(VENV)/bin/pytest

synth: env
	$(CDK) synth $(CDK_ALL_FLAGS) --quiet
	@$(PY) -m neptune_stream.summary cdk.out

deploy: env
	$(CDK) deploy $(CDK_ALL_FLAGS) --require-approval broadening

destroy: env
	$(CDK) destroy $(CDK_ALL_FLAGS) --force

# The whole pipeline locally, on the synthesized template: `make demo DEMO_ARGS="--changes 2000"` (`--model rdf`: SPARQL).
demo: env
	$(CDK) synth $(CDK_ALL_FLAGS) $(DEMO_CONTEXT) --quiet
	$(VENV)/bin/neptune-stream demo $(DEMO_ARGS)

bench-emulator: env
	$(PY) -m bench.emulator

# Pipeline figures (issue #6): `make bench BENCH_ENV="BENCH_BACKLOG=100000 BENCH_WAIT_SCALE=1"` (the defaults).
bench: env
	$(CDK) synth $(CDK_ALL_FLAGS) --quiet
	env $(BENCH_ENV) $(PY) -m bench.pipeline

# `export --as-of` of the demo's records beside a full Scan of them (docs/time-travel.md): BENCH_ASOF_CHANGES=10000.
bench-asof: env
	$(CDK) synth $(CDK_ALL_FLAGS) --quiet
	$(PY) -m bench.asof

# Fault-injection scenarios on the local stack, each verified exactly once: `make chaos CHAOS_ARGS="--changes 100"` (`--model rdf`).
chaos: env
	$(CDK) synth $(CDK_ALL_FLAGS) $(call MODEL_CONTEXT,$(CHAOS_ARGS)) --quiet
	$(PY) -m neptune_local.chaos $(CHAOS_ARGS)

# The documentation site (mkdocs.yml, docs/) into site/; a warning fails the build.
SITE_DIR ?= site
docs: env
	$(VENV)/bin/mkdocs build --strict --site-dir $(SITE_DIR)

# The architecture picture of docs/ and README, drawn from the synthesized template.
diagram: env
	$(CDK) synth $(CDK_ALL_FLAGS) --quiet
	$(PY) -m neptune_stream.diagram cdk.out/NeptuneStream.template.json docs/images/architecture.svg

clean:
	rm -rf cdk.out .cache .local .pytest_cache .mypy_cache .ruff_cache .hypothesis site
