# One command surface for polytrack. Every target calls the scripts; `make` alone lists them.
# Pass pytest arguments with ARGS, e.g. `make test ARGS="tests/server -k foo"`.
PYTHON ?= python3
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help generate check-generate lint typecheck test serve bench postgres-start postgres-stop

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

generate: ## regenerate gen/ from proto/ (python scripts/generate.py)
	$(PYTHON) scripts/generate.py

check-generate: ## fail if gen/ is stale against proto/
	scripts/test --only generate

lint: ## ruff check and buf lint
	scripts/test --only ruff,buf

typecheck: ## mypy (strict)
	scripts/test --only mypy

test: ## install everything, start PostgreSQL, run every check and test (what CI runs)
	scripts/test $(ARGS)

serve: ## run the server on its embedded default (SQLite); ARGS go to `polytrack server`
	$(PYTHON) -m polytrack.cli server $(ARGS)

bench: ## run the benchmarks (bench/run.py)
	$(PYTHON) bench/run.py $(ARGS)

postgres-start: ## start the tests' PostgreSQL and leave it running (scripts/postgres.sh)
	scripts/postgres.sh start

postgres-stop: ## stop the tests' PostgreSQL
	scripts/postgres.sh stop
