# Gelombang: one entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
STACK := python3 deploy/local/stack.py

.PHONY: help venv up infra down status lint test test-unit test-integration test-e2e compose-check clean

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

status: ## Health of every part of the stack
	@$(STACK) status

lint: venv ## ruff and mypy --strict on all code
	@.venv/bin/ruff check .
	@.venv/bin/mypy libs services tests loadtests deploy/compose_check.py deploy/local/stack.py

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
