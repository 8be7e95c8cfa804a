# The two commands a newcomer needs:  make run   (demo ledger + API)   and   make test   (everything).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
RETIREES ?= 500
SEED ?= 7

.PHONY: venv run demo serve test lint typecheck kafka-up kafka-down bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## run: the API on http://$(HOST):$(PORT)/ over the existing ledger; a demo ledger only when there is none
run: $(STAMP)
	$(BIN)/ledger keys init --if-missing
	$(BIN)/ledger demo --retirees $(RETIREES) --seed $(SEED) --keep
	$(BIN)/ledger serve --host $(HOST) --port $(PORT) --dev

## demo: replace the ledger with a fresh demo (same SEED, same data and retiree ids)
demo: $(STAMP)
	$(BIN)/ledger keys init --if-missing
	$(BIN)/ledger demo --retirees $(RETIREES) --seed $(SEED) --fresh

## test: lint, types, import contracts and the whole pytest suite (starts its own Kafka broker and
## PostgreSQL; installs Debian's postgresql and chromium when they are missing)
test: $(STAMP) lint typecheck
	$(BIN)/python -m devtools.kafka_broker fetch
	$(BIN)/python -m devtools.postgres install
	$(BIN)/python -m devtools.browser install
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check ledger projections api cli runtime devtools tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

kafka-up: $(STAMP)
	$(BIN)/ledger kafka up

kafka-down: $(STAMP)
	$(BIN)/ledger kafka down

bench: $(STAMP)
	$(BIN)/ledger bench

clean:
	rm -rf $(VENV) .ledger .pytest_cache .mypy_cache .ruff_cache
