# Two commands: `make run` and `make test`. Everything else is a helper of those.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Exported so the settings derive SITE_URL (links in emails) from the port served.
export PORT
STAMP := $(VENV)/.installed

.PHONY: run test install migrate demo lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# WeasyPrint (the evidence bundles' PDFs) needs Pango and HarfBuzz from the system; on
# Debian or Ubuntu they are installed here when missing (as root, or with sudo).
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core

.PHONY: system-packages
system-packages:
	@if ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	  else \
	    echo "Install Pango (libpango, libpangoft2) for WeasyPrint: https://doc.courtbouillon.org/weasyprint/stable/first_steps.html"; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml | $(PY) system-packages
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo

run: demo
	@echo ""
	@echo "Serving on http://127.0.0.1:$(PORT)/  (admin: /admin/, API: /api/v1/docs/)"
	@echo "Sign in as coordinator, approver, compliance or staff; password: demo"
	@echo ""
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(PY) -m pytest

# Benchmark on a throw-away PostgreSQL database (tests/bench/run.py; README, "Performance"):
# `make bench` builds scales 0.01 and 1, measures them in alternating rounds and prints the growth;
# `SCALE=0.01 make bench` one scale.
bench: install
	@if [ -z "$$BENCH_DATABASE_URL" ] && ! pg_isready -h 127.0.0.1 -p 5432 -q; then \
	  pg_ctlcluster --skip-systemctl-redirect "$$(ls /etc/postgresql)" main start; \
	  for _ in $$(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done; \
	fi
	$(PY) tests/bench/run.py $(if $(SCALE),--scale $(SCALE))

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles

.PHONY: load
load: install
	bash tests/load/run.sh
