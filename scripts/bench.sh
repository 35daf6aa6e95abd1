#!/usr/bin/env bash
# The benchmarks (benchmarks/*.py) on a throwaway PostgreSQL and Redis, removed afterwards.
#   scripts/bench.sh                          every benchmark
#   BENCH_PARTICIPANTS=200 scripts/bench.sh   a smaller synthetic study for the exports
#   BENCH_LOAD_SITES=2 BENCH_LOAD_PER_SITE=500 BENCH_LOAD_SECONDS=20 scripts/bench.sh
#                                             a smaller, shorter load benchmark
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/bootstrap.sh

RUN=$(mktemp -d /tmp/trialsite-bench.XXXXXX)
trap 'scripts/services.sh purge "$RUN"' EXIT
eval "$(THROWAWAY=1 scripts/services.sh start "$RUN")"
# Benchmarks run as the owner role (documents.py makes and rolls back its data in one
# transaction; load.py commits its study, and its web server uses the application's role).
export APP_DATABASE_URL="$DATABASE_URL"
export DATABASE_URL="$MIGRATION_DATABASE_URL"
export DEBUG=false SECRET_KEY=bench-only-secret-key-not-for-production HTTPS=false
export STATICFILES_STORAGE=django.contrib.staticfiles.storage.StaticFilesStorage
export MEDIA_ROOT="$RUN/media"
"$VENV/bin/python" manage.py migrate --no-input -v0
status=0
for script in benchmarks/*.py; do
  echo "== $script"
  "$VENV/bin/python" "$script" || status=1
done
exit $status
