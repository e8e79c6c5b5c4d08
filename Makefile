# The front door. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/studentdata
DEMO_ENV := STUDENTDATA_DEMO=1 DEBUG=1 DATABASE_URL= CELERY_BROKER_URL= REDIS_URL=
# The test client and the live server speak plain HTTP on localhost.
TEST_ENV := STUDENTDATA_TESTING=1 SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false DATABASE_URL=$(DATABASE_URL)
BENCH_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
# Redis as in production (access caches); database 1, apart from anything else on it.
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/1
BENCH_ENV := STUDENTDATA_TESTING=1 SECURE_SSL_REDIRECT=false DATABASE_URL=$(BENCH_DATABASE_URL) \
	REDIS_URL=$(BENCH_REDIS_URL)
# The access benchmarks act as the application's role (neither superuser nor owner), so
# row-level security applies to them as in production; set-up and deletions run as the owner.
BENCH_APP_ROLE ?= studentdata_bench_app
BENCH_APP_ENV := $(BENCH_ENV) DATABASE_ROLE=$(BENCH_APP_ROLE)
# A district's first reads are timed in a database of their own, made anew each run.
BENCH_FRESH_URL ?= postgres://postgres@127.0.0.1:5432/bench_fresh
BENCH_FRESH_ENV := STUDENTDATA_TESTING=1 SECURE_SSL_REDIRECT=false DATABASE_URL=$(BENCH_FRESH_URL)
# The cost curve (bench_curve) in a database of its own: a district per size, seeded once
# and reused. The default sizes seed for about an hour and take about 45 GB the first time
# (docs/benchmarks.md); CURVE_SIZES=10000,100000 runs in minutes once seeded.
CURVE_SIZES ?= 10000,100000,1000000
CURVE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/curve
CURVE_ENV := STUDENTDATA_TESTING=1 SECURE_SSL_REDIRECT=false DATABASE_URL=$(CURVE_DATABASE_URL) \
	REDIS_URL=$(BENCH_REDIS_URL)
# The browser tests drive Debian's chromium (tests/browser/conftest.py reads CHROMIUM_PATH too).
CHROMIUM := $(or $(CHROMIUM_PATH),/usr/bin/chromium)

.PHONY: install demo test chromium replication bench lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p var
	$(DEMO_ENV) $(BIN)/python manage.py migrate --no-input
	$(DEMO_ENV) $(BIN)/python manage.py seed_demo
	$(DEMO_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

# pytest-xdist: one worker (and test database) per core; a module's tests stay together,
# so its module-scoped fixtures are built once. PYTEST_WORKERS=0 runs in this process.
PYTEST_WORKERS ?= auto

test: $(STAMP) chromium replication
	$(TEST_ENV) $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Installed when missing, as root (a fresh machine, CI); anyone else is told the command.
chromium:
	@if ! command -v "$(CHROMIUM)" >/dev/null 2>&1; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "chromium is missing: run \`sudo apt-get install -y chromium\`" >&2; exit 1; \
		fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq -o Dpkg::Use-Pty=0 chromium </dev/null; \
		command -v "$(CHROMIUM)" >/dev/null 2>&1 \
			|| { echo "chromium is not at $(CHROMIUM) after installing it: set CHROMIUM_PATH" >&2; exit 1; }; \
	fi

# tests/test_read_replica.py streams a standby of the local cluster (port 5432): its
# pg_hba.conf must allow replication from 127.0.0.1. Added when missing, as root; anyone
# else is told the command. Nothing to do where pg_lsclusters (Debian's) does not exist.
replication:
	@command -v pg_lsclusters >/dev/null 2>&1 || exit 0; \
	set -- $$(pg_lsclusters -h | awk '$$3 == 5432 { print $$1, $$2; exit }'); \
	[ -n "$$1" ] || exit 0; \
	hba=/etc/postgresql/$$1/$$2/pg_hba.conf; \
	grep -Eq '^[[:space:]]*host[a-z]*[[:space:]]+replication[[:space:]].*[[:space:]]127\.0\.0\.1/32[[:space:]]' "$$hba" && exit 0; \
	line='host replication all 127.0.0.1/32 trust'; \
	reload="pg_ctlcluster --skip-systemctl-redirect $$1 $$2 reload"; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "$$hba allows no replication: run \`echo '$$line' | sudo tee -a $$hba && sudo $$reload\`" >&2; \
		exit 1; \
	fi; \
	echo "$$line" >> "$$hba" && $$reload

bench: $(STAMP)
	psql "$(BENCH_ADMIN_URL)" -tAc "SELECT 1 FROM pg_database WHERE datname = 'bench'" | grep -q 1 \
		|| psql "$(BENCH_ADMIN_URL)" -c "CREATE DATABASE bench"
	$(BENCH_ENV) $(BIN)/python manage.py migrate --no-input -v 0
	$(BENCH_ENV) APP_DB_PASSWORD=bench $(BIN)/python manage.py grant_app_role $(BENCH_APP_ROLE) \
		--password-env APP_DB_PASSWORD > /dev/null
	$(BENCH_ENV) $(BIN)/python manage.py seed_demo --district bench --students 200000 --seed 1
	$(BENCH_APP_ENV) $(BIN)/python manage.py bench_access $(BENCH_ARGS)
	$(BENCH_APP_ENV) $(BIN)/python manage.py bench_staff $(BENCH_STAFF_ARGS)
	$(BENCH_ENV) $(BIN)/python manage.py bench_import $(BENCH_IMPORT_ARGS)
	$(BENCH_APP_ENV) $(BIN)/python manage.py bench_providers $(BENCH_PROVIDERS_ARGS)
	$(BENCH_APP_ENV) $(BIN)/python manage.py bench_load $(BENCH_LOAD_ARGS)
	$(BENCH_ENV) $(BIN)/python manage.py seed_demo --district reports --students 200000 \
		--schools 50 --seed 1
	$(BENCH_ENV) $(BIN)/python manage.py bench_reports $(BENCH_REPORTS_ARGS)
	$(BENCH_ENV) $(BIN)/python manage.py bench_extract --district bench $(BENCH_EXTRACT_ARGS)
	psql "$(BENCH_ADMIN_URL)" -q -c "DROP DATABASE IF EXISTS bench_fresh" -c "CREATE DATABASE bench_fresh"
	$(BENCH_FRESH_ENV) $(BIN)/python manage.py migrate --no-input -v 0
	$(BENCH_FRESH_ENV) $(BIN)/python manage.py bench_fresh $(BENCH_FRESH_ARGS)
	psql "$(BENCH_ADMIN_URL)" -tAc "SELECT 1 FROM pg_database WHERE datname = 'curve'" | grep -q 1 \
		|| psql "$(BENCH_ADMIN_URL)" -c "CREATE DATABASE curve"
	$(CURVE_ENV) $(BIN)/python manage.py migrate --no-input -v 0
	$(CURVE_ENV) APP_DB_PASSWORD=bench $(BIN)/python manage.py grant_app_role $(BENCH_APP_ROLE) \
		--password-env APP_DB_PASSWORD > /dev/null
	$(CURVE_ENV) DATABASE_ROLE=$(BENCH_APP_ROLE) $(BIN)/python manage.py bench_curve \
		--sizes $(CURVE_SIZES) $(BENCH_CURVE_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# Production's settings (no DEBUG, demo or test mode) pass Django's deploy checks.
	env -u DEBUG -u STUDENTDATA_DEMO -u STUDENTDATA_TESTING -u SECURE_HSTS_SECONDS \
		-u SECURE_SSL_REDIRECT -u SESSION_COOKIE_SECURE \
		SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
