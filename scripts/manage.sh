#!/usr/bin/env bash
# Run a management command against the local database of `make run`, with the settings
# `make run` uses:  scripts/manage.sh COMMAND [ARGS...]
#   scripts/manage.sh make_randomization_list --seed 123456 --size 30 --out list.csv
#   scripts/manage.sh import_randomization_list list.csv --by "name of the importer"
# If `make run` is not running, its PostgreSQL and Redis are started for the command (and
# stopped after it); the data folder is $TRIALSITE_DATA, as for `make run`. The database is
# migrated first (as the owner role, like `make run`), so a fresh clone needs nothing else;
# the command itself runs as the application's role. MIGRATE=0 skips the migrations (for a
# restore, which needs an empty database).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
DATA=${TRIALSITE_DATA:-/var/tmp/trialsite-$(id -un)}
[ $# -gt 0 ] || { echo "usage: scripts/manage.sh COMMAND [ARGS...]" >&2; exit 2; }
[ -x "$VENV/bin/python" ] || scripts/bootstrap.sh >&2

started=""
if ! scripts/services.sh running "$DATA"; then
  eval "$(scripts/services.sh start "$DATA")"
  started=1
  trap 'scripts/services.sh stop "$DATA"' EXIT
else
  pgport=$(cat "$DATA/pg.port")
  export DATABASE_URL="postgres://${DATABASE_APP_ROLE:-trialsite_app}@127.0.0.1:$pgport/trialsite"
  export MIGRATION_DATABASE_URL="postgres://trialsite@127.0.0.1:$pgport/trialsite"
  export REDIS_URL="redis://127.0.0.1:$(cat "$DATA/redis.port")/0"
fi
export DEBUG=${DEBUG:-true} HTTPS=${HTTPS:-false}
if [ "${MIGRATE:-1}" != 0 ]; then
  DATABASE_URL="$MIGRATION_DATABASE_URL" "$VENV/bin/python" manage.py migrate --no-input -v 0 >&2
fi
status=0
"$VENV/bin/python" manage.py "$@" || status=$?
[ -z "$started" ] || echo "(started and stopped the local database in $DATA for this command)" >&2
exit "$status"
