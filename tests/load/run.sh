#!/usr/bin/env bash
# Load test: gunicorn (2 workers, production settings) on loopback, driven by wrk from a second
# process against the incident list and detail endpoints. Bounded in time (DURATION per endpoint).
#
#   make load                       # 2,000 incidents, 50 API clients, 20 s per endpoint
#   INCIDENTS=10000 DURATION=60s make load
set -euo pipefail
cd "$(dirname "$0")/../.."

INCIDENTS=${INCIDENTS:-2000}
CLIENTS=${CLIENTS:-50}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-16}
PORT=${LOAD_PORT:-8765}
PY=.venv/bin/python

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

db="load_$$"
work=$(mktemp -d)
export PGHOST=127.0.0.1 PGUSER=postgres
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
gunicorn_pid=""
cleanup() {
  [ -n "$gunicorn_pid" ] && kill "$gunicorn_pid" 2>/dev/null && wait "$gunicorn_pid" 2>/dev/null || true
  dropdb --if-exists "$db" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
createdb "$db"
$PY manage.py migrate --noinput -v0
echo "== seeding $INCIDENTS incidents through the services, $CLIENTS API clients =="
$PY tests/load/seed.py "$INCIDENTS" "$CLIENTS" "$work/data.lua"

# Production settings, as several app servers behind a load balancer would run: shared Redis
# cache (throttling counts across workers), database background tasks, no debug.
export DEBUG=0 SECRET_KEY="load-$(head -c 48 /dev/urandom | base64 | tr -d '/+=')" \
  ALLOWED_HOSTS=127.0.0.1 REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/9} TASK_BACKEND=database
$PY manage.py collectstatic --noinput -v0
.venv/bin/gunicorn config.wsgi --workers 2 --bind "127.0.0.1:$PORT" --log-level warning &
gunicorn_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/" && break; sleep 0.2; done

echo "== wrk: $CONNECTIONS connections, $DURATION per endpoint =="
for mode in list detail; do
  MODE=$mode LOAD_DATA="$work/data.lua" wrk -t2 -c"$CONNECTIONS" -d"$DURATION" \
    -s tests/load/wrk.lua "http://127.0.0.1:$PORT" | grep '^RESULT'
done
