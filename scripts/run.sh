#!/usr/bin/env bash
# Run trialsite locally: PostgreSQL and Redis (data kept in $TRIALSITE_DATA between runs),
# migrations, demo users and data, the web server, a Celery worker and Celery beat.
# Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
DATA=${TRIALSITE_DATA:-/var/tmp/trialsite-$(id -un)}
PORT=${PORT:-8000}
scripts/bootstrap.sh

eval "$(scripts/services.sh start "$DATA")"
export DEBUG=${DEBUG:-true} HTTPS=${HTTPS:-false}
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "Stopping…"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/services.sh stop "$DATA"
  echo "Stopped. Data kept in $DATA (scripts/services.sh purge $DATA removes it)."
}
trap cleanup INT TERM EXIT

DATABASE_URL="$MIGRATION_DATABASE_URL" "$VENV/bin/python" manage.py migrate --no-input -v 0
"$VENV/bin/python" manage.py seed_demo

"$VENV/bin/celery" -A trialsite worker --loglevel=INFO --concurrency=2 >"$DATA/worker.log" 2>&1 &
pids+=($!)
"$VENV/bin/celery" -A trialsite beat --loglevel=INFO -s "$DATA/celerybeat-schedule" >"$DATA/beat.log" 2>&1 &
pids+=($!)
"$VENV/bin/python" manage.py runserver "127.0.0.1:$PORT" --noreload &
pids+=($!)

cat <<MSG

  trialsite is running on http://127.0.0.1:$PORT/
  Demo log-ins (password for all: $("$VENV/bin/python" -c 'from trialsite.demo import DEMO_PASSWORD; print(DEMO_PASSWORD)')):
$("$VENV/bin/python" -c 'from trialsite.demo import demo_logins; print(demo_logins())')
  Worker and beat logs: $DATA/worker.log, $DATA/beat.log
  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
