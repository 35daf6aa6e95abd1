#!/usr/bin/env bash
# The benchmarks (benchmarks/*.py) on a throwaway PostgreSQL and Redis, removed afterwards.
#   scripts/bench.sh                          every benchmark
#   BENCH_PARTICIPANTS=200 scripts/bench.sh   a smaller synthetic study
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/bootstrap.sh

RUN=$(mktemp -d /tmp/trialsite-bench.XXXXXX)
trap 'scripts/services.sh purge "$RUN"' EXIT
eval "$(THROWAWAY=1 scripts/services.sh start "$RUN")"
# Benchmarks run as the owner role: they make and roll back their data in one transaction.
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
