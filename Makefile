# Two commands for a fresh Debian machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SEED ?= 1
SAMPLE := data/boundaries/fengqiao_small_seed$(SEED).gpkg
# DATABASE_URL when set, else the local PostgreSQL (installed, started and given PostGIS as needed)
DB := url=$$(scripts/ensure_postgis.sh) && export DATABASE_URL="$$url"

.PHONY: run test setup bench lint

setup: $(VENV)/.installed web_map/node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Front-end assets from the npm registry, pinned by the lock file; install scripts never run.
web_map/node_modules/.installed: web_map/package.json web_map/package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --prefix web_map --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(SAMPLE): $(VENV)/.installed $(wildcard geo_service/sample/*.py)
	$(BIN)/geo-service sample --seed $(SEED)

# On a database with no users, accounts init prints the first accounts once (and writes them to
# var/initial-credentials.txt, mode 600): sign in with one of them.
run: setup $(SAMPLE)
	@$(DB) && $(BIN)/geo-service migrate \
	  && $(BIN)/geo-service load $(SAMPLE) --if-empty \
	  && $(BIN)/geo-service accounts init --if-empty \
	  && exec $(BIN)/geo-service serve --host 127.0.0.1 --port 8000

test: setup
	@scripts/ensure_browser.sh >/dev/null && scripts/ensure_gdal.sh >/dev/null
	@$(DB) && $(BIN)/ruff check geo_service tests bench && $(BIN)/mypy && $(BIN)/python -m pytest -q

bench: setup
	@$(DB) && $(BIN)/python -m bench

lint: setup
	$(BIN)/ruff format geo_service tests bench && $(BIN)/ruff check --fix geo_service tests bench
