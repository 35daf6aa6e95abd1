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
  local status=$?
  trap - INT TERM EXIT
  echo; echo "Stopping…"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/services.sh stop "$DATA"
  echo "Stopped. Data kept in $DATA (scripts/services.sh purge $DATA removes it)."
  exit "$status"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

DATABASE_URL="$MIGRATION_DATABASE_URL" "$VENV/bin/python" manage.py migrate --no-input -v 0
logins=$("$VENV/bin/python" manage.py seed_demo)
# Static files are served by WhiteNoise from STATIC_ROOT, also when DEBUG is false.
"$VENV/bin/python" manage.py collectstatic --no-input -v 0

"$VENV/bin/celery" -A trialsite worker --loglevel=INFO --concurrency=2 >"$DATA/worker.log" 2>&1 &
pids+=($!)
"$VENV/bin/celery" -A trialsite beat --loglevel=INFO -s "$DATA/celerybeat-schedule" >"$DATA/beat.log" 2>&1 &
pids+=($!)
"$VENV/bin/python" manage.py runserver "127.0.0.1:$PORT" --noreload &
pids+=($!)

"$VENV/bin/python" - "$PORT" <<'PY'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health/live/", timeout=2)
        break
    except OSError:
        time.sleep(0.2)
PY
cat <<MSG

  trialsite is running on http://127.0.0.1:$PORT/
$logins
  Worker and beat logs: $DATA/worker.log, $DATA/beat.log
  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
