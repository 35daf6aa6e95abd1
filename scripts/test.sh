#!/usr/bin/env bash
# The whole check, as CI runs it: system packages and venv, a throwaway PostgreSQL and Redis,
# lint, format and migration checks, and the full test suite including browser tests.
# Both servers are stopped and removed afterwards, also when something fails.
#   scripts/test.sh                  everything
#   scripts/test.sh -k audit         extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/bootstrap.sh

RUN=$(mktemp -d /tmp/trialsite-test.XXXXXX)
trap 'scripts/services.sh purge "$RUN"' EXIT
eval "$(THROWAWAY=1 scripts/services.sh start "$RUN")"
# The test database is created and migrated by the owner role; tests/conftest.py then
# reconnects as the application's role, so tests see the rights production has.
export DATABASE_URL="$MIGRATION_DATABASE_URL"
export DEBUG=false SECRET_KEY=test-only-secret-key-not-for-production HTTPS=false
export DJANGO_ALLOW_ASYNC_UNSAFE=true   # Playwright's sync API and the ORM share a thread
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
export STATICFILES_STORAGE=django.contrib.staticfiles.storage.StaticFilesStorage
export ZEAL=true   # an N+1 query in a page raises (trialsite/settings.py)

echo "== ruff check"; "$VENV/bin/ruff" check .
echo "== ruff format --check"; "$VENV/bin/ruff" format --check .
echo "== makemigrations --check"; "$VENV/bin/python" manage.py makemigrations --check --dry-run
# The production static storage (as the Dockerfile runs it): fails on a reference to a
# missing file, e.g. a vendored library's source map.
echo "== collectstatic (production storage)"
STATICFILES_STORAGE=whitenoise.storage.CompressedManifestStaticFilesStorage \
  STATIC_ROOT="$RUN/staticfiles" "$VENV/bin/python" manage.py collectstatic --no-input -v 0
# The slowest tests are listed at the end, to keep the suite well under its time limit.
echo "== pytest"; "$VENV/bin/python" -m pytest --durations=15 "$@"
