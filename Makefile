# Gelombang: one entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
# KAFKA_BROKERS=3 (on the command line or in the environment): a three-broker cluster, topics
# with three replicas and min.insync.replicas=2. Fixed once the stack's Kafka exists.
KAFKA_BROKERS ?=
STACK := GELOMBANG_KAFKA_BROKERS=$(KAFKA_BROKERS) python3 deploy/local/stack.py

.PHONY: help venv up infra down restart status lint test test-unit test-integration test-e2e compose-check clean load load-ui bench

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

venv: ## Create or update .venv from uv.lock (installs uv if missing)
	@command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv
	@uv sync --frozen -q

up: ## Install what is missing and start the whole stack on loopback (idempotent)
	@$(STACK) up

infra: ## Start only Kafka, Postgres, Redis, nginx and Prometheus
	@$(STACK) infra

down: ## Stop everything `make up` started (by pid)
	@$(STACK) down

restart: ## Restart app components (or prometheus, an exporter, the supervisor) after a change: make restart NAMES="projector registration-0"
	@$(STACK) restart $(NAMES)

status: ## Health of every part of the stack
	@$(STACK) status

lint: venv ## ruff and mypy --strict on all code
	@.venv/bin/ruff check .
	@.venv/bin/mypy libs services testkit tests loadtests deploy/compose_check.py deploy/local/stack.py

test-unit: venv ## Unit tests only (no I/O)
	@bash .ci/pytest-tier tests/unit

test-integration: up ## Integration tests against the real Kafka, Postgres and Redis
	@bash .ci/pytest-tier tests/integration

test-e2e: up ## End-to-end tests through the gateway on 8080
	@bash .ci/pytest-tier tests/e2e

compose-check: venv ## Validate docker-compose.yml offline
	@$(PY) deploy/compose_check.py

test: up lint compose-check ## Everything CI runs: stack up, lint, unit, integration, e2e
	@bash .ci/pytest-tier tests/unit
	@bash .ci/pytest-tier tests/integration
	@bash .ci/pytest-tier tests/e2e

clean: down ## Stop the stack and delete its data (.run/)
	rm -rf .run

# Load tests: SCENARIO is spike, launch_day or mix (loadtests/locust_<SCENARIO>.py). Every
# scenario's shape stops by itself; LOAD_* variables (see loadtests/locust_common.py) override
# rates and durations, LOAD_MAX_S is a hard stop on top.
SCENARIO ?= spike
LOAD_MAX_S ?= 900
LOAD_PROCESSES ?= 1
load: up ## Headless Locust run (SCENARIO=spike|launch_day|mix), CSV+HTML in reports/, then reconcile
	@mkdir -p reports && rm -f reports/load-ids-*.json
	@.venv/bin/locust -f loadtests/locust_$(SCENARIO).py --headless --host http://127.0.0.1:8080 \
		--processes $(LOAD_PROCESSES) --run-time $(LOAD_MAX_S)s --stop-timeout 15 --only-summary \
		--csv reports/load-$(SCENARIO) --html reports/load-$(SCENARIO).html || true
	@# Quoted: Locust's workers may write their id files after locust returns; reconcile waits.
	@$(PY) -m loadtests.reconcile --expect-files $(LOAD_PROCESSES) --files-wait-s 60 --wait-s 120 \
		'reports/load-ids-*.json'

load-ui: up ## Locust web UI on http://127.0.0.1:8089 (SCENARIO=spike|launch_day|mix)
	@# One process, one id file: reconcile afterwards with --expect-files 1 'reports/load-ids-*.json'.
	@mkdir -p reports && rm -f reports/load-ids-*.json
	@.venv/bin/locust -f loadtests/locust_$(SCENARIO).py --host http://127.0.0.1:8080 \
		--web-host 127.0.0.1

bench: up ## The benchmark: ceiling, knee, 80,000/min sustained, lag, draw -> reports/bench.*
	@$(PY) -m loadtests.bench

# ---- Reliability (issue 9): faults, hostile input, Kubernetes ----------------------------------
.PHONY: k8s-check fuzz chaos
k8s-check: venv ## Validate deploy/k8s offline: kustomize, kubernetes-validate --strict, CRD schemas
	@bash .ci/pytest-tier tests/unit/test_k8s.py

FUZZ_SECONDS ?= 120
fuzz: up ## Schemathesis, every phase, FUZZ_SECONDS per target against each service's OpenAPI
	@GELOMBANG_FUZZ_SECONDS=$(FUZZ_SECONDS) bash .ci/pytest-tier tests/integration/test_schemathesis.py

CHAOS_FAULTS ?= registration-0,projector,verification-0,civil-registry-sim,redis,kafka,postgres,pause-redis,pause-kafka,pause-postgres,kafka-link,disk-kafka,disk-postgres,kafka-broker,kafka-two-brokers
CHAOS_OVERLOAD ?= 2,3
chaos: up ## Fault suite (kills, pauses, bad Kafka link, full disks, 2x/3x overload; reports/chaos.json), then fuzz
	@$(PY) -m loadtests.chaos --faults $(CHAOS_FAULTS) --overload '$(CHAOS_OVERLOAD)'
	@$(MAKE) --no-print-directory fuzz
