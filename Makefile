# Callwright — the two commands: `make run` (demo) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run login test lint format install migrate bench faults clean lock image compose-check backup restore messages

# Reinstall the virtualenv's packages whenever the lock changes (`make lock` writes it from requirements/*.txt).
$(INSTALLED): requirements/local.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/local.lock
	@touch $(INSTALLED)

install: $(INSTALLED)

migrate: install
	$(BIN)/python manage.py migrate --noinput

## The demo: SQLite, simulated providers, web (uvicorn via config.server) + Celery worker + dialer + beat, each
## restarted if it dies (python -m config.demo). PORT=8001 picks another port. Ctrl-C stops all. This (not
## `manage.py runserver`, plain Django without WebSockets) serves the media streams.
run: migrate
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py setup_periodic_tasks
	@rm -rf var/prometheus && mkdir -p var/prometheus
	PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m config.demo

## The demo's admin login again.
login: install
	@$(BIN)/python manage.py demo_login

## Tests: SQLite and in-memory layers, or PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set. TEST_WORKERS
## pytest-xdist workers (0, the default: one process; see the README on why not two yet), each on a test database, Redis database and media directory of its own.
## `--dist load` hands the tests out in pytest-django's order, so each worker still runs its database tests before
## its transactional ones (whose flush empties the groups the migrations made); `loadfile` would mix them.
TEST_WORKERS ?= 0
test: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist load

## Benchmarks (PostgreSQL; not part of `make test`): bench/results/*.json and BENCHMARKS.md.
bench: install
	$(BIN)/python -m bench.run $(ONLY)

## The fault suite (PostgreSQL + a redis-server of its own; not part of `make test`): SHORT=1 for CI's short form.
faults: install
	$(BIN)/python -m bench.faults $(if $(SHORT),--short)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache

## Re-pin every dependency, transitive ones included, from requirements/{production,local}.txt (pip-tools).
lock: install
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --output-file requirements/production.lock requirements/production.txt
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --constraint requirements/production.lock --output-file requirements/local.lock \
		requirements/local.txt

## The production image, tagged with `git describe` (e.g. callwright:v1.2.0-4-gabc1234); docker-compose uses
## it when CALLWRIGHT_VERSION is set to the same tag.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
image:
	docker build -f docker/Dockerfile --build-arg VERSION=$(VERSION) -t callwright:$(VERSION) .

## Both compose files resolve (variables, anchors, override) — what CI checks without a Docker engine.
compose-check:
	DJANGO_SECRET_KEY=check docker-compose -f docker/docker-compose.yml config --quiet
	DJANGO_SECRET_KEY=check POSTGRES_PASSWORD=check CALLWRIGHT_DOMAIN=calls.example.com ACME_EMAIL=ops@example.com \
		METRICS_TOKEN=check GRAFANA_ADMIN_PASSWORD=check docker-compose -f docker/docker-compose.yml -f docker/docker-compose.production.yml config --quiet

## Back up now (PostgreSQL + media into BACKUP_DIR, var/backups by default); beat does it every BACKUP_INTERVAL_HOURS.
backup: install
	$(BIN)/python manage.py backup

## Restore a backup into an EMPTY database: make restore BACKUP=latest (or a stamp, or a .dump path).
## DATABASE_URL picks the database (createdb it first); it refuses one that has tables.
BACKUP ?= latest
restore: install
	$(BIN)/python manage.py restore $(BACKUP)

## Translations: extract every marked string into locale/<code>/LC_MESSAGES/django.po (the scripts' into djangojs.po,
## served by /jsi18n/), then compile the .mo files
## (committed, so running the app needs no gettext tools; this target needs GNU gettext: apt-get install gettext).
MESSAGE_LANGUAGES := -l es -l fr -l de -l pt
messages: install
	$(BIN)/python manage.py makemessages $(MESSAGE_LANGUAGES) --add-location=file --ignore=".venv/*" --ignore="var/*" \
		--ignore="bench/*" --ignore="docs/*" --ignore="*/tests/*" --ignore=conftest.py
	$(BIN)/python manage.py makemessages -d djangojs $(MESSAGE_LANGUAGES) --add-location=file --ignore=".venv/*" \
		--ignore="var/*" --ignore="staticfiles/*" --ignore="*/vendor/*" --ignore="bench/*" --ignore="docs/*"
	$(BIN)/python manage.py compilemessages $(MESSAGE_LANGUAGES) --ignore=".venv/*"
